//! What the API answers, as JSON with its OpenAPI schema: the views of saved queries, posted
//! documents, backfills and the status report. The engine and the daemon hand over plain typed
//! values; they are turned into these here, so that the schema lives beside the handlers and
//! nothing below the API derives `utoipa::ToSchema`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::{self, IngestReport, Ingested, QueryEntry, QuerySet};
use crate::extract::{ExtractWarning, Warnings};
use crate::query;

/// A saved query as the daemon runs it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueryView {
    pub name: String,
    /// The query text, as written.
    pub query: String,
    /// Webhooks notified of its alerts; absent: every webhook.
    pub webhooks: Option<Vec<String>>,
    /// What it does with near-copies of an article that already alerted for it, as set on
    /// the query (`alert` or `suppress`); absent: the `[duplicates] mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<String>,
    /// Its own digest schedule over its destinations' (`off`: each alert alone); absent: each
    /// destination's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Its own throttle over its destinations' (`off`: none); absent: each destination's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<String>,
    /// The file it is saved in.
    pub file: String,
    /// `active`, or `invalid` when it does not parse (then it is left out).
    pub status: String,
    /// Why it does not parse, for an invalid query.
    pub error: Option<QueryProblemView>,
    /// Warnings about how the query reads (operator precedence, costly prefixes, ...).
    pub lints: Vec<QueryProblemView>,
}

impl QueryView {
    /// The view of a saved query as the engine holds it.
    pub fn of(entry: &QueryEntry) -> QueryView {
        let spec = &entry.spec;
        let error = entry.error().map(|e| QueryProblemView {
            column: e.column,
            message: e.message.clone(),
        });
        QueryView {
            name: spec.name.to_string(),
            query: spec.text.to_string(),
            webhooks: spec.webhooks.clone(),
            duplicates: spec.duplicates.map(|d| {
                match d {
                    crate::config::Duplicates::Alert => "alert",
                    crate::config::Duplicates::Suppress => "suppress",
                }
                .to_string()
            }),
            digest: spec.delivery.digest.as_ref().map(setting),
            at_most: spec.delivery.at_most.as_ref().map(setting),
            file: spec.file.display().to_string(),
            status: if error.is_some() { "invalid" } else { "active" }.into(),
            error,
            lints: entry.lints().iter().map(QueryProblemView::from).collect(),
        }
    }

    /// Every saved query, the invalid ones included, in configuration order.
    pub fn all(queries: &QuerySet) -> Vec<QueryView> {
        queries
            .iter()
            .map(|(_, entry)| QueryView::of(entry))
            .collect()
    }
}

/// A saved query's own delivery setting as written: its value, or `off`.
fn setting<T: std::fmt::Display>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| crate::delivery::digest::OFF.to_string(), T::to_string)
}

/// A parse error or a warning, at a 1-based column of the query text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueryProblemView {
    pub column: usize,
    pub message: String,
}

impl From<&query::Lint> for QueryProblemView {
    fn from(lint: &query::Lint) -> Self {
        QueryProblemView {
            column: lint.column,
            message: lint.message.clone(),
        }
    }
}

/// What `PUT /queries/{name}` did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuerySaved {
    pub query: QueryView,
    /// True when the query is new, false when it replaced one of the same name.
    pub created: bool,
    /// With `backfill=true`: documents already indexed that it matches, and the alerts raised
    /// for them now (those that never alerted before).
    pub backfill: Option<BackfillView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillView {
    pub matched: usize,
    pub alerts: usize,
}

/// One document taken by `POST /documents`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestedView {
    pub id: String,
    /// Where alerts and search show it: `api:{id}`.
    pub path: String,
    /// False when the same content was already indexed (it raises no alert again).
    pub new: bool,
    /// Alerts it raised.
    pub alerts: usize,
}

/// What `POST /documents` took: the documents, and the records it skipped or the values it
/// left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestedBatch {
    /// One entry per article with text, in order.
    pub documents: Vec<IngestedView>,
    /// Records of the body that were not articles (not JSON, not an object, no text): skipped.
    pub skipped_records: usize,
    /// The first warnings (at most 10), in order.
    pub warnings: Vec<WarningView>,
    /// Warnings beyond those listed.
    pub more_warnings: usize,
}

/// A record skipped, or a value left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WarningView {
    /// Where: `line 3` (JSON Lines) or `element 2` (a JSON array); absent for a single article.
    pub record: Option<String>,
    /// True when the record was skipped (not indexed); false when only a value was left out.
    pub skipped: bool,
    /// What is wrong.
    pub message: String,
}

impl From<&ExtractWarning> for WarningView {
    fn from(warning: &ExtractWarning) -> Self {
        WarningView {
            record: warning.record.map(|r| r.to_string()),
            skipped: warning.problem.skips_record(),
            message: warning.problem.to_string(),
        }
    }
}

impl IngestedBatch {
    pub fn of(report: IngestReport) -> Self {
        let warnings: &Warnings = &report.warnings;
        IngestedBatch {
            skipped_records: warnings.skipped_records(),
            warnings: warnings.detailed().iter().map(WarningView::from).collect(),
            more_warnings: warnings.total() - warnings.detailed().len(),
            documents: report
                .documents
                .into_iter()
                .map(IngestedView::from)
                .collect(),
        }
    }
}

