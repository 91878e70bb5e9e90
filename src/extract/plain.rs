//! Helpers the format readers share: `PlainText`, which assembles plain text from pieces so
//! that words from different blocks never glue together, and `parse_date`, which keeps the
//! calendar date of a date or datetime string.

use chrono::{DateTime, NaiveDate};

/// A separator owed before the next piece of text. Ordered: a stronger break absorbs a weaker
/// one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Break {
    #[default]
    None,
    /// One space (between words, table cells).
    Space,
    /// A newline (between lines, list items, `<br>`).
    Line,
    /// A blank line (between paragraphs, headings, code blocks).
    Paragraph,
}

/// Plain text assembled from pieces. Breaks are only written between two pieces of text, so
/// the result never starts or ends with one and never has two separators in a row.
#[derive(Debug, Default)]
pub(crate) struct PlainText {
    out: String,
    pending: Break,
}

impl PlainText {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Owe at least `kind` before the next text.
    pub(crate) fn brk(&mut self, kind: Break) {
        self.pending = self.pending.max(kind);
    }

    /// A hard line break (`<br>`): a second one in a row makes a blank line.
    pub(crate) fn line_break(&mut self) {
        self.pending = if self.pending >= Break::Line {
            Break::Paragraph
        } else {
            Break::Line
        };
    }

    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if self.out.is_empty() {
            return;
        }
        match pending {
            Break::None => {}
            Break::Space => {
                if !self.out.ends_with(char::is_whitespace) {
                    self.out.push(' ');
                }
            }
            Break::Line | Break::Paragraph => {
                let end = self.out.trim_end().len();
                self.out.truncate(end);
                self.out.push('\n');
                if pending == Break::Paragraph {
                    self.out.push('\n');
                }
            }
        }
    }

    /// Append text as it is (Markdown text, code).
    pub(crate) fn push_raw(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.flush();
        self.out.push_str(text);
    }

    /// Append text with every run of whitespace collapsed to one space (HTML text).
    pub(crate) fn push_collapsed(&mut self, text: &str) {
        if text.starts_with(char::is_whitespace) {
            self.brk(Break::Space);
        }
        for (i, word) in text.split_whitespace().enumerate() {
            if i > 0 {
                self.brk(Break::Space);
            }
            self.flush();
            self.out.push_str(word);
        }
        if text.ends_with(char::is_whitespace) {
            self.brk(Break::Space);
        }
    }

    /// The text, with trailing whitespace dropped from every line and the whole trimmed.
    pub(crate) fn finish(self) -> String {
        let lines: Vec<&str> = self.out.lines().map(str::trim_end).collect();
        lines.join("\n").trim().to_string()
    }
}

/// The calendar date of `YYYY-MM-DD`, optionally followed by `T`, `t` or a space and a time
/// (RFC 3339 / ISO 8601, as written: the time zone does not move the date), or of an RFC 2822
/// date (`Thu, 26 Feb 1987 15:01:01 +0000`). Anything else is `None`.
pub(crate) fn parse_date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    let date_part = match value.find(['T', 't', ' ']) {
        Some(i) if i == 10 => &value[..i],
        Some(_) => return rfc2822(value),
        None => value,
    };
    let bytes = date_part.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return rfc2822(value);
    }
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()
}

fn rfc2822(value: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|dt| dt.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn dates_keep_the_calendar_date() {
        assert_eq!(parse_date("2024-03-28"), date(2024, 3, 28));
        assert_eq!(parse_date(" 2024-03-28 \n"), date(2024, 3, 28));
        assert_eq!(parse_date("1987-02-26T15:01:01Z"), date(1987, 2, 26));
        assert_eq!(parse_date("1987-02-26t15:01:01z"), date(1987, 2, 26));
        assert_eq!(parse_date("2024-03-28T23:30:00-05:00"), date(2024, 3, 28));
        assert_eq!(parse_date("2024-03-28 23:30:00 +01:00"), date(2024, 3, 28));
        assert_eq!(
            parse_date("Thu, 26 Feb 1987 15:01:01 +0000"),
            date(1987, 2, 26)
        );
    }

    #[test]
    fn bad_dates_are_none() {
        for bad in [
            "",
            "yesterday",
            "2024-02-30",
            "2024-13-01",
            "2024-3-8",
            "24-03-28",
            "2024/03/28",
            "2024-03-28x",
            "20240328",
            "T",
            "2024-03-2é",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn breaks_only_between_text() {
        let mut text = PlainText::new();
        text.brk(Break::Paragraph);
        text.push_collapsed("  one\n two  ");
        text.push_collapsed("three");
        text.brk(Break::Line);
        text.brk(Break::Space);
        text.push_raw("four");
        text.brk(Break::Paragraph);
        text.push_raw("code\n");
        text.brk(Break::Paragraph);
        text.push_raw("five");
        text.line_break();
        text.line_break();
        text.line_break();
        assert_eq!(text.finish(), "one two three\nfour\n\ncode\n\nfive");
    }

    #[test]
    fn adjacent_inline_text_is_not_separated() {
        let mut text = PlainText::new();
        text.push_collapsed("foo");
        text.push_collapsed("bar ");
        text.push_collapsed(" baz");
        assert_eq!(text.finish(), "foobar baz");
    }
}
