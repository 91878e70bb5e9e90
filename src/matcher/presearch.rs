//! The presearcher: percolation that does not run every saved query against every document.
//!
//! Each query is indexed under the terms it *requires* (Lucene Monitor's presearcher, with
//! Elasticsearch's term extraction): a document can only match a query if it holds one of them.
//! - a term requires itself; a phrase its rarest word; a prefix its fixed part;
//! - a conjunction requires one of its required clauses: the one whose terms select the fewest
//!   documents by the term statistics (not the longest word, which Lucene Monitor picks);
//! - a disjunction requires any of its branches' terms;
//! - exclusions require nothing; a query with nothing extractable (a date range alone) goes to an
//!   always-check bucket.
//!
//! A document gathers the candidate queries of its distinct terms (and of every prefix of them
//! that some query uses), then each candidate is verified exactly by `eval::matches` against the
//! document's analysis. Candidates are a superset of the matches, so the result equals brute
//! force.

use rustc_hash::FxHashMap;

use super::analysis::DocAnalysis;
use super::stats::TermStats;
use super::{eval, Percolator};
use crate::query::{Occur, Query, TextField};

/// What a document must contain for a query to have a chance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Term(String),
    Prefix(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Term(term) => f.write_str(term),
            Key::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// How the presearcher indexes one query.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Candidate for documents holding any of these keys; `selectivity` is the estimated share
    /// of documents that hold one (0 without statistics). `confirm`: the keys of a second
    /// required clause, checked before verifying (a document without any of them cannot match).
    Prefiltered {
        keys: Vec<Key>,
        confirm: Vec<Key>,
        selectivity: f64,
    },
    /// Verified against every document.
    AlwaysCheck,
}

/// A requirement and its estimated cost (documents it selects).
struct Requirement {
    keys: Vec<Key>,
    cost: f64,
}

/// The plan for a query under the given statistics.
pub fn plan(query: &Query, stats: &TermStats) -> Plan {
    match requirement(query, stats) {
        Some(req) => Plan::Prefiltered {
            selectivity: if stats.docs() > 0 {
                (req.cost / stats.docs() as f64).min(1.0)
            } else {
                0.0
            },
            confirm: second_requirement(query, stats, &req.keys),
            keys: req.keys,
        },
        None => Plan::AlwaysCheck,
    }
}

/// For a conjunction: the keys of the cheapest required clause other than the one indexed.
fn second_requirement(query: &Query, stats: &TermStats, indexed: &[Key]) -> Vec<Key> {
    let Query::Bool(clauses) = query else {
        return Vec::new();
    };
    clauses
        .iter()
        .filter(|c| c.occur == Occur::Must)
        .filter_map(|c| requirement(&c.query, stats))
        .filter(|r| r.keys != indexed)
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
        .map(|r| r.keys)
        .unwrap_or_default()
}

/// Cost of a key: the documents it selects, plus small tie-breakers so that without statistics
/// fewer keys and longer words win.
fn key_cost(key: &Key, stats: &TermStats) -> f64 {
    match key {
        Key::Term(term) => stats.doc_freq(term) as f64 + 0.01 - 0.0001 * term.len().min(50) as f64,
        Key::Prefix(prefix) => {
            stats.prefix_doc_freq(prefix) as f64 + 0.02 - 0.0001 * prefix.len().min(50) as f64
        }
    }
}