impl From<Ingested> for IngestedView {
    fn from(ingested: Ingested) -> Self {
        IngestedView {
            id: ingested.id.0,
            path: ingested.location,
            new: ingested.new,
            alerts: ingested.alerts,
        }
    }
}

/// What lookout is doing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StatusReport {
    /// True when a running daemon answered; false when read from the files at rest.
    pub running: bool,
    pub version: String,
    /// When the daemon started (RFC 3339), if it runs.
    pub started_at: Option<String>,
    /// Documents in the index (committed).
    pub documents: u64,
    /// Bytes the index takes on disk.
    pub index_bytes: u64,
    /// Files processed (the ledger's count).
    pub files: u64,
    /// Alerts raised (the ledger's count, up to the last commit).
    pub alerts: u64,
    /// Bytes in the alert log.
    pub alert_log_bytes: u64,
    pub queries: QueryCounts,
    pub queues: QueueDepths,
    /// When the last commit was recorded (RFC 3339), if ever.
    pub last_commit: Option<String>,
    pub quarantined: Vec<QuarantinedFile>,
    /// Files read with warnings (records skipped, values left out), for their current content.
    pub warnings: Vec<FileWarningsView>,
    /// Files of types lookout does not read, seen in the watch folders or by `lookout ingest`
    /// and still there (not read, not errors).
    pub ignored_files: u64,
    /// The same, by extension.
    pub ignored_types: Vec<IgnoredType>,
    /// Files whose read failed for a reason that may go away (permissions, too many open
    /// files, an I/O error), waiting to be tried again (only a running daemon has them).
    #[serde(default)]
    pub retrying: Vec<RetryingFile>,
    /// Each watch folder, and whether deletions there are held (missing, replaced by another
    /// folder, emptied all at once).
    #[serde(default)]
    pub watch_folders: Vec<WatchFolderHealth>,
    pub webhooks: Vec<WebhookHealth>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileWarningsView {
    pub path: String,
    /// Records skipped (not indexed): JSON Lines lines, JSON array elements.
    pub skipped_records: u64,
    /// Warnings in all, skipped records included.
    pub warnings: u64,
    /// The first warnings, one line each (`line 2 skipped: invalid JSON ...`).
    pub details: Vec<String>,
    /// When the file was read (RFC 3339).
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IgnoredType {
    /// The extension with its dot (`.pdf`), or empty for files without one.
    pub extension: String,
    pub files: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct QueryCounts {
    /// Saved queries in use.
    pub active: usize,
    /// Saved queries left out because they do not parse.
    pub invalid: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct QueueDepths {
    /// Files found ready and waiting for the pipeline.
    pub ready_files: usize,
    /// API requests waiting for the pipeline.
    pub requests: usize,
    /// Index changes not yet committed.
    pub uncommitted: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuarantinedFile {
    pub path: String,
    /// Why it was refused.
    pub reason: String,
    /// How many times it was seen failing.
    pub attempts: u64,
    /// When it last failed (RFC 3339).
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookHealth {
    pub name: String,
    /// `ok`, `retrying` (attempts failed, none dead-lettered), `degraded` (alerts were
    /// dead-lettered), `disabled` (answered 410 Gone) or `stopped` (delivery could not be
    /// started; `problem` says why; it is tried again).
    pub state: String,
    /// Why it is disabled, when it is.
    pub disabled_reason: Option<String>,
    /// Why delivery is stopped, when it is (left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Alerts delivered since the daemon started (the `lookout_sink_alerts_total` counter of
    /// `webhook:NAME`: a config change does not reset it).
    pub delivered: u64,
    /// Attempts that did not get a 2xx since the daemon started (`lookout_webhook_failures_total`).
    pub failed_attempts: u64,
    /// Alerts given up on since the daemon started (`lookout_webhook_dead_letters_total`).
    pub dead_lettered: u64,
    /// Bytes of the alert log not yet settled for this webhook.
    pub backlog_bytes: u64,
    /// Digests sent since the daemon started (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub digests: u64,
    /// Alerts waiting in open digests (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub digest_pending: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

// The API's copy of `engine::RetryingFile`, with its schema (same name, same fields).
/// A file waiting for its read to be tried again, as `lookout status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryingFile {
    pub path: String,
    /// The last failure (`cannot read: Permission denied (os error 13)`).
    pub error: String,
    /// Failed reads so far.
    pub attempts: u64,
    /// When the first read failed (RFC 3339).
    pub since: String,
    /// Milliseconds until the next attempt.
    pub next_attempt_in_ms: u64,
}

impl From<engine::RetryingFile> for RetryingFile {
    fn from(file: engine::RetryingFile) -> Self {
        RetryingFile {
            path: file.path,
            error: file.error,
            attempts: file.attempts,
            since: file.since,
            next_attempt_in_ms: file.next_attempt_in_ms,
        }
    }
}

// The API's copy of `engine::WatchFolderHealth`, with its schema (same name, same fields).
/// A watch folder as `lookout status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WatchFolderHealth {
    pub path: String,
    /// `ok`, or why deletions there are held: `missing`, `unreadable`, `replaced`, `emptied`.
    pub state: String,
    /// What is wrong, in words, when something is.
    pub detail: Option<String>,
}

impl From<engine::WatchFolderHealth> for WatchFolderHealth {
    fn from(folder: engine::WatchFolderHealth) -> Self {
        WatchFolderHealth {
            path: folder.path,
            state: folder.state,
            detail: folder.detail,
        }
    }
}
