//! Growth benchmark: for each query shape, time the work at size n and at 2n in one run and
//! print the ratio (about 2 is linear, about 4 is quadratic). Sizes are the query's (planning:
//! parse and presearch plan) or the article's (matching with both engines, explanation and
//! snippet, search in a real index). Also runs the examples of issue 9: the 700,000-term OR
//! (refused by the clause limit: the refusal and planning at the limit are timed), `"bank
//! bank"~1` on "the bank said" repeated 256k times, a 12-word sloppy phrase on a 1.2 MB article.
//!
//! usage: cargo bench --bench growth [-- FILTER] [--skip SUBSTRING,...] [--budget SECONDS]
//! Each measurement is the best of a few runs; a size whose single run takes more than the
//! budget (default 20 s) is not doubled ("too slow").

use std::time::{Duration, Instant};

use lookout::analysis::Analyzer;
use lookout::document::{Document, DocumentFields};
use lookout::index::LookoutIndex;
use lookout::matcher::{summarize, BruteForce, DocAnalysis, Percolator, Presearcher, TermStats};
use lookout::query::{parse_with_limits, Query, QueryLimits};

/// Parse with the clause limit lifted, so that the growth itself can be measured.
fn parse_unlimited(text: &str) -> Query {
    let limits = QueryLimits {
        max_clauses: usize::MAX,
    };
    match parse_with_limits(text, limits) {
        Ok(parsed) => parsed.query,
        Err(e) => panic!("{}: {e}", &text[..text.len().min(80)]),
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const COMMON: [&str; 24] = [
    "the", "of", "and", "to", "in", "a", "said", "for", "on", "that", "is", "was", "bank", "oil",
    "market", "year", "with", "by", "it", "from", "at", "as", "prices", "rate",
];

/// A word of the synthetic vocabulary: common words most of the time, then a long tail.
fn word(rng: &mut Rng) -> String {
    if rng.below(3) > 0 {
        COMMON[rng.below(COMMON.len())].to_string()
    } else {
        format!("w{}", rng.below(50_000))
    }
}

/// An article of `words` words (about 6 bytes each) in sentences: a block of 10,000 words
/// repeated, so that the article of 2n words is the one of n words twice (what matches at n
/// matches at 2n, and every highlight doubles). Each block starts with the rare word `wzebra`.
fn zipf_article(words: usize) -> String {
    const BLOCK: usize = 10_000;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut block = String::from("wzebra ");
    for i in 1..BLOCK {
        block.push_str(&word(&mut rng));
        block.push_str(if i % 17 == 16 { ". " } else { " " });
    }
    block.repeat(words.div_ceil(BLOCK))
}

fn document(body: String) -> Document {
    DocumentFields {
        title: "A long article".into(),
        body,
        date: chrono::NaiveDate::from_ymd_opt(2024, 3, 28),
        ..Default::default()
    }
    .into_document("big.txt".into(), None)
}

/// Best wall time of `f` over a few runs (fewer when one run is slow).
fn best_of(mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    let started = Instant::now();
    for run in 0.. {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        if run >= 2 && started.elapsed() > Duration::from_millis(300)
            || best > Duration::from_secs(1)
        {
            break;
        }
    }
    best
}

fn secs(d: Duration) -> String {
    format!("{:.4}", d.as_secs_f64())
}

struct Growth {
    budget: Duration,
    filter: Option<String>,
    skip: Option<String>,
}

impl Growth {
    fn wanted(&self, what: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| what.contains(f))
            && self
                .skip
                .as_deref()
                .is_none_or(|skip| !skip.split(',').any(|s| what.contains(s)))
    }
}

impl Growth {
    /// Time `run(n)` and `run(2n)` and print one line.
    fn measure(&self, shape: &str, unit: &str, n: usize, mut run: impl FnMut(usize) -> Duration) {
        if !self.wanted(shape) {
            return;
        }
        let small = run(n);
        if small > self.budget {
            println!(
                "{shape:<52} {unit:<8} {n:>9} {:>10} {:>10} {:>7}",
                secs(small),
                "too slow",
                "-"
            );
            return;
        }
        let large = run(2 * n);
        let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-9);
        println!(
            "{shape:<52} {unit:<8} {n:>9} {:>10} {:>10} {ratio:>7.2}",
            secs(small),
            secs(large)
        );
    }

    /// Time once (an example of the issue) and print one line.
    fn example(&self, what: &str, run: impl FnOnce() -> String) {
        if !self.wanted(what) {
            return;
        }
        let started = Instant::now();
        let result = run();
        println!(
            "example: {what:<60} {:>9} s  {result}",
            secs(started.elapsed())
        );
    }
}

