//! JSON articles: `.json` (one object, or an array of objects) and `.jsonl`/`.ndjson` (one
//! object per line). Owns the field mapping (`JsonKeys`: which keys hold the title, the text,
//! the date, …), the per-record tolerance of multi-record files (a bad record is skipped and
//! named in a warning, the good ones are read), and the nesting-depth guard that runs before
//! serde_json.
//!
//! Each field is read from its main keys (`title`; `body`, `text`, `content`; `date`; `source`;
//! `url`; `tags`). The common aliases (`headline`, `description`, `published_at`, …) are read
//! only for a record that has neither a title nor a text under the main keys: a record lookout
//! always read is read exactly as before (its document id is a hash of what is read), and one it
//! refused becomes readable. `[json]` in the configuration replaces a field's keys.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::plain::parse_date;
use super::warning::{Excerpt, ExtractWarning, Problem, Record, Warnings};
use super::{one_line, tidy, ExtractError, Part, MAX_JSON_DEPTH};
use crate::document::DocumentFields;

/// An article field that JSON keys are read into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonField {
    Title,
    Body,
    Date,
    Source,
    Url,
    Tags,
}

impl JsonField {
    pub const ALL: [JsonField; 6] = [
        JsonField::Title,
        JsonField::Body,
        JsonField::Date,
        JsonField::Source,
        JsonField::Url,
        JsonField::Tags,
    ];

    /// Its name in `[json]` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            JsonField::Title => "title",
            JsonField::Body => "body",
            JsonField::Date => "date",
            JsonField::Source => "source",
            JsonField::Url => "url",
            JsonField::Tags => "tags",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The keys one field is read from, in order of preference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldKeys {
    main: Vec<String>,
    /// Read only for a record with no title and no text under the main keys.
    aliases: Vec<String>,
}

/// Which keys of a JSON article hold each field. The default reads the main keys, and the
/// common aliases for records that have no title or text under the main keys (see the module
/// documentation); [`JsonKeys::set`] replaces a field's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonKeys {
    fields: [FieldKeys; 6],
}

fn keys(main: &[&str], aliases: &[&str]) -> FieldKeys {
    let owned = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect();
    FieldKeys {
        main: owned(main),
        aliases: owned(aliases),
    }
}

impl Default for JsonKeys {
    /// The aliases, and why each is unambiguous:
    /// - title: `headline` (schema.org's Article; only ever the headline). Not `name` (an
    ///   author's or a site's as often as an article's).
    /// - body: `articleBody` (schema.org), `content_text` (JSON Feed), `description` (RSS,
    ///   NewsAPI: the article's summary, its only text when there is no body), `summary`
    ///   (Atom, JSON Feed). Not `content_html` (markup) nor `message`.
    /// - date: `published_at`, `publishedAt` (NewsAPI), `datePublished` (schema.org),
    ///   `date_published` (JSON Feed), `pubDate` (RSS), `published` (Atom). Not `created_at`,
    ///   `updated_at` or `timestamp` (the record's times, or of unknown unit).
    /// - source: `publisher`, `site_name` (Open Graph). Not `author` (a person).
    /// - url: `link` (RSS, Atom; Markdown front matter reads it too).
    /// - tags: `keywords` (schema.org), `categories` (RSS, WordPress).
    fn default() -> Self {
        JsonKeys {
            fields: [
                keys(&["title"], &["headline"]),
                keys(
                    &["body", "text", "content"],
                    &["articleBody", "content_text", "description", "summary"],
                ),
                keys(
                    &["date"],
                    &[
                        "published_at",
                        "publishedAt",
                        "datePublished",
                        "date_published",
                        "pubDate",
                        "published",
                    ],
                ),
                keys(&["source"], &["publisher", "site_name"]),
                keys(&["url"], &["link"]),
                keys(&["tags"], &["keywords", "categories"]),
            ],
        }
    }
}

impl JsonKeys {
    /// Read `field` from exactly these keys, first one with a value wins (a `[json]` setting):
    /// no aliases for it.
    pub fn set(&mut self, field: JsonField, keys: Vec<String>) {
        self.fields[field.index()] = FieldKeys {
            main: keys,
            aliases: Vec::new(),
        };
    }

    /// The main keys of `field`, then its aliases.
    pub fn keys(&self, field: JsonField) -> impl Iterator<Item = &str> {
        let keys = &self.fields[field.index()];
        keys.main.iter().chain(&keys.aliases).map(String::as_str)
    }

    /// The main keys of `field` (what the record must have for its aliases to stay unread).
    pub fn main_keys(&self, field: JsonField) -> impl Iterator<Item = &str> {
        self.fields[field.index()].main.iter().map(String::as_str)
    }

