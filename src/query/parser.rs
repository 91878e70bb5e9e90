//! The query parser: Lucene's classic syntax (default operator AND) read into lookout's AST.
//!
//! Boolean semantics follow Lucene's `QueryParserBase.addClause` exactly, so that queries pasted
//! from Lucene, Solr or Elasticsearch mean what they meant there. Where Lucene would silently
//! produce a query that matches nothing or drops a clause, lookout refuses it or warns.

use std::iter::Peekable;
use std::ops::Bound;
use std::str::Chars;

use chrono::NaiveDate;

use super::ast::{Clause, DateRange, Occur, Query, Scope, TextField};
use super::{Lint, QueryError, QueryLimits};
use crate::analysis::Analyzer;

/// Deeper nesting than this is refused (and keeps recursion bounded on hostile input).
const MAX_DEPTH: usize = 64;

/// The result of a successful parse: the query and any warnings about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub query: Query,
    pub lints: Vec<Lint>,
}

/// Parse a query in lookout's language, with the default limits ([`QueryLimits::default`]).
pub fn parse(text: &str) -> Result<Parsed, QueryError> {
    parse_with_limits(text, QueryLimits::default())
}

/// Parse a query in lookout's language. A query with more clauses than `limits` allows is
/// refused at the clause that crosses the limit: the text after it is never read.
pub fn parse_with_limits(text: &str, limits: QueryLimits) -> Result<Parsed, QueryError> {
    thread_local! {
        // One analyzer per thread, not one per query (a million queries load on every core).
        static ANALYZER: std::cell::RefCell<Option<Analyzer>> = const { std::cell::RefCell::new(None) };
    }
    let analyzer = ANALYZER
        .with(|cell| cell.borrow_mut().take())
        .unwrap_or_default();
    let mut parser = Parser {
        lexer: Lexer::new(text),
        lookahead: None,
        lex_error: None,
        analyzer,
        lints: Vec::new(),
        clauses: 0,
        limits,
    };
    let parsed = parser.parse_all();
    // The lexer stops at its first error and the parser then sees the end of the text: the
    // lexer's error is the one to report.
    let lex_error = parser.lex_error.take();
    ANALYZER.with(|cell| *cell.borrow_mut() = Some(parser.analyzer));
    match lex_error {
        Some(error) => Err(error),
        None => parsed,
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Plus,
    Minus,
    Colon,
    /// `~` and the number after it, if any.
    Tilde(Option<String>),
    /// `^` and the number after it, if any.
    Caret,
    RangeOpen {
        inclusive: bool,
    },
    RangeClose {
        inclusive: bool,
    },
    Quoted(String),
    /// A bare word with escapes resolved; `wildcards` are the char indexes of unescaped `*`/`?`.
    Word {
        text: String,
        wildcards: Vec<usize>,
        escaped: bool,
    },
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    /// 1-based column (in chars) of the token's first char.
    column: usize,
    /// Whether whitespace preceded the token.
    spaced: bool,
}

fn is_term_breaker(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | ':' | '^' | '[' | ']' | '"' | '{' | '}' | '~')
}

