//! Signed webhook requests (Standard Webhooks): the webhook configuration (`WebhookConfig`),
//! signing and verifying (`sign`, `verify`), the retry schedule (`RetryPolicy`), and the one
//! request and retry loop every sender shares (`Endpoint`, `Message`, `deliver_once`,
//! `deliver_with_retries`, which counts every attempt and failure in the `Metrics`). The senders
//! themselves, delivery fed from the alert log with a persisted cursor per webhook
//! (`LogDelivery`) and `replay`, live in `delivery`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, WebhookFailure};
use crate::webhooks::error::WebhookError;
use crate::webhooks::format::{BodyFormat, Formatter, Headers};

type HmacSha256 = Hmac<Sha256>;

/// The `user-agent` of every webhook request.
pub const USER_AGENT: &str = concat!("lookout/", env!("CARGO_PKG_VERSION"));

/// Prefix of Standard Webhooks secrets; the rest is the base64 key.
const SECRET_PREFIX: &str = "whsec_";

/// Base64 that accepts keys with or without `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The per-request timeout when the configuration gives none.
pub fn default_timeout_ms() -> u64 {
    5_000
}

/// The number of attempts (first try included) when the configuration gives none.
pub fn default_max_attempts() -> u32 {
    5
}

/// One webhook endpoint. Its `Debug` output leaves the secret out.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// How queries and logs refer to this webhook; unique.
    pub name: String,
    /// Where alerts are POSTed; http or https.
    pub url: String,
    /// Standard Webhooks secret: `"whsec_"` + base64 key. A secret without the prefix is used
    /// as raw bytes. Without a secret, requests carry no `webhook-signature`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Per-request timeout (connect, send and response), in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts in total, the first one included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The body: `standard` (the alert's JSON line), `slack` (blocks) or `template`.
    #[serde(default, skip_serializing_if = "is_standard")]
    pub format: BodyFormat,
    /// The minijinja body template of `format = "template"` (it sees `kind`, `alert` or
    /// `digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The template's content type; default `application/json` (then the body must parse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Extra request headers (e.g. an ntfy `Title`), any format.
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// A digest schedule: `"1h"`, `"daily at 08:00 Europe/Berlin"` (see `delivery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A throttle: `"10/h"`; alerts beyond it go into the next digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<String>,
}

fn is_standard(format: &BodyFormat) -> bool {
    *format == BodyFormat::Standard
}

/// Headers a webhook's configuration may not set: the request's own and the signature's.
const RESERVED_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "host",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "user-agent",
];

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("timeout_ms", &self.timeout_ms)
            .field("max_attempts", &self.max_attempts)
            .field("format", &self.format)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("digest", &self.digest)
            .field("at_most", &self.at_most)
            .finish()
    }
}

impl WebhookConfig {
    /// A webhook with no secret and the default timeout and attempts.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            name: name.into(),
            url: url.into(),
            secret: None,
            timeout_ms: default_timeout_ms(),
            max_attempts: default_max_attempts(),
            format: BodyFormat::Standard,
            template: None,
            content_type: None,
            headers: Headers::new(),
            digest: None,
            at_most: None,
        }
    }

    /// Check the name, URL (http or https with a host), secret, timeout, attempts, format,
    /// template (compiled and tried on a sample), headers, digest schedule and throttle.
    pub fn validate(&self) -> Result<(), WebhookError> {
        self.signer()?;
        self.formatter()?;
        self.header_map()?;
        Ok(())
    }

    fn invalid(&self, reason: impl Into<String>) -> WebhookError {
        WebhookError::InvalidWebhook {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// The body formatter (a template compiled and tried on a sample alert and digest).
    pub fn formatter(&self) -> Result<Formatter, WebhookError> {
        match (self.format, &self.template) {
            (BodyFormat::Template, None) => {
                return Err(self.invalid("format = \"template\" needs a template"))
            }
            (BodyFormat::Standard | BodyFormat::Slack, Some(_)) => {
                return Err(self.invalid("template is only used with format = \"template\""))
            }
            _ => {}
        }
        if self.content_type.is_some() && self.format != BodyFormat::Template {
            return Err(self.invalid("content_type is only used with format = \"template\""));
        }
        if let Some(content_type) = &self.content_type {
            if content_type.parse::<mime::Mime>().is_err() {
                return Err(
                    self.invalid(format!("content_type {content_type:?} is not a media type"))
                );
            }
        }
        Formatter::new(
            self.format,
            self.template.as_deref(),
            self.content_type.as_deref(),
        )
        .map_err(|e| self.invalid(e.to_string()))
    }

    /// The extra headers, checked.
    fn header_map(&self) -> Result<reqwest::header::HeaderMap, WebhookError> {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| self.invalid(format!("header name {name:?} is not valid")))?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(self.invalid(format!("header {name:?} is set by lookout itself")));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                self.invalid(format!(
                    "the value of header {name:?} is not a valid header value"
                ))
            })?;
            map.insert(header, value);
        }
        Ok(map)
    }

    /// Validate, and key the HMAC with the secret.
    fn signer(&self) -> Result<Option<HmacSha256>, WebhookError> {
        let invalid = |reason: String| WebhookError::InvalidWebhook {
            name: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(invalid("the name is empty".into()));
        }
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| invalid(format!("url {:?} is not a valid URL: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "url {:?} must start with http:// or https://",
                self.url
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid(format!("url {:?} has no host", self.url)));
        }
        if self.timeout_ms == 0 {
            return Err(invalid("timeout_ms must be at least 1".into()));
        }
        if self.max_attempts == 0 {
            return Err(invalid("max_attempts must be at least 1".into()));
        }
        match &self.secret {
            None => Ok(None),
            Some(secret) => keyed_mac(secret)
                .map(Some)
                .map_err(|e| invalid(e.to_string())),
        }
    }
}

