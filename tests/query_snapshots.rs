//! Snapshots of the query language as users read it: many queries covering the whole grammar
//! printed back in normal form with their warnings, and every parse error message with its
//! column, as the library gives it, as `lookout search` and `lookout queries check` print it
//! (with their exit statuses) and as the API answers it (`GET /search`, `POST /queries/check`).
//!
//! Review a change with `cargo insta review` (or `INSTA_UPDATE=always cargo test` and
//! `git diff tests/snapshots/`): a diff here is a change users see.

mod support;

use std::fmt::Write as _;
use std::process::Command;

use lookout::query::{self, QueryLimits};
use serde::Serialize;
use support::*;

/// The clause limit the error cases run under (so that "too many clauses" has a short input).
const MAX_CLAUSES: usize = 8;

/// Queries covering the grammar, each with why it is here.
const GRAMMAR: &[&str] = &[
    // Terms and analysis: lowercasing, folding, splitting.
    "niger",
    "Niger",
    "NIGER",
    "Côte",
    "Zürich Straße",
    "naïve café",
    "ǧ",
    "ᴀɴᴅ",
    "日本",
    "Москва",
    "e-mail",
    "d'Ivoire",
    "U.S.",
    "2024",
    "covid19",
    // Default operator AND, and its spellings.
    "niger security",
    "niger AND security",
    "niger && security",
    "+niger +security",
    "niger +security",
    // OR.
    "niger OR mali",
    "niger || mali",
    "niger OR mali OR chad",
    // Exclusions.
    "niger NOT mali",
    "niger AND NOT mali",
    "niger -mali",
    "niger !mali",
    "-mali niger",
    "niger -mali -chad",
    "niger OR NOT mali",
    "niger OR -mali",
    "a OR -b",
    "x OR -y OR -z",
    // Lucene precedence, and the OR-ed clauses it makes optional.
    "a OR b AND c",
    "a AND b OR c",
    "a b OR c",
    "+a b OR c",
    "a OR b c",
    "(a OR b) AND c",
    // Groups and nested groups.
    "(niger)",
    "((niger))",
    "(niger mali)",
    "(niger OR mali)",
    "(niger OR mali) security",
    "niger (mali OR chad)",
    "niger -(mali OR chad)",
    "a -(b OR -c)",
    "(a AND b) OR (c AND d)",
    "(a OR b) (c OR d)",
    "((a OR b) AND (c OR (d AND -e)))",
    "(a OR (b OR c))",
    "(a AND (b AND c))",
    "+(a b) -(c d)",
    // Phrases and slop.
    "\"security agreement\"",
    "\"Security  Agreement\"",
    "\"security agreement\"~3",
    "\"security agreement\"~0",
    "\"niger\"",
    "\"niger\"~2",
    "\"e-mail address\"",
    "\"a \\\"quoted\\\" word\"",
    "\"back\\\\slash\"",
    "\"...\" niger",
    // Prefixes.
    "secur*",
    "Secur*",
    "ni*",
    "n*",
    "title:secur*",
    "2024*",
    // Fields.
    "title:niger",
    "body:niger",
    "source:reuters",
    "url:example",
    "tags:politics",
    "title:\"security pact\"",
    "title:\"security pact\"~2",
    "title:(niger OR mali)",
    "title:(niger mali)",
    "title:(niger -mali)",
    "title:niger body:mali",
    "title:e-mail",
    "title:Côte",
    // Dates and date ranges of every shape.
    "date:2024-03-28",
    "date:[2024-01-01 TO 2024-12-31]",
    "date:{2024-01-01 TO 2024-12-31}",
    "date:[2024-01-01 TO 2024-12-31}",
    "date:{2024-01-01 TO 2024-12-31]",
    "date:[* TO 2024-12-31]",
    "date:[2024-01-01 TO *]",
    "date:[* TO *]",
    "date:{* TO *}",
    "date:[2024-03-28 TO 2024-03-28]",
    "date:[1900-01-01 TO 2999-12-31]",
    "date:[2024-02-29 TO 2024-03-01]",
    "niger date:[2024-01-01 TO *]",
    "niger AND NOT date:[* TO 2023-12-31]",
    "date:2024-03-28 OR date:2024-03-29",
    // Escapes.
    "foo\\:bar",
    "title\\:niger",
    "a\\+b",
    "\\-mali",
    "c\\+\\+",
    "1\\/2",
    "x\\*",
    "a\\ b",
    "\\(niger\\)",
    "AND\\ OR",
    "\\AND niger",
    "\\NOT niger",
    // Lowercase operators are words, with a warning.
    "niger and mali",
    "niger or mali",
    "niger not mali",
    // Whitespace.
    "  niger   mali  ",
    "niger\tmali",
    "niger\nmali",
    // Words the analyzer drops beside others.
    "niger ...",
    "niger - mali",
];

