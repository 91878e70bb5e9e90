//! `lookout match --queries FILE PATH...`: match files against saved queries with no index,
//! printing `NAME<TAB>FILE` per match, so queries can be tried on sample articles. FILE is the
//! path as given on the command line (a folder argument joined with the path below it, as grep
//! prints it), with `#N` for the N-th article of a multi-article file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::EngineChoice;
use crate::analysis::Analyzer;
use crate::config::{compile_queries, load_queries_file, Config, ConfigError};
use crate::engine::{read_documents, FileError};
use crate::extract::ExtractError;
use crate::matcher::{DocAnalysis, Engine, TermStats};
use crate::query::QueryLimits;

use super::Outcome;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 when at least one file matches a query, 1 when none does, 2 on an error (a
saved query that does not parse, a path missing, a file unreadable or refused); matches are
still printed then, as grep does.")]
pub struct MatchArgs {
    /// Saved queries: TSV (NAME<TAB>QUERY) or TOML in the config's format. Default: the
    /// config's saved queries.
    #[arg(long, short)]
    pub queries: Option<PathBuf>,
    /// The percolation engine.
    #[arg(long, value_enum, default_value_t = EngineChoice::default())]
    pub engine: EngineChoice,
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

pub fn run(config_path: &Path, args: MatchArgs) -> anyhow::Result<Outcome> {
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
        eprintln!("lookout: {problem}");
    }
    let inputs = super::inputs::collect(&args.paths);
    for problem in &inputs.problems {
        eprintln!("lookout: {problem}");
    }
    let files = inputs.files;
    let mut analyzer = Analyzer::default();
    // First pass: term statistics of these documents, so the presearcher indexes each query
    // under its rarest terms. (Only speed depends on them, never the matches.)
    let mut stats = TermStats::empty();
    let engine = Engine::from(args.engine);
    if engine == Engine::Presearch {
        for file in &files {
            let documents = read_documents(file, u64::MAX).map(|e| e.documents);
            for document in documents.unwrap_or_default() {
                stats.add_document(&DocAnalysis::new(&document, &mut analyzer));
            }
        }
    }
    let queries = saved.iter().map(|q| q.query.clone()).collect();
    let percolator = engine.build(queries, &stats);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0;
    let mut matches = 0usize;
    for file in files {
        let extraction = match read_documents(&file, u64::MAX) {
            Ok(extraction) => extraction,
            // A file of another type found in a folder is not one to read (named, it is).
            Err(FileError::Extract(ExtractError::Unsupported { .. }))
                if !args.paths.contains(&file) =>
            {
                continue
            }
            Err(reason) => {
                eprintln!("lookout: skipped {}: {reason}", file.display());
                failed += 1;
                continue;
            }
        };
        if !extraction.warnings.is_empty() {
            eprintln!(
                "warning: {}: {}",
                file.display(),
                extraction.warnings.summary()
            );
        }
        for document in extraction.documents {
            let analysis = DocAnalysis::new(&document, &mut analyzer);
            let shown = match document.part {
                Some(part) => format!("{}#{part}", file.display()),
                None => file.display().to_string(),
            };
            for i in percolator.percolate(&analysis) {
                let Some(query) = saved.get(i.slot()) else {
                    continue;
                };
                if let Err(e) = writeln!(out, "{}\t{shown}", query.name) {
                    if super::is_broken_pipe(&e) {
                        return Ok(Outcome::Found);
                    }
                    return Err(e.into());
                }
                matches += 1;
            }
        }
    }
    match out.flush() {
        Err(e) if !super::is_broken_pipe(&e) => return Err(e.into()),
        _ => {}
    }
    let errors = !problems.is_empty() || !inputs.problems.is_empty() || failed > 0;
    Ok(Outcome::found_if(matches > 0).unless_errors(errors))
}
