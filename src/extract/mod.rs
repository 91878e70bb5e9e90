//! Extraction: turn one file's bytes into the `Document`s it holds, and the warnings about
//! what it could not use. This module owns the dispatch on the file extension, the
//! `ExtractError` type (why a file yields nothing), `Extraction` (documents plus warnings) and
//! `Extractor` (the reading options: the JSON keys). The checks every format shares (empty,
//! binary, the encoding) are `decode`; the per-format readers live in `text`, `markdown`,
//! `html` and `json`; `plain` holds the helpers they share (plain-text assembly, dates) and
//! `warning` the warning types.

mod decode;
mod html;
mod json;
mod markdown;
mod plain;
mod text;
pub mod warning;

use std::borrow::Cow;
use std::path::Path;

use crate::document::{Document, DocumentFields};

pub use decode::EncodingSource;
pub use json::{JsonField, JsonKeys};
pub use warning::{Excerpt, ExtractWarning, Problem, Record, Warnings};

/// How deep a JSON value (or front-matter value) may nest before it is refused.
pub(crate) const MAX_JSON_DEPTH: usize = 64;

/// How deep HTML elements may nest before the file is refused. Real pages stay far below this
/// (browsers stop nesting at 512); the HTML parser slows down quadratically beyond it.
pub(crate) const MAX_HTML_DEPTH: usize = 1000;

/// The extensions lookout reads, for messages.
pub const SUPPORTED_EXTENSIONS: &str = ".txt, .md, .html, .json, .jsonl";

/// Why a file yielded no documents. Messages are one line and do not name the file: the caller
/// prefixes the path.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The extension is not one lookout reads. Holds the extension with its dot (`".pdf"`), or
    /// an empty string when the file has none. Not a fault of the file: callers skip it.
    #[error("unsupported file type {} (lookout reads {SUPPORTED_EXTENSIONS})", describe_extension(.extension))]
    Unsupported { extension: String },
    /// No bytes at all, or only a byte-order mark and whitespace.
    #[error("empty file")]
    Empty,
    /// A NUL byte in the first 8 KiB.
    #[error("binary file (NUL byte at offset {offset})")]
    Binary { offset: usize },
    /// NUL bytes in the first 8 KiB, every one on the same side of its byte pair: UTF-16 text
    /// without a byte-order mark (or a binary file).
    #[error("binary file, or UTF-16 text without a byte-order mark (NUL byte at offset {offset}): save it as UTF-8, or as UTF-16 with a byte-order mark")]
    UnmarkedUtf16 { offset: usize },
    /// A UTF-32 byte-order mark (`encoding_rs`, like the web, does not decode UTF-32).
    #[error("UTF-32{endianness} text is not supported: save it as UTF-8 (or UTF-16)")]
    Utf32 { endianness: &'static str },
    /// Not UTF-8, and nothing says what else it is; `offset` is the byte offset in the file of
    /// the first invalid byte.
    #[error("not valid UTF-8 at byte {offset}: save it as UTF-8 (or UTF-16 with a byte-order mark; an HTML page may declare its charset with <meta charset>)")]
    InvalidUtf8 { offset: usize },
    /// Not valid in the encoding its byte-order mark or its declared charset names.
    #[error("not valid {encoding} at byte {offset} ({learnt_from})")]
    InvalidText {
        encoding: &'static str,
        offset: usize,
        learnt_from: EncodingSource,
    },
    /// Not UTF-8, and the page declares a charset lookout does not know.
    #[error("not valid UTF-8 at byte {offset}, and the page declares the charset {label}, which lookout does not know")]
    UnknownCharset { label: Excerpt, offset: usize },
    /// A `.json` file that does not parse.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// A `.json` file whose top level is neither an object nor an array.
    #[error("expected a JSON object or an array of objects, found {found}")]
    JsonShape { found: &'static str },
    /// The Markdown front matter is not valid YAML/TOML, or is not a table of keys.
    #[error("front matter: {0}")]
    FrontMatter(String),
    /// A value nests deeper than lookout accepts (JSON, front matter or HTML).
    #[error("nested too deeply (more than {limit} levels)")]
    TooDeep { limit: usize },
    /// The file parsed but holds no article with a title or body. For JSON, `needs` says which
    /// keys are read.
    #[error("no article text found{}", .needs.as_ref().map(|n| format!(": {n}")).unwrap_or_default())]
    NoText { needs: Option<String> },
    /// A multi-record file (JSON Lines, a JSON array) none of whose records is an article:
    /// the records and why each was skipped.
    #[error("no article found: {}", .records.summary())]
    NoArticle { records: Box<Warnings> },
}

fn describe_extension(extension: &str) -> String {
    if extension.is_empty() {
        "(no extension)".to_string()
    } else {
        format!("\"{extension}\"")
    }
}

/// The file formats lookout reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Markdown,
    Html,
    Json,
    JsonLines,
}

