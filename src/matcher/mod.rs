//! The matcher: which saved queries a new document matches (percolation), and why.
//!
//! A document is analyzed once ([`DocAnalysis`]); a [`Percolator`] returns the saved queries it
//! matches, each verified by [`eval::matches`], the same semantics the index compiles for
//! search. [`Engine::Presearch`] selects candidate queries by the terms they require
//! ([`presearch`]); [`Engine::Brute`] checks every query and stays as the baseline.

pub mod analysis;
pub mod eval;
pub mod presearch;
pub mod snippet;
pub mod stats;

pub use analysis::DocAnalysis;
pub use eval::{explain, matches, Explanation};
pub use presearch::{Plan, Presearcher};
pub use stats::TermStats;

use crate::document::Document;
use crate::query::{Query, TextField};

/// Finds the saved queries a document matches.
pub trait Percolator: Send + Sync {
    /// Indexes (into the query list the percolator was built from) of every matching query,
    /// ascending.
    fn percolate(&self, doc: &DocAnalysis) -> Vec<usize>;
    /// Number of queries loaded.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Put `query` at `index`, replacing the query there, or append it when `index` is
    /// `len()`. `stats` guide its plan, as in [`Engine::build`].
    fn set(&mut self, index: usize, query: Query, stats: &TermStats);
    /// Remove the query at `index`; the last query takes its index (as `Vec::swap_remove`).
    /// An index past the end changes nothing.
    fn swap_remove(&mut self, index: usize);
}

/// The available percolation engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Candidate queries selected by the terms they require, then verified exactly.
    #[default]
    Presearch,
    /// Every query against every document: the baseline.
    Brute,
}

impl Engine {
    /// Build the engine; `stats` guide the presearcher's choice of terms (speed only: the
    /// matches are the same whatever the statistics).
    pub fn build(self, queries: Vec<Query>, stats: &TermStats) -> Box<dyn Percolator> {
        match self {
            Engine::Presearch => Box::new(Presearcher::new(queries, stats)),
            Engine::Brute => Box::new(BruteForce { queries }),
        }
    }
}

/// Checks every query against each document.
pub struct BruteForce {
    queries: Vec<Query>,
}

impl BruteForce {
    pub fn new(queries: Vec<Query>) -> Self {
        BruteForce { queries }
    }
}

impl Percolator for BruteForce {
    fn percolate(&self, doc: &DocAnalysis) -> Vec<usize> {
        self.queries
            .iter()
            .enumerate()
            .filter(|(_, q)| eval::matches(q, doc))
            .map(|(i, _)| i)
            .collect()
    }

    fn len(&self) -> usize {
        self.queries.len()
    }

    fn set(&mut self, index: usize, query: Query, _stats: &TermStats) {
        match self.queries.get_mut(index) {
            Some(slot) => *slot = query,
            None => self.queries.push(query),
        }
    }

    fn swap_remove(&mut self, index: usize) {
        if index < self.queries.len() {
            self.queries.swap_remove(index);
        }
    }
}

/// The matched terms and a highlighted snippet, for an alert or a search hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchSummary {
    pub terms: Vec<String>,
    pub snippet: String,
}

/// Explain why `query` matches `doc` and cut a snippet from the body (or the title, when only
/// the title matched).
pub fn summarize(query: &Query, doc: &Document, analysis: &DocAnalysis) -> MatchSummary {
    let explanation = explain(query, analysis);
    let body = &explanation.highlights[TextField::Body.slot()];
    let title = &explanation.highlights[TextField::Title.slot()];
    let snippet = if !body.is_empty() || title.is_empty() {
        snippet::snippet(&doc.body, analysis.field(TextField::Body), body)
    } else {
        snippet::snippet(&doc.title, analysis.field(TextField::Title), title)
    };
    MatchSummary {
        terms: explanation.terms,
        snippet,
    }
}
