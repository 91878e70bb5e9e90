//! What extraction could not use in a file it otherwise read: records of a multi-record file
//! that were skipped (a JSON Lines line that does not parse, an array element that is not an
//! article), and values that were left out (a date in a form lookout does not read, a field of
//! the wrong type). Owns the warning types, the bounded quote of a bad input (`Excerpt`), and
//! `Warnings`, the bounded collection a file's warnings are gathered in.

use std::fmt;

/// How many warnings of one file are kept in detail (all are counted).
pub const MAX_DETAILED_WARNINGS: usize = 10;

/// How many characters of a bad line or value are quoted.
pub const EXCERPT_CHARS: usize = 60;

/// A record of a multi-record file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// A JSON Lines line (1-based).
    Line(usize),
    /// An element of a JSON array (1-based).
    Element(usize),
}

impl Record {
    /// Its 1-based number: the document's `part`.
    pub fn number(self) -> usize {
        match self {
            Record::Line(n) | Record::Element(n) => n,
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Line(n) => write!(f, "line {n}"),
            Record::Element(n) => write!(f, "element {n}"),
        }
    }
}

/// A bounded, one-line quote of bad input: at most [`EXCERPT_CHARS`] characters, control
/// characters escaped, `…` where it was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt(String);

impl Excerpt {
    /// A quote of `text` from its start.
    pub fn of(text: &str) -> Excerpt {
        Self::around(text, 0)
    }

    /// A quote of `text` around the byte offset `at` (where a parser stopped): the window
    /// starts up to a third of the quote before it.
    pub fn around(text: &str, at: usize) -> Excerpt {
        let text = text.trim();
        let at = floor_char_boundary(text, at.min(text.len()));
        let before: Vec<(usize, char)> = text[..at]
            .char_indices()
            .rev()
            .take(EXCERPT_CHARS / 3)
            .collect();
        let start = before.last().map_or(at, |&(i, _)| i);
        let mut quoted = String::new();
        if start > 0 {
            quoted.push('…');
        }
        let rest = &text[start..];
        for c in rest.chars().take(EXCERPT_CHARS) {
            if c.is_control() {
                quoted.extend(c.escape_debug());
            } else {
                quoted.push(c);
            }
        }
        if rest.chars().nth(EXCERPT_CHARS).is_some() {
            quoted.push('…');
        }
        Excerpt(quoted)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record is not JSON; it was skipped.
    InvalidJson {
        column: usize,
        message: String,
        excerpt: Excerpt,
    },
    /// The record nests deeper than lookout accepts; it was skipped.
    TooDeep { limit: usize },
    /// The record is not a JSON object; it was skipped.
    NotAnObject { found: &'static str },
    /// The record holds no title and no text under the keys lookout reads; it was skipped.
    NoText,
    /// A date in a form lookout does not read: the document was kept without a date.
    UnreadableDate { field: String, value: Excerpt },
    /// A field of the wrong type: the document was kept without it.
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A key lookout knows for a field, left unread because the record has a title or text
    /// under the main keys (reading it would change what such records have always extracted
    /// to). Reported once per file.
    UnreadKey { key: String, field: &'static str },
}

impl Problem {
    /// Whether the record was skipped (not indexed) because of it.
    pub fn skips_record(&self) -> bool {
        matches!(
            self,
            Problem::InvalidJson { .. }
                | Problem::TooDeep { .. }
                | Problem::NotAnObject { .. }
                | Problem::NoText
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::InvalidJson {
                column,
                message,
                excerpt,
            } => write!(f, "invalid JSON at column {column}: {message}, near {excerpt}"),
            Problem::TooDeep { limit } => write!(f, "nested too deeply (more than {limit} levels)"),
            Problem::NotAnObject { found } => write!(f, "expected an object, found {found}"),
            Problem::NoText => f.write_str("no title or text"),
            Problem::UnreadableDate { field, value } => write!(
                f,
                "{field}: {value} is not a date lookout reads (YYYY-MM-DD, RFC 3339 or RFC 2822), left out"
            ),
            Problem::WrongType {
                field,
                expected,
                found,
            } => write!(f, "{field}: {found}, not {expected}, left out"),
            Problem::UnreadKey { key, field } => write!(
                f,
                "key \"{key}\" is not read as the {field} of records that have a title or text under the main keys; list it in [json] {field} in config.toml to read it"
            ),
        }
    }
}

/// One warning: where (a record, or the file itself) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractWarning {
    /// The record it concerns; `None` for the file as a whole (a one-article file).
    pub record: Option<Record>,
    pub problem: Problem,
}

impl fmt::Display for ExtractWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.record, self.problem.skips_record()) {
            (Some(record), true) => write!(f, "{record} skipped: {}", self.problem),
            (Some(record), false) => write!(f, "{record}: {}", self.problem),
            (None, _) => write!(f, "{}", self.problem),
        }
    }
}

