//! Invariant 1, alert iff search: for random queries of every shape over random documents, the
//! percolators (presearch and brute force, which raise alerts) and the tantivy index (search)
//! select exactly the same documents. Also the regression tests for each trap of tantivy's own
//! query parser listed in the design.

use chrono::NaiveDate;
use proptest::prelude::*;

use lookout::analysis::Analyzer;
use lookout::document::{Document, DocumentFields};
use lookout::index::LookoutIndex;
use lookout::matcher::{BruteForce, DocAnalysis, Percolator, Presearcher, TermStats};
use lookout::query::{parse, Query};

const WORDS: &[&str] = &[
    "niger",
    "mali",
    "security",
    "agreement",
    "pact",
    "junta",
    "united",
    "states",
    "drone",
    "base",
    "Nigérien",
    "Côte",
    "d'Ivoire",
    "army",
    "the",
    "of",
];

fn document(
    i: usize,
    title: &str,
    body: &str,
    source: Option<&str>,
    date: Option<NaiveDate>,
) -> Document {
    DocumentFields {
        title: title.into(),
        body: body.into(),
        date,
        source: source.map(str::to_string),
        ..Default::default()
    }
    .into_document(format!("doc{i}.txt").into(), None)
}

struct Corpus {
    _dir: tempfile::TempDir,
    index: LookoutIndex,
    docs: Vec<Document>,
    analyses: Vec<DocAnalysis>,
}

fn corpus(docs: Vec<Document>) -> Corpus {
    let dir = tempfile::tempdir().unwrap();
    let index = LookoutIndex::open_or_create(dir.path()).unwrap();
    let mut writer = index
        .writer(std::time::Duration::from_secs(60), 1_000_000)
        .unwrap();
    let mut analyzer = Analyzer::default();
    let mut analyses = Vec::new();
    for doc in &docs {
        writer.add(doc).unwrap();
        analyses.push(DocAnalysis::new(doc, &mut analyzer));
    }
    writer.commit().unwrap();
    Corpus {
        _dir: dir,
        index,
        docs,
        analyses,
    }
}

impl Corpus {
    fn searched(&self, query: &Query) -> Vec<String> {
        let results = self.index.search(query, 100_000, 0).unwrap();
        let mut paths: Vec<String> = results.hits.iter().map(|h| h.document.location()).collect();
        paths.sort();
        paths.dedup();
        paths
    }

