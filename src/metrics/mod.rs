//! The Prometheus metrics of one lookout process (`Metrics`): every metric family, registered
//! once with its help text, the methods the rest of the code calls to move them, and their text
//! exposition for `GET /metrics` (OpenMetrics or the classic Prometheus 0.0.4 text format).
//!
//! Names and labels, for dashboards and alerting rules:
//! - counters: `lookout_documents_ingested_total`, `lookout_documents_known_total`,
//!   `lookout_copies_total` (copy records: a near-copy of an article that already alerted),
//!   `lookout_files_failed_total`, `lookout_files_unchanged_total`,
//!   `lookout_api_documents_rejected_total`,
//!   `lookout_alerts_total{query, kind="live"|"backfill"}`, `lookout_sink_alerts_total{sink}`
//!   (`alert_log` or `webhook:NAME`), `lookout_webhook_attempts_total{webhook}`,
//!   `lookout_webhook_failures_total{webhook, reason="status"|"timeout"|"connect"|"other"}`,
//!   `lookout_webhook_dead_letters_total{webhook}`;
//! - histograms (seconds): `lookout_ingest_seconds`, `lookout_drop_to_alert_seconds`;
//! - gauges: `lookout_queue_depth{queue}`, `lookout_index_size_bytes`, `lookout_index_documents`,
//!   `lookout_saved_queries`, `lookout_quarantined_files`,
//!   `lookout_last_commit_timestamp_seconds`, `lookout_webhook_backlog_bytes{webhook}`,
//!   `lookout_webhook_disabled{webhook}`.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::encode`]'s output (OpenMetrics 1.0 text), which Prometheus
/// asks for first when it scrapes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of [`Metrics::encode_prometheus_text`]'s output (the classic Prometheus
/// text format, which every scraper and `curl` reader understands).
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the processing-time buckets: 0.5 ms to 10 s.
const INGEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds (seconds) of the drop-to-alert buckets: the ingest ones, and up to a minute for
/// the waits before processing (a file settling, a burst in the queue).
const DROP_TO_ALERT_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// How an alert came about: a document processed as it arrived, or one processed again for a
/// saved query added or changed since (backfill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    Live,
    Backfill,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Live => "live",
            AlertKind::Backfill => "backfill",
        }
    }
}

impl EncodeLabelValue for AlertKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Why a webhook request (one attempt) did not get a 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookFailure {
    /// An answer other than 2xx (a 3xx, 4xx or 5xx, 410 Gone included).
    Status,
    /// No answer within the webhook's timeout.
    Timeout,
    /// No connection could be made (refused, no route, DNS).
    Connect,
    /// Anything else (the connection broke, an unreadable answer).
    Other,
}

impl WebhookFailure {
    /// Every reason, in label order.
    pub const ALL: [WebhookFailure; 4] = [
        WebhookFailure::Status,
        WebhookFailure::Timeout,
        WebhookFailure::Connect,
        WebhookFailure::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFailure::Status => "status",
            WebhookFailure::Timeout => "timeout",
            WebhookFailure::Connect => "connect",
            WebhookFailure::Other => "other",
        }
    }
}

impl EncodeLabelValue for WebhookFailure {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// Which encoding a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text ([`CONTENT_TYPE`]).
    OpenMetrics,
    /// Prometheus text 0.0.4 ([`PROMETHEUS_TEXT_CONTENT_TYPE`]).
    PrometheusText,
}

impl Format {
    /// The format for a request's `Accept` header: OpenMetrics when the client lists it (as
    /// Prometheus does), else the classic text format (curl, older scrapers).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => CONTENT_TYPE,
            Format::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
        }
    }
}

/// One series of `lookout_alerts_total` (see [`Metrics::alert_counter`]).
#[derive(Debug, Clone)]
pub struct AlertCounter(Counter);

