//! Compiling lookout's query AST into a tantivy query, clause for clause the meaning that
//! `matcher::eval` gives it. (Never tantivy's `QueryParser`: its traps are listed in the design.)

use std::ops::Bound;
use std::sync::Arc;

use tantivy::query::{
    AutomatonWeight, BooleanQuery, EmptyQuery, EnableScoring, Occur as TantivyOccur,
    Query as TantivyQuery, RangeQuery, TermQuery, Weight,
};
use tantivy::schema::{Field, IndexRecordOption, Term};
use tantivy_fst::Automaton;

use super::phrase::PositionsPhraseQuery;
use super::schema::{date_to_tantivy, Fields};
use crate::query::{Occur, Query, Scope, TextField};

pub fn compile(query: &Query, fields: &Fields) -> Box<dyn TantivyQuery> {
    match query {
        Query::Term { scope, term } => per_field(scope, |field| {
            Box::new(TermQuery::new(
                Term::from_field_text(fields.text(field), term),
                IndexRecordOption::WithFreqs,
            ))
        }),
        Query::Phrase { scope, terms, slop } => per_field(scope, |field| {
            let field = fields.text(field);
            let terms: Vec<Term> = terms
                .iter()
                .map(|t| Term::from_field_text(field, t))
                .collect();
            // The positions query decides the match; the term queries only rank.
            let mut clauses: Vec<(TantivyOccur, Box<dyn TantivyQuery>)> = vec![(
                TantivyOccur::Must,
                Box::new(PositionsPhraseQuery::new(terms.clone(), *slop)),
            )];
            for term in terms {
                clauses.push((
                    TantivyOccur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                ));
            }
            Box::new(BooleanQuery::with_minimum_required_clauses(clauses, 0))
        }),
        Query::Prefix { scope, prefix } => per_field(scope, |field| {
            Box::new(PrefixQuery {
                field: fields.text(field),
                prefix: prefix.clone(),
            })
        }),
        Query::DateRange(range) => {
            // Dates are indexed at midnight UTC: search whole days, within the days a document
            // can carry (so an open side or a bound beyond them is exact, never a panic or an
            // overflow in tantivy).
            let days = range
                .indexable_days()
                .and_then(|(first, last)| Some((date_to_tantivy(first)?, date_to_tantivy(last)?)));
            match days {
                Some((first, last)) => Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_date(fields.date, first)),
                    Bound::Included(Term::from_field_date(fields.date, last)),
                )),
                None => Box::new(EmptyQuery),
            }
        }
        Query::Bool(clauses) => {
            let has_must = clauses.iter().any(|c| c.occur == Occur::Must);
            let subqueries = clauses
                .iter()
                .map(|clause| {
                    let occur = match clause.occur {
                        Occur::Must => TantivyOccur::Must,
                        Occur::Should => TantivyOccur::Should,
                        Occur::MustNot => TantivyOccur::MustNot,
                    };
                    (occur, compile(&clause.query, fields))
                })
                .collect();
            // Beside a required clause, optional ones only rank; otherwise one must match.
            let minimum_should = usize::from(!has_must);
            Box::new(BooleanQuery::with_minimum_required_clauses(
                subqueries,
                minimum_should,
            ))
        }
    }
}

/// One query per field of the scope, any of which may match.
fn per_field(
    scope: &Scope,
    mut build: impl FnMut(TextField) -> Box<dyn TantivyQuery>,
) -> Box<dyn TantivyQuery> {
    let mut queries: Vec<Box<dyn TantivyQuery>> =
        scope.fields().iter().map(|f| build(*f)).collect();
    if queries.len() == 1 {
        if let Some(only) = queries.pop() {
            return only;
        }
    }
    Box::new(BooleanQuery::with_minimum_required_clauses(
        queries
            .into_iter()
            .map(|q| (TantivyOccur::Should, q))
            .collect(),
        1,
    ))
}

/// Every term of a field that starts with `prefix` (walks the term dictionary's FST).
#[derive(Debug, Clone)]
struct PrefixQuery {
    field: Field,
    prefix: String,
}

impl TantivyQuery for PrefixQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<PrefixAutomaton>::new(
            self.field,
            Arc::new(PrefixAutomaton(self.prefix.as_bytes().to_vec())),
        )))
    }
}

/// Accepts every byte string that starts with the given bytes.
#[derive(Debug)]
struct PrefixAutomaton(Vec<u8>);

impl Automaton for PrefixAutomaton {
    /// `Some(n)`: the first n bytes of the prefix were read; `None`: cannot match.
    type State = Option<usize>;

    fn start(&self) -> Self::State {
        Some(0)
    }

    fn is_match(&self, state: &Self::State) -> bool {
        *state == Some(self.0.len())
    }

    fn can_match(&self, state: &Self::State) -> bool {
        state.is_some()
    }

    fn will_always_match(&self, state: &Self::State) -> bool {
        *state == Some(self.0.len())
    }

    fn accept(&self, state: &Self::State, byte: u8) -> Self::State {
        let n = (*state)?;
        if n == self.0.len() {
            Some(n)
        } else if self.0[n] == byte {
            Some(n + 1)
        } else {
            None
        }
    }
}
