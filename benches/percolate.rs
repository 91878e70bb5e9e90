//! Percolation benchmark: loads a folder of articles and a file of saved queries, then prints one
//! JSON line with the query load time, memory, the presearch engine's documents/s over every
//! article, the brute engine's on a subset, their ratio, candidates and matches per document,
//! and the always-check bucket. Single-threaded. Also checks presearch == brute on the subset.
//!
//! usage: cargo bench --bench percolate -- DOCS_DIR QUERIES.tsv [--brute-docs N]
//! (`scripts/bench-percolate.sh` runs it for 1,000, 10,000 and 100,000 queries.)

use std::path::PathBuf;
use std::time::Instant;

use lookout::analysis::Analyzer;
use lookout::config::{compile_queries, load_queries_file};
use lookout::engine::{collect_files, read_documents};
use lookout::matcher::{BruteForce, DocAnalysis, Percolator, Presearcher, TermStats};

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.len() < 2 {
        eprintln!("usage: percolate DOCS_DIR QUERIES.tsv [--brute-docs N]");
        std::process::exit(2);
    }
    let docs_dir = PathBuf::from(&args[0]);
    let queries_file = PathBuf::from(&args[1]);
    let brute_docs: usize = args
        .iter()
        .position(|a| a == "--brute-docs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);

    // The articles, and their term statistics (what the daemon's index would hold).
    let mut analyzer = Analyzer::default();
    let documents: Vec<_> = collect_files(&[docs_dir])
        .iter()
        .flat_map(|f| {
            read_documents(f, u64::MAX)
                .map(|e| e.documents)
                .unwrap_or_default()
        })
        .collect();
    let mut stats = TermStats::empty();
    for doc in &documents {
        stats.add_document(&DocAnalysis::new(doc, &mut analyzer));
    }

    // Load: parse and index the saved queries.
    let rss_before = rss_kib("VmRSS:");
    let started = Instant::now();
    let specs = load_queries_file(&queries_file).expect("queries file");
    let (saved, problems) = compile_queries(&specs, Default::default());
    assert!(problems.is_empty(), "invalid queries: {}", problems[0]);
    let queries: Vec<_> = saved.into_iter().map(|s| s.query).collect();
    let presearch = Presearcher::new(queries.clone(), &stats);
    let load_s = started.elapsed().as_secs_f64();
    let rss_after = rss_kib("VmRSS:");
    let summary = presearch.summary();

    // Presearch over every article (analysis included, as in the daemon).
    let started = Instant::now();
    let mut presearch_results = Vec::with_capacity(documents.len());
    for doc in &documents {
        let analysis = DocAnalysis::new(doc, &mut analyzer);
        presearch_results.push(presearch.percolate(&analysis));
    }
    let presearch_s = started.elapsed().as_secs_f64();
    let matches: usize = presearch_results.iter().map(Vec::len).sum();

    // Candidates per document (not timed).
    let mut candidates = 0usize;
    for doc in &documents {
        candidates += presearch
            .candidates(&DocAnalysis::new(doc, &mut analyzer))
            .len();
    }

    // Brute force on the subset, and exactness against it.
    let subset = brute_docs.min(documents.len());
    let brute = BruteForce::new(queries);
    let started = Instant::now();
    let mut differences = 0;
    for (doc, expected) in documents[..subset].iter().zip(&presearch_results) {
        let analysis = DocAnalysis::new(doc, &mut analyzer);
        if brute.percolate(&analysis) != *expected {
            differences += 1;
        }
    }
    let brute_s = started.elapsed().as_secs_f64();

    let n = documents.len() as f64;
    let presearch_dps = n / presearch_s;
    let brute_dps = subset as f64 / brute_s;
    println!(
        "{}",
        serde_json::json!({
            "queries": summary.queries,
            "documents": documents.len(),
            "load_s": load_s,
            "queries_rss_mib": (rss_after.saturating_sub(rss_before)) as f64 / 1024.0,
            "peak_rss_mib": rss_kib("VmHWM:") as f64 / 1024.0,
            "presearch_docs_per_s": presearch_dps,
            "brute_docs": subset,
            "brute_docs_per_s": brute_dps,
            "ratio": presearch_dps / brute_dps,
            "candidates_per_doc": candidates as f64 / n,
            "matches_per_doc": matches as f64 / n,
            "always_check": summary.always_check,
            "differences_vs_brute": differences,
        })
    );
}
