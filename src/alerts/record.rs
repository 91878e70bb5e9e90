//! The alert record: what one "query Q matched document D" event looks like on the wire and in
//! the alert log, its stable id (`alert_id`), and its bounded JSON Lines form
//! (`Alert::to_json_line`), which every sink writes.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Titles longer than this many chars are cut (the "…" counts toward the limit).
pub const MAX_TITLE_CHARS: usize = 500;
/// Snippets longer than this many chars are cut (the "…" counts toward the limit).
pub const MAX_SNIPPET_CHARS: usize = 1_000;
/// At most this many matched terms are written.
pub const MAX_TERMS: usize = 50;
/// Each matched term longer than this many chars is cut.
pub const MAX_TERM_CHARS: usize = 200;
/// Every line `to_json_line` returns is shorter than this many bytes (unless the identity
/// fields alone, `alert_id`, `query.name` and `doc.id`, are larger: those are never cut).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Cap for the other free-text fields (query text, path, url, source), applied only when the
/// line would otherwise reach `MAX_LINE_BYTES`; halved on each further shrinking pass.
const MAX_OTHER_CHARS: usize = 2_000;

/// One alert: saved query `query` matched document `doc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `"q:{query name}/d:{doc id}"`, see [`alert_id`]. Also the webhook message id.
    pub alert_id: String,
    /// When the match was found; written as RFC 3339 UTC with milliseconds,
    /// e.g. `"2026-11-29T10:02:03.120Z"`.
    #[serde(with = "rfc3339_millis")]
    pub at: DateTime<Utc>,
    pub query: AlertQuery,
    /// Shared by the alerts of one document (a document matching 300 saved queries is held
    /// once, and its JSON written once per batch: see [`write_json_lines`]).
    pub doc: Arc<AlertDoc>,
    pub matched: Matched,
    /// True for an alert raised on a document that was already indexed when the query was
    /// added (`PUT /queries/{name}?backfill=true`); left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backfill: bool,
    /// Set on a *copy record*: the document is a near-copy of one that already alerted for
    /// this query (`duplicates = "suppress"`), and this is that first alert's id. A copy
    /// record is no alert: it is not delivered, only kept in the log (and counted). Left out
    /// on alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}

/// The saved query that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertQuery {
    /// Shared with the saved query's definition (an alert copies two pointers, not the text).
    pub name: Arc<str>,
    pub text: Arc<str>,
}

/// The document that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDoc {
    pub id: String,
    pub path: String,
    pub title: String,
    /// Written as `"2024-03-28"`; left out when unknown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

/// What in the document matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matched {
    pub terms: Vec<String>,
    pub snippet: String,
}

/// The stable id of "query `query_name` matched document `doc_id`": `"q:{query_name}/d:{doc_id}"`.
/// The same pair always gives the same id, so receivers can de-duplicate on it.
pub fn alert_id(query_name: &str, doc_id: &str) -> String {
    format!("q:{query_name}/d:{doc_id}")
}

/// The document id inside an alert id (`q:{query}/d:{doc}`).
pub fn doc_of_alert_id(alert_id: &str) -> &str {
    alert_id.rsplit_once("/d:").map_or(alert_id, |(_, doc)| doc)
}

impl Alert {
    /// An alert found now (to the millisecond, so it survives a round trip through JSON), with
    /// its id derived from the query name and the document id.
    pub fn new(query: AlertQuery, doc: AlertDoc, matched: Matched) -> Alert {
        Alert {
            alert_id: alert_id(&query.name, &doc.id),
            at: Utc::now().trunc_subsecs(3),
            query,
            doc: Arc::new(doc),
            matched,
            backfill: false,
            copy_of: None,
        }
    }

    /// Whether this record is a copy record (see [`Alert::copy_of`]), not an alert.
    pub fn is_copy(&self) -> bool {
        self.copy_of.is_some()
    }

    /// The alert as one JSON line (no trailing newline), fields in declaration order.
    ///
    /// The title is cut to `MAX_TITLE_CHARS` chars, the snippet to `MAX_SNIPPET_CHARS` (both at
    /// char boundaries, ending in "…"), the terms to `MAX_TERMS` entries of at most
    /// `MAX_TERM_CHARS` chars each. If the line is still `MAX_LINE_BYTES` or longer (only with
    /// pathological input, e.g. a huge path or text full of control characters that JSON
    /// escapes six-fold), all free-text fields are cut further, halving the limits until it fits.
    pub fn to_json_line(&self) -> String {
        let mut line = Vec::new();
        self.write_json_line(&mut line);
        // serde_json writes valid UTF-8 only.
        String::from_utf8(line).unwrap_or_default()
    }