/// The HMAC key of a secret: base64-decoded after `whsec_`, else the secret's bytes.
fn secret_key(secret: &str) -> Result<Vec<u8>, WebhookError> {
    let key = match secret.strip_prefix(SECRET_PREFIX) {
        Some(encoded) => {
            LENIENT_BASE64
                .decode(encoded)
                .map_err(|e| WebhookError::InvalidSecret {
                    reason: format!("the part after {SECRET_PREFIX:?} is not valid base64: {e}"),
                })?
        }
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(WebhookError::InvalidSecret {
            reason: "the secret is empty".into(),
        });
    }
    Ok(key)
}

/// An HMAC-SHA256 keyed with the secret's key.
fn keyed_mac(secret: &str) -> Result<HmacSha256, WebhookError> {
    let key = secret_key(secret)?;
    HmacSha256::new_from_slice(&key).map_err(|e| WebhookError::InvalidSecret {
        reason: e.to_string(),
    })
}

/// `keyed` fed with the signed content `"{msg_id}.{timestamp}.{body}"`.
fn mac_of(keyed: &HmacSha256, msg_id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = keyed.clone();
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn sign_with(keyed: &HmacSha256, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac_of(keyed, msg_id, &timestamp.to_string(), body).finalize();
    format!("v1,{}", STANDARD.encode(tag.into_bytes()))
}

/// The Standard Webhooks signature of a message: `"v1,"` + base64 of
/// HMAC-SHA256(key, `"{msg_id}.{timestamp}.{body}"`). Fails only for an unusable secret.
pub fn sign(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, WebhookError> {
    Ok(sign_with(&keyed_mac(secret)?, msg_id, timestamp, body))
}

/// True if any `v1,...` entry of the space-separated `signature_header` is the signature of
/// the message (compared in constant time). Does not check how old `timestamp` is: receivers
/// should also reject timestamps far from their clock.
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    signature_header: &str,
) -> bool {
    if timestamp.parse::<i64>().is_err() {
        return false;
    }
    let Ok(keyed) = keyed_mac(secret) else {
        return false;
    };
    let mac = mac_of(&keyed, msg_id, timestamp, body);
    signature_header.split_whitespace().any(|entry| {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            return false;
        };
        match STANDARD.decode(encoded) {
            Ok(candidate) => mac.clone().verify_slice(&candidate).is_ok(),
            Err(_) => false,
        }
    })
}

/// When to retry: capped exponential backoff with full jitter, and how long a `Retry-After`
/// may make a delivery wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first retry's delay; doubles with each further failure.
    pub base: Duration,
    /// The ceiling never exceeds this.
    pub cap: Duration,
    /// A `Retry-After` on 429 or 503 is honoured up to this long.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// Backoff from `base` doubling up to `cap`; `Retry-After` honoured up to 5 minutes.
    pub fn new(base: Duration, cap: Duration) -> RetryPolicy {
        RetryPolicy {
            base,
            cap,
            max_retry_after: Duration::from_secs(300),
        }
    }

    /// The delay after the `failed_attempts`-th failure (1-based) for a jitter draw `unit` in
    /// [0, 1): uniformly between 0 and min(cap, base * 2^(failed_attempts - 1)).
    pub fn backoff(&self, failed_attempts: u32, unit: f64) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).min(62) as i32;
        let ceiling = (self.base.as_secs_f64() * 2f64.powi(exponent)).min(self.cap.as_secs_f64());
        Duration::try_from_secs_f64(ceiling * unit.clamp(0.0, 1.0)).unwrap_or(self.cap)
    }
}