/// Vocabulary statistics like the daemon's index would hold (for plans with statistics).
fn corpus_stats() -> TermStats {
    let mut analyzer = Analyzer::default();
    let mut stats = TermStats::empty();
    let mut rng = Rng(7);
    for _ in 0..2_000 {
        let body: Vec<String> = (0..60).map(|_| word(&mut rng)).collect();
        stats.add_document(&DocAnalysis::new(&document(body.join(" ")), &mut analyzer));
    }
    stats
}

fn join(parts: impl Iterator<Item = String>, sep: &str) -> String {
    parts.collect::<Vec<_>>().join(sep)
}

/// Planning: parse the query and build a presearcher with it, against statistics.
fn planning(g: &Growth, stats: &TermStats) {
    let plan_time = |text: String| {
        best_of(|| {
            let query = parse_unlimited(&text);
            let p = Presearcher::new(vec![query], stats);
            std::hint::black_box(p.summary());
        })
    };
    g.measure("plan: OR of n terms", "clauses", 20_000, |n| {
        plan_time(join((0..n).map(|i| format!("t{i}")), " OR "))
    });
    g.measure("plan: AND of n terms", "clauses", 20_000, |n| {
        plan_time(join((0..n).map(|i| format!("t{i}")), " AND "))
    });
    g.measure("plan: OR of n prefixes", "clauses", 20_000, |n| {
        plan_time(join((0..n).map(|i| format!("w{}*", i % 5_000)), " OR "))
    });
    g.measure(
        "plan: OR of n short prefixes (w*, t*)",
        "clauses",
        20_000,
        |n| {
            plan_time(join(
                (0..n).map(|i| ["w*", "t*"][i % 2].to_string()),
                " OR ",
            ))
        },
    );
    g.measure("plan: OR of n (a AND b) groups", "clauses", 20_000, |n| {
        plan_time(join((0..n / 2).map(|i| format!("(a{i} AND b{i})")), " OR "))
    });
    g.measure("plan: nested groups, n clauses", "clauses", 20_000, |n| {
        // Groups nested 8 deep, repeated: (a OR (b AND (c OR ...))) OR ...
        let group = |i: usize| {
            let mut text = format!("x{i}");
            for d in 0..8 {
                let op = if d % 2 == 0 { "OR" } else { "AND" };
                text = format!("(y{i}d{d} {op} {text})");
            }
            text
        };
        plan_time(join((0..n / 9).map(group), " OR "))
    });
    g.measure("plan: n exclusions", "clauses", 20_000, |n| {
        plan_time(format!(
            "oil {}",
            join((0..n).map(|i| format!("-t{i}")), " ")
        ))
    });
    g.measure("plan: one phrase of n words", "clauses", 20_000, |n| {
        plan_time(format!(
            "\"{}\"",
            join((0..n).map(|i| format!("t{}", i % 700)), " ")
        ))
    });
    g.measure("plan: OR of n phrases with slop", "clauses", 20_000, |n| {
        plan_time(join((0..n / 2).map(|i| format!("\"a{i} b{i}\"~2")), " OR "))
    });
    g.measure(
        "plan: oil AND OR of n date ranges",
        "clauses",
        20_000,
        |n| {
            plan_time(format!(
                "oil AND ({})",
                join(
                    (0..n).map(|i| format!("date:[{:04}-01-01 TO *]", 1000 + i % 8000)),
                    " OR "
                )
            ))
        },
    );
}