    /// [`Alert::to_json_line`] appended to `out` (no trailing newline), so that a batch of
    /// alerts is serialized into one buffer. An alert within the limits (the usual case) is
    /// serialized as it is, without the copy that cutting needs.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if self.within_limits() {
            serialize_into(self, out);
            if out.len() - start < MAX_LINE_BYTES {
                return;
            }
            out.truncate(start);
        }
        out.extend_from_slice(self.bounded_line().as_bytes());
    }

    /// Whether pass 0 of [`Alert::bounded`] would cut nothing.
    fn within_limits(&self) -> bool {
        fits_chars(&self.doc.title, MAX_TITLE_CHARS)
            && fits_chars(&self.matched.snippet, MAX_SNIPPET_CHARS)
            && self.matched.terms.len() <= MAX_TERMS
            && self
                .matched
                .terms
                .iter()
                .all(|t| fits_chars(t, MAX_TERM_CHARS))
    }

    /// The line of a copy cut to the limits, halving them until it fits.
    fn bounded_line(&self) -> String {
        let mut line = String::new();
        for pass in 0..8u32 {
            line = serialize_line(&self.bounded(pass));
            if line.len() < MAX_LINE_BYTES {
                return line;
            }
        }
        tracing::warn!(
            alert_id = %self.alert_id,
            bytes = line.len(),
            "alert line is still over {MAX_LINE_BYTES} bytes after truncation (huge query name or doc id)"
        );
        line
    }

    /// Parse one line of the alert log (or a webhook body).
    pub fn from_json_line(line: &str) -> Result<Alert, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// A copy with the free-text fields cut. Pass 0 applies the documented limits; each further
    /// pass halves every limit and also cuts the query text, path, url and source.
    fn bounded(&self, pass: u32) -> Alert {
        let scale = 1usize << pass;
        let lim = |max: usize| (max / scale).max(8);
        let other = |s: &str| -> String {
            if pass == 0 {
                s.to_owned()
            } else {
                truncate_chars(s, lim(MAX_OTHER_CHARS)).into_owned()
            }
        };
        let max_terms = (MAX_TERMS / scale).max(1);
        Alert {
            alert_id: self.alert_id.clone(),
            at: self.at,
            query: AlertQuery {
                name: self.query.name.clone(),
                text: other(&self.query.text).into(),
            },
            doc: Arc::new(AlertDoc {
                id: self.doc.id.clone(),
                path: other(&self.doc.path),
                title: truncate_chars(&self.doc.title, lim(MAX_TITLE_CHARS)).into_owned(),
                date: self.doc.date,
                source: self.doc.source.as_deref().map(other),
                url: self.doc.url.as_deref().map(other),
            }),
            matched: Matched {
                terms: self
                    .matched
                    .terms
                    .iter()
                    .take(max_terms)
                    .map(|t| truncate_chars(t, lim(MAX_TERM_CHARS)).into_owned())
                    .collect(),
                snippet: truncate_chars(&self.matched.snippet, lim(MAX_SNIPPET_CHARS)).into_owned(),
            },
            backfill: self.backfill,
            copy_of: self.copy_of.clone(),
        }
    }
}

/// The alerts as JSON lines appended to `out`, each as [`Alert::write_json_line`] writes it
/// and followed by a newline. Consecutive alerts of one document (the same `doc`, shared) and
/// one moment write the document's JSON and the time once and copy them: a document matching
/// hundreds of saved queries is not escaped hundreds of times.
pub fn write_json_lines(alerts: &[Alert], out: &mut Vec<u8>) {
    // The last document's JSON, and the last time's.
    let mut doc_json: Option<(&Arc<AlertDoc>, Vec<u8>)> = None;
    let mut at_json: Option<(DateTime<Utc>, Vec<u8>)> = None;
    for alert in alerts {
        let start = out.len();
        if alert.within_limits() {
            if !doc_json
                .as_ref()
                .is_some_and(|(doc, _)| Arc::ptr_eq(doc, &alert.doc))
            {
                doc_json = Some((&alert.doc, to_json_bytes(&*alert.doc)));
            }
            if at_json.as_ref().is_none_or(|(at, _)| *at != alert.at) {
                at_json = Some((alert.at, to_json_bytes(&At(alert.at))));
            }
            if let (Some((_, doc)), Some((_, at))) = (&doc_json, &at_json) {
                if write_parts(alert, at, doc, out) && out.len() - start < MAX_LINE_BYTES {
                    out.push(b'\n');
                    continue;
                }
            }
            out.truncate(start);
        }
        alert.write_json_line(out);
        out.push(b'\n');
    }
}