/// Reads tokens one at a time, so that a query refused early (too many clauses, an error) is
/// never read further.
struct Lexer<'a> {
    chars: Peekable<Chars<'a>>,
    /// 1-based column (in chars) of the next char.
    column: usize,
    /// Whether whitespace preceded the next token.
    spaced: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            chars: text.chars().peekable(),
            column: 1,
            spaced: true,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        self.column += 1;
        Some(c)
    }

    /// The next token, `None` at the end of the text.
    fn next_token(&mut self) -> Result<Option<Token>, QueryError> {
        while let Some(&c) = self.chars.peek() {
            if !c.is_whitespace() {
                break;
            }
            self.spaced = true;
            self.bump();
        }
        let column = self.column;
        let Some(c) = self.bump() else {
            return Ok(None);
        };
        let kind = match c {
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            ':' => TokenKind::Colon,
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            '!' => TokenKind::Not,
            '[' | '{' => TokenKind::RangeOpen {
                inclusive: c == '[',
            },
            ']' | '}' => TokenKind::RangeClose {
                inclusive: c == ']',
            },
            '~' | '^' => {
                let mut number = String::new();
                while let Some(&d) = self.chars.peek() {
                    if !(d.is_ascii_digit() || d == '.') {
                        break;
                    }
                    number.push(d);
                    self.bump();
                }
                if c == '~' {
                    TokenKind::Tilde((!number.is_empty()).then_some(number))
                } else {
                    TokenKind::Caret
                }
            }
            '"' => {
                let mut phrase = String::new();
                let mut closed = false;
                while let Some(c) = self.bump() {
                    match c {
                        '\\' => match self.bump() {
                            Some(escaped) => phrase.push(escaped),
                            // A '\' right before the end escapes nothing: the quote is open.
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        other => phrase.push(other),
                    }
                }
                if !closed {
                    return Err(QueryError::new(
                        column,
                        "unterminated phrase: this '\"' has no closing quote",
                    ));
                }
                TokenKind::Quoted(phrase)
            }
            first => self.word(first)?,
        };
        let token = Token {
            kind,
            column,
            spaced: self.spaced,
        };
        self.spaced = false;
        Ok(Some(token))
    }

    /// A bare word starting with `first` (already read).
    fn word(&mut self, first: char) -> Result<TokenKind, QueryError> {
        let mut word = String::new();
        let mut wildcards = Vec::new();
        let mut escaped = false;
        let mut n = 0;
        let mut next = Some(first);
        while let Some(c) = next {
            if c == '\\' {
                let Some(escapee) = self.bump() else {
                    return Err(QueryError::new(
                        self.column - 1,
                        "a '\\' at the end of the query escapes nothing",
                    ));
                };
                word.push(escapee);
                escaped = true;
            } else {
                if c == '*' || c == '?' {
                    wildcards.push(n);
                }
                word.push(c);
            }
            n += 1;
            next = match self.chars.peek() {
                Some(&c) if !is_term_breaker(c) => self.bump(),
                _ => None,
            };
        }
        Ok(match (word.as_str(), escaped) {
            ("AND" | "&&", false) => TokenKind::And,
            ("OR" | "||", false) => TokenKind::Or,
            ("NOT", false) => TokenKind::Not,
            _ => TokenKind::Word {
                text: word,
                wildcards,
                escaped,
            },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone, Copy, PartialEq)]
enum Conjunction {
    None,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Modifier {
    None,
    Required,
    Prohibited,
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The next token, once peeked.
    lookahead: Option<Token>,
    /// The lexer's error, once it met one (the parser then sees the end of the text).
    lex_error: Option<QueryError>,
    analyzer: Analyzer,
    lints: Vec<Lint>,
    /// Clauses read so far (terms, phrase words, prefixes, dates), against `limits`.
    clauses: usize,
    limits: QueryLimits,
}

/// A clause as Lucene's `addClause` builds them: the query may be `None` when the analyzer
/// removed every word of it (e.g. `-` alone), yet its conjunction still changes its neighbour.
struct RawClause {
    occur: Occur,
    query: Option<Query>,
    column: usize,
}

impl Parser<'_> {
    fn parse_all(&mut self) -> Result<Parsed, QueryError> {
        if self.peek().is_none() {
            return Err(QueryError::new(1, "empty query: write at least one term"));
        }
        let clauses = self.parse_clauses(Scope::Default, 0)?;
        if let Some(token) = self.peek() {
            // Only a stray ')' can stop the top level early.
            return Err(QueryError::new(
                token.column,
                "unexpected ')' without a matching '('",
            ));
        }
        let query = build_bool(clauses, 1, &mut self.lints)?.ok_or_else(|| {
            QueryError::new(1, "the query has no searchable words (only punctuation?)")
        })?;
        Ok(Parsed {
            query,
            lints: std::mem::take(&mut self.lints),
        })
    }

    fn peek(&mut self) -> Option<&Token> {
        if self.lookahead.is_none() && self.lex_error.is_none() {
            match self.lexer.next_token() {
                Ok(token) => self.lookahead = token,
                Err(error) => self.lex_error = Some(error),
            }
        }
        self.lookahead.as_ref()
    }

    fn next(&mut self) -> Option<Token> {
        self.peek();
        self.lookahead.take()
    }

    /// The column of the next token, or just past the end of the text.
    fn column(&mut self) -> usize {
        match self.peek() {
            Some(token) => token.column,
            None => self.lexer.column,
        }
    }

    /// The column just past the end of the text (once the lexer is there).
    fn end_column(&self) -> usize {
        self.lexer.column
    }

    /// Count `n` more clauses read at `column`; refuse the query past the limit.
    fn count_clauses(&mut self, n: usize, column: usize) -> Result<(), QueryError> {
        self.clauses = self.clauses.saturating_add(n);
        if self.clauses > self.limits.max_clauses {
            return Err(too_many_clauses(self.limits.max_clauses, column));
        }
        Ok(())
    }

    /// The terms of `text`, counted as clauses (analysis stops past the limit).
    fn counted_terms(&mut self, text: &str, column: usize) -> Result<Vec<String>, QueryError> {
        let room = self.limits.max_clauses.saturating_sub(self.clauses);
        match self.analyzer.terms_at_most(text, room) {
            Some(terms) => {
                self.count_clauses(terms.len(), column)?;
                Ok(terms)
            }
            None => Err(too_many_clauses(self.limits.max_clauses, column)),
        }
    }

    /// `Query := Modifiers Clause (Conjunction Modifiers Clause)*`, up to `)` or the end.
    fn parse_clauses(&mut self, scope: Scope, depth: usize) -> Result<Vec<RawClause>, QueryError> {
        if depth > MAX_DEPTH {
            return Err(QueryError::new(
                self.column(),
                format!("parentheses nested more than {MAX_DEPTH} deep"),
            ));
        }
        let mut clauses: Vec<RawClause> = Vec::new();
        while let Some(token) = self.peek().cloned() {
            if token.kind == TokenKind::RParen {
                break;
            }
            let mut conjunction = Conjunction::None;
            let mut after = None;
            match token.kind {
                TokenKind::And | TokenKind::Or => {
                    let word = if token.kind == TokenKind::And {
                        "AND"
                    } else {
                        "OR"
                    };
                    if clauses.is_empty() {
                        return Err(QueryError::new(
                            token.column,
                            format!("expected a term before {word}"),
                        ));
                    }
                    conjunction = if token.kind == TokenKind::And {
                        Conjunction::And
                    } else {
                        Conjunction::Or
                    };
                    after = Some(word);
                    self.next();
                }
                _ => {}
            }
            let mut modifier = Modifier::None;
            if let Some(token) = self.peek().cloned() {
                match token.kind {
                    TokenKind::Plus => {
                        modifier = Modifier::Required;
                        after = Some("+");
                        self.next();
                    }
                    TokenKind::Minus => {
                        modifier = Modifier::Prohibited;
                        after = Some("-");
                        self.next();
                    }
                    TokenKind::Not => {
                        modifier = Modifier::Prohibited;
                        after = Some("NOT");
                        self.next();
                    }
                    _ => {}
                }
            }
            let column = self.column();
            let query = match self.peek().map(|t| &t.kind) {
                None | Some(TokenKind::RParen) => {
                    let what = after.unwrap_or("this point");
                    return Err(QueryError::new(
                        column,
                        format!("expected a term after {what}"),
                    ));
                }
                Some(TokenKind::And | TokenKind::Or | TokenKind::Not) => {
                    let what = after.unwrap_or("this point");
                    return Err(QueryError::new(
                        column,
                        format!("expected a term after {what}, found another operator"),
                    ));
                }
                _ => self.parse_clause(scope, depth)?,
            };
            add_clause(&mut clauses, conjunction, modifier, query, column);
        }
        Ok(clauses)
    }

    /// `Clause := [field ':'] (Term | Phrase | Range | '(' Query ')')`
    fn parse_clause(&mut self, scope: Scope, depth: usize) -> Result<Option<Query>, QueryError> {
        let Some(token) = self.next() else {
            return Err(QueryError::new(self.end_column(), "expected a term"));
        };
        // A field prefix: a word followed by ':'.
        if let TokenKind::Word { text, .. } = &token.kind {
            if self.peek().map(|t| &t.kind) == Some(&TokenKind::Colon) {
                self.next();
                if scope != Scope::Default {
                    return Err(QueryError::new(
                        token.column,
                        "a field inside a field-scoped group is not supported",
                    ));
                }
                return self.parse_field_clause(text, token.column, depth);
            }
        }
        self.parse_unscoped(token, scope, depth)
    }

    fn parse_field_clause(
        &mut self,
        name: &str,
        column: usize,
        depth: usize,
    ) -> Result<Option<Query>, QueryError> {
        let value_column = self.column();
        if name == "date" {
            let Some(token) = self.next() else {
                return Err(QueryError::new(
                    value_column,
                    "expected a date or a date range after date:",
                ));
            };
            return match token.kind {
                TokenKind::RangeOpen { inclusive } => self.parse_date_range(inclusive, token.column).map(Some),
                TokenKind::Word { text, .. } => {
                    let day = parse_date(&text, token.column)?;
                    self.count_clauses(1, token.column)?;
                    self.reject_suffixes()?;
                    Ok(Some(Query::DateRange(DateRange {
                        from: Bound::Included(day),
                        to: Bound::Included(day),
                    })))
                }
                _ => Err(QueryError::new(
                    token.column,
                    "expected a date (YYYY-MM-DD) or a range like [2024-01-01 TO 2024-12-31] after date:",
                )),
            };
        }
        let Some(field) = TextField::ALL.iter().copied().find(|f| f.name() == name) else {
            return Err(QueryError::new(
                column,
                format!(
                    "unknown field '{name}' (fields: title, body, source, url, tags, date; \
                     to search for '{name}:' as text, escape the colon: {name}\\:)"
                ),
            ));
        };
        let Some(token) = self.next() else {
            return Err(QueryError::new(
                value_column,
                format!("expected a term after {name}:"),
            ));
        };
        if let TokenKind::RangeOpen { .. } = token.kind {
            return Err(QueryError::new(
                token.column,
                format!("ranges are only supported on date, not on {name}"),
            ));
        }
        self.parse_unscoped(token, Scope::Field(field), depth)
    }

    fn parse_unscoped(
        &mut self,
        token: Token,
        scope: Scope,
        depth: usize,
    ) -> Result<Option<Query>, QueryError> {
        match token.kind {
            TokenKind::LParen => {
                let clauses = self.parse_clauses(scope, depth + 1)?;
                match self.next() {
                    Some(Token {
                        kind: TokenKind::RParen,
                        ..
                    }) => {}
                    _ => {
                        return Err(QueryError::new(
                            token.column,
                            "this '(' is never closed: expected ')'",
                        ))
                    }
                }
                if clauses.is_empty() {
                    return Err(QueryError::new(token.column, "empty parentheses"));
                }
                self.reject_suffixes()?;
                build_bool(clauses, token.column, &mut self.lints)
            }
            TokenKind::Quoted(text) => {
                let slop =
                    match self.peek().map(|t| (&t.kind, t.spaced)) {
                        Some((TokenKind::Tilde(number), false)) => {
                            let number = number.clone();
                            let at = self.column();
                            self.next();
                            match number.as_deref().map(str::parse::<u32>) {
                                Some(Ok(slop)) => slop,
                                _ => return Err(QueryError::new(
                                    at,
                                    "expected a whole number of positions after ~, like \"a b\"~3",
                                )),
                            }
                        }
                        _ => 0,
                    };
                self.reject_suffixes()?;
                let terms = self.counted_terms(&text, token.column)?;
                Ok(match terms.len() {
                    0 => None,
                    1 => Some(Query::Term {
                        scope,
                        term: terms.into_iter().next().unwrap_or_default(),
                    }),
                    _ => Some(Query::Phrase { scope, terms, slop }),
                })
            }
            TokenKind::Word {
                text,
                wildcards,
                escaped: _,
            } => {
                let query = self.word_query(&text, &wildcards, scope, token.column)?;
                if let Some(Token {
                    kind: TokenKind::Tilde(_),
                    spaced: false,
                    column,
                }) = self.peek().cloned()
                {
                    return Err(QueryError::new(
                        column,
                        "fuzzy terms (word~) are not supported; for words near each other use a phrase with slop, like \"a b\"~3",
                    ));
                }
                self.reject_suffixes()?;
                if matches!(text.as_str(), "and" | "or" | "not") {
                    self.lints.push(Lint {
                        column: token.column,
                        message: format!(
                            "lowercase '{text}' is searched as a word; write {} for the operator",
                            text.to_uppercase()
                        ),
                    });
                }
                Ok(query)
            }
            TokenKind::RangeOpen { .. } => Err(QueryError::new(
                token.column,
                "a range needs a field: date:[2024-01-01 TO 2024-12-31]",
            )),
            TokenKind::RParen => Err(QueryError::new(token.column, "unexpected ')'")),
            TokenKind::Colon => Err(QueryError::new(
                token.column,
                "expected a field name before ':'",
            )),
            TokenKind::Tilde(_) => Err(QueryError::new(
                token.column,
                "'~' must follow a phrase, like \"a b\"~3",
            )),
            TokenKind::Caret => Err(QueryError::new(
                token.column,
                "boosts (^) are not supported",
            )),
            TokenKind::RangeClose { .. } => Err(QueryError::new(
                token.column,
                "unexpected ']' or '}' outside a range",
            )),
            TokenKind::And
            | TokenKind::Or
            | TokenKind::Not
            | TokenKind::Plus
            | TokenKind::Minus => Err(QueryError::new(
                token.column,
                "expected a term, found an operator",
            )),
        }
    }

    /// `~` or `^` right after a term or group.
    fn reject_suffixes(&mut self) -> Result<(), QueryError> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Caret,
                column,
                spaced: false,
            }) => Err(QueryError::new(*column, "boosts (^) are not supported")),
            Some(Token {
                kind: TokenKind::Tilde(_),
                column,
                spaced: false,
            }) => Err(QueryError::new(
                *column,
                "'~' must follow a phrase, like \"a b\"~3",
            )),
            _ => Ok(()),
        }
    }

    fn word_query(
        &mut self,
        text: &str,
        wildcards: &[usize],
        scope: Scope,
        column: usize,
    ) -> Result<Option<Query>, QueryError> {
        let length = text.chars().count();
        if let Some(&first) = wildcards.first() {
            if first == 0 {
                return Err(QueryError::new(
                    column,
                    "a word cannot start with a wildcard (* or ?)",
                ));
            }
            if wildcards.len() > 1 || first != length - 1 || text.ends_with('?') {
                return Err(QueryError::new(
                    column + first,
                    "wildcards inside a word are not supported; only a trailing * for a prefix, like secur*",
                ));
            }
            let stem = &text[..text.len() - 1];
            let tokens = self.analyzer.tokens(stem);
            return match tokens.as_slice() {
                [only] if only.start == 0 && only.end == stem.len() => {
                    if only.text.chars().count() <= 2 {
                        self.lints.push(Lint {
                            column,
                            message: format!(
                                "the prefix '{}*' is very short: it matches a great many words",
                                only.text
                            ),
                        });
                    }
                    let prefix = only.text.clone();
                    self.count_clauses(1, column)?;
                    Ok(Some(Query::Prefix { scope, prefix }))
                }
                _ => Err(QueryError::new(
                    column,
                    format!("a prefix must be one word of letters or digits, not '{text}'"),
                )),
            };
        }
        let terms = self.counted_terms(text, column)?;
        Ok(match terms.len() {
            0 => None,
            1 => Some(Query::Term {
                scope,
                term: terms.into_iter().next().unwrap_or_default(),
            }),
            // Like Lucene with the AND operator: a word the analyzer splits (`d'Ivoire`, `U.S.`)
            // requires all its parts.
            _ => Some(Query::Bool(
                terms
                    .into_iter()
                    .map(|term| Clause {
                        occur: Occur::Must,
                        query: Query::Term { scope, term },
                    })
                    .collect(),
            )),
        })
    }

    fn parse_date_range(
        &mut self,
        from_inclusive: bool,
        column: usize,
    ) -> Result<Query, QueryError> {
        let from = self.range_bound(from_inclusive)?;
        match self.next() {
            Some(Token {
                kind: TokenKind::Word { text, .. },
                ..
            }) if text == "TO" => {}
            other => {
                return Err(QueryError::new(
                    other.map_or(self.end_column(), |t| t.column),
                    "expected TO in the date range, like [2024-01-01 TO 2024-12-31]",
                ))
            }
        }
        // The closing bracket decides whether the upper bound is inclusive: look ahead.
        let to_token = self.next();
        let close = self.next();
        let to_inclusive = match close {
            Some(Token {
                kind: TokenKind::RangeClose { inclusive },
                ..
            }) => inclusive,
            other => {
                return Err(QueryError::new(
                    other.map_or(self.end_column(), |t| t.column),
                    format!("this date range (column {column}) is not closed with ']' or '}}'"),
                ))
            }
        };
        let to = self.bound_of(to_token, to_inclusive)?;
        self.reject_suffixes()?;
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) =
            (&from, &to)
        {
            if a > b {
                return Err(QueryError::new(
                    column,
                    format!("the date range starts ({a}) after it ends ({b})"),
                ));
            }
        }
        self.count_clauses(1, column)?;
        Ok(Query::DateRange(DateRange { from, to }))
    }

    fn range_bound(&mut self, inclusive: bool) -> Result<Bound<NaiveDate>, QueryError> {
        let token = self.next();
        self.bound_of(token, inclusive)
    }

    fn bound_of(
        &mut self,
        token: Option<Token>,
        inclusive: bool,
    ) -> Result<Bound<NaiveDate>, QueryError> {
        match token {
            Some(Token {
                kind: TokenKind::Word { text, .. },
                column,
                ..
            }) => {
                if text == "*" {
                    return Ok(Bound::Unbounded);
                }
                let day = parse_date(&text, column)?;
                Ok(if inclusive {
                    Bound::Included(day)
                } else {
                    Bound::Excluded(day)
                })
            }
            other => Err(QueryError::new(
                other.map_or(self.end_column(), |t| t.column),
                "expected a date (YYYY-MM-DD) or * in the date range",
            )),
        }
    }
}

