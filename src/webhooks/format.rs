//! What a webhook's request body looks like (`format` in its configuration): `standard` (the
//! alert's JSON line as the alert log holds it, and a digest as one JSON object), `slack` (Slack
//! incoming-webhook `blocks` with a `text` fallback, which Mattermost and others accept), or a
//! `template` (minijinja) for Teams, Discord, ntfy or an internal tool, with its own content type
//! and headers. Templates are compiled and tried on a sample when the configuration is loaded;
//! a template that renders a body its content type refuses (JSON that does not parse) is a
//! permanent failure of that message, never a silent bad request.

use std::collections::BTreeMap;

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::alerts::digest::Digest;
use crate::alerts::record::{snippet_marked, Alert};

/// The body formats a webhook can be configured with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    Standard,
    Slack,
    Template,
}

/// A rendered body is refused beyond this size (a template gone wrong).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// A template may run this many instructions for one message (minijinja's fuel): no template
/// loops forever.
const TEMPLATE_FUEL: u64 = 200_000;
/// Slack refuses a header block's text over 150 chars and a section's over 3,000.
const SLACK_HEADER_CHARS: usize = 150;
const SLACK_SECTION_CHARS: usize = 3_000;
/// A digest posted to Slack lists this many alerts (Slack allows 50 blocks a message).
const SLACK_DIGEST_ITEMS: usize = 15;

/// What is wrong with a template, found when the configuration is loaded or a message rendered.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("the template does not compile: {0}")]
    Compile(String),
    #[error("the template fails to render: {0}")]
    Render(String),
    #[error("the rendered body is {bytes} bytes, more than the {MAX_BODY_BYTES} allowed")]
    TooLarge { bytes: usize },
    #[error("the rendered body is not JSON, which its content type {content_type} says it is ({reason}); use the tojson filter on values, e.g. {{{{ alert.doc.title | tojson }}}}")]
    NotJson {
        content_type: String,
        reason: String,
    },
}

/// A message to send, in whatever format: one alert (with its log line), or a digest.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Alert { alert: &'a Alert, line: &'a str },
    Digest(&'a Digest),
}

/// A webhook's format, ready to render.
#[derive(Debug)]
pub enum Formatter {
    Standard,
    Slack,
    Template(Box<TemplateFormatter>),
}

/// A compiled body template with its content type.
pub struct TemplateFormatter {
    env: Environment<'static>,
    content_type: String,
}

impl std::fmt::Debug for TemplateFormatter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateFormatter")
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl Formatter {
    /// The formatter of `format`; `template` and `content_type` are the template's (checked
    /// by the configuration: present exactly when `format` is `template`).
    pub fn new(
        format: BodyFormat,
        template: Option<&str>,
        content_type: Option<&str>,
    ) -> Result<Formatter, FormatError> {
        match format {
            BodyFormat::Standard => Ok(Formatter::Standard),
            BodyFormat::Slack => Ok(Formatter::Slack),
            BodyFormat::Template => {
                let mut env = Environment::new();
                env.set_fuel(Some(TEMPLATE_FUEL));
                env.set_undefined_behavior(UndefinedBehavior::Chainable);
                env.add_filter("plain", |s: String| snippet_marked(&s, "", ""));
                env.add_filter("marked", |s: String, open: String, close: String| {
                    snippet_marked(&s, &open, &close)
                });
                env.add_template_owned("body", template.unwrap_or_default().to_owned())
                    .map_err(|e| FormatError::Compile(describe(&e)))?;
                let formatter = Formatter::Template(Box::new(TemplateFormatter {
                    env,
                    content_type: content_type.unwrap_or("application/json").to_owned(),
                }));
                // Try it on a sample of each kind now, so a broken template is refused at load.
                let sample = crate::alerts::record::sample_alert();
                let line = sample.to_json_line();
                formatter.render(Item::Alert {
                    alert: &sample,
                    line: &line,
                })?;
                formatter.render(Item::Digest(&Digest::sample(&sample)))?;
                Ok(formatter)
            }
        }
    }

    /// The content type of the bodies.
    pub fn content_type(&self) -> &str {
        match self {
            Formatter::Standard | Formatter::Slack => "application/json",
            Formatter::Template(t) => &t.content_type,
        }
    }

    /// The body of `item`.
    pub fn render(&self, item: Item<'_>) -> Result<String, FormatError> {
        let body = match (self, item) {
            (Formatter::Standard, Item::Alert { line, .. }) => line.to_owned(),
            (Formatter::Standard, Item::Digest(digest)) => standard_digest(digest).to_string(),
            (Formatter::Slack, Item::Alert { alert, .. }) => slack_alert(alert).to_string(),
            (Formatter::Slack, Item::Digest(digest)) => slack_digest(digest).to_string(),
            (Formatter::Template(t), item) => t.render(item)?,
        };
        if body.len() > MAX_BODY_BYTES {
            return Err(FormatError::TooLarge { bytes: body.len() });
        }
        Ok(body)
    }
}

