//! E-mail over SMTP (lettre): an e-mail destination's configuration (`EmailConfig`: server,
//! TLS, sender, recipients, credentials named by environment variables), the message of an alert
//! or a digest (a text part and an HTML part with the highlighted snippet, a Message-ID derived
//! from the alert's or digest's id so that a message sent again is recognisable), and one
//! attempt at sending it, classified for the retry loop. The cursor, retries, dead letters and
//! replay are delivery's, shared with webhooks.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::alerts::digest::Digest;
use crate::alerts::record::{snippet_marked, truncate_chars, Alert};

/// An e-mail lists at most this many recipients.
pub const MAX_RECIPIENTS: usize = 100;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465 by default).
    Tls,
    /// No encryption at all (port 25 by default): only for a relay on the same host.
    None,
}

/// One e-mail destination. Its `Debug` output names the credentials' variables, never their
/// values (which are never in the configuration).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// How queries and logs refer to it; unique among webhooks and e-mail destinations.
    pub name: String,
    /// The SMTP server's host name (checked against its certificate with TLS).
    pub smtp_host: String,
    /// Default: 587 with STARTTLS, 465 with TLS, 25 without.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// A PEM file of certificates to trust besides the public roots (a private CA, or a
    /// relay's self-signed certificate); relative to the config's folder.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The sender, e.g. `"lookout <lookout@example.org>"`.
    pub from: String,
    /// The recipients (one message to all of them).
    pub to: Vec<String>,
    /// The environment variables holding the SMTP user name and password, if the server wants
    /// them (both or neither).
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// Per-attempt timeout (connect, dialogue), in milliseconds.
    #[serde(default = "crate::webhooks::default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts in total, the first one included.
    #[serde(default = "crate::webhooks::default_max_attempts")]
    pub max_attempts: u32,
    /// Delivery mode, as for webhooks: a digest schedule, and a throttle.
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub at_most: Option<String>,
}

/// An e-mail destination that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail destination '{name}': {reason}")]
    Invalid { name: String, reason: String },
}