fn parse_date(text: &str, column: usize) -> Result<NaiveDate, QueryError> {
    // YYYY-MM-DD exactly: chrono alone would also take signed and longer years.
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            QueryError::new(
                column,
                format!("expected a date like 2024-03-28, found '{text}'"),
            )
        })
}

fn too_many_clauses(max: usize, column: usize) -> QueryError {
    QueryError::new(
        column,
        format!(
            "the query is too large: more than {max} clauses (each term, phrase word, prefix and \
             date counts one); split it into several saved queries, or raise max_query_clauses \
             in config.toml"
        ),
    )
}

/// Lucene's `addClause` with the default operator AND.
fn add_clause(
    clauses: &mut Vec<RawClause>,
    conjunction: Conjunction,
    modifier: Modifier,
    query: Option<Query>,
    column: usize,
) {
    if let Some(last) = clauses.last_mut() {
        if last.occur != Occur::MustNot {
            match conjunction {
                // `a AND b`: the preceding clause becomes required.
                Conjunction::And => last.occur = Occur::Must,
                // `a OR b`: the preceding clause becomes optional.
                Conjunction::Or => last.occur = Occur::Should,
                Conjunction::None => {}
            }
        }
    }
    let occur = match (modifier, conjunction) {
        (Modifier::Prohibited, _) => Occur::MustNot,
        (_, Conjunction::Or) => Occur::Should,
        _ => Occur::Must,
    };
    clauses.push(RawClause {
        occur,
        query,
        column,
    });
}