    fn main(&self, field: JsonField) -> &[String] {
        &self.fields[field.index()].main
    }

    fn aliases(&self, field: JsonField) -> &[String] {
        &self.fields[field.index()].aliases
    }

    /// Which keys an article needs, for messages: `an article needs a title ("title",
    /// "headline") or a text ("body", …); other keys can be mapped in [json] in config.toml`.
    pub fn describe(&self) -> String {
        let list = |field| {
            self.keys(field)
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "an article needs a title ({}) or a text ({}); map other keys with [json] title = [...] and body = [...] in config.toml",
            list(JsonField::Title),
            list(JsonField::Body)
        )
    }
}

/// What one file's reading gathered besides its articles.
struct FileReading<'a> {
    keys: &'a JsonKeys,
    warnings: &'a mut Warnings,
    /// Warnings said once per file (wrong types, unread aliases): their keys.
    said: HashSet<(JsonField, String)>,
    parts: Vec<Part>,
}

impl FileReading<'_> {
    fn warn(&mut self, record: Option<Record>, problem: Problem) {
        if problem == Problem::NoText {
            let keys = self.keys;
            self.warnings.note_accepted_keys(|| keys.describe());
        }
        self.warnings.push(ExtractWarning { record, problem });
    }

    /// Warn once per file for this field and `what`.
    fn warn_once(
        &mut self,
        record: Option<Record>,
        field: JsonField,
        what: &str,
        problem: Problem,
    ) {
        if self.said.insert((field, what.to_string())) {
            self.warn(record, problem);
        }
    }

    /// Read one record (an object) into a part; a record without text is skipped with a
    /// warning (a one-article file is left to the caller, which refuses it).
    fn record(&mut self, record: Option<Record>, object: &Map<String, Value>) {
        let fields = tidy(self.fields(record, object));
        match record {
            Some(at) if fields.is_blank() => self.warn(Some(at), Problem::NoText),
            _ => self.parts.push((record.map(Record::number), fields)),
        }
    }

    /// The article fields of one object, with warnings for what was left out.
    fn fields(&mut self, record: Option<Record>, object: &Map<String, Value>) -> DocumentFields {
        let keys = self.keys;
        let has_text = |field| {
            keys.main(field)
                .iter()
                .any(|key| object.get(key).and_then(as_text).is_some())
        };
        let with_aliases = !has_text(JsonField::Title) && !has_text(JsonField::Body);
        let read = |field: JsonField| -> Vec<&str> {
            let main = keys.main(field).iter().map(String::as_str);
            if with_aliases {
                main.chain(keys.aliases(field).iter().map(String::as_str))
                    .collect()
            } else {
                main.collect()
            }
        };
        let title = self.text(record, object, JsonField::Title, &read(JsonField::Title));
        let body = self.text(record, object, JsonField::Body, &read(JsonField::Body));
        let source = self.text(record, object, JsonField::Source, &read(JsonField::Source));
        let url = self.text(record, object, JsonField::Url, &read(JsonField::Url));
        let date = self.date(record, object, &read(JsonField::Date));
        let tags = self.tags(record, object, &read(JsonField::Tags));
        if !with_aliases {
            let found = [
                (JsonField::Title, title.is_some()),
                (JsonField::Body, body.is_some()),
                (JsonField::Date, date.is_some()),
                (JsonField::Source, source.is_some()),
                (JsonField::Url, url.is_some()),
                (JsonField::Tags, !tags.is_empty()),
            ];
            for (field, has_value) in found {
                if has_value {
                    continue;
                }
                let unread = keys
                    .aliases(field)
                    .iter()
                    .find(|key| object.get(key.as_str()).is_some_and(|v| !v.is_null()));
                if let Some(key) = unread {
                    let problem = Problem::UnreadKey {
                        key: key.clone(),
                        field: field.name(),
                    };
                    self.warn_once(record, field, key, problem);
                }
            }
        }
        DocumentFields {
            title: title.unwrap_or_default(),
            body: body.unwrap_or_default(),
            date,
            source,
            url,
            tags,
        }
    }

    /// The first non-empty string under `keys`. When there is none and a key held a value of
    /// another type, that is said (once per file and key).
    fn text(
        &mut self,
        record: Option<Record>,
        object: &Map<String, Value>,
        field: JsonField,
        keys: &[&str],
    ) -> Option<String> {
        let mut wrong = None;
        for key in keys {
            match object.get(*key) {
                None | Some(Value::Null) => {}
                Some(value) => match as_text(value) {
                    Some(text) => return Some(text.to_string()),
                    None if !value.is_string() && wrong.is_none() => wrong = Some((*key, value)),
                    None => {}
                },
            }
        }
        if let Some((key, value)) = wrong {
            let problem = Problem::WrongType {
                field: format!("\"{key}\""),
                expected: "text",
                found: kind(value),
            };
            self.warn_once(record, field, key, problem);
        }
        None
    }

    /// The date under the first of `keys` that parses. When none does, the first value that
    /// did not is said (per record: each is a date lost).
    fn date(
        &mut self,
        record: Option<Record>,
        object: &Map<String, Value>,
        keys: &[&str],
    ) -> Option<chrono::NaiveDate> {
        let mut unread = None;
        for key in keys {
            match object.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) if text.trim().is_empty() => {}
                Some(Value::String(text)) => match parse_date(text) {
                    Some(date) => return Some(date),
                    None => {
                        unread.get_or_insert(Problem::UnreadableDate {
                            field: format!("\"{key}\""),
                            value: Excerpt::of(text),
                        });
                    }
                },
                Some(other) => {
                    unread.get_or_insert(Problem::WrongType {
                        field: format!("\"{key}\""),
                        expected: "a date string",
                        found: kind(other),
                    });
                }
            }
        }
        if let Some(problem) = unread {
            self.warn(record, problem);
        }
        None
    }

    /// The tags under the first of `keys` that holds a list or a comma-separated string.
    fn tags(
        &mut self,
        record: Option<Record>,
        object: &Map<String, Value>,
        keys: &[&str],
    ) -> Vec<String> {
        let mut wrong = None;
        for key in keys {
            match object.get(*key) {
                Some(Value::Array(items)) => {
                    return items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                }
                Some(Value::String(list)) => return list.split(',').map(str::to_string).collect(),
                None | Some(Value::Null) => {}
                Some(other) => {
                    wrong.get_or_insert((*key, kind(other)));
                }
            }
        }
        if let Some((key, found)) = wrong {
            let problem = Problem::WrongType {
                field: format!("\"{key}\""),
                expected: "a list of tags",
                found,
            };
            self.warn_once(record, JsonField::Tags, key, problem);
        }
        Vec::new()
    }
}

