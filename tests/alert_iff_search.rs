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
    let mut writer = index.writer().unwrap();
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

// ---------------------------------------------------------------------------------------------
// Issue 9: every query that parses runs on every path with one meaning.

/// Every path that answers "which documents does this query match": brute force and the
/// presearcher (planned with and without statistics) as live percolation does, the index's
/// ranked search (its total and every page), and `matching_documents` (dry run and backfill).
/// They must agree, and none may panic.
fn check_every_path(c: &Corpus, stats: &TermStats, text: &str) -> Result<(), TestCaseError> {
    let query = match parse(text) {
        Ok(parsed) => parsed.query,
        Err(e) => {
            let columns = 1..=text.chars().count() + 1;
            prop_assert!(columns.contains(&e.column), "{text}: column of {e}");
            return Ok(());
        }
    };
    let matched = c.matched(&query);
    let results = c
        .index
        .search(&query, 100_000, 0)
        .map_err(|e| TestCaseError::fail(format!("{text}: search: {e}")))?;
    prop_assert_eq!(results.total, matched.len(), "search total of {}", text);
    prop_assert_eq!(
        c.searched(&query),
        matched.clone(),
        "search hits of {}",
        text
    );
    let mut backfilled: Vec<String> = c
        .index
        .matching_documents(&query)
        .map_err(|e| TestCaseError::fail(format!("{text}: matching_documents: {e}")))?
        .iter()
        .map(Document::location)
        .collect();
    backfilled.sort();
    prop_assert_eq!(
        backfilled,
        matched.clone(),
        "matching_documents of {}",
        text
    );
    let brute = BruteForce::new(vec![query.clone()]);
    for stats in [stats, &TermStats::empty()] {
        let presearch = Presearcher::new(vec![query.clone()], stats);
        for analysis in &c.analyses {
            prop_assert_eq!(
                presearch.percolate(analysis),
                brute.percolate(analysis),
                "{}",
                text
            );
        }
    }
    // A page of one, the second page, and a page past the end.
    let first = c
        .index
        .search(&query, 1, 0)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(first.hits.len(), matched.len().min(1));
    let past = c
        .index
        .search(&query, 10, matched.len())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(past.hits.is_empty());
    prop_assert_eq!(past.total, matched.len());
    // Every match explains itself with a snippet.
    for (doc, analysis) in c.docs.iter().zip(&c.analyses) {
        if lookout::matcher::matches(&query, analysis) {
            let summary = lookout::matcher::summarize(&query, doc, analysis);
            prop_assert!(
                !summary.terms.is_empty(),
                "{}: nothing explains the match",
                text
            );
        }
    }
    Ok(())
}

/// Days at and around the limits of what a document can carry, and ordinary ones.
const DAYS: &[&str] = &[
    "0000-01-01",
    "0001-01-01",
    "1677-09-21",
    "1677-09-22",
    "1677-09-23",
    "1970-01-01",
    "2000-02-29",
    "2023-12-31",
    "2024-03-28",
    "2024-05-01",
    "2262-04-10",
    "2262-04-11",
    "2262-04-12",
    "9999-12-31",
];

/// A date clause of any shape: one day, or a range inclusive or exclusive on either side,
/// each side a day or `*`.
fn arb_date_clause() -> impl Strategy<Value = String> {
    let side = prop_oneof![
        3 => prop::sample::select(DAYS).prop_map(str::to_string),
        1 => Just("*".to_string()),
    ];
    prop_oneof![
        prop::sample::select(DAYS).prop_map(|d| format!("date:{d}")),
        (
            prop::sample::select(&["[", "{"][..]),
            side.clone(),
            side,
            prop::sample::select(&["]", "}"][..]),
        )
            .prop_map(|(open, from, to, close)| format!("date:{open}{from} TO {to}{close}")),
    ]
}