impl Default for RetryPolicy {
    /// Base 500 ms, cap 30 s, `Retry-After` up to 5 min.
    fn default() -> RetryPolicy {
        RetryPolicy::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

/// One message to POST: an alert's JSON line, with its id.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// The alert id, as logged.
    pub(crate) alert_id: String,
    /// `alert_id` as it goes in the `webhook-id` header (and into the signature).
    pub(crate) msg_id: String,
    /// The request body: the alert's JSON line, without its newline.
    pub(crate) body: String,
}

impl Message {
    /// The message of an alert line as read from the alert log (without its newline).
    pub(crate) fn from_line(alert_id: &str, line: String) -> Message {
        Message {
            alert_id: alert_id.to_owned(),
            msg_id: header_safe_id(alert_id),
            body: line,
        }
    }
}

/// A validated webhook with its keyed HMAC (when it has a secret): what requests are sent to.
pub(crate) struct Endpoint {
    pub(crate) config: WebhookConfig,
    signer: Option<HmacSha256>,
    pub(crate) formatter: Formatter,
    headers: reqwest::header::HeaderMap,
}

impl Endpoint {
    /// Validate `config`, key its HMAC and compile its format.
    pub(crate) fn new(config: WebhookConfig) -> Result<Endpoint, WebhookError> {
        let signer = config.signer()?;
        let formatter = config.formatter()?;
        let headers = config.header_map()?;
        Ok(Endpoint {
            config,
            signer,
            formatter,
            headers,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }
}

/// The HTTP client all webhook requests go through: lookout's user agent, no redirects.
pub(crate) fn http_client() -> Result<reqwest::Client, WebhookError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // A redirected POST may turn into a GET without a body: treat 3xx as a failure.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| WebhookError::HttpClient { source })
}

/// Validate each webhook and check that no two share a name.
#[cfg(test)]
pub(crate) fn endpoints(webhooks: Vec<WebhookConfig>) -> Result<Vec<Endpoint>, WebhookError> {
    let mut endpoints = Vec::with_capacity(webhooks.len());
    let mut names = std::collections::HashSet::new();
    for config in webhooks {
        if !names.insert(config.name.clone()) {
            return Err(WebhookError::InvalidWebhook {
                name: config.name,
                reason: "the name is used by another webhook too".into(),
            });
        }
        endpoints.push(Endpoint::new(config)?);
    }
    Ok(endpoints)
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Accepted (with the HTTP status, for a request).
    Delivered(Option<StatusCode>),
    /// 410 Gone: the receiver asks not to be sent anything more.
    Gone(String),
    /// Not worth retrying (4xx other than 408/409/410/425/429, or a redirect).
    Permanent(String),
    Retry {
        problem: String,
        retry_after: Option<Duration>,
        /// A status, a timeout or another transport error.
        reason: WebhookFailure,
    },
    /// No connection could be made: the receiver is down, not refusing this message.
    Unreachable(String),
}

/// Where [`deliver_with_retries`] counts: the sender's own tally of failed attempts (its
/// stats) and the metrics (every attempt, every failure by reason).
pub(crate) struct Tally<'a> {
    pub(crate) failed_attempts: &'a AtomicU64,
    pub(crate) metrics: &'a Metrics,
}

impl Tally<'_> {
    fn failed(&self, webhook: &str, reason: WebhookFailure) {
        self.failed_attempts.fetch_add(1, Ordering::Relaxed);
        self.metrics.webhook_failure(webhook, reason);
    }
}

/// How one message was settled by [`deliver_with_retries`].
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A 2xx came back.
    Delivered,
    /// Given up: a permanent error, or `max_attempts` used up.
    Failed {
        attempts: u32,
        last_error: String,
        permanent: bool,
    },
    /// The endpoint answered 410 Gone (never retried).
    Gone { last_error: String },
    /// The stop signal came before the message was settled (between attempts).
    Interrupted { attempts: u32 },
}

/// True once the stop signal is set.
fn is_stopped(stop: &Option<&CancellationToken>) -> bool {
    stop.is_some_and(CancellationToken::is_cancelled)
}

