//! The query AST: what a parsed query means, independent of how it is run. The matcher evaluates
//! it against one document; the index compiles it to a tantivy query. `Display` prints a query
//! back in the query language, so that `parse(print(ast)) == ast`.

use std::fmt;
use std::ops::Bound;

use chrono::NaiveDate;

use crate::document::{FIRST_DATE, LAST_DATE};

/// A text field a query can name (`title:niger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TextField {
    Title,
    Body,
    Source,
    Url,
    Tags,
}

impl TextField {
    pub const ALL: [TextField; 5] = [
        TextField::Title,
        TextField::Body,
        TextField::Source,
        TextField::Url,
        TextField::Tags,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TextField::Title => "title",
            TextField::Body => "body",
            TextField::Source => "source",
            TextField::Url => "url",
            TextField::Tags => "tags",
        }
    }

    /// Index into per-field arrays.
    pub fn slot(self) -> usize {
        self as usize
    }
}

/// Where a term is looked for: the default fields (title and body) or one named field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Default,
    Field(TextField),
}

impl Scope {
    pub const DEFAULT_FIELDS: [TextField; 2] = [TextField::Title, TextField::Body];

    pub fn fields(&self) -> &[TextField] {
        match self {
            Scope::Default => &Self::DEFAULT_FIELDS,
            Scope::Field(field) => std::slice::from_ref(field),
        }
    }
}

/// How a clause of a boolean query takes part, as in Lucene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occur {
    /// Must match (`+a`, `a AND b`, or a bare term: the default operator is AND).
    Must,
    /// At least one of the `Should` clauses must match when there is no `Must` clause (`a OR b`).
    Should,
    /// Must not match (`-a`, `NOT a`).
    MustNot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub occur: Occur,
    pub query: Query,
}

/// An inclusive or exclusive date range over the `date` field. A side may be open (`*`);
/// `date:[* TO *]` is every document that has a date. Documents only carry dates between
/// `document::FIRST_DATE` and `document::LAST_DATE`, so a bound beyond those is exact as
/// written: a range that starts after the last day holds nothing, one that ends after it is
/// as good as open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRange {
    pub from: Bound<NaiveDate>,
    pub to: Bound<NaiveDate>,
}

impl DateRange {
    /// The range as its first and last day (inclusive) among the days a document can carry;
    /// `None` when it holds none of them. The index searches exactly these days.
    pub fn indexable_days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let first = match self.from {
            Bound::Included(day) => day,
            Bound::Excluded(day) => day.succ_opt()?,
            Bound::Unbounded => FIRST_DATE,
        }
        .max(FIRST_DATE);
        let last = match self.to {
            Bound::Included(day) => day,
            Bound::Excluded(day) => day.pred_opt()?,
            Bound::Unbounded => LAST_DATE,
        }
        .min(LAST_DATE);
        (first <= last).then_some((first, last))
    }

    /// Whether a document dated `date` is in the range: the same days the index searches.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.indexable_days()
            .is_some_and(|(first, last)| (first..=last).contains(&date))
    }
}

/// A parsed, normalized query. Terms are already analyzed (lowercase, folded).
///
/// Normal form, kept by the parser: a `Bool` has at least one positive clause; if it has a `Must`
/// clause it has no `Should` clause (those cannot change what matches); it has two clauses or
/// more; a `Must` clause never holds a `Bool` of only `Must`/`MustNot` clauses and a `Should`
/// clause never holds a `Bool` of only `Should` clauses (they are spliced into the parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Term {
        scope: Scope,
        term: String,
    },
    /// Two terms or more at consecutive positions, or within `slop` moves (a swap costs 2).
    Phrase {
        scope: Scope,
        terms: Vec<String>,
        slop: u32,
    },
    Prefix {
        scope: Scope,
        prefix: String,
    },
    DateRange(DateRange),
    Bool(Vec<Clause>),
}

