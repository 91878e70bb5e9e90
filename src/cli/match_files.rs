//! `lookout match --queries FILE PATH...`: match files against saved queries with no index,
//! printing `NAME<TAB>FILE` per match, so queries can be tried on sample articles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::analysis::Analyzer;
use crate::config::{compile_queries, load_queries_file, Config, ConfigError};
use crate::matcher::{DocAnalysis, Engine, TermStats};
use crate::pipeline::{collect_files, read_documents};
use crate::query::QueryLimits;

#[derive(Debug, clap::Args)]
pub struct MatchArgs {
    /// Saved queries: TSV (NAME<TAB>QUERY) or TOML in the config's format. Default: the
    /// config's saved queries.
    #[arg(long, short)]
    pub queries: Option<PathBuf>,
    /// The percolation engine.
    #[arg(long, value_enum, default_value_t = Engine::default())]
    pub engine: Engine,
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// The config's `max_query_clauses`; the default without a config file (or, with a warning,
/// when it does not load).
fn query_limits_of(config_path: &Path) -> QueryLimits {
    match Config::load(config_path) {
        Ok(config) => config.query_limits,
        Err(ConfigError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            QueryLimits::default()
        }
        Err(error) => {
            eprintln!(
                "warning: {error}; queries are limited to the default {} clauses",
                QueryLimits::default().max_clauses
            );
            QueryLimits::default()
        }
    }
}

pub fn run(config_path: &Path, args: MatchArgs) -> anyhow::Result<ExitCode> {
    let (specs, limits) = match &args.queries {
        // The queries file alone: the config (when there is one) only sets their size limit.
        Some(file) => (load_queries_file(file)?, query_limits_of(config_path)),
        None => {
            let config = Config::load(config_path).context("invalid configuration")?;
            (config.queries, config.query_limits)
        }
    };
    let (saved, problems) = compile_queries(&specs, limits);
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    let files = collect_files(&args.paths);
    let mut analyzer = Analyzer::default();
    // First pass: term statistics of these documents, so the presearcher indexes each query
    // under its rarest terms. (Only speed depends on them, never the matches.)
    let mut stats = TermStats::empty();
    if args.engine == Engine::Presearch {
        for file in &files {
            for document in read_documents(file, u64::MAX).unwrap_or_default() {
                stats.add_document(&DocAnalysis::new(&document, &mut analyzer));
            }
        }
    }
    let queries = saved.iter().map(|q| q.query.clone()).collect();
    let percolator = args.engine.build(queries, &stats);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0;
    for file in files {
        let documents = match read_documents(&file, u64::MAX) {
            Ok(documents) => documents,
            Err(reason) => {
                eprintln!("skipped {}: {reason}", file.display());
                failed += 1;
                continue;
            }
        };
        for document in documents {
            let analysis = DocAnalysis::new(&document, &mut analyzer);
            let name = document.file_name();
            for i in percolator.percolate(&analysis) {
                if let Err(e) = writeln!(out, "{}\t{name}", saved[i].name) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(e.into());
                }
            }
        }
    }
    out.flush()?;
    Ok(if problems.is_empty() && failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