/// `alert` as the derived `Serialize` writes it (fields in declaration order, `backfill` left
/// out when false), with its time and document already serialized. False if a part could not
/// be serialized (unreachable in practice).
fn write_parts(alert: &Alert, at: &[u8], doc: &[u8], out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(b"{\"alert_id\":");
    let id = serde_json::to_writer(&mut *out, &alert.alert_id);
    out.extend_from_slice(b",\"at\":");
    out.extend_from_slice(at);
    out.extend_from_slice(b",\"query\":");
    let query = serde_json::to_writer(&mut *out, &alert.query);
    out.extend_from_slice(b",\"doc\":");
    out.extend_from_slice(doc);
    out.extend_from_slice(b",\"matched\":");
    let matched = serde_json::to_writer(&mut *out, &alert.matched);
    if alert.backfill {
        out.extend_from_slice(b",\"backfill\":true");
    }
    let mut copy_of = Ok(());
    if let Some(original) = &alert.copy_of {
        out.extend_from_slice(b",\"copy_of\":");
        copy_of = serde_json::to_writer(&mut *out, original);
    }
    out.push(b'}');
    id.is_ok() && query.is_ok() && matched.is_ok() && copy_of.is_ok()
}

/// A time as the alert record writes it.
struct At(DateTime<Utc>);

impl Serialize for At {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        rfc3339_millis::serialize(&self.0, ser)
    }
}

fn to_json_bytes(value: &impl Serialize) -> Vec<u8> {
    // Only strings, lists of strings and dates: serializing them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `alert` as JSON appended to `out`.
fn serialize_into(alert: &Alert, out: &mut Vec<u8>) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, alert).is_err() {
        // Unreachable in practice (every field is a string, a list of strings or a date);
        // `serialize_line` reports it and writes a line holding the id.
        out.truncate(start);
        out.extend_from_slice(serialize_line(alert).as_bytes());
    }
}

fn serialize_line(alert: &Alert) -> String {
    match serde_json::to_string(alert) {
        Ok(line) => line,
        Err(err) => {
            // Unreachable in practice: every field is a string, a list of strings or a date.
            tracing::error!(alert_id = %alert.alert_id, error = %err, "cannot serialize alert");
            let id = serde_json::Value::String(alert.alert_id.clone());
            format!("{{\"alert_id\":{id},\"error\":\"unserializable alert\"}}")
        }
    }
}

/// Whether `s` has at most `max` chars (`truncate_chars(s, max)` would keep it whole).
fn fits_chars(s: &str, max: usize) -> bool {
    s.len() <= max || s.chars().nth(max).is_none()
}

/// An alert made up for trying a message template on at load time, with the characters that
/// break a body written carelessly (quotes, `<`, `&`, a line break) in its free text.
pub fn sample_alert() -> Alert {
    let at = DateTime::from_timestamp(1_764_579_723, 0).unwrap_or_default();
    Alert {
        alert_id: alert_id("sample-query", "sample-document"),
        at,
        query: AlertQuery {
            name: "sample-query".into(),
            text: "Niger AND \"security agreement\"".into(),
        },
        doc: Arc::new(AlertDoc {
            id: "sample-document".into(),
            path: "watch/sample.txt".into(),
            title: "Niger signs a \"security agreement\" <today> & more\nsecond line".into(),
            date: NaiveDate::from_ymd_opt(2026, 12, 1),
            source: Some("Sample Wire".into()),
            url: Some("https://example.com/sample?a=1&b=2".into()),
        }),
        matched: Matched {
            terms: vec!["niger".into(), "security agreement".into()],
            snippet: "…<b>Niger</b> signed a <b>security agreement</b> &amp; a &lt;pact&gt;…"
                .into(),
        },
        backfill: false,
        copy_of: None,
    }
}

/// A snippet as alerts carry it (`<b>…</b>` around the matches, `<`, `>` and `&` escaped) with
/// the marks replaced by `open` and `close` and the text unescaped: plain text for `("", "")`,
/// Slack's bold for `("*", "*")`, a terminal's for its escape codes.
pub fn snippet_marked(snippet: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(snippet.len());
    let mut rest = snippet;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (replacement, len) = [
            ("<b>", open),
            ("</b>", close),
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&amp;", "&"),
        ]
        .iter()
        .find(|(from, _)| rest.starts_with(from))
        .map_or((&rest[..1], 1), |(from, to)| (*to, from.len()));
        out.push_str(replacement);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// `s` cut to at most `max` chars (at a char boundary); when cut, the last char is "…".
pub(crate) fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    if max == 0 {
        return Cow::Borrowed("");
    }
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) => {
            // Keep max - 1 chars and add the ellipsis.
            let cut = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..cut]))
        }
    }
}