/// A leaf of any shape on any field: words (also ones the analyzer splits, escaped, accented,
/// uppercase), phrases with and without slop and with repeated words, prefixes down to one
/// letter, dates.
fn arb_any_leaf(words: Vec<String>, prefixes: Vec<String>) -> impl Strategy<Value = String> {
    let scope =
        prop::sample::select(&["", "", "", "title:", "body:", "source:", "url:", "tags:"][..]);
    let word = prop_oneof![
        8 => prop::sample::select(words.clone()),
        1 => prop::sample::select(
            &["d'Ivoire", "U.S.", "e-mail", "NIGÉRIEN", "Côte", "oil\\-price", "missing", "reuters", "https"][..]
        )
        .prop_map(str::to_string),
    ];
    // Phrases draw from few words, so that words repeat.
    let phrase_word = prop::sample::select(words.into_iter().take(40).collect::<Vec<_>>());
    let slop = prop::sample::select(&["", "", "~0", "~1", "~2", "~3", "~10", "~1000"][..]);
    prop_oneof![
        4 => (scope.clone(), word.clone()).prop_map(|(s, w)| format!("{s}{w}")),
        3 => (scope.clone(), prop::collection::vec(phrase_word, 1..6), slop)
            .prop_map(|(s, ws, slop)| format!("{s}\"{}\"{slop}", ws.join(" "))),
        2 => (scope.clone(), prop::sample::select(prefixes)).prop_map(|(s, p)| format!("{s}{p}*")),
        2 => arb_date_clause(),
        1 => (scope, word.clone(), word).prop_map(|(s, a, b)| {
            let s = if s.is_empty() { "title:" } else { s };
            format!("{s}({a} OR {b})")
        }),
    ]
}

/// Queries of the whole grammar: every operator spelling, nesting, exclusions.
fn arb_any_query(words: Vec<String>, prefixes: Vec<String>) -> impl Strategy<Value = String> {
    arb_any_leaf(words, prefixes).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND NOT {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("+{a} -{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} !{b}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("({a} OR {b} -{c})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("{a} OR {b} AND {c}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR NOT {b})")),
            inner.clone().prop_map(|a| format!("NOT {a}")),
            inner.prop_map(|a| format!("(({a}))")),
        ]
    })
}

/// The real articles, each once without a date and with dates at and beyond the limits (the
/// ones beyond are dropped when the document is made), with source, url and tags; and short
/// articles with repeated words.
fn dated_articles() -> Vec<Document> {
    let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let dates: Vec<Option<NaiveDate>> = DAYS.iter().map(|d| day(d)).chain([None]).collect();
    let mut docs = Vec::new();
    for (i, article) in real_articles().into_iter().enumerate() {
        for (j, date) in dates.iter().enumerate().filter(|(j, _)| (i + j) % 3 == 0) {
            docs.push(
                DocumentFields {
                    title: article.title.clone(),
                    body: article.body.clone(),
                    date: *date,
                    source: Some(["Reuters", "AP News", "Le Monde"][j % 3].into()),
                    url: Some(format!("https://example.com/{i}/{j}")),
                    tags: vec!["world".into(), ["oil", "security", "africa"][i % 3].into()],
                }
                .into_document(format!("real{i}-{j}.txt").into(), None),
            );
        }
    }
    for (i, body) in [
        "the bank said the bank said the bank said bank bank",
        "oil oil oil prices oil the the the",
        "security agreement security security agreement agreement",
    ]
    .iter()
    .enumerate()
    {
        docs.push(document(i + 100, "repeats", body, None, day("2024-03-28")));
    }
    docs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn every_query_of_the_grammar_runs_on_every_path_with_one_meaning(
        texts in {
            let (words, prefixes) = real_vocabulary();
            let mut short: Vec<String> = words.iter().filter(|w| w.len() >= 2).map(|w| w[..1].to_string()).collect();
            short.sort();
            short.dedup();
            let prefixes = prefixes.into_iter().chain(short).collect();
            prop::collection::vec(arb_any_query(words, prefixes), 1..6)
        },
    ) {
        let c = dated_corpus();
        for text in &texts {
            check_every_path(c, &c.stats, text)?;
        }
    }
}

/// The dated corpus, built once for all cases.
struct DatedCorpus {
    corpus: Corpus,
    stats: TermStats,
}

impl std::ops::Deref for DatedCorpus {
    type Target = Corpus;
    fn deref(&self) -> &Corpus {
        &self.corpus
    }
}

fn dated_corpus() -> &'static DatedCorpus {
    static CORPUS: std::sync::OnceLock<DatedCorpus> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let corpus = corpus(dated_articles());
        let mut stats = TermStats::empty();
        for analysis in &corpus.analyses {
            stats.add_document(analysis);
        }
        DatedCorpus { corpus, stats }
    })
}

