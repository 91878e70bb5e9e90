//! Plain-text articles (`.txt`, `.text`): an optional leading `date YYYY-MM-DD` marker, an
//! optional title line followed by a blank line, then the body. The marker followed by text on
//! its own line (the seed article's shape) makes that text all body, as it always did; a marker
//! alone on its line may be followed by a title line and a blank line.

use chrono::NaiveDate;

use super::plain::parse_date;
use crate::document::DocumentFields;

/// The longest first line, in bytes, that is taken as a title.
const MAX_TITLE_BYTES: usize = 300;

/// Split a plain-text article. `text` has LF line endings and no byte-order mark.
pub(super) fn extract(text: &str) -> DocumentFields {
    let (date, text) = match date_marker(text) {
        // ` date 2024-03-28 In a move…`: no title (the rule the reference reads too).
        Some((date, rest)) => match date_line_rest(rest) {
            None => {
                return DocumentFields {
                    body: rest.trim().to_string(),
                    date: Some(date),
                    ..Default::default()
                }
            }
            // `date 2024-03-28` alone on its line: the title rule applies to what follows.
            Some(after_line) => (Some(date), after_line),
        },
        None => (None, text),
    };
    match title_cut(text) {
        Some(cut) => DocumentFields {
            title: text[..cut].trim().to_string(),
            body: text[cut + 2..].trim().to_string(),
            date,
            ..Default::default()
        },
        None => DocumentFields {
            body: text.trim().to_string(),
            date,
            ..Default::default()
        },
    }
}

/// The text after a date marker's line when nothing but spaces or tabs follows the date on
/// it (`None` when text follows on the same line).
fn date_line_rest(rest: &str) -> Option<&str> {
    let after_blanks = rest.trim_start_matches([' ', '\t']);
    if after_blanks.is_empty() {
        return Some("");
    }
    after_blanks.strip_prefix('\n')
}

/// ` date 2024-03-28 In a move…`: after leading whitespace, the word `date`, whitespace, a
/// valid `YYYY-MM-DD`, then whitespace or the end. Returns the date and the text after it.
fn date_marker(text: &str) -> Option<(NaiveDate, &str)> {
    let rest = text.trim_start().strip_prefix("date")?;
    let after_word = rest.trim_start();
    if after_word.len() == rest.len() {
        return None;
    }
    let candidate = after_word.get(..10)?;
    let rest = &after_word[10..];
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    if candidate.contains(['T', 't', ' ']) {
        return None;
    }
    Some((parse_date(candidate)?, rest))
}