impl AlertCounter {
    pub fn inc(&self) {
        self.0.inc();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AlertLabels {
    query: String,
    kind: AlertKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WebhookLabels {
    webhook: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WebhookFailureLabels {
    webhook: String,
    reason: WebhookFailure,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// The `sink` label of webhook `name` in `lookout_sink_alerts_total`.
pub fn webhook_sink(name: &str) -> String {
    format!("webhook:{name}")
}

/// The `sink` label of the alert log in `lookout_sink_alerts_total`.
pub const ALERT_LOG_SINK: &str = "alert_log";

/// One webhook's counters, as [`Metrics::webhook_counts`] reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookCounts {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
}

/// The metrics of one process. Cheap to clone (an `Arc`); every clone moves the same metrics.
/// All methods take `&self` and never block for long (an atomic, or a short lock to find a
/// label set).
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    documents_ingested: Counter,
    documents_known: Counter,
    copies: Counter,
    files_failed: Counter,
    files_unchanged: Counter,
    api_documents_rejected: Counter,
    file_read_errors: Counter,
    file_read_retries: Counter,
    files_awaiting_retry: Gauge,
    alerts: Family<AlertLabels, Counter>,
    sink_alerts: Family<SinkLabels, Counter>,
    webhook_attempts: Family<WebhookLabels, Counter>,
    webhook_failures: Family<WebhookFailureLabels, Counter>,
    webhook_dead_letters: Family<WebhookLabels, Counter>,
    ingest: Histogram,
    drop_to_alert: Histogram,
    queue_depth: Family<QueueLabels, Gauge>,
    index_size: Gauge,
    index_documents: Gauge,
    saved_queries: Gauge,
    quarantined_files: Gauge,
    last_commit: Gauge<f64, AtomicU64>,
    webhook_backlog: Family<WebhookLabels, Gauge>,
    webhook_disabled: Family<WebhookLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// A count as a gauge value (gauges are i64).
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// A registry with every lookout metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let documents_ingested = Counter::default();
        registry.register(
            "lookout_documents_ingested",
            "Documents indexed that were new (content not indexed before)",
            documents_ingested.clone(),
        );
        let documents_known = Counter::default();
        registry.register(
            "lookout_documents_known",
            "Documents whose content was already indexed (a copy, a rename, a re-drop): not indexed or matched again",
            documents_known.clone(),
        );
        let copies = Counter::default();
        registry.register(
            "lookout_copies",
            "Copy records written: a saved query with duplicates = \"suppress\" matched a near-copy of an article that already alerted for it, and did not alert again",
            copies.clone(),
        );
        let files_failed = Counter::default();
        registry.register(
            "lookout_files_failed",
            "Files refused for what they are or say (unparsable, too large...) and quarantined; by `lookout ingest`, also files it could not read",
            files_failed.clone(),
        );
        let files_unchanged = Counter::default();
        registry.register(
            "lookout_files_unchanged",
            "Files skipped because these exact bytes were already processed at this path",
            files_unchanged.clone(),
        );
        let api_documents_rejected = Counter::default();
        registry.register(
            "lookout_api_documents_rejected",
            "POST /documents requests refused because their body is not articles (invalid JSON, no text); files are counted in lookout_files_failed",
            api_documents_rejected.clone(),
        );
        let file_read_errors = Counter::default();
        registry.register(
            "lookout_file_read_errors",
            "Reads of a file that failed for a reason that may go away (permissions, too many open files, I/O errors): the file is tried again, not quarantined",
            file_read_errors.clone(),
        );
        let file_read_retries = Counter::default();
        registry.register(
            "lookout_file_read_retries",
            "Reads tried again after such a failure (capped exponential backoff)",
            file_read_retries.clone(),
        );
        let files_awaiting_retry = Gauge::default();
        registry.register(
            "lookout_files_awaiting_retry",
            "Files whose read failed and waits to be tried again (lookout status lists them)",
            files_awaiting_retry.clone(),
        );
        let alerts = Family::<AlertLabels, Counter>::default();
        registry.register(
            "lookout_alerts",
            "Alerts raised, by saved query and kind (live: a new document; backfill: a saved query run over documents already indexed)",
            alerts.clone(),
        );
        let sink_alerts = Family::<SinkLabels, Counter>::default();
        registry.register(
            "lookout_sink_alerts",
            "Alerts written to a sink: alert_log (appended) or webhook:NAME (answered with a 2xx)",
            sink_alerts.clone(),
        );
        let webhook_attempts = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "lookout_webhook_attempts",
            "Webhook HTTP requests sent (each retry counts)",
            webhook_attempts.clone(),
        );
        let webhook_failures = Family::<WebhookFailureLabels, Counter>::default();
        registry.register(
            "lookout_webhook_failures",
            "Webhook HTTP requests that did not get a 2xx, by reason (status, timeout, connect, other)",
            webhook_failures.clone(),
        );
        let webhook_dead_letters = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "lookout_webhook_dead_letters",
            "Alerts a webhook gave up on (attempts exhausted or a permanent error), written to the dead-letter file",
            webhook_dead_letters.clone(),
        );
        let ingest = Histogram::new(INGEST_BUCKETS);
        registry.register_with_unit(
            "lookout_ingest",
            "Time to process one file: read, extract, match, write its alerts, add to the index (its count is the files processed)",
            Unit::Seconds,
            ingest.clone(),
        );
        let drop_to_alert = Histogram::new(DROP_TO_ALERT_BUCKETS);
        registry.register_with_unit(
            "lookout_drop_to_alert",
            "Time from a file landing in the watch folder to each of its alerts being written",
            Unit::Seconds,
            drop_to_alert.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "lookout_queue_depth",
            "Items waiting in an internal queue",
            queue_depth.clone(),
        );
        let index_size = Gauge::default();
        registry.register_with_unit(
            "lookout_index_size",
            "Size of the index folder on disk",
            Unit::Bytes,
            index_size.clone(),
        );
        let index_documents = Gauge::default();
        registry.register(
            "lookout_index_documents",
            "Documents in the index (as of the last commit)",
            index_documents.clone(),
        );
        let saved_queries = Gauge::default();
        registry.register(
            "lookout_saved_queries",
            "Saved queries loaded (the ones that parse)",
            saved_queries.clone(),
        );
        let quarantined_files = Gauge::default();
        registry.register(
            "lookout_quarantined_files",
            "Files in quarantine (refused, not yet changed or removed)",
            quarantined_files.clone(),
        );
        let last_commit = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "lookout_last_commit_timestamp",
            "When the index was last committed (Unix time)",
            Unit::Seconds,
            last_commit.clone(),
        );
        let webhook_backlog = Family::<WebhookLabels, Gauge>::default();
        registry.register_with_unit(
            "lookout_webhook_backlog",
            "Bytes of the alert log a webhook has not settled yet, as of its last read of the log",
            Unit::Bytes,
            webhook_backlog.clone(),
        );
        let webhook_disabled = Family::<WebhookLabels, Gauge>::default();
        registry.register(
            "lookout_webhook_disabled",
            "1 if the webhook is disabled (it answered 410 Gone; see state/webhooks/NAME.disabled), else 0",
            webhook_disabled.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                documents_ingested,
                documents_known,
                copies,
                files_failed,
                files_unchanged,
                api_documents_rejected,
                file_read_errors,
                file_read_retries,
                files_awaiting_retry,
                alerts,
                sink_alerts,
                webhook_attempts,
                webhook_failures,
                webhook_dead_letters,
                ingest,
                drop_to_alert,
                queue_depth,
                index_size,
                index_documents,
                saved_queries,
                quarantined_files,
                last_commit,
                webhook_backlog,
                webhook_disabled,
            }),
        }
    }

    // Counters.

    /// A new document was indexed.
    pub fn document_ingested(&self) {
        self.inner.documents_ingested.inc();
    }

    /// A document's content was already indexed.
    pub fn document_known(&self) {
        self.inner.documents_known.inc();
    }

    /// A copy record was written instead of an alert.
    pub fn copy_recorded(&self) {
        self.inner.copies.inc();
    }

    /// A file was refused (unreadable, unparsable, too large).
    pub fn file_failed(&self) {
        self.inner.files_failed.inc();
    }

    /// A `POST /documents` body was refused (not articles).
    pub fn api_documents_rejected(&self) {
        self.inner.api_documents_rejected.inc();
    }

    /// A file's read failed for a reason that may go away.
    pub fn file_read_failed(&self) {
        self.inner.file_read_errors.inc();
    }

    /// A failed read is tried again.
    pub fn file_read_retried(&self) {
        self.inner.file_read_retries.inc();
    }

    /// How many files wait for a read to be tried again.
    pub fn set_files_awaiting_retry(&self, n: usize) {
        self.inner
            .files_awaiting_retry
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A file was skipped: these exact bytes were processed at this path already.
    pub fn file_unchanged(&self) {
        self.inner.files_unchanged.inc();
    }

    /// Saved query `query` raised an alert.
    pub fn alert(&self, query: &str, kind: AlertKind) {
        self.inner
            .alerts
            .get_or_create(&AlertLabels {
                query: query.to_owned(),
                kind,
            })
            .inc();
    }

    /// The counter of saved query `query`'s alerts of `kind`, to keep and count into directly
    /// (one series lookup per query, not per alert).
    pub fn alert_counter(&self, query: &str, kind: AlertKind) -> AlertCounter {
        AlertCounter(
            self.inner
                .alerts
                .get_or_create(&AlertLabels {
                    query: query.to_owned(),
                    kind,
                })
                .clone(),
        )
    }

    /// An alert reached `sink`: [`ALERT_LOG_SINK`] or [`webhook_sink`]`(name)`.
    pub fn sink_delivered(&self, sink: &str) {
        self.sinks_delivered(sink, 1);
    }

    /// `alerts` alerts reached `sink` at once.
    pub fn sinks_delivered(&self, sink: &str, alerts: u64) {
        self.inner
            .sink_alerts
            .get_or_create(&SinkLabels {
                sink: sink.to_owned(),
            })
            .inc_by(alerts);
    }

    /// A request is being sent to webhook `webhook`.
    pub fn webhook_attempt(&self, webhook: &str) {
        self.inner
            .webhook_attempts
            .get_or_create(&webhook_labels(webhook))
            .inc();
    }

    /// A request to webhook `webhook` did not get a 2xx.
    pub fn webhook_failure(&self, webhook: &str, reason: WebhookFailure) {
        self.inner
            .webhook_failures
            .get_or_create(&WebhookFailureLabels {
                webhook: webhook.to_owned(),
                reason,
            })
            .inc();
    }

    /// Webhook `webhook` gave up on an alert (written to the dead-letter file).
    pub fn dead_letter(&self, webhook: &str) {
        self.inner
            .webhook_dead_letters
            .get_or_create(&webhook_labels(webhook))
            .inc();
    }

    /// Create webhook `webhook`'s series at zero (attempts, failures by reason, dead letters,
    /// delivered alerts, backlog, disabled), so they are exported before its first alert.
    pub fn init_webhook(&self, webhook: &str) {
        // `get_or_create` creates the series at zero; the guard it returns is not needed.
        let labels = webhook_labels(webhook);
        let _ = self.inner.webhook_attempts.get_or_create(&labels);
        let _ = self.inner.webhook_dead_letters.get_or_create(&labels);
        let _ = self.inner.webhook_backlog.get_or_create(&labels);
        let _ = self.inner.webhook_disabled.get_or_create(&labels);
        for reason in WebhookFailure::ALL {
            let _ = self
                .inner
                .webhook_failures
                .get_or_create(&WebhookFailureLabels {
                    webhook: webhook.to_owned(),
                    reason,
                });
        }
        let _ = self.inner.sink_alerts.get_or_create(&SinkLabels {
            sink: webhook_sink(webhook),
        });
    }

    /// What webhook `webhook`'s counters say since this process started: alerts delivered
    /// (answered with a 2xx), attempts that failed (any reason), alerts dead-lettered. The one
    /// source of these counts, for `/metrics` and `/status` alike (a restart of delivery on a
    /// config change does not reset them).
    pub fn webhook_counts(&self, webhook: &str) -> WebhookCounts {
        let labels = webhook_labels(webhook);
        let failed_attempts = WebhookFailure::ALL
            .iter()
            .filter_map(|&reason| {
                self.inner
                    .webhook_failures
                    .get(&WebhookFailureLabels {
                        webhook: webhook.to_owned(),
                        reason,
                    })
                    .map(|c| c.get())
            })
            .sum();
        WebhookCounts {
            delivered: self
                .inner
                .sink_alerts
                .get(&SinkLabels {
                    sink: webhook_sink(webhook),
                })
                .map_or(0, |c| c.get()),
            failed_attempts,
            dead_lettered: self
                .inner
                .webhook_dead_letters
                .get(&labels)
                .map_or(0, |c| c.get()),
        }
    }

    // Histograms.

    /// One file was processed (read, extracted, matched, indexed) in `took`.
    pub fn observe_ingest(&self, took: Duration) {
        self.inner.ingest.observe(took.as_secs_f64());
    }

    /// An alert was written `took` after its file landed.
    pub fn observe_drop_to_alert(&self, took: Duration) {
        self.inner.drop_to_alert.observe(took.as_secs_f64());
    }

    // Gauges.

    /// `n` items wait in queue `queue` (e.g. "files").
    pub fn set_queue_depth(&self, queue: &str, n: usize) {
        self.inner
            .queue_depth
            .get_or_create(&QueueLabels {
                queue: queue.to_owned(),
            })
            .set(gauge_value(n as u64));
    }

    pub fn set_index_size_bytes(&self, bytes: u64) {
        self.inner.index_size.set(gauge_value(bytes));
    }

    /// Documents in the index.
    pub fn set_documents(&self, n: u64) {
        self.inner.index_documents.set(gauge_value(n));
    }

    pub fn set_saved_queries(&self, n: usize) {
        self.inner.saved_queries.set(gauge_value(n as u64));
    }

    pub fn set_quarantined_files(&self, n: u64) {
        self.inner.quarantined_files.set(gauge_value(n));
    }

    /// The index was committed at `at`.
    pub fn set_last_commit(&self, at: SystemTime) {
        let seconds = at
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.inner.last_commit.set(seconds);
    }

    /// Webhook `webhook` has `bytes` of the alert log still to settle.
    pub fn set_webhook_backlog(&self, webhook: &str, bytes: u64) {
        self.inner
            .webhook_backlog
            .get_or_create(&webhook_labels(webhook))
            .set(gauge_value(bytes));
    }

    /// Webhook `webhook` is disabled (410 Gone) or not.
    pub fn set_webhook_disabled(&self, webhook: &str, disabled: bool) {
        self.inner
            .webhook_disabled
            .get_or_create(&webhook_labels(webhook))
            .set(i64::from(disabled));
    }

    // Exposition.

    /// Every metric in the OpenMetrics text format ([`CONTENT_TYPE`]), ending in `# EOF`.
    pub fn encode(&self) -> String {
        self.encode_as(Format::OpenMetrics)
    }

    /// Every metric in the Prometheus 0.0.4 text format ([`PROMETHEUS_TEXT_CONTENT_TYPE`]).
    pub fn encode_prometheus_text(&self) -> String {
        self.encode_as(Format::PrometheusText)
    }

    /// Every metric in `format`.
    pub fn encode_as(&self, format: Format) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let encoded = match format {
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            }
            Format::PrometheusText => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)
            }
        };
        // Writing to a String cannot fail; the encoder fails only on metrics it cannot express
        // in text (native histograms), which this registry does not hold.
        if let Err(err) = encoded {
            tracing::error!(error = %err, "cannot encode the metrics");
        }
        out
    }

    /// The answer to `GET /metrics`: the content type and body for the request's `Accept`
    /// header (see [`Format::from_accept`]).
    pub fn scrape(&self, accept: Option<&str>) -> (&'static str, String) {
        let format = Format::from_accept(accept);
        (format.content_type(), self.encode_as(format))
    }
}

fn webhook_labels(webhook: &str) -> WebhookLabels {
    WebhookLabels {
        webhook: webhook.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