/// One parse error per message the parser can give (see `every_message_has_a_case`).
const ERRORS: &[&str] = &[
    "",
    "   ",
    "niger)",
    ")",
    "...",
    "NOT mali",
    "-mali -chad",
    "niger AND (NOT mali)",
    "(niger OR mali",
    "()",
    "niger AND",
    "niger AND ",
    "niger +",
    "niger AND OR mali",
    "niger NOT AND mali",
    "AND niger",
    "OR niger",
    "niger (NOT)",
    "niger (+)",
    "\"security agreement",
    "niger \"",
    "niger\\",
    "\"security agreement\"~",
    "\"security agreement\"~1.5",
    "niger~1",
    "niger~",
    "niger^2",
    "\"a b\"^2",
    "(niger)~2",
    "~2 niger",
    "^2 niger",
    "niger ]",
    "niger }",
    ":niger",
    "[a TO b]",
    "foo:bar",
    "Title:niger",
    "title:(body:niger)",
    "title:",
    "title:[a TO b]",
    "date:",
    "date:\"2024\"",
    "date:yesterday",
    "date:2024-02-30",
    "date:2024-3-28",
    "date:\\-0001-01-01",
    "date:[2024-12-01 TO 2024-01-01]",
    "date:[2024-01-01 2024-12-31]",
    "date:[2024-01-01 TO",
    "date:[2024-01-01 TO 2024-12-31",
    "date:[2024-01-01 TO 2024-12-31 niger",
    "date:[2024-01-01 TO (]",
    "date:[( TO 2024-12-31]",
    "date:[2024-01-01 TO 2024-12-31]^2",
    "*ger",
    "?iger",
    "sec*ity",
    "se*c*",
    "niger?",
    "e-mail*",
    "a b c d e f g h i",
    "\"a b c d e f g h i\"",
    "a b c d e f g h i*",
    "\"security agreement\" ~3",
    "niger ++mali",
    "title:-niger",
    "title:)",
    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((niger",
];

/// Messages the parser's source writes that no input can reach (the callers rule them out).
const UNREACHABLE: &[&str] = &[
    // `parse_clause` is only called with a token ahead.
    "expected a term",
];

/// `input => printed` and its warnings, one block per query.
#[test]
fn queries_printed_back_in_normal_form_with_their_warnings() {
    let refused: Vec<String> = GRAMMAR
        .iter()
        .filter_map(|text| query::parse(text).err().map(|e| format!("{text:?}: {e}")))
        .collect();
    assert!(refused.is_empty(), "should parse: {refused:#?}");
    let mut out = String::new();
    for text in GRAMMAR {
        let Ok(parsed) = query::parse(text) else {
            unreachable!()
        };
        let printed = parsed.query.to_string();
        // The printed form is the query (the round trip the parser promises).
        assert_eq!(
            query::parse(&printed).map(|p| p.query).as_ref(),
            Ok(&parsed.query),
            "{text:?} printed as {printed:?}"
        );
        let _ = writeln!(out, "{text:?}\n  => {printed}");
        for lint in &parsed.lints {
            let _ = writeln!(out, "  warning: {lint}");
        }
    }
    insta::assert_snapshot!("printed_back", out);
}

fn limits() -> QueryLimits {
    QueryLimits {
        max_clauses: MAX_CLAUSES,
    }
}

/// The messages the library gives, with a caret under the column.
#[test]
fn parse_error_messages_with_their_columns() {
    let accepted: Vec<String> = ERRORS
        .iter()
        .filter_map(|text| {
            let parsed = query::parse_with_limits(text, limits()).ok()?;
            Some(format!("{text:?} => {}", parsed.query))
        })
        .collect();
    assert!(accepted.is_empty(), "should fail: {accepted:#?}");
    let mut out = String::new();
    for text in ERRORS {
        let Err(error) = query::parse_with_limits(text, limits()) else {
            unreachable!()
        };
        let _ = writeln!(
            out,
            "{text:?}\n  {text}\n  {}^ {error}",
            " ".repeat(error.column.saturating_sub(1))
        );
    }
    insta::assert_snapshot!("errors", out);
}

/// The message templates of `QueryError::new(.., "..")` in the parser's source (a format
/// string's `{..}` holes kept as they are written).
fn message_templates() -> Vec<String> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/query/parser.rs"),
    )
    .unwrap();
    let mut templates = Vec::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find("QueryError::new(") {
        rest = &rest[at + "QueryError::new(".len()..];
        let quote = rest
            .find('"')
            .expect("a message literal after QueryError::new(");
        rest = &rest[quote + 1..];
        // The literal as written, up to its closing quote.
        let mut end = 0;
        let bytes = rest.as_bytes();
        while bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        templates.push(unescape(&rest[..end]));
        rest = &rest[end..];
    }
    templates
}