    fn matched(&self, query: &Query) -> Vec<String> {
        let engine = BruteForce::new(vec![query.clone()]);
        let mut paths: Vec<String> = self
            .docs
            .iter()
            .zip(&self.analyses)
            .filter(|(_, a)| !engine.percolate(a).is_empty())
            .map(|(d, _)| d.location())
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    fn search_text(&self, text: &str) -> Vec<String> {
        let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let searched = self.searched(&parsed.query);
        assert_eq!(
            searched,
            self.matched(&parsed.query),
            "alert and search differ for {text}"
        );
        searched
    }
}

fn niger_corpus() -> Corpus {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
    corpus(vec![
        document(
            0,
            "Niger ends US pact",
            "Niger's junta terminated its security agreement with the United States.",
            Some("Reuters"),
            d(2024, 3, 28),
        ),
        document(
            1,
            "Mali and Niger",
            "Mali and Niger signed a security agreement.",
            Some("AP"),
            d(2024, 5, 1),
        ),
        document(
            2,
            "Côte d'Ivoire",
            "The Nigérien army in Niger and Côte d'Ivoire are securing borders.",
            None,
            d(2023, 12, 31),
        ),
        document(
            3,
            "Agreement security",
            "An agreement on security, not a security agreement? Agreement security.",
            None,
            None,
        ),
    ])
}

#[test]
fn tantivy_trap_and_not_finds_the_article_without_mali() {
    let c = niger_corpus();
    assert_eq!(
        c.search_text("niger AND NOT mali"),
        vec!["doc0.txt", "doc2.txt"]
    );
    assert_eq!(c.search_text("niger -mali"), vec!["doc0.txt", "doc2.txt"]);
    // Lucene: `a OR NOT b` is `a -b`.
    assert_eq!(
        c.search_text("niger OR NOT mali"),
        vec!["doc0.txt", "doc2.txt"]
    );
}

#[test]
fn tantivy_trap_prefix_is_a_prefix() {
    let c = niger_corpus();
    assert_eq!(
        c.search_text("secur*"),
        vec!["doc0.txt", "doc1.txt", "doc2.txt", "doc3.txt"]
    );
    assert_eq!(
        c.search_text("securi*"),
        vec!["doc0.txt", "doc1.txt", "doc2.txt", "doc3.txt"]
    );
    assert_eq!(c.search_text("securing"), vec!["doc2.txt"]);
    assert!(
        parse("sec*ity").is_err(),
        "no silent phrase for inner wildcards"
    );
}

#[test]
fn tantivy_trap_fuzzy_bang_and_symbols() {
    let c = niger_corpus();
    assert!(parse("niger~1").is_err(), "not the phrase 'niger 1'");
    assert_eq!(c.search_text("niger !mali"), vec!["doc0.txt", "doc2.txt"]);
    assert_eq!(c.search_text("niger && mali"), vec!["doc1.txt"]);
    assert_eq!(c.search_text("junta || mali"), vec!["doc0.txt", "doc1.txt"]);
}

#[test]
fn tantivy_trap_default_operator_is_and_and_apostrophes_are_words() {
    let c = niger_corpus();
    assert_eq!(c.search_text("niger mali"), vec!["doc1.txt"]);
    assert_eq!(c.search_text("Côte d'Ivoire"), vec!["doc2.txt"]);
    assert_eq!(c.search_text("nigerien"), vec!["doc2.txt"]);
    assert_eq!(c.search_text("NIGÉRIEN"), vec!["doc2.txt"]);
}

#[test]
fn tantivy_trap_parse_errors_have_positions() {
    let e = parse("niger AND ").unwrap_err();
    assert_eq!(e.to_string(), "expected a term after AND at column 11");
}

#[test]
fn phrases_and_slop_follow_lucene() {
    let c = niger_corpus();
    assert_eq!(
        c.search_text("\"security agreement\""),
        vec!["doc0.txt", "doc1.txt", "doc3.txt"]
    );
    // "agreement security" appears in doc3 only, in that order; with a swap (slop 2) everywhere.
    assert_eq!(c.search_text("\"agreement security\""), vec!["doc3.txt"]);
    assert_eq!(c.search_text("\"agreement security\"~1"), vec!["doc3.txt"]);
    assert_eq!(
        c.search_text("\"agreement security\"~2"),
        vec!["doc0.txt", "doc1.txt", "doc3.txt"]
    );
    assert_eq!(c.search_text("\"niger security\"~2"), vec!["doc1.txt"]);
    assert_eq!(c.search_text("\"niger security\"~1"), vec![] as Vec<String>);
    assert_eq!(c.search_text("\"niger junta\"~1"), vec!["doc0.txt"]);
    // no phrase across title and body
    assert_eq!(c.search_text("\"pact niger\""), vec![] as Vec<String>);
}

#[test]
fn fields_and_dates() {
    let c = niger_corpus();
    assert_eq!(c.search_text("title:niger"), vec!["doc0.txt", "doc1.txt"]);
    assert_eq!(
        c.search_text("body:junta AND source:reuters"),
        vec!["doc0.txt"]
    );
    assert_eq!(
        c.search_text("niger AND date:[2024-01-01 TO 2024-12-31]"),
        vec!["doc0.txt", "doc1.txt"]
    );
    assert_eq!(
        c.search_text("niger AND date:{2024-03-28 TO *]"),
        vec!["doc1.txt"]
    );
    assert_eq!(c.search_text("date:2023-12-31 AND army"), vec!["doc2.txt"]);
}

fn arb_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..14).prop_map(|w| w.join(" "))
}

fn arb_doc() -> impl Strategy<Value = (String, String, Option<&'static str>, Option<u32>)> {
    (
        arb_text(),
        arb_text(),
        prop::option::of(prop::sample::select(
            &["Reuters", "AP News", "Le Monde"][..],
        )),
        prop::option::of(0u32..800),
    )
}