/// A file's warnings: the first [`MAX_DETAILED_WARNINGS`] in detail, all of them counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    detailed: Vec<ExtractWarning>,
    total: usize,
    skipped_records: usize,
    /// Which keys are read, said once when some record had no text.
    accepted_keys: Option<String>,
}

impl Warnings {
    pub fn push(&mut self, warning: ExtractWarning) {
        self.total += 1;
        if warning.problem.skips_record() {
            self.skipped_records += 1;
        }
        if self.detailed.len() < MAX_DETAILED_WARNINGS {
            self.detailed.push(warning);
        }
    }

    /// Say which keys are read (once, after the details) when a record had no text.
    pub(crate) fn note_accepted_keys(&mut self, keys: impl FnOnce() -> String) {
        if self.accepted_keys.is_none() {
            self.accepted_keys = Some(keys());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many warnings there were.
    pub fn total(&self) -> usize {
        self.total
    }

    /// How many records were skipped (not indexed).
    pub fn skipped_records(&self) -> usize {
        self.skipped_records
    }

    /// The first warnings, in file order.
    pub fn detailed(&self) -> &[ExtractWarning] {
        &self.detailed
    }

    /// The warnings on one line: `line 2 skipped: …; line 5: …; and 3 more (…)`, bounded by
    /// [`MAX_DETAILED_WARNINGS`] and [`EXCERPT_CHARS`].
    pub fn summary(&self) -> String {
        self.lines().join("; ")
    }

    /// The details, one line each: `and N more` after them when some were not kept, then
    /// which keys an article needs when a record had no text.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.detailed.iter().map(ToString::to_string).collect();
        let more = self.total - self.detailed.len();
        if more > 0 {
            lines.push(format!("and {more} more"));
        }
        if let Some(keys) = &self.accepted_keys {
            lines.push(keys.clone());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_one_line() {
        assert_eq!(Excerpt::of("{not json").as_str(), "{not json");
        assert_eq!(Excerpt::of("a\tb\u{1}c").as_str(), "a\\tb\\u{1}c");
        let long = "x".repeat(1000);
        let quoted = Excerpt::of(&long);
        assert_eq!(quoted.as_str().chars().count(), EXCERPT_CHARS + 1);
        assert!(quoted.as_str().ends_with('…'));
        // Around an offset: some context before it, then the rest.
        let text = format!("{}BAD{}", "a".repeat(500), "b".repeat(500));
        let quoted = Excerpt::around(&text, 500);
        assert!(quoted.as_str().starts_with('…'), "{quoted}");
        assert!(quoted.as_str().contains("aBADb"), "{quoted}");
        assert!(quoted.as_str().chars().count() <= EXCERPT_CHARS + 2);
        // Multi-byte characters are never split.
        let wide = "é".repeat(200);
        for at in 0..20 {
            let quoted = Excerpt::around(&wide, at);
            assert!(quoted.as_str().chars().count() <= EXCERPT_CHARS + 2);
        }
    }

    #[test]
    fn warnings_are_counted_all_and_kept_bounded() {
        let mut warnings = Warnings::default();
        for line in 1..=25 {
            warnings.push(ExtractWarning {
                record: Some(Record::Line(line)),
                problem: Problem::NoText,
            });
        }
        warnings.push(ExtractWarning {
            record: Some(Record::Line(30)),
            problem: Problem::UnreadableDate {
                field: "date".into(),
                value: Excerpt::of("01/11/2024"),
            },
        });
        assert_eq!(warnings.total(), 26);
        assert_eq!(warnings.skipped_records(), 25);
        assert_eq!(warnings.detailed().len(), MAX_DETAILED_WARNINGS);
        let summary = warnings.summary();
        assert!(
            summary.starts_with("line 1 skipped: no title or text; line 2 skipped"),
            "{summary}"
        );
        assert!(summary.ends_with("; and 16 more"), "{summary}");
        assert!(!summary.contains('\n'));
    }
}