impl EmailConfig {
    fn invalid(&self, reason: impl Into<String>) -> EmailError {
        EmailError::Invalid {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Check everything that can be checked without the network or the environment.
    pub fn validate(&self) -> Result<(), EmailError> {
        if self.name.trim().is_empty() {
            return Err(self.invalid("the name is empty"));
        }
        if self.smtp_host.trim().is_empty() || self.smtp_host.contains(['/', ' ', ':']) {
            return Err(self.invalid(format!(
                "smtp_host '{}' is not a host name (give the port as smtp_port)",
                self.smtp_host
            )));
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| self.invalid(format!("from '{}' is not an address: {e}", self.from)))?;
        if self.to.is_empty() {
            return Err(self.invalid("to lists no recipient"));
        }
        if self.to.len() > MAX_RECIPIENTS {
            return Err(self.invalid(format!("to lists more than {MAX_RECIPIENTS} recipients")));
        }
        for to in &self.to {
            to.parse::<Mailbox>()
                .map_err(|e| self.invalid(format!("to '{to}' is not an address: {e}")))?;
        }
        if self.username_env.is_some() != self.password_env.is_some() {
            return Err(self.invalid("give both username_env and password_env, or neither"));
        }
        if self.timeout_ms == 0 {
            return Err(self.invalid("timeout_ms must be at least 1"));
        }
        if self.ca_file.is_some() && self.tls == SmtpTls::None {
            return Err(self.invalid(
                "ca_file is for a TLS connection, and tls is \"none\" (set tls = \"starttls\" or \"tls\")",
            ));
        }
        // Builds the TLS settings, so that a ca_file rustls cannot use is refused here.
        self.tls()?;
        Ok(())
    }

    /// The SMTP port: the configured one, or the usual one for the TLS mode.
    fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }

    /// The TLS settings of the connection, the certificates of `ca_file` trusted.
    fn tls(&self) -> Result<Tls, EmailError> {
        let host = self.smtp_host.trim();
        if self.tls == SmtpTls::None {
            return Ok(Tls::None);
        }
        let mut parameters = TlsParameters::builder(host.to_owned());
        if let Some(certificate) = self.root_certificate()? {
            parameters = parameters.add_root_certificate(certificate);
        }
        let parameters = parameters.build().map_err(|e| match &self.ca_file {
            Some(path) => self.invalid(format!(
                "ca_file {} cannot be used as a trusted certificate: {e}",
                path.display()
            )),
            None => self.invalid(format!("TLS for {host}: {e}")),
        })?;
        Ok(match self.tls {
            SmtpTls::Tls => Tls::Wrapper(parameters),
            _ => Tls::Required(parameters),
        })
    }

    /// The certificates of `ca_file`, if it is set: read, and refused clearly when the file
    /// cannot be read or holds no certificate.
    fn root_certificate(&self) -> Result<Option<Certificate>, EmailError> {
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        let pem = std::fs::read(path)
            .map_err(|e| self.invalid(format!("cannot read ca_file {}: {e}", path.display())))?;
        if !pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(self.invalid(format!(
                "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )));
        }
        Certificate::from_pem(&pem).map(Some).map_err(|e| {
            self.invalid(format!(
                "ca_file {} is not a PEM certificate file: {e}",
                path.display()
            ))
        })
    }
}

/// What one attempt at sending came to.
#[derive(Debug)]
pub enum SendFailure {
    /// The server refused for good (5xx): not retried.
    Permanent(String),
    /// Worth retrying (4xx, a timeout, a broken dialogue).
    Transient { problem: String, timeout: bool },
    /// No connection could be made.
    Unreachable(String),
}

/// An e-mail destination ready to send: its transport and addresses.
pub struct Mailer {
    pub config: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("config", &self.config)
            .finish()
    }
}

/// One e-mail, composed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `<…@lookout>`, derived from the alert's or digest's id.
    pub message_id: String,
}

impl Mailer {
    /// Validate `config`, read its credentials from the environment and build the transport
    /// (no connection is made until the first message).
    pub fn new(config: EmailConfig) -> Result<Mailer, EmailError> {
        config.validate()?;
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| config.invalid(e.to_string()))?;
        let to = config
            .to
            .iter()
            .map(|t| t.parse::<Mailbox>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| config.invalid(e.to_string()))?;
        let host = config.smtp_host.trim();
        let tls = config.tls()?;
        let port = config.port();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_millis(config.timeout_ms)));
        if let (Some(user_var), Some(password_var)) = (&config.username_env, &config.password_env) {
            let read = |var: &str| {
                std::env::var(var).map_err(|_| {
                    config.invalid(format!(
                        "the environment variable {var} (named by its credentials) is not set"
                    ))
                })
            };
            builder = builder.credentials(Credentials::new(read(user_var)?, read(password_var)?));
        }
        Ok(Mailer {
            transport: builder.build(),
            config,
            from,
            to,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Send `mail` once.
    pub async fn send(&self, mail: &Mail) -> Result<(), SendFailure> {
        let message = self
            .message(mail)
            .map_err(|e| SendFailure::Permanent(format!("cannot compose the e-mail: {e}")))?;
        // lettre bounds each socket operation, not the wait for a greeting that never comes:
        // the whole attempt is bounded here.
        let limit = Duration::from_millis(self.config.timeout_ms);
        match tokio::time::timeout(limit, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(classify(&err)),
            Err(_) => Err(SendFailure::Transient {
                problem: format!(
                    "no answer from {}:{} within timeout_ms ({} ms)",
                    self.config.smtp_host.trim(),
                    self.config.port(),
                    self.config.timeout_ms
                ),
                timeout: true,
            }),
        }
    }

    fn message(&self, mail: &Mail) -> Result<Message, lettre::error::Error> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone())
            .message_id(Some(mail.message_id.clone()))
            .user_agent(crate::webhooks::USER_AGENT.to_owned());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.clone()),
                ),
        )
    }
}

/// An SMTP error, and its causes, classified.
fn classify(err: &lettre::transport::smtp::Error) -> SendFailure {
    let mut problem = err.to_string();
    let mut refused = false;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        problem.push_str(": ");
        problem.push_str(&cause.to_string());
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            refused |= matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            );
        }
        source = cause.source();
    }
    if problem.contains("CaUsedAsEndEntity") {
        // OpenSSL's default self-signed certificate says CA:TRUE, which rustls will not take
        // as a server's own certificate.
        problem.push_str(
            " (the server presents a CA certificate as its own: give it a certificate with basicConstraints CA:FALSE, for example one issued by a private CA whose certificate is the ca_file)",
        );
    }
    if err.is_permanent() {
        SendFailure::Permanent(problem)
    } else if refused {
        SendFailure::Unreachable(problem)
    } else {
        SendFailure::Transient {
            timeout: err.is_timeout(),
            problem,
        }
    }
}

