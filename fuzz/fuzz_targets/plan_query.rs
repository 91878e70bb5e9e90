//! Fuzz the query planner: parse the input as a query, plan it for the presearcher (with and
//! without term statistics), percolate two fixed articles with both engines and explain the
//! matches.
//!
//! Checks, besides "never panics":
//! - presearch and brute force raise the same matches (the plan only pre-selects);
//! - a time budget per input: the work must stay near-linear in the query's size, so an input
//!   that takes longer than `BASE + PER_BYTE * len` is a finding (a quadratic plan over a wide
//!   OR, a re-evaluation per nesting level, ...). Run with `-max_len=65536` so that growth
//!   shows (scripts/fuzz.sh does). The budget is CPU time of this thread (`cpu_clock.rs`).
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

#[path = "cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::CpuClock;

use libfuzzer_sys::fuzz_target;
use lookout::analysis::Analyzer;
use lookout::document::DocumentFields;
use lookout::matcher::{explain, BruteForce, DocAnalysis, Percolator, Presearcher, TermStats};
use lookout::query::{parse_with_limits, QueryLimits};

/// Fixed cost of one input (ASan and debug assertions make everything several times slower).
const BASE: Duration = Duration::from_millis(250);
/// Allowed per byte of query.
const PER_BYTE: Duration = Duration::from_micros(15);

struct Fixture {
    articles: Vec<DocAnalysis>,
    stats: TermStats,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut analyzer = Analyzer::default();
        let texts = [
            ("Niger ends US security pact", "Niger's junta terminated its security agreement with the United States; the bank said oil prices rose. Security, agreement, security agreement."),
            ("Mali", "the bank said the bank said a b a b c a b c d e f the the the oil oil market rates"),
        ];
        let articles: Vec<DocAnalysis> = texts
            .iter()
            .map(|(title, body)| {
                let doc = DocumentFields {
                    title: title.to_string(),
                    body: body.to_string(),
                    date: chrono::NaiveDate::from_ymd_opt(2024, 3, 28),
                    source: Some("Reuters".into()),
                    url: Some("https://example.com/a".into()),
                    tags: vec!["world".into(), "africa".into()],
                }
                .into_document("a.txt".into(), None);
                DocAnalysis::new(&doc, &mut analyzer)
            })
            .collect();
        let mut stats = TermStats::empty();
        for a in &articles {
            stats.add_document(a);
        }
        Fixture { articles, stats }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixture = fixture();
    let started = CpuClock::now();
    // No clause limit: the input's length bounds the query, and the planner must stay linear
    // past the default limit too (a quadratic plan only shows on wide queries).
    let limits = QueryLimits {
        max_clauses: usize::MAX,
    };
    let Ok(parsed) = parse_with_limits(text, limits) else {
        return;
    };
    let queries = vec![parsed.query.clone()];
    let brute = BruteForce::new(queries.clone());
    for stats in [&fixture.stats, &TermStats::empty()] {
        let presearch = Presearcher::new(queries.clone(), stats);
        for article in &fixture.articles {
            let found = presearch.percolate(article);
            assert_eq!(found, brute.percolate(article), "presearch != brute for {text:?}");
            if !found.is_empty() {
                let explanation = explain(&parsed.query, article);
                assert!(!explanation.terms.is_empty(), "a match explained by nothing: {text:?}");
            }
        }
    }
    let budget = BASE + PER_BYTE * data.len() as u32;
    let took = started.elapsed();
    assert!(
        took <= budget,
        "slow input: {} bytes took {took:?} (budget {budget:?}): {:?}",
        data.len(),
        &text[..text.len().min(200)]
    );
});