impl Query {
    /// Visit every leaf (non-`Bool`) query with whether it is under a `MustNot`.
    pub fn for_each_leaf<'a>(&'a self, negated: bool, f: &mut impl FnMut(&'a Query, bool)) {
        match self {
            Query::Bool(clauses) => {
                for clause in clauses {
                    let negated = negated ^ (clause.occur == Occur::MustNot);
                    clause.query.for_each_leaf(negated, f);
                }
            }
            leaf => f(leaf, negated),
        }
    }

    /// A short human label for a leaf: `niger`, `security agreement`, `secur*`, `title:niger`.
    pub fn leaf_label(&self) -> String {
        let scoped = |scope: &Scope, text: String| match scope {
            Scope::Default => text,
            Scope::Field(field) => format!("{}:{}", field.name(), text),
        };
        match self {
            Query::Term { scope, term } => scoped(scope, term.clone()),
            Query::Phrase { scope, terms, .. } => scoped(scope, terms.join(" ")),
            Query::Prefix { scope, prefix } => scoped(scope, format!("{prefix}*")),
            Query::DateRange(_) | Query::Bool(_) => self.to_string(),
        }
    }
}

/// Characters that must be escaped inside a bare term.
fn needs_escape(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '+' | '-'
                | '!'
                | '('
                | ')'
                | ':'
                | '^'
                | '['
                | ']'
                | '"'
                | '{'
                | '}'
                | '~'
                | '*'
                | '?'
                | '\\'
                | '/'
                | '&'
                | '|'
        )
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if needs_escape(c) {
            write!(f, "\\")?;
        }
        write!(f, "{c}")?;
    }
    Ok(())
}

fn write_scope(f: &mut fmt::Formatter<'_>, scope: &Scope) -> fmt::Result {
    match scope {
        Scope::Default => Ok(()),
        Scope::Field(field) => write!(f, "{}:", field.name()),
    }
}

fn write_bound(f: &mut fmt::Formatter<'_>, bound: &Bound<NaiveDate>) -> fmt::Result {
    match bound {
        Bound::Included(d) | Bound::Excluded(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        Bound::Unbounded => write!(f, "*"),
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Term { scope, term } => {
                write_scope(f, scope)?;
                write_escaped(f, term)
            }
            Query::Phrase { scope, terms, slop } => {
                write_scope(f, scope)?;
                write!(f, "\"")?;
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    for c in term.chars() {
                        if c == '"' || c == '\\' {
                            write!(f, "\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                }
                write!(f, "\"")?;
                if *slop > 0 {
                    write!(f, "~{slop}")?;
                }
                Ok(())
            }
            Query::Prefix { scope, prefix } => {
                write_scope(f, scope)?;
                write_escaped(f, prefix)?;
                write!(f, "*")
            }
            Query::DateRange(range) => {
                let open = if matches!(range.from, Bound::Excluded(_)) {
                    '{'
                } else {
                    '['
                };
                let close = if matches!(range.to, Bound::Excluded(_)) {
                    '}'
                } else {
                    ']'
                };
                write!(f, "date:{open}")?;
                write_bound(f, &range.from)?;
                write!(f, " TO ")?;
                write_bound(f, &range.to)?;
                write!(f, "{close}")
            }
            Query::Bool(clauses) => {
                // Normal form: either Must/MustNot clauses (joined by AND), or Should/MustNot
                // clauses (Should joined by OR, then the exclusions as `-x`).
                let has_must = clauses.iter().any(|c| c.occur == Occur::Must);
                let mut first = true;
                for clause in clauses {
                    let nested = matches!(clause.query, Query::Bool(_));
                    let (open, close) = if nested { ("(", ")") } else { ("", "") };
                    let prefix = match (clause.occur, has_must, first) {
                        (Occur::Must, _, true) => "",
                        (Occur::Must, _, false) => " AND ",
                        (Occur::MustNot, true, true) => "NOT ",
                        (Occur::MustNot, true, false) => " AND NOT ",
                        (Occur::MustNot, false, true) => "-",
                        (Occur::MustNot, false, false) => " -",
                        (Occur::Should, _, true) => "",
                        (Occur::Should, _, false) => " OR ",
                    };
                    write!(f, "{prefix}{open}{}{close}", clause.query)?;
                    first = false;
                }
                Ok(())
            }
        }
    }
}
