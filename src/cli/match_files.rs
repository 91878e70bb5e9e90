//! `lookout match --queries FILE PATH...`: match files against saved queries with no index,
//! printing `NAME<TAB>FILE` per match, so queries can be tried on sample articles. FILE is the
//! path as given on the command line (a folder argument joined with the path below it, as grep
//! prints it), with `#N` for the N-th article of a multi-article file.
//!
//! On every core, each file read once: files are read, extracted and analyzed in parallel
//! (rayon), a chunk at a time; the analyses of the first [`HOLD_BYTES`] of input are kept and
//! give the presearcher its term statistics (they guide its speed only, never the matches);
//! then those and the files after them are percolated in parallel. What is printed (matches,
//! warnings, skipped files) comes out in the order of the files, the same for any number of
//! threads (`RAYON_NUM_THREADS`, default one per core).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;

use super::EngineChoice;
use crate::analysis::Analyzer;
use crate::config::{load_queries_file, parse_queries, Config, ConfigError, QueryProblem};
use crate::engine::{read_documents, FileError};
use crate::extract::{ExtractError, Warnings};
use crate::matcher::{DocAnalysis, Engine, Percolator, TermStats};
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
    // The names stay here; each compiled query moves into the percolator (one copy).
    let parsed = parse_queries(&specs, limits);
    let mut names = Vec::with_capacity(specs.len());
    let mut queries = Vec::with_capacity(specs.len());
    let mut problems = Vec::new();
    for (spec, parsed) in specs.into_iter().zip(parsed) {
        match parsed {
            Ok(parsed) => {
                names.push(spec.name);
                queries.push(parsed.query);
            }
            Err(error) => problems.push(QueryProblem { spec, error }),
        }
    }
    for problem in &problems {
        eprintln!("lookout: {problem}");
    }
    let inputs = super::inputs::collect(&args.paths);
    for problem in &inputs.problems {
        eprintln!("lookout: {problem}");
    }
    let files = inputs.files;
    let engine = Engine::from(args.engine);
    // First pass: read and analyze the first files (up to HOLD_BYTES of them), keeping what is
    // read, for the presearcher's term statistics.
    let mut stats = TermStats::empty();
    let mut held: Vec<ReadFile> = Vec::new();
    let mut held_bytes = 0u64;
    let mut next = 0;
    while next < files.len() && held_bytes < HOLD_BYTES {
        let end = (next + CHUNK_FILES).min(files.len());
        let chunk = read_chunk(&files[next..end], &args.paths);
        next = end;
        for file in &chunk {
            held_bytes += file.bytes;
            if let Ok((_, documents)) = &file.read {
                for (_, analysis) in documents {
                    stats.add_document(analysis);
                }
            }
        }
        held.extend(chunk);
    }
    let percolator = engine.build(queries, &stats);
    drop(stats);
    let names: Vec<&str> = names.iter().map(|n| &**n).collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut report = Report::default();
    // Then percolate what is held, and read, analyze and percolate the rest, a chunk at a time.
    let mut pending = Some(held);
    loop {
        let chunk = match pending.take() {
            Some(chunk) => chunk,
            None if next < files.len() => {
                let end = (next + CHUNK_FILES).min(files.len());
                let chunk = read_chunk(&files[next..end], &args.paths);
                next = end;
                chunk
            }
            None => break,
        };
        let matched: Vec<String> = chunk
            .par_iter()
            .map(|file| matched_lines(file, percolator.as_ref(), &names))
            .collect();
        for (file, lines) in chunk.iter().zip(matched) {
            report.file(file);
            if let Err(e) = out.write_all(lines.as_bytes()) {
                if super::is_broken_pipe(&e) {
                    return Ok(Outcome::Found);
                }
                return Err(e.into());
            }
            report.matches += lines.bytes().filter(|&b| b == b'\n').count();
        }
    }
    let (failed, matches) = (report.failed, report.matches);
    match out.flush() {
        Err(e) if !super::is_broken_pipe(&e) => return Err(e.into()),
        _ => {}
    }
    let errors = !problems.is_empty() || !inputs.problems.is_empty() || failed > 0;
    // The process ends here: freeing a million compiled queries piece by piece would only
    // delay the exit (a quarter of a second and more); the system takes the memory back.
    std::mem::forget(percolator);
    Ok(Outcome::found_if(matches > 0).unless_errors(errors))
}

/// The input whose analyses are kept for the term statistics (a larger input's later files are
/// matched on the statistics of its first ones).
const HOLD_BYTES: u64 = 128 * 1024 * 1024;
/// Files read in parallel at a time.
const CHUNK_FILES: usize = 256;

/// One input file, read, extracted and analyzed (or why not).
struct ReadFile {
    path: PathBuf,
    /// Its size on disk (what it holds in memory, about).
    bytes: u64,
    /// Its warnings and documents (each with the name it is printed as), or why it was
    /// skipped; `None` for a file of another type found in a folder (passed over quietly).
    read: Result<(Warnings, Vec<ShownDocument>), Option<FileError>>,
}

/// A document's printed name (`FILE` or `FILE#N`) and its analysis.
type ShownDocument = (String, DocAnalysis);

fn read_chunk(files: &[PathBuf], named: &[PathBuf]) -> Vec<ReadFile> {
    files
        .par_iter()
        .map_init(Analyzer::default, |analyzer, path| {
            read_file(path, named, analyzer)
        })
        .collect()
}

fn read_file(path: &Path, named: &[PathBuf], analyzer: &mut Analyzer) -> ReadFile {
    let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let read = match read_documents(path, u64::MAX) {
        Ok(extraction) => Ok((
            extraction.warnings,
            extraction
                .documents
                .into_iter()
                .map(|document| {
                    let shown = match document.part {
                        Some(part) => format!("{}#{part}", path.display()),
                        None => path.display().to_string(),
                    };
                    (shown, DocAnalysis::new(&document, analyzer))
                })
                .collect(),
        )),
        // A file of another type found in a folder is not one to read (named, it is).
        Err(FileError::Extract(ExtractError::Unsupported { .. }))
            if !named.iter().any(|n| n == path) =>
        {
            Err(None)
        }
        Err(reason) => Err(Some(reason)),
    };
    ReadFile {
        path: path.to_path_buf(),
        bytes,
        read,
    }
}

/// `NAME<TAB>FILE` for each query each document of `file` matches, in order.
fn matched_lines(file: &ReadFile, percolator: &dyn Percolator, names: &[&str]) -> String {
    let mut lines = String::new();
    if let Ok((_, documents)) = &file.read {
        for (shown, analysis) in documents {
            for id in percolator.percolate(analysis) {
                if let Some(name) = names.get(id.slot()) {
                    lines.push_str(name);
                    lines.push('\t');
                    lines.push_str(shown);
                    lines.push('\n');
                }
            }
        }
    }
    lines
}

/// What the run tells on stderr, file by file, and its counts.
#[derive(Default)]
struct Report {
    failed: usize,
    matches: usize,
}

impl Report {
    fn file(&mut self, file: &ReadFile) {
        match &file.read {
            Ok((warnings, _)) if !warnings.is_empty() => {
                eprintln!("warning: {}: {}", file.path.display(), warnings.summary());
            }
            Ok(_) | Err(None) => {}
            Err(Some(reason)) => {
                eprintln!("lookout: skipped {}: {reason}", file.path.display());
                self.failed += 1;
            }
        }
    }
}
