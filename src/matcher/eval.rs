//! Evaluating a query AST against one analyzed document: the meaning of every query shape,
//! mirrored one to one by the tantivy compilation in `index::compile`.

use super::analysis::{DocAnalysis, FieldTerms};
use crate::query::positions;
use crate::query::{Occur, Query};

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
    pub highlights: [Vec<(u32, u32)>; crate::query::TextField::ALL.len()],
}

/// Explain a match: walks the clauses that made the document match (never the excluded ones).
pub fn explain(query: &Query, doc: &DocAnalysis) -> Explanation {
    let mut explanation = Explanation::default();
    collect(query, doc, &mut explanation);
    for ranges in &mut explanation.highlights {
        ranges.sort_unstable();
        ranges.dedup();
    }
    explanation
}

fn collect(query: &Query, doc: &DocAnalysis, out: &mut Explanation) {
    let mut found = false;
    match query {
        Query::Bool(clauses) => {
            for clause in clauses {
                if clause.occur != Occur::MustNot && matches(&clause.query, doc) {
                    collect(&clause.query, doc, out);
                }
            }
            return;
        }
        Query::Term { scope, term } => {
            for field in scope.fields() {
                if let Some(ps) = doc.field(*field).positions(term) {
                    found = true;
                    out.highlights[field.slot()].extend(ps.iter().map(|&p| (p, p)));
                }
            }
        }
        Query::Phrase { scope, terms, slop } => {
            for field in scope.fields() {
                let terms_of = doc.field(*field);
                let lists: Option<Vec<&[u32]>> =
                    terms.iter().map(|t| terms_of.positions(t)).collect();
                if let Some(lists) = lists {
                    let before = out.highlights[field.slot()].len();
                    out.highlights[field.slot()].extend(positions::all_matches(&lists, *slop));
                    found |= out.highlights[field.slot()].len() > before;
                }
            }
        }
        Query::Prefix { scope, prefix } => {
            for field in scope.fields() {
                for (_, ps) in doc.field(*field).with_prefix(prefix) {
                    found = true;
                    out.highlights[field.slot()].extend(ps.iter().map(|&p| (p, p)));
                }
            }
        }
        Query::DateRange(range) => found = doc.date.is_some_and(|d| range.contains(d)),
    }
    if found {
        let label = query.leaf_label();
        if !out.terms.contains(&label) {
            out.terms.push(label);
        }
    }
}
