//! Extraction: turn one file's bytes into the `Document`s it holds. This module owns the
//! dispatch on the file extension, the `ExtractError` type, and the checks every format shares
//! (empty, binary, UTF-8, byte-order mark, CRLF); the per-format readers live in `text`,
//! `markdown`, `html` and `json`, and `plain` holds the helpers they share (plain-text assembly
//! and date parsing).

mod html;
mod json;
mod markdown;
mod plain;
mod text;

use std::borrow::Cow;
use std::path::Path;

use crate::document::{Document, DocumentFields};

/// How deep a JSON value (or front-matter value) may nest before it is refused.
pub(crate) const MAX_JSON_DEPTH: usize = 64;

/// How deep HTML elements may nest before the file is refused. Real pages stay far below this
/// (browsers stop nesting at 512); the HTML parser slows down quadratically beyond it.
pub(crate) const MAX_HTML_DEPTH: usize = 1000;

/// How many leading bytes are searched for a NUL byte to recognise a binary file.
const BINARY_SNIFF_LEN: usize = 8 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a file yielded no documents. Messages are one line and do not name the file: the caller
/// prefixes the path.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The extension is not one lookout reads. Holds the extension with its dot (`".pdf"`), or
    /// an empty string when the file has none.
    #[error("unsupported file type {} (lookout reads .txt, .md, .html, .json, .jsonl)", describe_extension(.extension))]
    Unsupported { extension: String },
    /// No bytes at all, or only a byte-order mark and whitespace.
    #[error("empty file")]
    Empty,
    /// A NUL byte in the first 8 KiB.
    #[error("binary file (NUL byte at offset {offset})")]
    Binary { offset: usize },
    /// Not UTF-8; `offset` is the byte offset in the file of the first invalid byte.
    #[error("not valid UTF-8 at byte {offset}")]
    InvalidUtf8 { offset: usize },
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
    /// One line of a JSON Lines file is bad; `detail` says how (it may be invalid JSON or
    /// nested too deeply). The whole file is refused.
    #[error("JSON Lines line {line}: {detail}")]
    JsonLine { line: usize, detail: String },
    /// The Markdown front matter is not valid YAML/TOML, or is not a table of keys.
    #[error("front matter: {0}")]
    FrontMatter(String),
    /// A value nests deeper than lookout accepts (JSON, front matter or HTML).
    #[error("nested too deeply (more than {limit} levels)")]
    TooDeep { limit: usize },
    /// The file parsed but holds no article with a title or body.
    #[error("no article text found")]
    NoText,
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
enum Format {
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

/// Extract every article in one file. `path` is used only for the extension and is stored in the documents.
pub fn extract(path: &Path, bytes: &[u8]) -> Result<Vec<Document>, ExtractError> {
    let format = Format::of(path).ok_or_else(|| ExtractError::Unsupported {
        extension: path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default(),
    })?;
    let text = decode(bytes)?;
    let text = normalize_newlines(text);

    let parts = match format {
        Format::Text => vec![(None, text::extract(&text))],
        Format::Markdown => vec![(None, markdown::extract(&text)?)],
        Format::Html => vec![(None, html::extract(&text)?)],
        Format::Json => json::extract(&text)?,
        Format::JsonLines => json::extract_lines(&text)?,
    };

    let documents: Vec<Document> = parts
        .into_iter()
        .map(|(part, fields)| (part, tidy(fields)))
        .filter(|(_, fields)| !fields.is_blank())
        .map(|(part, fields)| fields.into_document(path.to_path_buf(), part))
        .collect();
    if documents.is_empty() {
        return Err(ExtractError::NoText);
    }
    Ok(documents)
}

/// Whether the extension is one lookout reads (txt, text, md, markdown, html, htm, json, jsonl, ndjson), case-insensitive.
pub fn is_supported(path: &Path) -> bool {
    Format::of(path).is_some()
}

/// The checks every format shares: not empty, not binary, valid UTF-8; drops a byte-order mark.
/// Offsets in errors are offsets in the file, byte-order mark included.
fn decode(bytes: &[u8]) -> Result<&str, ExtractError> {
    if let Some(offset) = bytes.iter().take(BINARY_SNIFF_LEN).position(|&b| b == 0) {
        return Err(ExtractError::Binary { offset });
    }
    let (skipped, rest) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len(), rest),
        None => (0, bytes),
    };
    let text = std::str::from_utf8(rest).map_err(|e| ExtractError::InvalidUtf8 {
        offset: skipped + e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
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
fn tidy(mut fields: DocumentFields) -> DocumentFields {
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

/// Collapse an error message from a parser into one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(path: &str, bytes: &[u8]) -> String {
        match extract(Path::new(path), bytes) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn one(path: &str, bytes: &[u8]) -> Document {
        let mut docs = extract(Path::new(path), bytes).expect("extracts");
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
        // Binary is checked before UTF-8.
        assert_eq!(
            err("a.txt", b"\xFF\xFE\0\0"),
            "binary file (NUL byte at offset 2)"
        );
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let mut bytes = b"seventeen bytes..".to_vec();
        assert_eq!(bytes.len(), 17);
        bytes.extend_from_slice(b"\xC3\x28 rest");
        assert_eq!(err("a.txt", &bytes), "not valid UTF-8 at byte 17");
        // The offset counts the byte-order mark.
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(&bytes);
        assert_eq!(err("a.md", &with_bom), "not valid UTF-8 at byte 20");
        // Latin-1.
        assert_eq!(err("a.html", b"caf\xE9"), "not valid UTF-8 at byte 3");
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

    mod never_panics {
        use super::super::*;
        use proptest::prelude::*;

        fn check(ext: &str, bytes: &[u8]) {
            let path = format!("f.{ext}");
            if let Ok(docs) = extract(Path::new(&path), bytes) {
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
        }
    }
}