fn requirement(query: &Query, stats: &TermStats) -> Option<Requirement> {
    let single = |key: Key| {
        let cost = key_cost(&key, stats);
        Some(Requirement {
            keys: vec![key],
            cost,
        })
    };
    match query {
        Query::Term { term, .. } => single(Key::Term(term.clone())),
        Query::Phrase { terms, .. } => {
            let rarest = terms
                .iter()
                .map(|t| Key::Term(t.clone()))
                .min_by(|a, b| key_cost(a, stats).total_cmp(&key_cost(b, stats)))?;
            single(rarest)
        }
        Query::Prefix { prefix, .. } => single(Key::Prefix(prefix.clone())),
        Query::DateRange(_) => None,
        Query::Bool(clauses) => {
            let has_must = clauses.iter().any(|c| c.occur == Occur::Must);
            if has_must {
                // Any one required clause will do: take the cheapest.
                clauses
                    .iter()
                    .filter(|c| c.occur == Occur::Must)
                    .filter_map(|c| requirement(&c.query, stats))
                    .min_by(|a, b| a.cost.total_cmp(&b.cost))
            } else {
                // One of the optional clauses must match: every branch is needed.
                let mut keys = Vec::new();
                let mut cost = 0.0;
                for clause in clauses.iter().filter(|c| c.occur == Occur::Should) {
                    let branch = requirement(&clause.query, stats)?;
                    cost += branch.cost;
                    for key in branch.keys {
                        if !keys.contains(&key) {
                            keys.push(key);
                        }
                    }
                }
                (!keys.is_empty()).then_some(Requirement { keys, cost })
            }
        }
    }
}

/// Counts of how the queries are indexed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresearchSummary {
    pub queries: usize,
    pub prefiltered: usize,
    pub always_check: usize,
    pub term_keys: usize,
    pub prefix_keys: usize,
}

pub struct Presearcher {
    queries: Vec<Query>,
    /// Per query, the keys of a second required clause (empty: none).
    confirm: Vec<Box<[Key]>>,
    by_term: FxHashMap<Box<str>, Vec<u32>>,
    by_prefix: FxHashMap<Box<str>, Vec<u32>>,
    /// Distinct prefix lengths in bytes, ascending: the only prefixes of a document term worth
    /// looking up.
    prefix_lengths: Vec<usize>,
    always: Vec<u32>,
}