/// A Rust string literal's text: `\\` at a line's end drops the newline and the indentation.
fn unescape(raw: &str) -> String {
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('\n') => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            Some('n') => text.push('\n'),
            Some('t') => text.push('\t'),
            Some(other) => text.push(other),
            None => {}
        }
    }
    text
}

/// Whether `message` is what `template` (a format string) can write.
fn fits(template: &str, message: &str) -> bool {
    // The literal pieces between `{..}` holes, in order (`{{` and `}}` are braces).
    let unbraced = template.replace("{{", "\u{1}").replace("}}", "\u{2}");
    let mut pieces = Vec::new();
    let mut rest = unbraced.as_str();
    while let Some(open) = rest.find('{') {
        pieces.push(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        rest = &rest[close..];
    }
    pieces.push(rest);
    let last = pieces.len() - 1;
    let mut at = 0;
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.replace('\u{1}', "{").replace('\u{2}', "}");
        let rest = &message[at..];
        let found = if i == 0 {
            rest.starts_with(&piece).then_some(0)
        } else if i == last {
            rest.ends_with(&piece).then(|| rest.len() - piece.len())
        } else {
            rest.find(&piece)
        };
        match found {
            Some(p) => at += p + piece.len(),
            None => return false,
        }
    }
    at == message.len()
}

/// `QueryError` is one struct with a message: its "variants" are the messages the parser
/// writes. Every one of them has a case in `ERRORS`, so a new message without a case fails here.
#[test]
fn every_message_has_a_case() {
    let templates = message_templates();
    assert!(templates.len() >= 30, "read {} templates", templates.len());
    let messages: Vec<String> = ERRORS
        .iter()
        .map(|text| match query::parse_with_limits(text, limits()) {
            Ok(parsed) => panic!("{text:?} should fail, got {}", parsed.query),
            Err(error) => error.message,
        })
        .collect();
    let uncovered: Vec<&String> = templates
        .iter()
        .filter(|template| !UNREACHABLE.contains(&template.as_str()))
        .filter(|template| !messages.iter().any(|m| fits(template, m)))
        .collect();
    assert!(
        uncovered.is_empty(),
        "parse errors without a case in ERRORS: {uncovered:#?}"
    );
    // And no case gives a message the source does not write.
    for message in &messages {
        assert!(
            templates.iter().any(|t| fits(t, message)),
            "{message:?} fits no template: {templates:#?}"
        );
    }
}