/// Turn Lucene-style clauses into a normalized `Query::Bool` (see the normal form on `Query`).
fn build_bool(
    raw: Vec<RawClause>,
    column: usize,
    lints: &mut Vec<Lint>,
) -> Result<Option<Query>, QueryError> {
    let has_must = raw
        .iter()
        .any(|c| c.occur == Occur::Must && c.query.is_some());
    let mut clauses: Vec<Clause> = Vec::new();
    for clause in raw {
        let Some(query) = clause.query else { continue };
        if has_must && clause.occur == Occur::Should {
            lints.push(Lint {
                column: clause.column,
                message: format!(
                    "'{query}' does not affect matching: beside required clauses, an OR-ed clause is optional \
                     (Lucene precedence: in 'a OR b AND c', b and c are required and a is optional); \
                     add parentheses, like '(a OR b) AND c'"
                ),
            });
            continue;
        }
        match (clause.occur, query) {
            (Occur::Must, Query::Bool(inner)) if inner.iter().all(|c| c.occur != Occur::Should) => {
                clauses.extend(inner)
            }
            (Occur::Should, Query::Bool(inner))
                if inner.iter().all(|c| c.occur == Occur::Should) =>
            {
                clauses.extend(inner)
            }
            (occur, query) => clauses.push(Clause { occur, query }),
        }
    }
    if clauses.is_empty() {
        return Ok(None);
    }
    if clauses.iter().all(|c| c.occur == Occur::MustNot) {
        return Err(QueryError::new(
            column,
            "a query of only exclusions (NOT/-) matches nothing by itself: add a term to match, like 'niger AND NOT mali'",
        ));
    }
    // A lone optional clause beside exclusions (`a OR -b`) is required: say so, so the query
    // has one form (it prints as `a AND NOT b`).
    if clauses.iter().filter(|c| c.occur == Occur::Should).count() == 1
        && !clauses.iter().any(|c| c.occur == Occur::Must)
    {
        let mut spliced = Vec::with_capacity(clauses.len());
        for mut clause in clauses {
            if clause.occur == Occur::Should {
                clause.occur = Occur::Must;
            }
            match clause {
                // A required group of required clauses is spliced like any other.
                Clause {
                    occur: Occur::Must,
                    query: Query::Bool(inner),
                } if inner.iter().all(|c| c.occur != Occur::Should) => spliced.extend(inner),
                other => spliced.push(other),
            }
        }
        clauses = spliced;
    }
    // Positive clauses first: the order of clauses does not change the meaning.
    clauses.sort_by_key(|c| c.occur == Occur::MustNot);
    if clauses.len() == 1 {
        return Ok(clauses.pop().map(|c| c.query));
    }
    Ok(Some(Query::Bool(clauses)))
}
