//! The query language: one language for saved queries and ad-hoc search, compatible with
//! Lucene's classic query parser on the common subset (default operator AND).
//!
//! `parse` reads text into the AST of [`ast`]; the matcher evaluates that AST against one
//! document and the index compiles it into a tantivy query, so alerts and search share one
//! meaning. [`positions`] holds the one definition of phrase and slop matching both use.

pub mod ast;
mod parser;
pub mod positions;

pub use ast::{Clause, DateRange, Occur, Query, Scope, TextField};
pub use parser::{parse, Parsed};

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