/// One article of both kinds at size n, analyzed and indexed.
struct Article {
    doc: Document,
    analysis: DocAnalysis,
    _dir: tempfile::TempDir,
    index: LookoutIndex,
}

fn article(body: String) -> Article {
    let doc = document(body);
    let analysis = DocAnalysis::new(&doc, &mut Analyzer::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let index = LookoutIndex::open_or_create(dir.path()).expect("index");
    let mut writer = index.writer().expect("writer");
    writer.add(&doc).expect("add");
    writer.commit().expect("commit");
    Article {
        doc,
        analysis,
        _dir: dir,
        index,
    }
}

fn bank_article(words: usize) -> String {
    "the bank said ".repeat(words / 3)
}

/// Matching, explanation and snippet, and search: fixed queries, growing articles.
fn per_article(g: &Growth, shape: &str, query: &str, make: fn(usize) -> String, n: usize) {
    let query = parse_unlimited(query);
    let presearch = Presearcher::new(vec![query.clone()], &TermStats::empty());
    let brute = BruteForce::new(vec![query.clone()]);
    let mut cache: std::collections::HashMap<usize, Article> = Default::default();
    g.measure(&format!("match presearch: {shape}"), "words", n, |n| {
        let a = cache.entry(n).or_insert_with(|| article(make(n)));
        best_of(|| {
            std::hint::black_box(presearch.percolate(&a.analysis));
        })
    });
    g.measure(&format!("match brute: {shape}"), "words", n, |n| {
        let a = cache.entry(n).or_insert_with(|| article(make(n)));
        best_of(|| {
            std::hint::black_box(brute.percolate(&a.analysis));
        })
    });
    g.measure(&format!("explain+snippet: {shape}"), "words", n, |n| {
        let a = cache.entry(n).or_insert_with(|| article(make(n)));
        best_of(|| {
            std::hint::black_box(summarize(&query, &a.doc, &a.analysis));
        })
    });
    g.measure(&format!("search: {shape}"), "words", n, |n| {
        let a = cache.entry(n).or_insert_with(|| article(make(n)));
        best_of(|| {
            let results = a.index.search(&query, 10, 0).expect("search");
            std::hint::black_box(results.total);
        })
    });
}

/// Twelve common words (`the` four times) and the rare `wzebra`: every word occurs, the phrase
/// nowhere, so every anchor is tried.
const TWELVE_REPEATS: &str = "\"wzebra the bank the said the of the oil market prices rate\"~3";
/// Twelve words of "the bank said" with the last two swapped: ten fit at every anchor, the
/// last two never within slop 1 (issue 9: "12-word sloppy phrases on a 1.2 MB article").
const BANK_TWELVE: &str = "\"the bank said the bank said the bank said the said bank\"~1";
const TWELVE_DISTINCT: &str = "\"wzebra bank said market oil prices rate year with from of and\"~5";

fn matching(g: &Growth) {
    let n = 100_000;
    per_article(g, "term oil", "oil", zipf_article, n);
    per_article(g, "exact phrase", "\"the bank said\"", zipf_article, n);
    per_article(
        g,
        "\"bank bank\"~1 on the bank said",
        "\"bank bank\"~1",
        bank_article,
        n,
    );
    per_article(
        g,
        "12-word sloppy phrase, repeats",
        TWELVE_REPEATS,
        zipf_article,
        n,
    );
    // Small n: the quadratic version takes minutes from 10,000 words on.
    per_article(
        g,
        "12-word sloppy phrase on the bank said",
        BANK_TWELVE,
        bank_article,
        3_000,
    );
    per_article(
        g,
        "12-word sloppy phrase, distinct",
        TWELVE_DISTINCT,
        zipf_article,
        n,
    );
    per_article(
        g,
        "long exact phrase (64 words)",
        &format!(
            "\"{}\"",
            join((0..64).map(|i| COMMON[i % COMMON.len()].to_string()), " ")
        ),
        zipf_article,
        n,
    );
    per_article(g, "short prefix w*", "w*", zipf_article, n);
    per_article(g, "prefix ban*", "ban*", zipf_article, n);
    per_article(
        g,
        "OR of 1000 terms",
        &join((0..1000).map(|i| format!("w{}", i * 7)), " OR "),
        zipf_article,
        n,
    );
    per_article(
        g,
        "nested groups (32 deep)",
        &{
            let mut text = "oil".to_string();
            for d in 0..32 {
                let op = if d % 2 == 0 { "OR" } else { "AND" };
                text = format!("(w{d} {op} {text})");
            }
            text
        },
        zipf_article,
        n,
    );
    per_article(
        g,
        "500 exclusions",
        &format!("oil {}", join((0..500).map(|i| format!("-zz{i}")), " ")),
        zipf_article,
        n,
    );
    per_article(
        g,
        "date range AND term",
        "oil AND date:[2024-01-01 TO *]",
        zipf_article,
        n,
    );
}

fn examples(g: &Growth, stats: &TermStats) {
    let wide: String = join((0..700_000).map(|i| format!("t{i}")), " OR ");
    g.example(
        "700k-term OR (7.5 MB): parse with the default limit",
        || match lookout::query::parse(&wide) {
            Ok(_) => "accepted".into(),
            Err(e) => format!("refused: {e}"),
        },
    );
    let limit = QueryLimits::default().max_clauses;
    let at_limit = join((0..limit).map(|i| format!("t{i}")), " OR ");
    g.example(
        &format!("OR of {limit} terms (the default limit): parse + plan"),
        || {
            let query = parse_unlimited(&at_limit);
            format!(
                "{:?}",
                Presearcher::new(vec![query], stats).summary().term_keys
            )
        },
    );
    g.example("700k-term OR: parse + plan with the limit lifted", || {
        let query = parse_unlimited(&wide);
        format!(
            "{} term keys",
            Presearcher::new(vec![query], stats).summary().term_keys
        )
    });
    let bank = article(bank_article(3 * 256 * 1024));
    let query = parse_unlimited("\"bank bank\"~1");
    g.example(
        "\"bank bank\"~1 on 'the bank said' x 256k: match (presearch)",
        || {
            let p = Presearcher::new(vec![query.clone()], &TermStats::empty());
            format!("{} matches", p.percolate(&bank.analysis).len())
        },
    );
    g.example("\"bank bank\"~1 on 'the bank said' x 256k: search", || {
        format!(
            "{} hits",
            bank.index.search(&query, 10, 0).expect("search").total
        )
    });
    let big = article(bank_article(3 * 85_000));
    let phrase = parse_unlimited(BANK_TWELVE);
    g.example(
        &format!(
            "12-word sloppy phrase on 'the bank said' x 85k ({:.1} MB): match",
            big.doc.body.len() as f64 / 1e6
        ),
        || {
            let p = BruteForce::new(vec![phrase.clone()]);
            format!("{} matches", p.percolate(&big.analysis).len())
        },
    );
    g.example("12-word sloppy phrase on the same article: search", || {
        format!(
            "{} hits",
            big.index.search(&phrase, 10, 0).expect("search").total
        )
    });
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let budget = args
        .iter()
        .position(|a| a == "--budget")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(20.0);
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--")))
        .map(|(_, a)| a.clone());
    let g = Growth {
        budget: Duration::from_secs_f64(budget),
        filter,
        skip: option("--skip"),
    };
    println!(
        "{:<52} {:<8} {:>9} {:>10} {:>10} {:>7}",
        "shape", "size", "n", "t(n) s", "t(2n) s", "ratio"
    );
    let stats = corpus_stats();
    planning(&g, &stats);
    matching(&g);
    examples(&g, &stats);
}
