//! Saved queries: where each comes from (the config, a TSV or TOML file), and compiling them
//! with the query parser. A query that does not parse is reported with its origin and column,
//! and left out; the others keep working.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{ConfigError, QueryEntry};
use crate::query::{self, Lint, Query, QueryError, QueryLimits};

/// A saved query as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    pub name: String,
    pub text: String,
    /// Webhooks to notify; `None`: every webhook.
    pub webhooks: Option<Vec<String>>,
    /// Where it was defined, for messages: `config.toml` or `queries.tsv:12`.
    pub origin: String,
    /// The file that holds it (the config file itself for an inline `[[queries]]` table, else
    /// the queries file): where a change to it is saved.
    pub file: PathBuf,
}

/// A saved query ready to run.
#[derive(Debug, Clone)]
pub struct SavedQuery {
    pub name: String,
    pub text: String,
    pub query: Query,
    pub webhooks: Option<Vec<String>>,
    pub lints: Vec<Lint>,
}

/// A saved query that does not parse.
#[derive(Debug, Clone)]
pub struct QueryProblem {
    pub spec: QuerySpec,
    pub error: QueryError,
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: saved query '{}': {}",
            self.spec.origin, self.spec.name, self.error
        )
    }
}

pub(crate) fn from_entries(entries: Vec<QueryEntry>, path: &Path) -> Vec<QuerySpec> {
    entries
        .into_iter()
        .map(|e| QuerySpec {
            name: e.name,
            text: e.query,
            webhooks: e.webhooks,
            origin: path.display().to_string(),
            file: path.to_path_buf(),
        })
        .collect()
}

pub(crate) fn check_unique_names(specs: &[QuerySpec]) -> Result<(), String> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for spec in specs {
        if spec.name.trim().is_empty() {
            return Err(format!("{}: a saved query has an empty name", spec.origin));
        }
        if let Some(first) = seen.insert(&spec.name, &spec.origin) {
            return Err(format!(
                "the query name '{}' is defined twice: in {first} and in {}",
                spec.name, spec.origin
            ));
        }
    }
    Ok(())
}

/// Load a queries file: `.toml` in the config's format, anything else as TSV
/// (`NAME<TAB>QUERY` a line; blank lines and lines starting with `#` are skipped).
pub fn load_queries_file(path: &Path) -> Result<Vec<QuerySpec>, ConfigError> {
    load_queries_file_in(path, &mut Vec::new())
}

/// `load_queries_file` for a file included by the files in `including` (a TOML file may
/// include others).
pub(crate) fn load_queries_file_in(
    path: &Path,
    including: &mut Vec<PathBuf>,
) -> Result<Vec<QuerySpec>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        return super::queries_of_toml(path, &text, including);
    }
    parse_tsv(path, &text)
}

/// The saved queries of a TSV file's text.
pub(crate) fn parse_tsv(path: &Path, text: &str) -> Result<Vec<QuerySpec>, ConfigError> {
    let mut specs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, query)) = line.split_once('\t') else {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key: format!("line {}", i + 1),
                problem: "expected NAME<TAB>QUERY (no tab found)".into(),
            });
        };
        specs.push(QuerySpec {
            name: name.trim().to_string(),
            text: query.to_string(),
            webhooks: None,
            origin: format!("{}:{}", path.display(), i + 1),
            file: path.to_path_buf(),
        });
    }
    check_unique_names(&specs).map_err(|problem| ConfigError::Invalid {
        path: path.to_path_buf(),
        key: "queries".into(),
        problem,
    })?;
    Ok(specs)
}

/// Parse every saved query within `limits`; the ones that fail come back as problems.
pub fn compile_queries(
    specs: &[QuerySpec],
    limits: QueryLimits,
) -> (Vec<SavedQuery>, Vec<QueryProblem>) {
    let mut good = Vec::with_capacity(specs.len());
    let mut bad = Vec::new();
    for spec in specs {
        match query::parse_with_limits(&spec.text, limits) {
            Ok(parsed) => good.push(SavedQuery {
                name: spec.name.clone(),
                text: spec.text.clone(),
                query: parsed.query,
                webhooks: spec.webhooks.clone(),
                lints: parsed.lints,
            }),
            Err(error) => bad.push(QueryProblem {
                spec: spec.clone(),
                error,
            }),
        }
    }
    (good, bad)
}