/// The byte index of the blank line that ends a title line: the first `"\n\n"`, if it comes
/// after a first line of 1 to 300 bytes (no earlier newline).
fn title_cut(text: &str) -> Option<usize> {
    let cut = text.find("\n\n")?;
    let first_line = &text[..cut];
    (cut > 0 && cut <= MAX_TITLE_BYTES && !first_line.contains('\n')).then_some(cut)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{documents_of as extract_file, ExtractError};
    use super::*;

    fn fields(text: &str) -> DocumentFields {
        extract(text)
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    /// The rule the reference implementation uses, on LF text.
    fn reference_title(text: &str) -> Option<&str> {
        let cut = text.find("\n\n")?;
        (cut > 0 && cut <= 300 && !text[..cut].contains('\n')).then(|| &text[..cut])
    }

    #[test]
    fn seed_shape_sets_the_date_and_has_no_title() {
        let text = " date 2024-03-28 In a move that has sent ripples through the Sahel, Niger's \
                    military junta has officially terminated its longstanding security agreement \
                    with the United States.\n\nThe decision follows months of tension.";
        let doc = fields(text);
        assert_eq!(doc.date, date(2024, 3, 28));
        assert_eq!(doc.title, "");
        assert!(doc.body.starts_with("In a move that has sent ripples"));
        assert!(doc
            .body
            .contains("Niger's military junta has officially terminated"));
        assert!(doc.body.ends_with("months of tension."));
        assert!(!doc.body.contains("2024-03-28"));
    }

    #[test]
    fn seed_shape_through_the_public_api() {
        let bytes = " date 2024-03-28 In a move that has sent ripples… Niger's military junta \
                     has officially terminated its longstanding security agreement…"
            .as_bytes();
        let docs = extract_file(Path::new("niger.txt"), bytes).expect("extracts");
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(doc.date, date(2024, 3, 28));
        assert_eq!(doc.title, "");
        assert_eq!(
            doc.body,
            "In a move that has sent ripples… Niger's military junta has officially terminated \
             its longstanding security agreement…"
        );
        assert_eq!(doc.part, None);
    }

    #[test]
    fn date_marker_variants() {
        let doc = fields("date 2024-03-28\nBody on the next line");
        assert_eq!(doc.date, date(2024, 3, 28));
        assert_eq!(doc.body, "Body on the next line");

        let doc = fields("\n\n  date\t2001-01-02   Body");
        assert_eq!(doc.date, date(2001, 1, 2));
        assert_eq!(doc.body, "Body");

        // A date marker with text on its line takes precedence over the title rule; the rest is
        // all body.
        let doc = fields("date 2024-03-28 Headline\n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Headline\n\nBody");
    }

    #[test]
    fn date_line_then_title_then_body() {
        // Issue 9: a .txt could not have both the seed's date line and a title.
        let doc = fields("date 2024-03-28\nNiger ends pact\n\nThe junta ended the pact.\n");
        assert_eq!(doc.date, date(2024, 3, 28));
        assert_eq!(doc.title, "Niger ends pact");
        assert_eq!(doc.body, "The junta ended the pact.");
        // Spaces after the date, CRLF, leading blank lines: the same.
        let crlf = extract_file(
            Path::new("a.txt"),
            b"\r\n date 2024-03-28  \r\nNiger ends pact\r\n\r\nThe junta ended the pact.\r\n",
        )
        .expect("extracts");
        assert_eq!(crlf[0].title, "Niger ends pact");
        assert_eq!(crlf[0].date, date(2024, 3, 28));
        // The same article without the date line has the same title and body.
        let undated = fields("Niger ends pact\n\nThe junta ended the pact.\n");
        assert_eq!((undated.title, undated.body), (doc.title, doc.body));
        // The title rule applies as it does at the top of a file: a blank line right after the
        // date line, or no blank line after the next line, means no title.
        let doc = fields("date 2024-03-28\n\nNot a title\n\nBody");
        assert_eq!(
            (doc.title.as_str(), doc.body.as_str()),
            ("", "Not a title\n\nBody")
        );
        let doc = fields("date 2024-03-28\nLine one\nLine two\n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Line one\nLine two\n\nBody");
        // A date line and a title, no body.
        let doc = fields("date 2024-03-28\nTitle only\n");
        assert_eq!((doc.title.as_str(), doc.body.as_str()), ("", "Title only"));
        let doc = fields("date 2024-03-28\nTitle only\n\n");
        assert_eq!((doc.title.as_str(), doc.body.as_str()), ("Title only", ""));
    }

    #[test]
    fn the_seed_article_keeps_its_id() {
        // The seed's shape (text on the date's line) reads as it always did: no title, the same
        // document id as before the date-line title rule existed.
        let seed =
            " date 2024-03-28 In a move that has sent ripples across international security \
                    frameworks, Niger's military junta has officially terminated its longstanding \
                    security agreement with the United States.\n\nBreaking Bonds: The End of \
                    US-Niger Security Pact\n\nThe security arrangement was instrumental.\n";
        let docs = extract_file(Path::new("seed.txt"), seed.as_bytes()).expect("extracts");
        assert_eq!(docs[0].title, "");
        assert_eq!(docs[0].date, date(2024, 3, 28));
        assert_eq!(
            docs[0].id.0,
            "aff5a5679719797db15ed8bd1a3c7efe20a249aad9ce22ca83eed478531d5b81"
        );
    }

    #[test]
    fn not_a_date_marker() {
        for text in [
            "date 2024-13-28 Body",
            "date 2024-03-28T10:00 Body",
            "date 2024-03-28, Body",
            "dated 2024-03-28 Body",
            "date2024-03-28 Body",
            "Date 2024-03-28 Body",
            "The date 2024-03-28 Body",
            "date é",
        ] {
            let doc = fields(text);
            assert_eq!(doc.date, None, "{text:?}");
            assert_eq!(doc.body, text, "{text:?}");
        }
    }

    #[test]
    fn date_marker_alone_is_no_article() {
        assert!(matches!(
            extract_file(Path::new("a.txt"), b"date 2024-03-28\n"),
            Err(ExtractError::NoText { needs: None })
        ));
    }

    #[test]
    fn title_then_blank_line() {
        let doc = fields("Junta ends pact\n\nThe junta ended\nthe pact.\n\nSecond paragraph.\n");
        assert_eq!(doc.title, "Junta ends pact");
        assert_eq!(doc.body, "The junta ended\nthe pact.\n\nSecond paragraph.");
        assert_eq!(doc.date, None);
    }

    #[test]
    fn first_line_without_blank_line_is_body() {
        let doc = fields("Junta ends pact\nThe junta ended the pact.\n\nMore.");
        assert_eq!(doc.title, "");
        assert_eq!(
            doc.body,
            "Junta ends pact\nThe junta ended the pact.\n\nMore."
        );

        let doc = fields("Just one line");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Just one line");
    }

    #[test]
    fn leading_blank_line_means_no_title() {
        let doc = fields("\n\nNot a title\n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Not a title\n\nBody");
    }

    #[test]
    fn whitespace_only_first_line_gives_no_title() {
        let doc = fields("   \n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Body");
    }

    #[test]
    fn title_length_limit_is_300_bytes() {
        let title = "t".repeat(300);
        let doc = fields(&format!("{title}\n\nBody"));
        assert_eq!(doc.title, title);
        assert_eq!(doc.body, "Body");

        let long = "t".repeat(301);
        let doc = fields(&format!("{long}\n\nBody"));
        assert_eq!(doc.title, "");

        // Bytes, not characters: 150 two-byte characters is 300 bytes, 151 is too many.
        let wide = "é".repeat(150);
        assert_eq!(fields(&format!("{wide}\n\nBody")).title, wide);
        let wider = "é".repeat(151);
        assert_eq!(fields(&format!("{wider}\n\nBody")).title, "");
    }

    #[test]
    fn title_with_only_blank_line_after() {
        let doc = fields("Title only\n\n");
        assert_eq!(doc.title, "Title only");
        assert_eq!(doc.body, "");
    }

    #[test]
    fn crlf_behaves_like_lf() {
        let lf = extract_file(Path::new("a.txt"), b"Title\n\nLine one\nLine two\n").expect("lf");
        let crlf = extract_file(Path::new("a.txt"), b"Title\r\n\r\nLine one\r\nLine two\r\n")
            .expect("crlf");
        assert_eq!(lf, crlf);
        assert_eq!(crlf[0].title, "Title");
        assert_eq!(crlf[0].body, "Line one\nLine two");

        let no_title =
            extract_file(Path::new("a.txt"), b"Line one\r\nLine two\r\n\r\nMore").expect("crlf");
        assert_eq!(no_title[0].title, "");
    }

    #[test]
    fn agrees_with_the_reference_rule() {
        let samples = [
            "a\n\nb",
            "\n\nb",
            "a\nb\n\nc",
            "a \n\nb",
            "a\n \nb",
            "a\n\n\n\nb",
            "a",
            "",
            "a\n",
            "a\n\n",
            " a\n\nb",
        ];
        for text in samples {
            let doc = fields(text);
            match reference_title(text) {
                Some(title) => assert_eq!(doc.title, title.trim(), "{text:?}"),
                None => assert_eq!(doc.title, "", "{text:?}"),
            }
        }
    }

    mod reference {
        use super::*;
        use proptest::prelude::*;

        /// The rule before a date line could be followed by a title: after a date marker, all
        /// the rest is body.
        fn before_date_line_titles(text: &str) -> DocumentFields {
            match date_marker(text) {
                Some((date, rest)) => DocumentFields {
                    body: rest.trim().to_string(),
                    date: Some(date),
                    ..Default::default()
                },
                None => extract(text),
            }
        }

        proptest! {
            /// Every file that does not open with a date line followed by a title line and a
            /// blank line reads exactly as before (same fields, so the same document id).
            #[test]
            fn only_a_date_line_followed_by_a_title_reads_differently(
                lead in "[ \n\t]{0,3}",
                gap in "[ \t]{1,2}|[ \t]{0,2}\n",
                rest in "[a \n\té]{0,40}",
            ) {
                let text = format!("{lead}date 2024-03-28{gap}{rest}");
                let now = extract(&text);
                let before = before_date_line_titles(&text);
                prop_assert_eq!(now.date, before.date);
                if now.title.is_empty() {
                    prop_assert_eq!(now, before);
                } else {
                    // The new shape: the marker alone on its line, then a title line and a
                    // blank line (the reference's title rule on what follows that line).
                    let after_date = &text[lead.len() + "date 2024-03-28".len()..];
                    let after_line = after_date.trim_start_matches([' ', '\t']).strip_prefix('\n');
                    prop_assert!(after_line.is_some(), "{:?}", text);
                    let title = after_line.and_then(reference_title).map(str::trim);
                    prop_assert_eq!(title, Some(now.title.as_str()));
                }
            }
        }

        proptest! {
            #[test]
            fn title_rule_matches_the_reference(
                text in "[a \n\té]{0,40}\n\n[a \n]{0,20}|[ab\n]{0,400}|[a]{250,320}\n\n[b]{0,5}"
            ) {
                // Skip the date-marker shape, which has its own rule.
                prop_assume!(!text.trim_start().starts_with("date"));
                let doc = fields(&text);
                let expected_title = reference_title(&text).map(str::trim).unwrap_or("");
                prop_assert_eq!(doc.title.as_str(), expected_title);
                let expected_body = match reference_title(&text) {
                    Some(title) => text[title.len() + 2..].trim(),
                    None => text.trim(),
                };
                prop_assert_eq!(doc.body.as_str(), expected_body);
            }
        }
    }
}