fn arb_leaf(words: Vec<String>, prefixes: Vec<String>) -> impl Strategy<Value = String> {
    let word = prop::sample::select(words);
    let scope = prop::sample::select(&["", "", "", "title:", "body:", "source:"][..]);
    prop_oneof![
        (scope.clone(), word.clone()).prop_map(|(s, w)| format!("{s}{w}")),
        (scope.clone(), word.clone(), word.clone(), 0u32..4)
            .prop_map(|(s, a, b, slop)| format!("{s}\"{a} {b}\"~{slop}")),
        (scope.clone(), word.clone(), word.clone(), word)
            .prop_map(|(s, a, b, c)| format!("{s}\"{a} {b} {c}\"")),
        (scope, prop::sample::select(prefixes)).prop_map(|(s, p)| format!("{s}{p}*")),
        (0u32..800, 0u32..400).prop_map(|(from, len)| {
            let base = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
            let a = base + chrono::Days::new(from.into());
            let b = a + chrono::Days::new(len.into());
            format!("date:[{a} TO {b}]")
        }),
    ]
}

fn arb_query_over(words: Vec<String>, prefixes: Vec<String>) -> impl Strategy<Value = String> {
    arb_leaf(words, prefixes).prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND NOT {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} OR {b} -{c})")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("{a} OR {b} AND {c}")),
        ]
    })
}

fn arb_query() -> impl Strategy<Value = String> {
    let words = [
        "niger",
        "mali",
        "security",
        "agreement",
        "pact",
        "junta",
        "army",
        "the",
        "nigerien",
        "cote",
        "missing",
    ];
    let prefixes = ["nig", "sec", "agr", "ju", "a", "re"];
    arb_query_over(
        words.iter().map(|w| w.to_string()).collect(),
        prefixes.iter().map(|p| p.to_string()).collect(),
    )
}

/// The real articles of `tests/fixtures/articles`, read by the extractor.
fn real_articles() -> Vec<Document> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/articles");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            lookout::extract::extract(f, &std::fs::read(f).unwrap())
                .unwrap()
                .documents
        })
        .collect()
}

/// Their vocabulary, and prefixes of it, for queries that often match.
fn real_vocabulary() -> (Vec<String>, Vec<String>) {
    let mut analyzer = Analyzer::default();
    let mut words: Vec<String> = real_articles()
        .iter()
        .flat_map(|d| analyzer.terms(&format!("{} {}", d.title, d.body)))
        .collect();
    words.sort();
    words.dedup();
    let mut prefixes: Vec<String> = words
        .iter()
        .filter(|w| w.len() >= 4)
        .map(|w| w[..3].to_string())
        .collect();
    prefixes.sort();
    prefixes.dedup();
    (words, prefixes)
}

/// Percolators (presearch planned with and without statistics, brute force) and search agree.
fn check_agreement(c: &Corpus, texts: Vec<String>) -> Result<(), TestCaseError> {
    let parsed: Vec<(String, Query)> = texts
        .into_iter()
        .filter_map(|text| parse(&text).ok().map(|p| (text, p.query)))
        .collect();
    for (text, query) in &parsed {
        prop_assert_eq!(c.searched(query), c.matched(query), "query {}", text);
    }
    let all: Vec<Query> = parsed.iter().map(|(_, q)| q.clone()).collect();
    let brute = BruteForce::new(all.clone());
    let mut stats = TermStats::empty();
    for analysis in &c.analyses {
        stats.add_document(analysis);
    }
    for stats in [stats, TermStats::empty()] {
        let presearch = Presearcher::new(all.clone(), &stats);
        for analysis in &c.analyses {
            prop_assert_eq!(presearch.percolate(analysis), brute.percolate(analysis));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn search_returns_exactly_what_the_matcher_alerts_on(
        docs in prop::collection::vec(arb_doc(), 1..24),
        queries in prop::collection::vec(arb_query(), 1..12),
    ) {
        let base = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        let docs = docs
            .into_iter()
            .enumerate()
            .map(|(i, (t, b, s, d))| document(i, &t, &b, s, d.map(|d| base + chrono::Days::new(d.into()))))
            .collect();
        let c = corpus(docs);
        check_agreement(&c, queries)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn on_real_articles_percolators_and_search_agree(
        queries in {
            let (words, prefixes) = real_vocabulary();
            prop::collection::vec(arb_query_over(words, prefixes), 1..16)
        },
    ) {
        let c = corpus(real_articles());
        check_agreement(&c, queries)?;
    }
}