/// Deliver one message with retries: capped exponential backoff with full jitter, `Retry-After`
/// honoured on 429 and 503 (up to `policy.max_retry_after`), at most `max_attempts` attempts,
/// only a 2xx counts. Each attempt is counted in the metrics, and each failed one is logged
/// (WARN) and counted in `tally` (in the metrics by reason); the final outcome is left to the
/// caller to report. With a `stop` signal, a set signal ends the loop before the next attempt
/// or during a wait (an attempt in flight is finished).
///
/// A receiver that cannot be reached at all (connection refused, no route) is down, and a sink
/// that is down only delays delivery: with a `stop` signal (the long-running delivery tasks),
/// such attempts do not use up `max_attempts`; the loop keeps retrying at the capped backoff
/// until the receiver answers or the task is stopped. Without one (`replay`), they count.
pub(crate) async fn deliver_with_retries(
    client: &reqwest::Client,
    hook: &Endpoint,
    policy: &RetryPolicy,
    message: &Message,
    rng: &mut XorShift64,
    stop: Option<&CancellationToken>,
    tally: &Tally<'_>,
) -> Outcome {
    let target = Target {
        name: hook.name(),
        max_attempts: hook.config.max_attempts,
    };
    with_retries(
        &target,
        policy,
        &message.alert_id,
        rng,
        stop,
        tally,
        move || deliver_once(client, hook, message),
    )
    .await
}

/// Who [`with_retries`] sends to: its name (for logs and metrics) and its attempts.
pub(crate) struct Target<'a> {
    pub(crate) name: &'a str,
    pub(crate) max_attempts: u32,
}

/// The retry loop of [`deliver_with_retries`], for any kind of attempt (an HTTP request, an
/// SMTP dialogue): `attempt` is made until it succeeds, fails for good or the attempts run out.
/// `id` names the message in the logs.
pub(crate) async fn with_retries<F>(
    target: &Target<'_>,
    policy: &RetryPolicy,
    id: &str,
    rng: &mut XorShift64,
    stop: Option<&CancellationToken>,
    tally: &Tally<'_>,
    mut attempt_once: impl FnMut() -> F,
) -> Outcome
where
    F: std::future::Future<Output = Attempt>,
{
    let name = target.name;
    let max_attempts = target.max_attempts.max(1);
    let wait_while_down = stop.is_some();
    let mut attempt = 0;
    // Attempts that reached the receiver (or all of them, without a stop signal).
    let mut counted = 0;
    loop {
        if is_stopped(&stop) {
            return Outcome::Interrupted { attempts: attempt };
        }
        attempt += 1;
        tally.metrics.webhook_attempt(name);
        let (problem, retry_after, reason) = match attempt_once().await {
            Attempt::Delivered(status) => {
                tracing::debug!(
                    webhook = name,
                    alert_id = %id,
                    attempt,
                    status = status.map(|s| s.as_u16()),
                    "delivered"
                );
                return Outcome::Delivered;
            }
            Attempt::Gone(problem) => {
                tally.failed(name, WebhookFailure::Status);
                return Outcome::Gone {
                    last_error: problem,
                };
            }
            Attempt::Permanent(problem) => {
                tally.failed(name, WebhookFailure::Status);
                tracing::warn!(
                    webhook = name,
                    alert_id = %id,
                    attempt,
                    error = %problem,
                    "webhook delivery attempt failed permanently; not retried"
                );
                return Outcome::Failed {
                    attempts: attempt,
                    last_error: problem,
                    permanent: true,
                };
            }
            Attempt::Retry {
                problem,
                retry_after,
                reason,
            } => {
                counted += 1;
                (problem, retry_after, reason)
            }
            Attempt::Unreachable(problem) => {
                if !wait_while_down {
                    counted += 1;
                }
                (problem, None, WebhookFailure::Connect)
            }
        };
        tally.failed(name, reason);
        if counted >= max_attempts {
            tracing::warn!(
                webhook = name,
                alert_id = %id,
                attempt,
                max_attempts,
                error = %problem,
                "webhook delivery attempt failed; no attempts left"
            );
            return Outcome::Failed {
                attempts: attempt,
                last_error: problem,
                permanent: false,
            };
        }
        let delay = match retry_after {
            Some(wait) => wait.min(policy.max_retry_after),
            None => policy.backoff(attempt, rng.unit()),
        };
        tracing::warn!(
            webhook = name,
            alert_id = %id,
            attempt,
            max_attempts,
            error = %problem,
            retry_in_ms = delay.as_millis() as u64,
            "webhook delivery attempt failed; will retry"
        );
        match stop {
            None => tokio::time::sleep(delay).await,
            Some(stop) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => {
                        return Outcome::Interrupted { attempts: attempt };
                    }
                }
            }
        }
    }
}