/// `DateTime<Utc>` as RFC 3339 with exactly three fractional digits and a `Z`; reads any RFC 3339
/// timestamp (any offset, any precision) back.
mod rfc3339_millis {
    use std::borrow::Cow;

    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<DateTime<Utc>, D::Error> {
        let text = Cow::<str>::deserialize(de)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Alert {
        let mut alert = crate::alerts::test_support::alert(0);
        alert.alert_id = alert_id("rust-news", "abc123");
        alert.at = Utc.with_ymd_and_hms(2026, 11, 29, 10, 2, 3).unwrap()
            + chrono::Duration::milliseconds(120);
        alert.query = AlertQuery {
            name: "rust-news".into(),
            text: "rust AND release".into(),
        };
        let doc = Arc::make_mut(&mut alert.doc);
        doc.id = "abc123".into();
        doc.url = None;
        alert
    }

    #[test]
    fn json_shape_and_order() {
        let line = sample().to_json_line();
        assert_eq!(
            line,
            r#"{"alert_id":"q:rust-news/d:abc123","at":"2026-11-29T10:02:03.120Z","query":{"name":"rust-news","text":"rust AND release"},"doc":{"id":"abc123","path":"inbox/a.md","title":"Rust 1.95 released","date":"2024-03-28","source":"blog"},"matched":{"terms":["rust","release"],"snippet":"…the <b>Rust</b> team is happy to announce…"}}"#
        );
        assert!(!line.ends_with('\n'));
        assert_eq!(Alert::from_json_line(&line).unwrap(), sample());
    }

    #[test]
    fn optional_fields_default_when_missing() {
        let line = r#"{"alert_id":"q:a/d:b","at":"2026-01-02T03:04:05+01:00","query":{"name":"a","text":"x"},"doc":{"id":"b","path":"p","title":"t"},"matched":{"terms":[],"snippet":""}}"#;
        let alert = Alert::from_json_line(line).unwrap();
        assert_eq!(alert.doc.date, None);
        assert_eq!(alert.doc.url, None);
        assert_eq!(alert.at.to_rfc3339(), "2026-01-02T02:04:05+00:00");
    }

    #[test]
    fn new_derives_id_and_keeps_millis() {
        let s = sample();
        let alert = Alert::new(s.query.clone(), (*s.doc).clone(), s.matched.clone());
        assert_eq!(alert.alert_id, "q:rust-news/d:abc123");
        assert_eq!(alert.at.timestamp_subsec_nanos() % 1_000_000, 0);
        assert_eq!(Alert::from_json_line(&alert.to_json_line()).unwrap(), alert);
    }

    #[test]
    fn giant_title_is_cut() {
        let mut alert = sample();
        Arc::make_mut(&mut alert.doc).title = "é".repeat(100_000);
        alert.matched.snippet = "日本".repeat(50_000);
        alert.matched.terms = (0..1000).map(|i| format!("term{i}")).collect();
        let line = alert.to_json_line();
        assert!(line.len() < MAX_LINE_BYTES, "{} bytes", line.len());
        let back = Alert::from_json_line(&line).unwrap();
        assert_eq!(back.doc.title.chars().count(), MAX_TITLE_CHARS);
        assert!(back.doc.title.ends_with("é…"));
        assert_eq!(back.matched.snippet.chars().count(), MAX_SNIPPET_CHARS);
        assert!(back.matched.snippet.ends_with('…'));
        assert_eq!(back.matched.terms.len(), MAX_TERMS);
        assert_eq!(back.matched.terms[49], "term49");
        assert_eq!(back.query, alert.query);
    }

    #[test]
    fn an_alert_within_the_limits_is_written_as_it_is() {
        let mut alert = sample();
        Arc::make_mut(&mut alert.doc).title = "t".repeat(MAX_TITLE_CHARS);
        alert.matched.snippet = "s".repeat(MAX_SNIPPET_CHARS);
        // Every term at its limit would pass MAX_LINE_BYTES: 20 of them, and 30 short ones.
        alert.matched.terms = vec!["x".repeat(MAX_TERM_CHARS); 20];
        alert
            .matched
            .terms
            .extend(vec!["y".to_string(); MAX_TERMS - 20]);
        let line = alert.to_json_line();
        assert!(line.len() < MAX_LINE_BYTES);
        assert_eq!(line, serde_json::to_string(&alert).unwrap());
        let mut out = b"before".to_vec();
        alert.write_json_line(&mut out);
        assert_eq!(out, [b"before".as_slice(), line.as_bytes()].concat());
        // One char more anywhere: cut, as before.
        Arc::make_mut(&mut alert.doc).title.push('t');
        let back = Alert::from_json_line(&alert.to_json_line()).unwrap();
        assert_eq!(back.doc.title.chars().count(), MAX_TITLE_CHARS);
        assert!(back.doc.title.ends_with('…'));
    }

    #[test]
    fn pathological_alert_still_fits() {
        let mut alert = sample();
        let nasty = "\u{1}".repeat(20_000);
        let doc = Arc::make_mut(&mut alert.doc);
        doc.title = nasty.clone();
        doc.path = nasty.clone();
        doc.url = Some(nasty.clone());
        doc.source = Some(nasty.clone());
        alert.matched.snippet = nasty.clone();
        alert.query.text = nasty.as_str().into();
        alert.matched.terms = vec![nasty; 100];
        let line = alert.to_json_line();
        assert!(line.len() < MAX_LINE_BYTES, "{} bytes", line.len());
        let back = Alert::from_json_line(&line).unwrap();
        assert_eq!(back.alert_id, alert.alert_id);
    }

    /// Text of every kind the record meets: plain, accented, quotes and backslashes, control
    /// characters JSON escapes, and long enough to be cut.
    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            "[a-z ]{0,12}",
            "[\\PC\"\\\\]{0,40}",
            "[\u{0}-\u{1f}é日]{0,30}",
            (1usize..3).prop_map(|n| "é".repeat(MAX_TITLE_CHARS * n)),
        ]
    }

    proptest::proptest! {
        /// A batch of alerts, several sharing a document and a time, is written exactly as each
        /// alert's own line (the shared JSON copied, not changed).
        #[test]
        fn a_batch_is_written_as_each_alert_line_by_line(
            docs in proptest::collection::vec((any_text(), any_text(), proptest::option::of(any_text())), 1..4),
            alerts in proptest::collection::vec(
                (0usize..4, 0i64..3, any_text(), any_text(), proptest::collection::vec(any_text(), 0..4), proptest::bool::ANY),
                0..12,
            ),
        ) {
            let docs: Vec<Arc<AlertDoc>> = docs
                .into_iter()
                .enumerate()
                .map(|(i, (path, title, url))| {
                    Arc::new(AlertDoc {
                        id: format!("{i:064x}"),
                        path,
                        title,
                        date: (i % 2 == 0).then(|| NaiveDate::from_ymd_opt(2024, 3, 28).unwrap()),
                        source: (i % 3 == 0).then(|| "wire".to_string()),
                        url,
                    })
                })
                .collect();
            let at = sample().at;
            let alerts: Vec<Alert> = alerts
                .into_iter()
                .map(|(doc, ms, name, snippet, terms, backfill)| {
                    let copy_of = (ms % 5 == 0).then(|| format!("q:{name}/d:first"));
                    let doc = Arc::clone(&docs[doc % docs.len()]);
                    Alert {
                        alert_id: alert_id(&name, &doc.id),
                        at: at + chrono::Duration::milliseconds(ms),
                        query: AlertQuery { name: name.into(), text: "a AND b".into() },
                        doc,
                        matched: Matched { terms, snippet },
                        backfill,
                        copy_of,
                    }
                })
                .collect();
            let mut batch = b"before\n".to_vec();
            write_json_lines(&alerts, &mut batch);
            let mut one_by_one = b"before\n".to_vec();
            for alert in &alerts {
                one_by_one.extend_from_slice(alert.to_json_line().as_bytes());
                one_by_one.push(b'\n');
            }
            proptest::prop_assert_eq!(String::from_utf8(batch).unwrap(), String::from_utf8(one_by_one).unwrap());
        }
    }

    #[test]
    fn a_batch_writes_each_line_as_serde_does() {
        let mut other = sample();
        other.backfill = true;
        Arc::make_mut(&mut other.doc).id = "def456".into();
        let shared = sample();
        let mut second = shared.clone();
        second.query.name = "second".into();
        let alerts = [shared.clone(), second.clone(), other.clone()];
        let mut out = Vec::new();
        write_json_lines(&alerts, &mut out);
        let expected: String = alerts
            .iter()
            .map(|a| serde_json::to_string(a).unwrap() + "\n")
            .collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn truncation_at_char_boundaries() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééééé", 2), "é…");
        assert_eq!(truncate_chars("🦀🦀🦀", 1), "…");
        assert_eq!(truncate_chars("", 5), "");
    }
}