impl Presearcher {
    pub fn new(queries: Vec<Query>, stats: &TermStats) -> Presearcher {
        let mut by_term: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut by_prefix: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut always = Vec::new();
        let mut confirms = Vec::with_capacity(queries.len());
        for (id, query) in queries.iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            match plan(query, stats) {
                Plan::AlwaysCheck => {
                    always.push(id);
                    confirms.push(Box::default());
                }
                Plan::Prefiltered { keys, confirm, .. } => {
                    confirms.push(confirm.into_boxed_slice());
                    for key in keys {
                        match key {
                            Key::Term(t) => by_term.entry(t.into_boxed_str()).or_default().push(id),
                            Key::Prefix(p) => {
                                by_prefix.entry(p.into_boxed_str()).or_default().push(id)
                            }
                        }
                    }
                }
            }
        }
        let mut prefix_lengths: Vec<usize> = by_prefix.keys().map(|p| p.len()).collect();
        prefix_lengths.sort_unstable();
        prefix_lengths.dedup();
        by_term.shrink_to_fit();
        by_prefix.shrink_to_fit();
        Presearcher {
            queries,
            confirm: confirms,
            by_term,
            by_prefix,
            prefix_lengths,
            always,
        }
    }

    pub fn summary(&self) -> PresearchSummary {
        PresearchSummary {
            queries: self.queries.len(),
            prefiltered: self.queries.len() - self.always.len(),
            always_check: self.always.len(),
            term_keys: self.by_term.len(),
            prefix_keys: self.by_prefix.len(),
        }
    }

    /// The queries worth verifying for this document, ascending, without duplicates.
    pub fn candidates(&self, doc: &DocAnalysis) -> Vec<u32> {
        let mut out = self.always.clone();
        for term in doc.distinct_terms() {
            if let Some(ids) = self.by_term.get(term) {
                out.extend_from_slice(ids);
            }
            for &len in &self.prefix_lengths {
                if len > term.len() {
                    break;
                }
                if !term.is_char_boundary(len) {
                    continue;
                }
                if let Some(ids) = self.by_prefix.get(&term[..len]) {
                    out.extend_from_slice(ids);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Whether some field of the document may hold the key (false only when none does).
fn doc_may_have(doc: &DocAnalysis, key: &Key) -> bool {
    match key {
        Key::Term(term) => doc.may_contain(term),
        Key::Prefix(prefix) => TextField::ALL
            .iter()
            .any(|f| doc.field(*f).has_prefix(prefix)),
    }
}

impl Percolator for Presearcher {
    fn percolate(&self, doc: &DocAnalysis) -> Vec<usize> {
        self.candidates(doc)
            .into_iter()
            .map(|id| id as usize)
            .filter(|&id| {
                let confirm = &self.confirm[id];
                confirm.is_empty() || confirm.iter().any(|key| doc_may_have(doc, key))
            })
            .filter(|&id| eval::matches(&self.queries[id], doc))
            .collect()
    }

    fn len(&self) -> usize {
        self.queries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;
    use crate::document::DocumentFields;
    use crate::query::parse;

    fn analysis(title: &str, body: &str) -> DocAnalysis {
        let doc = DocumentFields {
            title: title.into(),
            body: body.into(),
            ..Default::default()
        }
        .into_document("x.txt".into(), None);
        DocAnalysis::new(&doc, &mut Analyzer::default())
    }

    fn stats(docs: &[&str]) -> TermStats {
        let mut stats = TermStats::empty();
        for body in docs {
            stats.add_document(&analysis("", body));
        }
        stats
    }

    fn keys(text: &str, stats: &TermStats) -> Plan {
        plan(&parse(text).unwrap().query, stats)
    }

    fn terms(list: &[&str]) -> Vec<Key> {
        list.iter().map(|t| Key::Term(t.to_string())).collect()
    }

    #[test]
    fn conjunctions_take_the_rarest_clause() {
        let s = stats(&[
            "the niger junta",
            "the mali junta",
            "the army",
            "the niger army",
        ]);
        let Plan::Prefiltered { keys: k, .. } = keys("the AND junta AND niger", &s) else {
            panic!()
        };
        assert!(k == terms(&["niger"]) || k == terms(&["junta"]), "{k:?}");
        let Plan::Prefiltered { keys: k, .. } = keys("the AND \"mali junta\"", &s) else {
            panic!()
        };
        assert_eq!(k, terms(&["mali"]));
        // A disjunction of two rare words beats one common word.
        let Plan::Prefiltered { keys: k, .. } = keys("the AND (mali OR army)", &s) else {
            panic!()
        };
        assert_eq!(k, terms(&["mali", "army"]));
    }

    #[test]
    fn disjunctions_need_every_branch_and_exclusions_nothing() {
        let s = TermStats::empty();
        assert_eq!(
            keys("niger OR \"security pact\" OR secur*", &s),
            Plan::Prefiltered {
                keys: vec![
                    Key::Term("niger".into()),
                    Key::Term("security".into()),
                    Key::Prefix("secur".into())
                ],
                confirm: vec![],
                selectivity: 0.0
            }
        );
        let Plan::Prefiltered { keys: k, .. } = keys("niger AND NOT mali", &s) else {
            panic!()
        };
        assert_eq!(k, terms(&["niger"]));
        assert_eq!(
            keys("date:[2024-01-01 TO 2024-12-31]", &s),
            Plan::AlwaysCheck
        );
        assert_eq!(
            keys("niger OR date:[2024-01-01 TO 2024-12-31]", &s),
            Plan::AlwaysCheck
        );
        let Plan::Prefiltered { keys: k, .. } =
            keys("niger AND date:[2024-01-01 TO 2024-12-31]", &s)
        else {
            panic!()
        };
        assert_eq!(k, terms(&["niger"]));
    }

    #[test]
    fn candidates_come_from_terms_prefixes_and_the_always_bucket() {
        let queries: Vec<Query> = [
            "niger",
            "secur*",
            "mali AND junta",
            "date:[* TO 2030-01-01]",
            "\"united states\"",
        ]
        .iter()
        .map(|t| parse(t).unwrap().query)
        .collect();
        let p = Presearcher::new(queries, &TermStats::empty());
        assert_eq!(p.summary().always_check, 1);
        let doc = analysis("Niger", "security forces of the United States");
        let c = p.candidates(&doc);
        assert!(
            c.contains(&0) && c.contains(&1) && c.contains(&3) && c.contains(&4),
            "{c:?}"
        );
        assert!(!c.contains(&2));
        assert_eq!(p.percolate(&doc), vec![0, 1, 4]);
    }
}
