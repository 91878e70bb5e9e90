//! JSON articles: `.json` (one object, or an array of objects) and `.jsonl`/`.ndjson` (one
//! object per line). Owns the field mapping (`title`, `body`/`text`/`content`, `date`, `url`,
//! `source`, `tags`) and the nesting-depth guard that runs before serde_json.

use serde_json::{Map, Value};

use super::plain::parse_date;
use super::{one_line, ExtractError, Part, MAX_JSON_DEPTH};
use crate::document::DocumentFields;

/// Keys that hold the body, in order of preference.
const BODY_KEYS: [&str; 3] = ["body", "text", "content"];

/// Read a `.json` file. An object is one article (`part` `None`); an array holds one article
/// per object (`part` is its 1-based position; elements that are not objects are skipped).
pub(super) fn extract(text: &str) -> Result<Vec<Part>, ExtractError> {
    check_depth(text)?;
    let value: Value = serde_json::from_str(text).map_err(|e| ExtractError::Json {
        line: e.line(),
        column: e.column(),
        message: message_of(&e),
    })?;
    match value {
        Value::Object(object) => Ok(vec![(None, fields(&object))]),
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| Some((Some(i + 1), fields(item.as_object()?))))
            .collect()),
        other => Err(ExtractError::JsonShape {
            found: kind(&other),
        }),
    }
}

/// Read a JSON Lines file: one object per line, `part` is the line number. Blank lines and
/// lines holding something other than an object are skipped; a line that is not JSON makes the
/// whole file an error.
pub(super) fn extract_lines(text: &str) -> Result<Vec<Part>, ExtractError> {
    let mut parts = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        check_depth(line).map_err(|e| ExtractError::JsonLine {
            line: number,
            detail: e.to_string(),
        })?;
        let value: Value = serde_json::from_str(line).map_err(|e| ExtractError::JsonLine {
            line: number,
            detail: format!("invalid JSON at column {}: {}", e.column(), message_of(&e)),
        })?;
        if let Value::Object(object) = value {
            parts.push((Some(number), fields(&object)));
        }
    }
    Ok(parts)
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

/// The article fields of one object. Wrong types are ignored, never errors.
fn fields(object: &Map<String, Value>) -> DocumentFields {
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
        body: BODY_KEYS
            .iter()
            .find_map(|key| string(key))
            .unwrap_or_default(),
        date: string("date").as_deref().and_then(parse_date),
        source: string("source"),
        url: string("url"),
        tags,
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

    use super::super::extract as extract_file;
    use crate::document::Document;

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
    fn array_of_objects() {
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
        assert_eq!(error("a.json", "[]"), "no article text found");
        assert_eq!(
            error("a.json", r#"[{"title": " "}, 1, {}]"#),
            "no article text found"
        );
        assert_eq!(error("a.json", "{}"), "no article text found");
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
    fn a_bad_line_fails_the_whole_file() {
        assert_eq!(
            error(
                "a.jsonl",
                "{\"title\": \"ok\"}\n{\"title\": \"ok\"}\n\n{]\n{\"title\": \"ok\"}\n"
            ),
            "JSON Lines line 4: invalid JSON at column 2: key must be a string"
        );
        assert_eq!(
            error(
                "a.jsonl",
                "{\"title\": \"ok\"}\n{\"title\": \"split\n  across lines\"}\n"
            ),
            "JSON Lines line 2: invalid JSON at column 16: EOF while parsing a string"
        );
    }

    #[test]
    fn json_lines_without_text() {
        assert_eq!(
            error("a.jsonl", "{}\n[1]\n\"x\"\n"),
            "no article text found"
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
        assert_eq!(
            error("a.jsonl", &format!("{{\"title\": \"ok\"}}\n{deep}\n")),
            "JSON Lines line 2: nested too deeply (more than 64 levels)"
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
}