#[test]
fn all_open_and_limit_date_ranges_run_everywhere() {
    // Issue 9: `date:[* TO *]` panicked inside tantivy; it means "has a date" (as in Lucene).
    let c = dated_corpus();
    let dated = c.docs.iter().filter(|d| d.date.is_some()).count();
    assert!(dated > 0 && dated < c.docs.len());
    for text in [
        "date:[* TO *]",
        "oil AND date:[* TO *]",
        "oil AND NOT date:[* TO *]",
        "date:{* TO *}",
        "date:[0001-01-01 TO 9999-12-31]",
        "date:[0000-01-01 TO *]",
        "date:[* TO 9999-12-31}",
        "date:{2262-04-11 TO *]",
        "date:[2262-04-12 TO *]",
        "date:[9999-12-31 TO *]",
        "date:[* TO 1677-09-21]",
        "date:[* TO 1677-09-22}",
        "date:[* TO 1677-09-22]",
        "date:0001-01-01",
        "date:9999-12-31",
        "date:2262-04-11",
        "date:1677-09-22",
        "oil OR date:[* TO *]",
    ] {
        check_every_path(c, &c.stats, text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    let open = parse("date:[* TO *]").unwrap().query;
    assert_eq!(c.matched(&open).len(), dated);
    let exact = |text: &str| c.matched(&parse(text).unwrap().query).len();
    assert_eq!(exact("date:[0001-01-01 TO 9999-12-31]"), dated);
    assert_eq!(exact("date:{2262-04-11 TO *]"), 0);
    assert_eq!(exact("date:[* TO 1677-09-22}"), 0);
    assert!(exact("date:2262-04-11") > 0 && exact("date:1677-09-22") > 0);
    assert_eq!(exact("date:9999-12-31"), 0);
}

#[test]
fn a_document_given_a_date_the_index_cannot_hold_has_none_on_every_path() {
    // A date set by hand after the document was made (into_document drops them): the index
    // and the matcher both take it as no date, and indexing it does not overflow.
    let mut doc = document(0, "Oil", "oil prices", None, None);
    doc.date = NaiveDate::from_ymd_opt(1, 1, 1);
    let mut late = document(1, "Oil", "oil again", None, None);
    late.date = NaiveDate::from_ymd_opt(9999, 12, 31);
    let c = corpus(vec![doc, late]);
    for text in [
        "date:[* TO *]",
        "oil AND NOT date:[* TO *]",
        "date:0001-01-01",
    ] {
        check_every_path(&c, &TermStats::empty(), text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    assert!(c
        .searched(&parse("date:[* TO *]").unwrap().query)
        .is_empty());
}

#[test]
fn any_page_of_search_is_safe() {
    // Issue 9: `TopDocs::with_limit(limit).and_offset(offset)` reserved `limit + offset` hits
    // per segment (capacity overflow with the CLI's unbounded --limit/--offset).
    let c = niger_corpus();
    let query = parse("niger").unwrap().query;
    for (limit, offset) in [
        (usize::MAX, 0),
        (usize::MAX, usize::MAX),
        (1, usize::MAX),
        (0, 0),
        (0, usize::MAX),
        (usize::MAX / 2, usize::MAX / 2 + 7),
        (10_000, 1),
        (10_001, 0),
    ] {
        let results = c.index.search(&query, limit, offset).unwrap();
        assert_eq!(results.total, 3, "limit {limit} offset {offset}");
        let expected = 3usize.saturating_sub(offset).min(limit);
        assert_eq!(
            results.hits.len(),
            expected,
            "limit {limit} offset {offset}"
        );
    }
}

#[test]
fn a_repeated_word_on_a_long_article_matches_and_searches_the_same() {
    // Issue 9: "bank bank"~1 against "the bank said" repeated was quadratic in the article.
    let body = "the bank said ".repeat(20_000);
    let c = corpus(vec![document(0, "Banks", &body, None, None)]);
    assert!(c.search_text("\"bank bank\"~1").is_empty());
    assert_eq!(c.search_text("\"bank bank\"~2"), vec!["doc0.txt"]);
    assert_eq!(
        c.search_text("\"said the bank said the bank\"~1"),
        vec!["doc0.txt"]
    );
    assert!(c.search_text("\"bank the the bank\"~1").is_empty());
}
