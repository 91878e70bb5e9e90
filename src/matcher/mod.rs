//! The matcher: which saved queries a new document matches (percolation), and why.
//!
//! A document is analyzed once ([`DocAnalysis`]); a [`Percolator`] returns the saved queries it
//! matches, each verified with the semantics of [`eval::matches`], which the index compiles for
//! search (the presearcher runs them compiled, [`program`]). [`Engine::Presearch`] selects candidate queries by the terms they require
//! ([`presearch`]); [`Engine::Brute`] checks every query and stays as the baseline.

pub mod analysis;
pub mod eval;
pub mod presearch;
pub mod program;
pub mod snippet;
pub mod stats;

pub use analysis::DocAnalysis;
pub use eval::{explain, matches, Explanation};
pub use presearch::{Plan, Presearcher};
pub use stats::TermStats;

use crate::document::Document;
use crate::query::{Query, SharedQuery, TextField};

/// A saved query's stable name inside a percolator: the caller picks it (the engine's
/// `QuerySet` hands out dense slots and reuses freed ones), the percolator files the query
/// under it and answers with it. Removing one query never renumbers another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(u32);

impl QueryId {
    pub const fn new(slot: u32) -> QueryId {
        QueryId(slot)
    }

    /// The slot, for tables indexed by id.
    pub const fn slot(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for QueryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The ids `0..n` for a list of queries (the queries of `lookout match`, benchmarks, tests).
pub fn numbered(queries: Vec<Query>) -> impl Iterator<Item = (QueryId, SharedQuery)> {
    queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| (QueryId(u32::try_from(i).unwrap_or(u32::MAX)), q.into()))
}

/// Finds the saved queries a document matches.
pub trait Percolator: Send + Sync {
    /// The ids of every matching query, ascending.
    fn percolate(&self, doc: &DocAnalysis) -> Vec<QueryId>;
    /// Number of queries loaded.
    fn len(&self) -> usize;
    /// The query filed under `id`.
    fn query(&self, id: QueryId) -> Option<&Query>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// File `query` under `id`, replacing the query filed there if any. `stats` guide its
    /// plan, as in [`Engine::build`].
    fn set(&mut self, id: QueryId, query: SharedQuery, stats: &TermStats);
    /// Withdraw the query filed under `id` (nothing if there is none); no other id changes.
    fn remove(&mut self, id: QueryId);
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
    /// Build the engine over queries numbered `0..n`; `stats` guide the presearcher's choice
    /// of terms (speed only: the matches are the same whatever the statistics).
    pub fn build(self, queries: Vec<Query>, stats: &TermStats) -> Box<dyn Percolator> {
        self.build_with_ids(numbered(queries), stats)
    }

    /// Build the engine over queries filed under the given ids.
    pub fn build_with_ids(
        self,
        queries: impl IntoIterator<Item = (QueryId, SharedQuery)>,
        stats: &TermStats,
    ) -> Box<dyn Percolator> {
        match self {
            Engine::Presearch => Box::new(Presearcher::with_ids(queries, stats)),
            Engine::Brute => {
                let mut brute = BruteForce::new(Vec::new());
                for (id, query) in queries {
                    brute.set(id, query, stats);
                }
                Box::new(brute)
            }
        }
    }
}

/// Checks every query against each document.
pub struct BruteForce {
    /// By slot; `None`: a free slot.
    queries: Vec<Option<SharedQuery>>,
    len: usize,
}

impl BruteForce {
    /// Queries numbered `0..n`.
    pub fn new(queries: Vec<Query>) -> Self {
        BruteForce {
            len: queries.len(),
            queries: queries.into_iter().map(|q| Some(q.into())).collect(),
        }
    }
}

impl Percolator for BruteForce {
    fn percolate(&self, doc: &DocAnalysis) -> Vec<QueryId> {
        self.queries
            .iter()
            .enumerate()
            .filter(|(_, q)| q.as_ref().is_some_and(|q| eval::matches(q, doc)))
            .map(|(i, _)| QueryId(i as u32))
            .collect()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn query(&self, id: QueryId) -> Option<&Query> {
        self.queries.get(id.slot())?.as_deref()
    }

    fn set(&mut self, id: QueryId, query: SharedQuery, _stats: &TermStats) {
        if self.queries.len() <= id.slot() {
            self.queries.resize_with(id.slot() + 1, || None);
        }
        if self.queries[id.slot()].replace(query).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, id: QueryId) {
        if let Some(slot) = self.queries.get_mut(id.slot()) {
            if slot.take().is_some() {
                self.len -= 1;
            }
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