/// A string value with something in it, trimmed.
fn as_text(value: &Value) -> Option<&str> {
    value.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// Read a `.json` file. An object is one article (`part` `None`); an array holds one article
/// per object (`part` is its 1-based position; other elements, and objects without text, are
/// skipped with a warning). A file that does not parse is refused whole.
pub(super) fn extract(
    text: &str,
    keys: &JsonKeys,
    warnings: &mut Warnings,
) -> Result<Vec<Part>, ExtractError> {
    check_depth(text)?;
    let value: Value = serde_json::from_str(text).map_err(|e| ExtractError::Json {
        line: e.line(),
        column: e.column(),
        message: message_of(&e),
    })?;
    let mut reading = FileReading {
        keys,
        warnings,
        said: HashSet::new(),
        parts: Vec::new(),
    };
    match value {
        Value::Object(object) => reading.record(None, &object),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let at = Some(Record::Element(i + 1));
                match item {
                    Value::Object(object) => reading.record(at, object),
                    other => reading.warn(at, Problem::NotAnObject { found: kind(other) }),
                }
            }
        }
        other => {
            return Err(ExtractError::JsonShape {
                found: kind(&other),
            })
        }
    }
    Ok(reading.parts)
}

/// Read a JSON Lines file: one object per line, `part` is the line number. Blank lines are
/// skipped; a line that is not JSON, nests too deeply, is not an object or holds no text is
/// skipped with a warning naming it, and the other lines are read.
pub(super) fn extract_lines(
    text: &str,
    keys: &JsonKeys,
    warnings: &mut Warnings,
) -> Result<Vec<Part>, ExtractError> {
    let mut reading = FileReading {
        keys,
        warnings,
        said: HashSet::new(),
        parts: Vec::new(),
    };
    for (index, line) in text.split('\n').enumerate() {
        let at = Some(Record::Line(index + 1));
        if line.trim().is_empty() {
            continue;
        }
        if let Err(ExtractError::TooDeep { limit }) = check_depth(line) {
            reading.warn(at, Problem::TooDeep { limit });
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => reading.record(at, &object),
            Ok(other) => reading.warn(
                at,
                Problem::NotAnObject {
                    found: kind(&other),
                },
            ),
            Err(e) => {
                let problem = Problem::InvalidJson {
                    column: e.column(),
                    message: message_of(&e),
                    excerpt: Excerpt::around(line, e.column().saturating_sub(1)),
                };
                reading.warn(at, problem);
            }
        }
    }
    Ok(reading.parts)
}