#[derive(Serialize)]
struct SavedQueries<'a> {
    max_query_clauses: usize,
    queries: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: String,
    query: &'a str,
}

/// A home whose saved queries are the error cases (`e00`, `e01`, ...).
fn home_with_error_queries() -> Home {
    let saved = SavedQueries {
        max_query_clauses: MAX_CLAUSES,
        queries: ERRORS
            .iter()
            .enumerate()
            .map(|(i, text)| Entry {
                name: format!("e{i:02}"),
                query: text,
            })
            .collect(),
    };
    Home::new(&toml::to_string(&saved).unwrap())
}

fn run_lookout(home: &Home, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(home.dir.path())
        .arg("--config")
        .arg("config.toml")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `lookout search` on each bad query: its stderr and exit status (stdout stays empty).
#[test]
fn parse_errors_as_lookout_search_prints_them() {
    let home = home_with_error_queries();
    let mut out = String::new();
    for text in ERRORS {
        let answer = run_lookout(&home, &["search", "--", text]);
        assert!(answer.stdout.is_empty(), "{text:?}");
        let _ = writeln!(
            out,
            "$ lookout search {text:?}\nexit status {}\n{}",
            answer.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&answer.stderr)
        );
    }
    insta::assert_snapshot!("errors_cli_search", out);
}

/// `lookout queries check` with every bad query saved.
#[test]
fn parse_errors_as_lookout_queries_check_prints_them() {
    let home = home_with_error_queries();
    let answer = run_lookout(&home, &["queries", "check"]);
    let shown = format!(
        "$ lookout queries check\nexit status {}\n--- stdout\n{}--- stderr\n{}",
        answer.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&answer.stdout),
        String::from_utf8_lossy(&answer.stderr)
    );
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&home.path_pattern(), "[HOME]");
    settings.bind(|| insta::assert_snapshot!("errors_cli_queries_check", shown));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `METHOD PATH`, the status, the content type and the body pretty-printed (keys in the order
/// the API writes them).
fn exchange(request: reqwest::blocking::RequestBuilder, shown: &str) -> String {
    let answer = request.send().unwrap();
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = answer.text().unwrap();
    let body = pretty_json(&body).unwrap_or(body);
    format!("{shown}\n{status} {content_type}\n{body}\n")
}

/// The API's answers to each bad query: `GET /search` (an error body) and `POST
/// /queries/check` (a verdict).
#[test]
fn parse_errors_as_the_api_answers_them() {
    let home = Home::new(&format!("max_query_clauses = {MAX_CLAUSES}\n"));
    let daemon = home.start_daemon(1);
    let base = home.api();
    let http = reqwest::blocking::Client::new();
    let mut search = String::new();
    let mut check = String::new();
    for text in ERRORS {
        let request = http.get(format!("{base}/search?q={}", urlencode(text)));
        search.push_str(&exchange(request, &format!("GET /search?q={text:?}")));
        let request = http
            .post(format!("{base}/queries/check"))
            .json(&serde_json::json!({ "query": text }));
        check.push_str(&exchange(request, &format!("POST /queries/check {text:?}")));
    }
    daemon.stop();
    insta::assert_snapshot!("errors_api_search", search);
    insta::assert_snapshot!("errors_api_check", check);
}

/// The grammar through `POST /queries/check`: what the API says a valid query normalizes to,
/// with its warnings (the same printer as the library's, checked here on the wire).
#[test]
fn valid_queries_as_the_api_checks_them() {
    let home = Home::new("");
    let daemon = home.start_daemon(1);
    let base = home.api();
    let http = reqwest::blocking::Client::new();
    let mut check = String::new();
    for text in GRAMMAR {
        let request = http
            .post(format!("{base}/queries/check"))
            .json(&serde_json::json!({ "query": text }));
        check.push_str(&exchange(request, &format!("POST /queries/check {text:?}")));
    }
    daemon.stop();
    insta::assert_snapshot!("check_api", check);
}