/// A header-safe Message-ID for the alert or digest id `id`.
fn message_id(id: &str) -> String {
    format!("<{}@lookout>", &blake3::hash(id.as_bytes()).to_hex()[..32])
}

/// Subjects are one line and cut to this many chars.
const MAX_SUBJECT_CHARS: usize = 200;

fn one_line(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate_chars(line.trim(), MAX_SUBJECT_CHARS).into_owned()
}

/// `<`, `>`, `&` and quotes escaped, for text put into the HTML part.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A link to `url` if it is http(s), else the title alone.
fn html_title(title: &str, url: Option<&str>) -> String {
    match url.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
        Some(url) => format!(
            "<a href=\"{}\">{}</a>",
            html_escape(url),
            html_escape(title)
        ),
        None => html_escape(title),
    }
}

fn title_or_path<'a>(title: &'a str, path: &'a str) -> &'a str {
    if title.trim().is_empty() {
        path
    } else {
        title
    }
}

/// The e-mail of one alert.
pub fn alert_mail(alert: &Alert) -> Mail {
    let doc = &alert.doc;
    let title = title_or_path(&doc.title, &doc.path);
    let meta: Vec<String> = [
        doc.source.clone(),
        doc.date.map(|d| d.to_string()),
        doc.url.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let text = format!(
        "Saved query {} ({}) matched:\n\n{}\n{}\n\n{}\n\nMatched: {}\nAlert: {}\n",
        alert.query.name,
        alert.query.text,
        title,
        meta.join(" · "),
        snippet_marked(&alert.matched.snippet, "*", "*"),
        alert.matched.terms.join(", "),
        alert.alert_id,
    );
    let html = format!(
        "<!DOCTYPE html><html><body>\n<p>Saved query <strong>{}</strong> (<code>{}</code>) matched:</p>\n<h3>{}</h3>\n<p><small>{}</small></p>\n<blockquote>{}</blockquote>\n<p><small>Matched: {} · alert {}</small></p>\n</body></html>\n",
        html_escape(&alert.query.name),
        html_escape(&alert.query.text),
        html_title(title, doc.url.as_deref()),
        html_escape(&meta.join(" · ")),
        alert.matched.snippet,
        html_escape(&alert.matched.terms.join(", ")),
        html_escape(&alert.alert_id),
    );
    Mail {
        subject: one_line(&format!("[lookout] {}: {title}", alert.query.name)),
        text,
        html,
        message_id: message_id(&alert.alert_id),
    }
}

/// The e-mail of one digest.
pub fn digest_mail(digest: &Digest) -> Mail {
    let window = format!(
        "{} to {}",
        digest.window.start.format("%Y-%m-%d %H:%M UTC"),
        digest.window.end.format("%Y-%m-%d %H:%M UTC")
    );
    let mut text = format!(
        "Saved query {} ({}): {} alert{} from {window}.\n",
        digest.query,
        digest.query_text,
        digest.count,
        if digest.count == 1 { "" } else { "s" }
    );
    let mut html = format!(
        "<!DOCTYPE html><html><body>\n<p>Saved query <strong>{}</strong> (<code>{}</code>): {} alert{} from {}.</p>\n<ol>\n",
        html_escape(&digest.query),
        html_escape(&digest.query_text),
        digest.count,
        if digest.count == 1 { "" } else { "s" },
        html_escape(&window),
    );
    for entry in &digest.alerts {
        let title = title_or_path(&entry.title, &entry.path);
        let mut meta: Vec<String> = [entry.source.clone(), entry.date.map(|d| d.to_string())]
            .into_iter()
            .flatten()
            .collect();
        if entry.copies > 0 {
            let also = if entry.copy_sources.is_empty() {
                format!(
                    "also in {} more source{}",
                    entry.copies,
                    if entry.copies == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "also in {} more ({})",
                    entry.copies,
                    entry.copy_sources.join(", ")
                )
            };
            meta.push(also);
        }
        text.push_str(&format!(
            "\n- {title}\n  {}\n  {}\n",
            meta.join(" · "),
            snippet_marked(&entry.snippet, "*", "*")
        ));
        if let Some(url) = &entry.url {
            text.push_str(&format!("  {url}\n"));
        }
        html.push_str(&format!(
            "<li><strong>{}</strong><br><small>{}</small><blockquote>{}</blockquote></li>\n",
            html_title(title, entry.url.as_deref()),
            html_escape(&meta.join(" · ")),
            entry.snippet,
        ));
    }
    html.push_str("</ol>\n");
    if digest.unlisted() > 0 {
        text.push_str(&format!(
            "\n…and {} more (see the alert log).\n",
            digest.unlisted()
        ));
        html.push_str(&format!(
            "<p>…and {} more (see the alert log).</p>\n",
            digest.unlisted()
        ));
    }
    html.push_str("</body></html>\n");
    Mail {
        subject: one_line(&format!(
            "[lookout] {}: {} alert{} ({window})",
            digest.query,
            digest.count,
            if digest.count == 1 { "" } else { "s" }
        )),
        text,
        html,
        message_id: message_id(&digest.digest_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::record::sample_alert;

    fn config() -> EmailConfig {
        EmailConfig {
            name: "desk".into(),
            smtp_host: "localhost".into(),
            smtp_port: Some(2525),
            tls: SmtpTls::None,
            ca_file: None,
            from: "lookout <lookout@example.org>".into(),
            to: vec!["desk@example.org".into()],
            username_env: None,
            password_env: None,
            timeout_ms: 1000,
            max_attempts: 3,
            digest: None,
            at_most: None,
        }
    }

    #[test]
    fn bad_destinations_are_refused_with_the_field_named() {
        type BreakIt = fn(&mut EmailConfig);
        let cases: [(&str, BreakIt); 6] = [
            ("from", |c| c.from = "not an address".into()),
            ("to lists no", |c| c.to.clear()),
            ("to 'x'", |c| c.to = vec!["x".into()]),
            ("smtp_host", |c| c.smtp_host = "mail.example.org:25".into()),
            ("both", |c| c.username_env = Some("U".into())),
            ("timeout_ms", |c| c.timeout_ms = 0),
        ];
        for (expected, break_it) in cases {
            let mut c = config();
            break_it(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains("'desk'"), "{err}");
        }
        let mut c = config();
        c.username_env = Some("LOOKOUT_TEST_UNSET_USER".into());
        c.password_env = Some("LOOKOUT_TEST_UNSET_PASSWORD".into());
        let err = Mailer::new(c).unwrap_err().to_string();
        assert!(
            err.contains("LOOKOUT_TEST_UNSET_USER") && err.contains("not set"),
            "{err}"
        );
    }

    #[test]
    fn a_ca_file_tls_cannot_use_is_refused_by_validate() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        // PEM armour around bytes that are not a certificate.
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let mut c = config();
        c.tls = SmtpTls::Starttls;
        c.ca_file = Some(garbage);
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("ca_file") && err.contains("garbage.pem") && err.contains("'desk'"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_greets_is_given_up_on_after_timeout_ms() {
        // It accepts, then says nothing: the attempt ends at timeout_ms, as a timeout.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept() {
                held.push(stream);
                if held.len() >= 4 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_secs(10));
        });
        let mut c = config();
        c.smtp_host = "127.0.0.1".into();
        c.smtp_port = Some(port);
        c.timeout_ms = 300;
        let mailer = Mailer::new(c).unwrap();
        let started = std::time::Instant::now();
        let result = mailer.send(&alert_mail(&sample_alert())).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        match result {
            Err(SendFailure::Transient { timeout, problem }) => {
                assert!(timeout, "{problem}");
                assert!(problem.contains("timeout_ms"), "{problem}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_alert_mail_carries_the_snippet_in_both_parts_escaped() {
        let mail = alert_mail(&sample_alert());
        assert!(!mail.subject.contains('\n'), "{}", mail.subject);
        assert!(
            mail.text
                .contains("*Niger* signed a *security agreement* & a <pact>"),
            "{}",
            mail.text
        );
        assert!(mail.html.contains("<b>Niger</b>"), "{}", mail.html);
        assert!(
            mail.html.contains("&lt;today&gt; &amp; more"),
            "{}",
            mail.html
        );
        assert!(
            mail.html
                .contains("href=\"https://example.com/sample?a=1&amp;b=2\""),
            "{}",
            mail.html
        );
        assert!(mail.message_id.starts_with('<') && mail.message_id.ends_with("@lookout>"));
        let mail = digest_mail(&Digest::sample(&sample_alert()));
        assert!(mail.subject.contains("1 alert "), "{}", mail.subject);
        Mailer::new(config()).unwrap().message(&mail).unwrap();
    }
}