impl TemplateFormatter {
    fn render(&self, item: Item<'_>) -> Result<String, FormatError> {
        let template = self
            .env
            .get_template("body")
            .map_err(|e| FormatError::Compile(describe(&e)))?;
        let context = match item {
            Item::Alert { alert, .. } => minijinja::context! {
                kind => "alert",
                alert => Serde(alert),
                digest => (),
            },
            Item::Digest(digest) => minijinja::context! {
                kind => "digest",
                alert => (),
                digest => Serde(standard_digest(digest)),
            },
        };
        let body = template
            .render(context)
            .map_err(|e| FormatError::Render(describe(&e)))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(FormatError::TooLarge { bytes: body.len() });
        }
        let essence = self.content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json") {
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
                return Err(FormatError::NotJson {
                    content_type: self.content_type.clone(),
                    reason: e.to_string(),
                });
            }
        }
        Ok(body)
    }
}

/// A minijinja error with its line, and its causes.
fn describe(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    if let Some(line) = error.line() {
        if !text.contains("line") {
            text.push_str(&format!(" (line {line})"));
        }
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A digest as the standard format posts it (and templates see it).
pub fn standard_digest(digest: &Digest) -> Value {
    json!({
        "type": "digest",
        "digest_id": digest.digest_id,
        "query": { "name": digest.query, "text": digest.query_text },
        "window": {
            "start": digest.window.start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "end": digest.window.end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "count": digest.count,
        "unlisted": digest.unlisted(),
        "copies": digest.copies,
        "alerts": digest.alerts,
    })
}

/// Slack's mrkdwn escapes: `&`, `<` and `>` only.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(text: &str, max: usize) -> String {
    crate::alerts::record::truncate_chars(text, max).into_owned()
}

/// `<url|title>` when there is a url, the title in bold otherwise.
fn slack_title(title: &str, url: Option<&str>, path: &str) -> String {
    let title = if title.trim().is_empty() { path } else { title };
    let title = slack_escape(&cut(title, 200)).replace('|', "¦");
    match url.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
        Some(url) => format!("*<{}|{title}>*", url.replace(['<', '>', '|', ' '], "")),
        None => format!("*{title}*"),
    }
}

/// The snippet in Slack's bold, escaped for mrkdwn.
fn slack_snippet(snippet: &str) -> String {
    // Escape the text between the marks, then turn the marks into Slack's bold.
    let plain = snippet_marked(snippet, "\u{1}", "\u{2}");
    slack_escape(&plain).replace(['\u{1}', '\u{2}'], "*")
}

fn slack_context(parts: &[Option<String>]) -> Value {
    let text: Vec<String> = parts.iter().flatten().cloned().collect();
    json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": slack_escape(&text.join(" · ")) } ] })
}

fn slack_alert(alert: &Alert) -> Value {
    let doc = &alert.doc;
    let body = format!(
        "{}\n>{}",
        slack_title(&doc.title, doc.url.as_deref(), &doc.path),
        slack_snippet(&alert.matched.snippet)
    );
    let fallback = format!(
        "lookout: {} matched {}",
        alert.query.name,
        if doc.title.is_empty() {
            &doc.path
        } else {
            &doc.title
        }
    );
    json!({
        "text": cut(&fallback, SLACK_SECTION_CHARS),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": cut(&body, SLACK_SECTION_CHARS) } },
            slack_context(&[
                Some(format!("query {}", alert.query.name)),
                doc.source.clone(),
                doc.date.map(|d| d.to_string()),
            ]),
        ],
    })
}

fn slack_digest(digest: &Digest) -> Value {
    let header = format!("{}: {} alerts", digest.query, digest.count);
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": cut(&header, SLACK_HEADER_CHARS) } }),
        slack_context(&[Some(format!(
            "{} to {}",
            digest.window.start.format("%Y-%m-%d %H:%M:%S UTC"),
            digest.window.end.format("%Y-%m-%d %H:%M:%S UTC")
        ))]),
    ];
    for entry in digest.alerts.iter().take(SLACK_DIGEST_ITEMS) {
        let mut text = format!(
            "{}\n>{}",
            slack_title(&entry.title, entry.url.as_deref(), &entry.path),
            slack_snippet(&entry.snippet)
        );
        let mut meta: Vec<String> = entry.source.iter().cloned().collect();
        if let Some(date) = entry.date {
            meta.push(date.to_string());
        }
        if entry.copies > 0 {
            meta.push(format!(
                "also in {} more source{}",
                entry.copies,
                if entry.copies == 1 { "" } else { "s" }
            ));
        }
        if !meta.is_empty() {
            text.push_str(&format!("\n_{}_", slack_escape(&meta.join(" · "))));
        }
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": cut(&text, SLACK_SECTION_CHARS) } }));
    }
    let more = digest
        .count
        .saturating_sub(digest.alerts.len().min(SLACK_DIGEST_ITEMS) as u64);
    if more > 0 {
        blocks.push(slack_context(&[Some(format!(
            "and {more} more (see the alert log)"
        ))]));
    }
    json!({ "text": cut(&format!("lookout digest: {header}"), SLACK_SECTION_CHARS), "blocks": blocks })
}