impl Format {
    fn of(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// One article as a format reader returns it: its position in the file (for multi-article
/// formats) and its fields.
pub(crate) type Part = (Option<usize>, DocumentFields);

/// What one file held: its documents (at least one), and the warnings about what was skipped
/// or left out (records that are not articles, dates lookout cannot read...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    pub documents: Vec<Document>,
    pub warnings: Warnings,
}

/// How files are read: the options that the configuration sets (`[json]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extractor {
    pub json_keys: JsonKeys,
}

/// Extract every article in one file with the default options. `path` is used only for the
/// extension and is stored in the documents.
pub fn extract(path: &Path, bytes: &[u8]) -> Result<Extraction, ExtractError> {
    Extractor::default().extract(path, bytes)
}

impl Extractor {
    /// Extract every article in one file. `path` is used only for the extension and is stored
    /// in the documents.
    pub fn extract(&self, path: &Path, bytes: &[u8]) -> Result<Extraction, ExtractError> {
        let format = Format::of(path).ok_or_else(|| ExtractError::Unsupported {
            extension: path
                .extension()
                .map(|e| format!(".{}", e.to_string_lossy()))
                .unwrap_or_default(),
        })?;
        if bytes.is_empty() {
            return Err(ExtractError::Empty);
        }
        let text = decode::decode(bytes, format)?;
        let text = normalize_newlines(&text);

        let mut warnings = Warnings::default();
        let parts = match format {
            Format::Text => vec![(None, text::extract(&text))],
            Format::Markdown => vec![(None, markdown::extract(&text, &mut warnings)?)],
            Format::Html => vec![(None, html::extract(&text, &mut warnings)?)],
            Format::Json => json::extract(&text, &self.json_keys, &mut warnings)?,
            Format::JsonLines => json::extract_lines(&text, &self.json_keys, &mut warnings)?,
        };

        let documents: Vec<Document> = parts
            .into_iter()
            .map(|(part, fields)| (part, tidy(fields)))
            .filter(|(_, fields)| !fields.is_blank())
            .map(|(part, fields)| fields.into_document(path.to_path_buf(), part))
            .collect();
        if documents.is_empty() {
            if warnings.skipped_records() > 0 {
                return Err(ExtractError::NoArticle {
                    records: Box::new(warnings),
                });
            }
            // For JSON: what was left out of the object (a title of the wrong type...), and
            // which keys are read.
            let needs = matches!(format, Format::Json | Format::JsonLines).then(|| {
                let keys = self.json_keys.describe();
                if warnings.is_empty() {
                    keys
                } else {
                    format!("{}; {keys}", warnings.summary())
                }
            });
            return Err(ExtractError::NoText { needs });
        }
        Ok(Extraction {
            documents,
            warnings,
        })
    }
}

/// Whether the extension is one lookout reads (txt, text, md, markdown, html, htm, json, jsonl, ndjson), case-insensitive.
pub fn is_supported(path: &Path) -> bool {
    Format::of(path).is_some()
}