/// serde_json's message without its ` at line L column C` suffix (we say where ourselves).
fn message_of(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    one_line(full.strip_suffix(&suffix).unwrap_or(&full))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Refuse JSON whose arrays/objects nest more than `MAX_JSON_DEPTH` deep, with a linear scan
/// that runs before the parser (which would otherwise stop only at 128 levels).
fn check_depth(text: &str) -> Result<(), ExtractError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ExtractError::TooDeep {
                        limit: MAX_JSON_DEPTH,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::NaiveDate;

    use super::super::{
        documents_of as extract_file, extract as extract_all, Extraction, Extractor,
    };
    use super::{JsonField, JsonKeys};
    use crate::document::Document;

    fn extraction(path: &str, text: &str) -> Extraction {
        extract_all(Path::new(path), text.as_bytes()).expect("extracts")
    }

    fn docs(path: &str, text: &str) -> Vec<Document> {
        extract_file(Path::new(path), text.as_bytes()).expect("extracts")
    }

    fn error(path: &str, text: &str) -> String {
        match extract_file(Path::new(path), text.as_bytes()) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn one_object() {
        let found = docs(
            "a.json",
            r#"{
                "title": "  Niger ends pact ",
                "body": "The junta ended the pact.",
                "date": "1987-02-26T15:01:01Z",
                "url": "https://news.example/niger",
                "source": "Reuters",
                "tags": ["sahel", 3, " security ", ""],
                "extra": {"ignored": true}
            }"#,
        );
        assert_eq!(found.len(), 1);
        let doc = &found[0];
        assert_eq!(doc.title, "Niger ends pact");
        assert_eq!(doc.body, "The junta ended the pact.");
        assert_eq!(doc.date, NaiveDate::from_ymd_opt(1987, 2, 26));
        assert_eq!(doc.url.as_deref(), Some("https://news.example/niger"));
        assert_eq!(doc.source.as_deref(), Some("Reuters"));
        assert_eq!(doc.tags, ["sahel", "security"]);
        assert_eq!(doc.part, None);
    }

    #[test]
    fn body_keys_in_order_of_preference() {
        let body = |text: &str| docs("a.json", text)[0].body.clone();
        assert_eq!(body(r#"{"body": "b", "text": "t", "content": "c"}"#), "b");
        assert_eq!(body(r#"{"body": "  ", "text": "t", "content": "c"}"#), "t");
        assert_eq!(body(r#"{"body": 5, "text": null, "content": "c"}"#), "c");
    }

    #[test]
    fn bad_field_types_and_dates_are_ignored() {
        let found = docs(
            "a.json",
            r#"{"title": 5, "text": "t", "date": "last week", "url": [], "tags": "a, b"}"#,
        );
        assert_eq!(found[0].title, "");
        assert_eq!(found[0].date, None);
        assert_eq!(found[0].url, None);
        assert_eq!(found[0].tags, ["a", "b"]);
    }

    #[test]
    fn array_of_objects_skips_and_names_what_is_not_an_article() {
        let found = docs(
            "a.json",
            r#"[
                {"title": "One", "text": "first"},
                "not an object",
                {"title": "", "body": ""},
                {"content": "fourth"},
                [{"title": "nested arrays are not articles"}]
            ]"#,
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].title, "One");
        assert_eq!(found[0].part, Some(1));
        assert_eq!(found[1].body, "fourth");
        assert_eq!(found[1].part, Some(4));
        assert_eq!(found[1].location(), "a.json#4");
    }

    #[test]
    fn arrays_without_text() {
        let needs = "an article needs a title (\"title\", \"headline\") or a text (\"body\", \
                     \"text\", \"content\", \"articleBody\", \"content_text\", \"description\", \
                     \"summary\"); map other keys with [json] title = [...] and body = [...] in config.toml";
        assert_eq!(
            error("a.json", "[]"),
            format!("no article text found: {needs}")
        );
        assert_eq!(
            error("a.json", r#"[{"title": " "}, 1, {}]"#),
            format!(
                "no article found: element 1 skipped: no title or text; element 2 skipped: \
                 expected an object, found a number; element 3 skipped: no title or text; {needs}"
            )
        );
        assert_eq!(
            error("a.json", "{}"),
            format!("no article text found: {needs}")
        );
    }

    #[test]
    fn top_level_must_be_object_or_array() {
        assert_eq!(
            error("a.json", r#""just a string""#),
            "expected a JSON object or an array of objects, found a string"
        );
        assert_eq!(
            error("a.json", "null"),
            "expected a JSON object or an array of objects, found null"
        );
    }

    #[test]
    fn invalid_json_says_where() {
        assert_eq!(
            error("a.json", "{\n  \"title\":\n    ]"),
            "invalid JSON at line 3, column 5: expected value"
        );
        assert_eq!(
            error("a.json", "{\"title\": \"x\"} trailing"),
            "invalid JSON at line 1, column 16: trailing characters"
        );
        let message = error("a.json", "{\"title\": \"x\"");
        assert!(
            message.starts_with("invalid JSON at line 1, column "),
            "{message}"
        );
        assert!(
            message.ends_with(": EOF while parsing an object"),
            "{message}"
        );
    }

    #[test]
    fn json_lines() {
        let found = docs(
            "a.jsonl",
            "{\"title\": \"One\", \"body\": \"first\"}\n\
             \n\
             \x20  \n\
             {\"title\": \"\"}\n\
             42\n\
             {\"text\": \"fifth\", \"date\": \"2024-03-28\"}\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].part, Some(1));
        assert_eq!(found[0].title, "One");
        assert_eq!(found[1].part, Some(6));
        assert_eq!(found[1].body, "fifth");
        assert_eq!(found[1].date, NaiveDate::from_ymd_opt(2024, 3, 28));
    }

    #[test]
    fn json_lines_with_crlf_and_ndjson() {
        let found = docs(
            "a.ndjson",
            "{\"title\": \"One\"}\r\n\r\n{\"title\": \"Three\"}\r\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].part, Some(3));
        assert_eq!(found[1].title, "Three");
    }

    #[test]
    fn a_bad_line_is_skipped_and_named() {
        // Issue 9: one unparseable line lost the whole file.
        let found = extraction(
            "a.jsonl",
            "{\"title\": \"ok\"}\n{\"title\": \"ok\"}\n\n{]\n{\"title\": \"ok\"}\n",
        );
        let parts: Vec<_> = found.documents.iter().map(|d| d.part).collect();
        assert_eq!(parts, [Some(1), Some(2), Some(5)]);
        assert_eq!(found.warnings.skipped_records(), 1);
        assert_eq!(
            found.warnings.summary(),
            "line 4 skipped: invalid JSON at column 2: key must be a string, near `{]`"
        );
        let found = extraction(
            "a.jsonl",
            "{\"title\": \"ok\"}\n{\"title\": \"split\n  across lines\"}\n{\"title\": \"last\"}",
        );
        assert_eq!(found.documents.len(), 2);
        assert_eq!(found.documents[1].part, Some(4));
        assert_eq!(
            found.warnings.summary(),
            "line 2 skipped: invalid JSON at column 16: EOF while parsing a string, near `{\"title\": \"split`; \
             line 3 skipped: invalid JSON at column 3: expected value, near `across lines\"}`"
        );
    }

    #[test]
    fn records_that_are_not_articles_are_skipped_and_named() {
        let found = extraction(
            "a.jsonl",
            "{\"title\": \"One\"}\n42\n[1]\n{}\n{\"title\": \" \"}\n{\"body\": \"six\"}\n",
        );
        assert_eq!(found.documents.len(), 2);
        assert_eq!(
            found.warnings.lines(),
            [
                "line 2 skipped: expected an object, found a number",
                "line 3 skipped: expected an object, found an array",
                "line 4 skipped: no title or text",
                "line 5 skipped: no title or text",
                "an article needs a title (\"title\", \"headline\") or a text (\"body\", \"text\", \"content\", \"articleBody\", \"content_text\", \"description\", \"summary\"); map other keys with [json] title = [...] and body = [...] in config.toml",
            ]
        );
        let found = extraction(
            "a.json",
            r#"[{"title": "One"}, "two", {"x": 1}, {"text": "four"}]"#,
        );
        assert_eq!(found.documents.len(), 2);
        assert_eq!(found.documents[1].part, Some(4));
        assert_eq!(found.warnings.skipped_records(), 2);
        assert!(found.warnings.summary().starts_with(
            "element 2 skipped: expected an object, found a string; element 3 skipped: no title or text"
        ));
    }

    #[test]
    fn long_bad_lines_are_quoted_around_the_error() {
        let line = format!("{{\"title\": \"{}\", oops}}", "x".repeat(5000));
        let found = extraction("a.jsonl", &format!("{{\"title\": \"ok\"}}\n{line}\n"));
        let summary = found.warnings.summary();
        assert!(
            summary.starts_with(
                "line 2 skipped: invalid JSON at column 5015: key must be a string, near `…xxx"
            ),
            "{summary}"
        );
        assert!(summary.contains("\", oops}`"), "{summary}");
        assert!(summary.len() < 200, "{summary}");
    }

    #[test]
    fn unreadable_dates_are_said_with_their_field() {
        // Issue 9: "01/11/2024" was dropped silently.
        let found = extraction(
            "a.json",
            r#"{"title": "T", "body": "B", "date": "01/11/2024"}"#,
        );
        assert_eq!(found.documents[0].date, None);
        assert_eq!(
            found.warnings.summary(),
            "\"date\": `01/11/2024` is not a date lookout reads (YYYY-MM-DD, RFC 3339 or RFC 2822), left out"
        );
        let found = extraction(
            "a.jsonl",
            "{\"title\": \"a\", \"date\": \"2024-03-28\"}\n{\"title\": \"b\", \"date\": 20240328}\n{\"title\": \"c\", \"date\": \"soon\"}\n",
        );
        assert_eq!(found.documents.len(), 3);
        assert_eq!(found.warnings.skipped_records(), 0);
        assert_eq!(
            found.warnings.lines(),
            [
                "line 2: \"date\": a number, not a date string, left out",
                "line 3: \"date\": `soon` is not a date lookout reads (YYYY-MM-DD, RFC 3339 or RFC 2822), left out",
            ]
        );
        // A long value is quoted bounded.
        let long = format!(r#"{{"title": "T", "date": "{}"}}"#, "9".repeat(10_000));
        assert!(extraction("a.json", &long).warnings.summary().len() < 200);
    }

    #[test]
    fn wrong_types_are_said_once_per_file() {
        let lines = "{\"title\": 5, \"body\": \"b\"}\n".repeat(50);
        let found = extraction("a.jsonl", &lines);
        assert_eq!(found.documents.len(), 50);
        assert_eq!(
            found.warnings.summary(),
            "line 1: \"title\": a number, not text, left out"
        );
    }

    #[test]
    fn common_aliases_read_an_article_that_has_no_main_keys() {
        // Issue 9: this was "no article text found".
        let found = docs(
            "a.json",
            r#"{"headline": "Niger ends pact", "description": "The junta ended it.",
                "published_at": "2024-01-11T10:00:00Z", "link": "https://n.example/a",
                "publisher": "Example", "keywords": "sahel, security"}"#,
        );
        let doc = &found[0];
        assert_eq!(doc.title, "Niger ends pact");
        assert_eq!(doc.body, "The junta ended it.");
        assert_eq!(doc.date, NaiveDate::from_ymd_opt(2024, 1, 11));
        assert_eq!(doc.url.as_deref(), Some("https://n.example/a"));
        assert_eq!(doc.source.as_deref(), Some("Example"));
        assert_eq!(doc.tags, ["sahel", "security"]);
        // The main keys come first, then the aliases in their order.
        let doc = &docs(
            "a.json",
            r#"{"summary": "s", "articleBody": "a", "datePublished": "2024-01-02", "pubDate": "2023-01-01"}"#,
        )[0];
        assert_eq!(doc.body, "a");
        assert_eq!(doc.date, NaiveDate::from_ymd_opt(2024, 1, 2));
    }

    #[test]
    fn aliases_never_change_a_record_that_was_always_readable() {
        let plain = docs("a.json", r#"{"title": "T", "body": "B"}"#);
        let found = extraction(
            "a.json",
            r#"{"title": "T", "body": "B", "headline": "H", "published_at": "2024-01-11", "link": "x"}"#,
        );
        assert_eq!(found.documents[0].id, plain[0].id);
        assert_eq!(found.documents[0].date, None);
        // Said once per file and key, naming the setting that reads it.
        assert_eq!(
            found.warnings.lines(),
            [
                "key \"published_at\" is not read as the date of records that have a title or text under the main keys; list it in [json] date in config.toml to read it",
                "key \"link\" is not read as the url of records that have a title or text under the main keys; list it in [json] url in config.toml to read it",
            ]
        );
    }

    #[test]
    fn no_text_names_the_keys_it_reads() {
        assert_eq!(
            error("a.json", r#"{"heading": "H", "story": "S"}"#),
            "no article text found: an article needs a title (\"title\", \"headline\") or a text (\"body\", \"text\", \"content\", \"articleBody\", \"content_text\", \"description\", \"summary\"); map other keys with [json] title = [...] and body = [...] in config.toml"
        );
    }

    #[test]
    fn no_text_says_what_was_left_out() {
        let message = error("a.json", r#"{"title": 5, "body": ["a"]}"#);
        assert!(
            message.starts_with(
                "no article text found: \"title\": a number, not text, left out; \"body\": an array, not text, left out; an article needs"
            ),
            "{message}"
        );
    }

    #[test]
    fn configured_keys_are_read_in_order_and_alone() {
        let mut keys = JsonKeys::default();
        keys.set(JsonField::Title, vec!["heading".into(), "title".into()]);
        keys.set(JsonField::Body, vec!["story".into()]);
        let extractor = Extractor { json_keys: keys };
        let read = |text: &str| extractor.extract(Path::new("a.json"), text.as_bytes());
        let doc = &read(r#"{"heading": "H", "title": "T", "story": "S", "body": "B"}"#)
            .unwrap()
            .documents[0];
        assert_eq!((doc.title.as_str(), doc.body.as_str()), ("H", "S"));
        let doc = &read(r#"{"title": "T", "body": "B"}"#).unwrap().documents[0];
        assert_eq!((doc.title.as_str(), doc.body.as_str()), ("T", ""));
        let message = read(r#"{"headline": "H"}"#).unwrap_err().to_string();
        assert!(
            message.contains("a title (\"heading\", \"title\") or a text (\"story\")"),
            "{message}"
        );
    }

    #[test]
    fn json_lines_without_text() {
        assert_eq!(
            error("a.jsonl", "{}\n[1]\n\"x\"\n"),
            "no article found: line 1 skipped: no title or text; line 2 skipped: expected an object, \
             found an array; line 3 skipped: expected an object, found a string; an article needs a \
             title (\"title\", \"headline\") or a text (\"body\", \"text\", \"content\", \
             \"articleBody\", \"content_text\", \"description\", \"summary\"); map other keys with \
             [json] title = [...] and body = [...] in config.toml"
        );
    }

    #[test]
    fn deep_json_is_refused_without_overflow() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            error("a.json", &deep),
            "nested too deeply (more than 64 levels)"
        );
        let deep_closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            error("a.json", &deep_closed),
            "nested too deeply (more than 64 levels)"
        );
        let deep_objects = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert_eq!(
            error("a.json", &deep_objects),
            "nested too deeply (more than 64 levels)"
        );
        let found = extraction("a.jsonl", &format!("{{\"title\": \"ok\"}}\n{deep}\n"));
        assert_eq!(found.documents.len(), 1);
        assert_eq!(
            found.warnings.summary(),
            "line 2 skipped: nested too deeply (more than 64 levels)"
        );
    }

    #[test]
    fn depth_limit_is_64() {
        // 64 levels: the object plus 63 nested arrays.
        let at_limit = format!(
            "{{\"title\": \"t\", \"x\": {}{}}}",
            "[".repeat(63),
            "]".repeat(63)
        );
        assert_eq!(docs("a.json", &at_limit)[0].title, "t");
        let over = format!(
            "{{\"title\": \"t\", \"x\": {}{}}}",
            "[".repeat(64),
            "]".repeat(64)
        );
        assert_eq!(
            error("a.json", &over),
            "nested too deeply (more than 64 levels)"
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!(
            "{{\"title\": \"{}\", \"body\": \"esc \\\" {}\"}}",
            "[".repeat(200),
            "{".repeat(200)
        );
        assert_eq!(docs("a.json", &text)[0].title, "[".repeat(200));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        use crate::document::DocumentFields;
        use crate::extract::plain::parse_date;

        /// A JSON Lines record: good (an article) or one of the ways a record is bad.
        fn line() -> impl Strategy<Value = (bool, String)> {
            prop_oneof![
                "[a-z ]{1,20}"
                    .prop_map(|t| (!t.trim().is_empty(), format!("{{\"title\": \"{t}\"}}"))),
                "[a-z]{1,10}"
                    .prop_map(|t| (true, format!("{{\"body\": \"{t}\", \"date\": \"x\"}}"))),
                Just((false, "{not json".to_string())),
                Just((false, "{\"title\": \"unterminated".to_string())),
                Just((false, "42".to_string())),
                Just((false, "[{\"title\": \"in an array\"}]".to_string())),
                Just((false, "{}".to_string())),
                Just((false, "{\"title\": 7}".to_string())),
                Just((false, format!("{}1{}", "[".repeat(100), "]".repeat(100)))),
                "[\\PC]{0,30}".prop_map(|junk| (false, junk)),
            ]
        }

        proptest! {
            /// Every good line is a document (its line number its part); every bad one is
            /// skipped and counted, the first ones named in order; nothing else is lost.
            #[test]
            fn json_lines_keep_the_good_records_and_name_the_bad(
                lines in proptest::collection::vec(line(), 1..40),
                crlf in any::<bool>(),
            ) {
                // Junk that happens to be an article or a blank line is neither good nor bad here.
                prop_assume!(lines.iter().all(|(good, text)| *good || (!text.trim().is_empty()
                    && !serde_json::from_str::<Value>(text).is_ok_and(|v| v.as_object().is_some_and(|o| o.get("title").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty()) || o.get("body").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty()))))));
                prop_assume!(lines.iter().all(|(_, text)| !text.contains(['\n', '\r'])));
                let newline = if crlf { "\r\n" } else { "\n" };
                let text = lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join(newline);
                let good: Vec<usize> = (1..=lines.len()).filter(|&n| lines[n - 1].0).collect();
                let bad: Vec<usize> = (1..=lines.len()).filter(|&n| !lines[n - 1].0).collect();
                match extract_all(Path::new("a.jsonl"), text.as_bytes()) {
                    Ok(found) => {
                        let parts: Vec<usize> = found.documents.iter().filter_map(|d| d.part).collect();
                        prop_assert_eq!(&parts, &good);
                        prop_assert_eq!(found.warnings.skipped_records(), bad.len());
                        let named: Vec<usize> = found.warnings.detailed().iter()
                            .filter(|w| w.problem.skips_record())
                            .filter_map(|w| w.record.map(|r| r.number()))
                            .collect();
                        prop_assert_eq!(&named[..], &bad[..named.len()]);
                    }
                    Err(e) => {
                        prop_assert!(good.is_empty(), "{e}");
                        let message = e.to_string();
                        prop_assert!(message.starts_with("no article found: line "), "{}", message);
                    }
                }
            }

            /// The same for the elements of a JSON array.
            #[test]
            fn json_arrays_keep_the_good_elements_and_name_the_bad(
                elements in proptest::collection::vec(prop_oneof![
                    "[a-z]{1,10}".prop_map(|t| (true, format!("{{\"title\": \"{t}\"}}"))),
                    Just((false, "3".to_string())),
                    Just((false, "null".to_string())),
                    Just((false, "{}".to_string())),
                    Just((false, "[]".to_string())),
                    Just((false, "{\"text\": \" \"}".to_string())),
                ], 0..30),
            ) {
                let text = format!("[{}]", elements.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(","));
                let good: Vec<usize> = (1..=elements.len()).filter(|&n| elements[n - 1].0).collect();
                let bad = elements.len() - good.len();
                match extract_all(Path::new("a.json"), text.as_bytes()) {
                    Ok(found) => {
                        let parts: Vec<usize> = found.documents.iter().filter_map(|d| d.part).collect();
                        prop_assert_eq!(parts, good);
                        prop_assert_eq!(found.warnings.skipped_records(), bad);
                    }
                    Err(_) => prop_assert!(good.is_empty()),
                }
            }
        }

        /// How lookout read a JSON object before aliases and warnings existed.
        fn before_aliases(object: &Map<String, Value>) -> DocumentFields {
            let string = |key: &str| {
                object
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let tags = match object.get("tags") {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                Some(Value::String(list)) => list.split(',').map(str::to_string).collect(),
                _ => Vec::new(),
            };
            DocumentFields {
                title: string("title").unwrap_or_default(),
                body: ["body", "text", "content"]
                    .iter()
                    .find_map(|key| string(key))
                    .unwrap_or_default(),
                date: string("date").as_deref().and_then(parse_date),
                source: string("source"),
                url: string("url"),
                tags,
            }
        }

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                Just(Value::from("")),
                Just(Value::from("  ")),
                Just(Value::from(5)),
                Just(Value::from("2024-03-28")),
                Just(Value::from("01/11/2024")),
                Just(Value::from("a, b")),
                Just(serde_json::json!(["x", 1, "y"])),
                Just(serde_json::json!({"name": "n"})),
                "[a-z ]{1,8}".prop_map(Value::from),
            ]
        }

        fn object() -> impl Strategy<Value = Map<String, Value>> {
            let key = prop_oneof![
                Just("title"),
                Just("body"),
                Just("text"),
                Just("content"),
                Just("date"),
                Just("source"),
                Just("url"),
                Just("tags"),
                Just("headline"),
                Just("description"),
                Just("articleBody"),
                Just("summary"),
                Just("published_at"),
                Just("publishedAt"),
                Just("link"),
                Just("publisher"),
                Just("keywords"),
                Just("categories"),
                Just("other"),
            ];
            proptest::collection::vec((key, value()), 0..8)
                .prop_map(|pairs| pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }

        proptest! {
            /// A record lookout could read before the aliases existed reads exactly as it did
            /// (the same fields, so the same document id); one it could not read may now be.
            #[test]
            fn aliases_never_change_what_was_readable(object in object()) {
                let before = super::super::super::tidy(before_aliases(&object));
                let text = Value::Object(object).to_string();
                let now = extract_all(Path::new("a.json"), text.as_bytes());
                if before.is_blank() {
                    return Ok(());
                }
                let now = now.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let expected = before.into_document(Path::new("a.json").to_path_buf(), None);
                prop_assert_eq!(&now.documents, &vec![expected]);
            }
        }
    }
}