/// Extra request headers of a webhook (any format): names and values checked at load.
pub type Headers = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::test_support::alert;

    fn digest_of(n: usize) -> Digest {
        let a = alert(0);
        let mut d = Digest::sample(&a);
        d.alerts.truncate(0);
        d.count = 0;
        for i in 0..n {
            d.push_listed(&alert(i));
        }
        d
    }

    #[test]
    fn standard_posts_the_log_line_and_a_digest_object() {
        let a = alert(1);
        let line = a.to_json_line();
        let f = Formatter::new(BodyFormat::Standard, None, None).unwrap();
        assert_eq!(
            f.render(Item::Alert {
                alert: &a,
                line: &line
            })
            .unwrap(),
            line
        );
        let body: Value =
            serde_json::from_str(&f.render(Item::Digest(&digest_of(3))).unwrap()).unwrap();
        assert_eq!(body["type"], "digest");
        assert_eq!(body["count"], 3);
        assert_eq!(body["alerts"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn slack_bodies_have_the_documented_shape_and_escape_mrkdwn() {
        let mut a = alert(1);
        std::sync::Arc::make_mut(&mut a.doc).title = "Profits <up> & away".into();
        a.matched.snippet = "a &lt;b&gt; <b>niger</b> &amp; co".into();
        let f = Formatter::new(BodyFormat::Slack, None, None).unwrap();
        let line = a.to_json_line();
        let body: Value = serde_json::from_str(
            &f.render(Item::Alert {
                alert: &a,
                line: &line,
            })
            .unwrap(),
        )
        .unwrap();
        assert!(body["text"].is_string());
        let section = &body["blocks"][0];
        assert_eq!(section["type"], "section");
        assert_eq!(section["text"]["type"], "mrkdwn");
        let text = section["text"]["text"].as_str().unwrap();
        assert!(text.contains("Profits &lt;up&gt; &amp; away"), "{text}");
        assert!(text.contains("a &lt;b&gt; *niger* &amp; co"), "{text}");
        let body: Value =
            serde_json::from_str(&f.render(Item::Digest(&digest_of(40))).unwrap()).unwrap();
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        assert_eq!(blocks[0]["type"], "header");
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
        assert!(blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("more"));
    }

    #[test]
    fn templates_render_alerts_and_digests_and_refuse_bad_json() {
        let discord = r#"{% if kind == "alert" %}{"content": {{ ("New match for " ~ alert.query.name ~ ": " ~ alert.doc.title) | tojson }}}{% else %}{"content": {{ (digest.count ~ " alerts for " ~ digest.query.name) | tojson }}}{% endif %}"#;
        let f = Formatter::new(BodyFormat::Template, Some(discord), None).unwrap();
        let a = alert(2);
        let line = a.to_json_line();
        let body: Value = serde_json::from_str(
            &f.render(Item::Alert {
                alert: &a,
                line: &line,
            })
            .unwrap(),
        )
        .unwrap();
        assert!(body["content"]
            .as_str()
            .unwrap()
            .starts_with("New match for "));
        let body: Value =
            serde_json::from_str(&f.render(Item::Digest(&digest_of(2))).unwrap()).unwrap();
        assert!(body["content"]
            .as_str()
            .unwrap()
            .starts_with("2 alerts for "));
        // ntfy takes plain text.
        let f = Formatter::new(
            BodyFormat::Template,
            Some("{{ alert.doc.title }}: {{ alert.matched.snippet | plain }}{{ digest.count }}"),
            Some("text/plain"),
        )
        .unwrap();
        assert!(f
            .render(Item::Alert {
                alert: &a,
                line: &line
            })
            .is_ok());
        // Unquoted values in a JSON body, a syntax error, an endless loop: refused at load.
        let err = Formatter::new(
            BodyFormat::Template,
            Some(r#"{"content": "{{ alert.doc.title }}"}"#),
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not JSON"),
            "a quote in a title breaks it: {err}"
        );
        let err = Formatter::new(
            BodyFormat::Template,
            Some(r#"{"content": {{ alert.doc.title }}}"#),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");
        let err = Formatter::new(BodyFormat::Template, Some("{% for x in y %}"), None).unwrap_err();
        assert!(matches!(err, FormatError::Compile(_)), "{err}");
        let err = Formatter::new(
            BodyFormat::Template,
            Some(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            ),
            Some("text/plain"),
        )
        .unwrap_err();
        assert!(
            matches!(err, FormatError::Render(_) | FormatError::TooLarge { .. }),
            "{err}"
        );
    }
}