/// CRLF becomes LF, so every reader only has to know about `\n`.
fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if text.contains("\r\n") {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Trim what every document gets trimmed, and drop empty optional fields.
pub(crate) fn tidy(mut fields: DocumentFields) -> DocumentFields {
    fn trim_in_place(s: &mut String) {
        let end = s.trim_end().len();
        s.truncate(end);
        let start = s.len() - s.trim_start().len();
        s.drain(..start);
    }
    fn non_empty(value: Option<String>) -> Option<String> {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
    trim_in_place(&mut fields.title);
    trim_in_place(&mut fields.body);
    fields.source = non_empty(fields.source);
    fields.url = non_empty(fields.url);
    fields.tags = fields
        .tags
        .into_iter()
        .filter_map(|t| non_empty(Some(t)))
        .collect();
    fields
}

/// The documents alone (tests of the readers).
#[cfg(test)]
pub(crate) fn documents_of(path: &Path, bytes: &[u8]) -> Result<Vec<Document>, ExtractError> {
    extract(path, bytes).map(|e| e.documents)
}

/// Collapse an error message from a parser into one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(path: &str, bytes: &[u8]) -> String {
        match documents_of(Path::new(path), bytes) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn one(path: &str, bytes: &[u8]) -> Document {
        let mut docs = documents_of(Path::new(path), bytes).expect("extracts");
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    #[test]
    fn supported_extensions_are_case_insensitive() {
        for name in [
            "a.txt",
            "a.TEXT",
            "b.md",
            "b.Markdown",
            "c.html",
            "c.HTM",
            "d.json",
            "e.jsonl",
            "e.NDJSON",
            "dir.with.dots/f.Txt",
        ] {
            assert!(is_supported(Path::new(name)), "{name}");
        }
        for name in ["a.pdf", "a", "a.txt.gz", ".txt", "a.json5", "a.mdx"] {
            assert!(!is_supported(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn unsupported_names_the_extension() {
        assert_eq!(
            err("report.pdf", b"%PDF"),
            "unsupported file type \".pdf\" (lookout reads .txt, .md, .html, .json, .jsonl)"
        );
        assert_eq!(
            err("README", b"hello"),
            "unsupported file type (no extension) (lookout reads .txt, .md, .html, .json, .jsonl)"
        );
    }

    #[test]
    fn unsupported_is_checked_before_content() {
        assert!(matches!(
            extract(Path::new("x.bin"), b"\0\0"),
            Err(ExtractError::Unsupported { .. })
        ));
    }

    #[test]
    fn empty_files() {
        for ext in ["txt", "md", "html", "json", "jsonl"] {
            let path = format!("a.{ext}");
            assert_eq!(err(&path, b""), "empty file");
            assert_eq!(err(&path, b"\xEF\xBB\xBF"), "empty file");
            assert_eq!(err(&path, b" \r\n\t\n"), "empty file");
        }
    }

    #[test]
    fn binary_files() {
        let mut bytes = vec![b'a'; 1234];
        bytes.push(0);
        bytes.extend_from_slice(b"more");
        for ext in ["txt", "md", "html", "json", "jsonl"] {
            assert_eq!(
                err(&format!("a.{ext}"), &bytes),
                "binary file (NUL byte at offset 1234)"
            );
        }
        // A NUL beyond the first 8 KiB is not sniffed; it is then just a (valid UTF-8) control
        // character.
        let mut late = vec![b'a'; 9000];
        late.push(0);
        assert!(extract(Path::new("a.txt"), &late).is_ok());
        // Binary is checked before UTF-8, after the byte-order mark: `FF FE 00 00` is UTF-32's.
        assert_eq!(
            err("a.txt", b"\xFF\xFEa\0\0\0"),
            "binary file (NUL byte at offset 4)"
        );
        assert_eq!(
            err("a.txt", b"\xFF\xFE\0\0"),
            "UTF-32LE text is not supported: save it as UTF-8 (or UTF-16)"
        );
        assert_eq!(
            err("a.txt", b"\xC3\x28\0"),
            "binary file (NUL byte at offset 2)"
        );
    }

    const UTF8_ADVICE: &str = ": save it as UTF-8 (or UTF-16 with a byte-order mark; an HTML page \
                               may declare its charset with <meta charset>)";

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut bytes = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            bytes.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        bytes
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_read_in_every_format() {
        // Issue 9: these were called "binary".
        let samples = [
            ("a.txt", "Niger ends pact\r\n\r\nThe junta ended it.\r\n"),
            ("a.md", "# Niger ends pact\n\nThe junta ended it.\n"),
            (
                "a.html",
                "<title>Niger ends pact</title><p>The junta ended it.</p>",
            ),
            (
                "a.json",
                r#"{"title": "Niger ends pact", "body": "The junta ended it."}"#,
            ),
            (
                "a.jsonl",
                "{\"title\": \"Niger ends pact\", \"body\": \"The junta ended it.\"}\n",
            ),
        ];
        for (path, text) in samples {
            let utf8 = one(path, text.as_bytes());
            assert_eq!(utf8.title, "Niger ends pact", "{path}");
            for big_endian in [false, true] {
                let decoded = one(path, &utf16(text, big_endian));
                assert_eq!(decoded, utf8, "{path} big endian: {big_endian}");
            }
        }
    }

    #[test]
    fn html_in_its_declared_charset_is_read() {
        let page =
            b"<html><head><meta charset=\"iso-8859-1\"><title>Caf\xe9 in Niamey</title></head>\
                     <body><p>The caf\xe9 re-opened.</p></body></html>";
        let doc = one("a.html", page);
        assert_eq!(doc.title, "Café in Niamey");
        assert_eq!(doc.body, "The café re-opened.");
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let mut bytes = b"seventeen bytes..".to_vec();
        assert_eq!(bytes.len(), 17);
        bytes.extend_from_slice(b"\xC3\x28 rest");
        assert_eq!(
            err("a.txt", &bytes),
            format!("not valid UTF-8 at byte 17{UTF8_ADVICE}")
        );
        // The offset counts the byte-order mark.
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(&bytes);
        assert_eq!(
            err("a.md", &with_bom),
            format!("not valid UTF-8 at byte 20{UTF8_ADVICE}")
        );
        // Latin-1 that does not say so.
        assert_eq!(
            err("a.html", b"caf\xE9"),
            format!("not valid UTF-8 at byte 3{UTF8_ADVICE}")
        );
        assert_eq!(
            err("a.json", b"{\"title\": \"caf\xE9\"}"),
            format!("not valid UTF-8 at byte 14{UTF8_ADVICE}")
        );
    }

    #[test]
    fn unreadable_dates_are_said_in_every_format_that_has_dates() {
        let warned = |path: &str, text: &str| {
            let found = extract(Path::new(path), text.as_bytes()).expect("extracts");
            assert_eq!(found.documents[0].date, None, "{path}");
            found.warnings.summary()
        };
        assert_eq!(
            warned("a.md", "---\ntitle: T\ndate: last week\n---\nBody\n"),
            "front matter date: `last week` is not a date lookout reads (YYYY-MM-DD, RFC 3339 or RFC 2822), left out"
        );
        assert_eq!(
            warned("a.html", r#"<meta property="article:published_time" content="soon"><p>x</p>"#),
            "<meta property=\"article:published_time\">: `soon` is not a date lookout reads (YYYY-MM-DD, RFC 3339 or RFC 2822), left out"
        );
        assert_eq!(
            warned("a.html", r#"<article><time datetime="noon">x</time><p>y</p></article>"#),
            "<time datetime> in the article: `noon` is not a date lookout reads (YYYY-MM-DD, RFC 3339 or RFC 2822), left out"
        );
        // A date found elsewhere on the page: nothing was lost.
        let found = extract(
            Path::new("a.html"),
            br#"<meta property="article:published_time" content="soon"><meta name="date" content="2021-05-06"><p>x</p>"#,
        )
        .expect("extracts");
        assert!(found.warnings.is_empty());
        // A plain text has no date field: a marker that is not a date is text.
        assert!(extract(Path::new("a.txt"), b"date 2024-13-40 Body")
            .expect("extracts")
            .warnings
            .is_empty());
    }

    #[test]
    fn bom_is_dropped() {
        let doc = one("a.txt", b"\xEF\xBB\xBFTitle\n\nBody");
        assert_eq!(doc.title, "Title");
        assert_eq!(doc.body, "Body");
        let doc = one("a.json", b"\xEF\xBB\xBF{\"title\":\"T\"}");
        assert_eq!(doc.title, "T");
        let doc = one("a.md", b"\xEF\xBB\xBF---\ntitle: T\n---\nBody\n");
        assert_eq!(doc.title, "T");
        assert_eq!(doc.body, "Body");
    }

    #[test]
    fn documents_carry_path_and_part() {
        let doc = one("dir/a.txt", b"Body only");
        assert_eq!(doc.path, Path::new("dir/a.txt"));
        assert_eq!(doc.part, None);
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Body only");
    }

    #[test]
    fn same_article_in_two_formats_has_the_same_id() {
        let a = one("a.txt", b"Title\n\nSome body.\n");
        let b = one("b.json", br#"{"title": "Title", "body": "Some body."}"#);
        let c = one("c.md", b"# Title\n\nSome body.\n");
        assert_eq!(a.id, b.id);
        assert_eq!(a.id, c.id);
    }

    #[test]
    fn error_messages_are_one_line() {
        let cases: [(&str, &[u8]); 6] = [
            ("a.json", b"{\n\"a\": }"),
            ("a.jsonl", b"{}\n{\n"),
            ("a.md", b"---\ntitle: [\n---\nbody"),
            ("a.md", b"+++\ntitle = \n+++\nbody"),
            ("a.md", b"---\n- a\n- b\n---\nbody"),
            ("a.html", b"<html><script>x</script></html>"),
        ];
        for (path, bytes) in cases {
            let message = err(path, bytes);
            assert!(!message.contains('\n'), "{path}: {message}");
            assert!(!message.contains(path), "{path}: {message}");
        }
    }

    /// Text in an encoding that says what it is extracts exactly as the same text in UTF-8.
    mod encodings_that_say_so {
        use super::super::*;
        use super::utf16;
        use proptest::prelude::*;

        fn same(path: &str, utf8: &[u8], other: &[u8]) -> Result<(), TestCaseError> {
            let expected = extract(Path::new(path), utf8).map_err(|e| e.to_string());
            let got = extract(Path::new(path), other).map_err(|e| e.to_string());
            match (expected, got) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                // Errors may differ only in their offsets (the bytes differ).
                (Err(a), Err(b)) => prop_assert_eq!(
                    a.split(" at ").next().unwrap_or_default().to_string(),
                    b.split(" at ").next().unwrap_or_default().to_string()
                ),
                (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
            }
            Ok(())
        }

        fn article() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![
                    Just("Niger".to_string()),
                    Just(" ".to_string()),
                    Just("\n".to_string()),
                    Just("\n\n".to_string()),
                    Just("date 2024-03-28".to_string()),
                    Just("# ".to_string()),
                    Just("{\"title\": \"t\", \"body\": \"b\"}\n".to_string()),
                    "[a-zA-Z0-9 .,]{1,12}",
                    "[\u{a0}-\u{ff}]{1,4}",
                    "[\u{100}-\u{d7ff}\u{e000}-\u{fffd}\u{10000}-\u{10ffff}]{1,3}",
                ],
                1..30,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #[test]
            fn utf16_with_a_byte_order_mark(text in article(), big_endian in any::<bool>()) {
                // A leading U+FEFF in UTF-8 is a byte-order mark; after UTF-16's own, a character.
                prop_assume!(!text.starts_with('\u{feff}'));
                for ext in ["txt", "md", "html", "json", "jsonl"] {
                    same(&format!("a.{ext}"), text.as_bytes(), &utf16(&text, big_endian))?;
                }
            }

            #[test]
            fn html_in_a_declared_single_byte_charset(body in "[a-zA-Z0-9 .,\u{a0}-\u{ff}]{1,200}") {
                let page = |charset: &str| format!(
                    "<html><head><meta charset=\"{charset}\"><title>t</title></head><body><p>é{body}</p></body></html>"
                );
                let utf8 = page("windows-1252");
                let (latin1, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&utf8);
                prop_assume!(!unmappable);
                // Bytes that are valid UTF-8 are read as UTF-8 whatever the page declares (as
                // they always were: mislabelled UTF-8 pages are common, the reverse is rare).
                prop_assume!(std::str::from_utf8(&latin1).is_err());
                same("a.html", utf8.as_bytes(), &latin1)?;
            }
        }
    }

    mod never_panics {
        use super::super::*;
        use proptest::prelude::*;

        fn check(ext: &str, bytes: &[u8]) {
            let path = format!("f.{ext}");
            let result = extract(Path::new(&path), bytes);
            if let Err(e) = &result {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
            if let Ok(Extraction {
                documents: docs,
                warnings,
            }) = result
            {
                assert!(warnings.detailed().len() <= warning::MAX_DETAILED_WARNINGS);
                assert!(!warnings.summary().contains('\n'));
                assert!(!docs.is_empty());
                for doc in docs {
                    assert!(!(doc.title.is_empty() && doc.body.is_empty()));
                    assert_eq!(doc.title, doc.title.trim());
                    assert_eq!(doc.body, doc.body.trim());
                }
            }
        }

        /// Bytes biased towards the characters the parsers care about.
        fn markup() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(
                prop_oneof![
                    Just(b'<'),
                    Just(b'>'),
                    Just(b'/'),
                    Just(b'{'),
                    Just(b'}'),
                    Just(b'['),
                    Just(b']'),
                    Just(b'"'),
                    Just(b':'),
                    Just(b','),
                    Just(b'-'),
                    Just(b'+'),
                    Just(b'#'),
                    Just(b'\n'),
                    Just(b'\r'),
                    Just(b' '),
                    Just(b'\\'),
                    Just(b'*'),
                    Just(b'`'),
                    b'a'..=b'z',
                    b'0'..=b'9',
                    any::<u8>(),
                ],
                0..400,
            )
        }

        /// Well-formed-ish snippets glued together, to get past the parsers' first checks.
        fn snippets() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(
                prop_oneof![
                    Just("---\n"),
                    Just("+++\n"),
                    Just("title: x\n"),
                    Just("title = \"x\"\n"),
                    Just("date: 2024-03-28\n"),
                    Just("date 2024-03-28 "),
                    Just("# Heading\n"),
                    Just("\n\n"),
                    Just("<article>"),
                    Just("</article>"),
                    Just("<p>"),
                    Just("<script>"),
                    Just("<meta property=\"og:title\" content=\"t\">"),
                    Just("{\"title\": \"t\", \"body\": \"b\"}"),
                    Just("[{\"text\": 1}, 2]"),
                    Just("{"),
                    Just("["),
                    Just("\u{feff}"),
                    Just("é"),
                    Just("\r\n"),
                    Just("> "),
                    Just("- "),
                    Just("```"),
                    Just("<div>"),
                    Just("word "),
                ],
                0..40,
            )
            .prop_map(|parts| parts.concat().into_bytes())
        }

        proptest! {
            #[test]
            fn on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                for ext in ["txt", "md", "html", "json", "jsonl", "pdf"] {
                    check(ext, &bytes);
                }
            }

            #[test]
            fn on_markup_bytes(bytes in markup()) {
                for ext in ["txt", "md", "html", "json", "jsonl"] {
                    check(ext, &bytes);
                }
            }

            #[test]
            fn on_snippets(bytes in snippets()) {
                for ext in ["txt", "md", "html", "json", "jsonl"] {
                    check(ext, &bytes);
                }
            }

            #[test]
            fn on_utf16_snippets(bytes in snippets(), big_endian in any::<bool>()) {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let encoded = super::utf16(&text, big_endian);
                for ext in ["txt", "md", "html", "json", "jsonl"] {
                    check(ext, &encoded);
                }
            }
        }
    }
}