/// One signed POST of `message` to `hook`, classified.
pub(crate) async fn deliver_once(
    client: &reqwest::Client,
    hook: &Endpoint,
    message: &Message,
) -> Attempt {
    let timestamp = Utc::now().timestamp();
    let mut request = client
        .post(&hook.config.url)
        .timeout(Duration::from_millis(hook.config.timeout_ms))
        .headers(hook.headers.clone())
        .header(CONTENT_TYPE, hook.formatter.content_type())
        .header("webhook-id", &message.msg_id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(signer) = &hook.signer {
        request = request.header(
            "webhook-signature",
            sign_with(signer, &message.msg_id, timestamp, message.body.as_bytes()),
        );
    }
    let response = match request.body(message.body.clone()).send().await {
        Ok(response) => response,
        Err(err) if err.is_connect() => return Attempt::Unreachable(error_chain(&err)),
        Err(err) => {
            let reason = if err.is_timeout() {
                WebhookFailure::Timeout
            } else {
                WebhookFailure::Other
            };
            return Attempt::Retry {
                problem: error_chain(&err),
                retry_after: None,
                reason,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Attempt::Delivered(Some(status));
    }
    let problem = format!("HTTP {status}");
    if status == StatusCode::GONE {
        return Attempt::Gone(problem);
    }
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Attempt::Permanent(format!(
            "{problem} to {location}: redirects are not followed, update the webhook url"
        ));
    }
    let retryable_4xx = [
        StatusCode::REQUEST_TIMEOUT,
        StatusCode::CONFLICT,
        StatusCode::TOO_EARLY,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    if status.is_client_error() && !retryable_4xx.contains(&status) {
        return Attempt::Permanent(problem);
    }
    let retry_after =
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(parse_retry_after)
        } else {
            None
        };
    Attempt::Retry {
        problem,
        retry_after,
        reason: WebhookFailure::Status,
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (a date in the past means "now").
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = when.with_timezone(&Utc) - Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes, e.g. "error sending request: operation timed out".
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `id` made fit for an HTTP header: bytes outside visible ASCII, and `%`, become `%XX`.
/// Ids that are plain visible ASCII without `%` (the usual case) are unchanged.
pub(crate) fn header_safe_id(id: &str) -> String {
    if id.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return id.to_owned();
    }
    let mut out = String::with_capacity(id.len() + 8);
    for b in id.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A tiny xorshift generator for backoff jitter; seeded from the clock and mixed with ids.
#[derive(Debug)]
pub(crate) struct XorShift64(u64);

impl XorShift64 {
    pub(crate) fn seeded(salt: &str) -> XorShift64 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut rng = XorShift64(nanos ^ 0x9E37_79B9_7F4A_7C15);
        rng.mix(salt);
        rng
    }

    /// Fold `salt` (FNV-1a) into the state.
    pub(crate) fn mix(&mut self, salt: &str) {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in salt.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 ^= hash;
        if self.0 == 0 {
            self.0 = 0x2545_F491_4F6C_DD1D;
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 0.0), Duration::ZERO);
        assert!(policy.backoff(1, 0.999) <= Duration::from_millis(500));
        assert!(policy.backoff(3, 0.999) > Duration::from_millis(1900));
        assert!(policy.backoff(3, 0.999) <= Duration::from_secs(2));
        assert!(policy.backoff(10, 0.999) <= Duration::from_secs(30));
        assert!(policy.backoff(10, 0.999) > Duration::from_secs(29));
        assert!(policy.backoff(u32::MAX, 0.999) <= Duration::from_secs(30));
    }

    #[test]
    fn xorshift_spreads() {
        let mut rng = XorShift64::seeded("hook");
        let draws: Vec<f64> = (0..1000).map(|_| rng.unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }

    #[test]
    fn header_safe_ids() {
        assert_eq!(header_safe_id("q:news/d:ab12"), "q:news/d:ab12");
        assert_eq!(header_safe_id("q:café 1/d:x%"), "q:caf%C3%A9%201/d:x%25");
        assert!(HeaderValue::from_str(&header_safe_id("q:\u{7f}\n/d:\u{1F980}")).is_ok());
    }

    #[test]
    fn retry_after_forms() {
        let secs = HeaderValue::from_static("7");
        assert_eq!(parse_retry_after(&secs), Some(Duration::from_secs(7)));
        let past = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        let junk = HeaderValue::from_static("soon");
        assert_eq!(parse_retry_after(&junk), None);
    }
}
