//! Evaluating a query AST against one analyzed document: the meaning of every query shape,
//! mirrored one to one by the tantivy compilation in `index::compile`.

use rustc_hash::FxHashSet;

use super::analysis::{DocAnalysis, FieldTerms};
use crate::query::positions;
use crate::query::{Occur, Query, TextField};

/// Whether `query` matches the document.
pub fn matches(query: &Query, doc: &DocAnalysis) -> bool {
    match query {
        Query::Term { scope, term } => scope.fields().iter().any(|f| doc.field(*f).contains(term)),
        Query::Phrase { scope, terms, slop } => scope
            .fields()
            .iter()
            .any(|f| phrase_in_field(doc.field(*f), terms, *slop)),
        Query::Prefix { scope, prefix } => scope
            .fields()
            .iter()
            .any(|f| doc.field(*f).has_prefix(prefix)),
        Query::DateRange(range) => doc.date.is_some_and(|date| range.contains(date)),
        Query::Bool(clauses) => {
            let mut has_must = false;
            let mut has_should = false;
            let mut any_should = false;
            for clause in clauses {
                match clause.occur {
                    Occur::Must => {
                        has_must = true;
                        if !matches(&clause.query, doc) {
                            return false;
                        }
                    }
                    Occur::MustNot => {
                        if matches(&clause.query, doc) {
                            return false;
                        }
                    }
                    Occur::Should => {
                        has_should = true;
                        any_should = any_should || matches(&clause.query, doc);
                    }
                }
            }
            // As in Lucene: beside a required clause, optional clauses only score; a group of
            // exclusions alone matches nothing.
            has_must || (has_should && any_should)
        }
    }
}

/// Whether the phrase occurs in one field (no allocation for phrases of up to 16 words).
fn phrase_in_field(field: &FieldTerms, terms: &[String], slop: u32) -> bool {
    const INLINE: usize = 16;
    if terms.len() > INLINE {
        let lists: Option<Vec<&[u32]>> = terms.iter().map(|t| field.positions(t)).collect();
        return lists.is_some_and(|lists| positions::phrase_matches(&lists, slop));
    }
    let mut lists: [&[u32]; INLINE] = [&[]; INLINE];
    for (slot, term) in lists.iter_mut().zip(terms) {
        match field.positions(term) {
            Some(positions) => *slot = positions,
            None => return false,
        }
    }
    positions::phrase_matches(&lists[..terms.len()], slop)
}

/// Why a document matched: the positive parts of the query that hold, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// Labels of the matching leaves (`niger`, `security agreement`, `secur*`), in query order.
    pub terms: Vec<String>,
    /// Per field (by `TextField::slot`), the token position ranges to highlight.
    pub highlights: [Vec<(u32, u32)>; TextField::ALL.len()],
}

/// Explain a match: the positive leaves of the clauses that made the document match (never
/// the excluded ones), in one pass over the query: each clause is evaluated once, whatever its
/// depth, and what a clause that does not hold collected is taken back.
pub fn explain(query: &Query, doc: &DocAnalysis) -> Explanation {
    let mut collector = Collector::default();
    collector.collect(query, doc);
    let mut explanation = Explanation {
        terms: collector.terms,
        highlights: collector.highlights,
    };
    for ranges in &mut explanation.highlights {
        ranges.sort_unstable();
        ranges.dedup();
    }
    explanation
}

#[derive(Default)]
struct Collector {
    terms: Vec<String>,
    /// The labels in `terms`, to keep each once.
    labels: FxHashSet<String>,
    highlights: [Vec<(u32, u32)>; TextField::ALL.len()],
}

/// How much a collector held: what to keep when a clause turns out not to hold.
struct Mark {
    terms: usize,
    highlights: [usize; TextField::ALL.len()],
}

impl Collector {
    fn mark(&self) -> Mark {
        Mark {
            terms: self.terms.len(),
            highlights: std::array::from_fn(|slot| self.highlights[slot].len()),
        }
    }

    fn rollback(&mut self, mark: &Mark) {
        for label in self.terms.drain(mark.terms..) {
            self.labels.remove(&label);
        }
        for (ranges, &len) in self.highlights.iter_mut().zip(&mark.highlights) {
            ranges.truncate(len);
        }
    }

    /// Whether `query` matches (as [`matches`]); what it collected stays only if it does.
    fn collect(&mut self, query: &Query, doc: &DocAnalysis) -> bool {
        let found = match query {
            Query::Bool(clauses) => {
                let mark = self.mark();
                let mut has_must = false;
                let mut has_should = false;
                let mut any_should = false;
                for clause in clauses {
                    let holds = match clause.occur {
                        Occur::Must => {
                            has_must = true;
                            self.collect(&clause.query, doc)
                        }
                        Occur::MustNot => !matches(&clause.query, doc),
                        Occur::Should => {
                            has_should = true;
                            any_should |= self.collect(&clause.query, doc);
                            true
                        }
                    };
                    if !holds {
                        self.rollback(&mark);
                        return false;
                    }
                }
                let matched = has_must || (has_should && any_should);
                if !matched {
                    self.rollback(&mark);
                }
                return matched;
            }
            Query::Term { scope, term } => {
                let mut found = false;
                for field in scope.fields() {
                    if let Some(ps) = doc.field(*field).positions(term) {
                        found = true;
                        self.highlights[field.slot()].extend(ps.iter().map(|&p| (p, p)));
                    }
                }
                found
            }
            Query::Phrase { scope, terms, slop } => {
                let mut found = false;
                for field in scope.fields() {
                    let terms_of = doc.field(*field);
                    let lists: Option<Vec<&[u32]>> =
                        terms.iter().map(|t| terms_of.positions(t)).collect();
                    if let Some(lists) = lists {
                        let ranges = &mut self.highlights[field.slot()];
                        let before = ranges.len();
                        ranges.extend(positions::all_matches(&lists, *slop));
                        found |= ranges.len() > before;
                    }
                }
                found
            }
            Query::Prefix { scope, prefix } => {
                let mut found = false;
                for field in scope.fields() {
                    for (_, ps) in doc.field(*field).with_prefix(prefix) {
                        found = true;
                        self.highlights[field.slot()].extend(ps.iter().map(|&p| (p, p)));
                    }
                }
                found
            }
            Query::DateRange(range) => doc.date.is_some_and(|d| range.contains(d)),
        };
        if found {
            let label = query.leaf_label();
            if !self.labels.contains(&label) {
                self.labels.insert(label.clone());
                self.terms.push(label);
            }
        }
        found
    }
}
