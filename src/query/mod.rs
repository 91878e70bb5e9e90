//! The query language: one language for saved queries and ad-hoc search, compatible with
//! Lucene's classic query parser on the common subset (default operator AND).
//!
//! `parse` reads text into the AST of [`ast`]; the matcher evaluates that AST against one
//! document and the index compiles it into a tantivy query, so alerts and search share one
//! meaning. [`positions`] holds the one definition of phrase and slop matching both use.
//! [`QueryLimits`] bounds a query's size: every path that reads a query (saved queries, search,
//! dry runs, checks, `lookout match`) parses with the configured limits.

pub mod ast;
mod parser;
pub mod positions;

pub use ast::{Clause, DateRange, Occur, Query, Scope, TextField};
pub use parser::{parse, parse_with_limits, Parsed};

/// A compiled query held by the saved-query set and the percolator at once (one copy: a
/// million saved queries are not held twice).
pub type SharedQuery = std::sync::Arc<Query>;

/// The default of `max_query_clauses`: Lucene's default `maxClauseCount`.
pub const DEFAULT_MAX_CLAUSES: usize = 1024;

/// How large a query may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The most clauses a query may have. Each term, phrase word, prefix and date or date
    /// range counts one, wherever it is in the query (as Lucene 9 counts clauses); a word the
    /// analyzer splits (`e-mail`) counts each part.
    pub max_clauses: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_clauses: DEFAULT_MAX_CLAUSES,
        }
    }
}

/// A query that cannot be parsed: where (1-based column, in characters) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl QueryError {
    pub fn new(column: usize, message: impl Into<String>) -> Self {
        QueryError {
            column,
            message: message.into(),
        }
    }
}

/// A warning about a valid query: costly or probably not what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Lint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (column {})", self.message, self.column)
    }
}

#[cfg(test)]
mod tests;
