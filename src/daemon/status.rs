//! The status report: documents, saved queries, queues, the last commit, quarantined files,
//! files read with warnings, files of unsupported types, and the webhooks' health. The running
//! daemon answers it live (`GET /status`); without a daemon `lookout status` reads the same
//! report from the index, the ledger and the state folder. The report's shape (and its schema)
//! is the API's (`api::views`); this builds it.

pub use crate::api::views::{
    FileWarningsView, IgnoredType, QuarantinedFile, QueryCounts, QueueDepths, StatusReport,
    WebhookHealth,
};
use crate::config::{compile_queries, Config};
use crate::delivery::DeliveryStats;
use crate::engine::watch_folder_health;
use crate::index::LookoutIndex;
use crate::ledger::{FileNotes, FileWarnings, Ledger, LedgerError, Quarantined};
use crate::metrics::Metrics;

/// The report read from the files at rest (no daemon, or beside one).
pub fn from_files(config: &Config) -> Result<StatusReport, LedgerError> {
    let index = LookoutIndex::open_read_only(&config.index).ok();
    let ledger = match Ledger::open_read_only(&config.state_dir) {
        Ok(ledger) => Some(ledger),
        Err(LedgerError::Missing(_)) => None,
        Err(e) => return Err(e),
    };
    let (valid, invalid) = compile_queries(&config.queries, config.query_limits);
    let queries = QueryCounts {
        active: valid.len(),
        invalid: invalid.len(),
    };
    build(config, index.as_ref(), ledger.as_ref(), None, queries, None)
}

/// A running daemon's webhook delivery: where each webhook is in the log and whether it is
/// disabled (`delivery`), and the counters it has moved since the daemon started (`metrics`,
/// the same counters `/metrics` shows).
pub struct LiveDelivery<'a> {
    pub delivery: &'a DeliveryStats,
    pub metrics: &'a Metrics,
    /// Why delivery is not running, if it is not.
    pub down: Option<&'a str>,
}

/// The report's parts that do not depend on a running daemon: the index, the ledger (files,
/// alerts, last commit, quarantine), the alert log, and each webhook's health (`live`: the
/// running daemon's delivery; without it, only whether a webhook is disabled). `notes`: the
/// warnings and quarantine as the running engine sees them (its batches not yet in the
/// ledger applied); without them, the ledger's.
pub fn build(
    config: &Config,
    index: Option<&LookoutIndex>,
    ledger: Option<&Ledger>,
    notes: Option<FileNotes>,
    queries: QueryCounts,
    live: Option<LiveDelivery<'_>>,
) -> Result<StatusReport, LedgerError> {
    let delivery = live.as_ref().map(|l| l.delivery);
    let alert_log_bytes = file_len(&config.alert_log);
    let mut report = StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        documents: index.map_or(0, LookoutIndex::num_docs),
        index_bytes: index.map_or(0, LookoutIndex::size_bytes),
        alert_log_bytes,
        queries,
        ..Default::default()
    };
    if let Some(ledger) = ledger {
        report.watch_folders = watch_folder_health(&config.watch, ledger)?
            .into_iter()
            .map(Into::into)
            .collect();
        (report.files, report.alerts) = ledger.counts()?;
        report.last_commit = ledger.meta("last_commit")?;
        let notes = match notes {
            Some(notes) => notes,
            None => FileNotes::read(ledger)?,
        };
        report.quarantined = quarantined_views(notes.quarantined.into_values());
        report.warnings = warnings_views(notes.warnings.into_values());
        report.ignored_types = ledger
            .ignored_counts()?
            .into_iter()
            .map(|(extension, files)| IgnoredType { extension, files })
            .collect();
        report.ignored_files = report.ignored_types.iter().map(|t| t.files).sum();
    }
    report.webhooks = config
        .destinations()
        .names()
        .into_iter()
        .map(|name| {
            let stats = delivery
                .and_then(|d| d.webhook(&name))
                .cloned()
                .unwrap_or_default();
            let counts = live
                .as_ref()
                .map(|l| l.metrics.webhook_counts(&name))
                .unwrap_or_default();
            let disabled = stats.disabled.clone().or_else(|| {
                crate::delivery::disabled_reason(&config.state_dir, &name)
                    .ok()
                    .flatten()
            });
            let problem = live.as_ref().and_then(|l| l.down).map(str::to_owned);
            let state = if disabled.is_some() {
                "disabled"
            } else if problem.is_some() {
                "stopped"
            } else if counts.dead_lettered > 0 {
                "degraded"
            } else if counts.failed_attempts > 0 {
                "retrying"
            } else {
                "ok"
            };
            WebhookHealth {
                name: name.clone(),
                state: state.into(),
                disabled_reason: disabled,
                problem,
                delivered: counts.delivered,
                failed_attempts: counts.failed_attempts,
                dead_lettered: counts.dead_lettered,
                // Only a running daemon knows where each webhook is.
                backlog_bytes: match delivery {
                    Some(_) => alert_log_bytes.saturating_sub(stats.cursor),
                    None => 0,
                },
                digests: stats.digests,
                digest_pending: stats.digest_pending,
            }
        })
        .collect();
    Ok(report)
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The quarantined files as the report shows them.
fn quarantined_views(rows: impl IntoIterator<Item = Quarantined>) -> Vec<QuarantinedFile> {
    rows.into_iter()
        .map(|q| QuarantinedFile {
            path: q.path,
            reason: q.reason,
            attempts: q.attempts,
            at: q.at,
        })
        .collect()
}

/// The files read with warnings as the report shows them.
fn warnings_views(rows: impl IntoIterator<Item = FileWarnings>) -> Vec<FileWarningsView> {
    rows.into_iter()
        .map(|w| FileWarningsView {
            path: w.path,
            skipped_records: w.skipped_records,
            warnings: w.total,
            details: w.details,
            at: w.at,
        })
        .collect()
}

/// The report for people.
pub fn render(report: &StatusReport, config: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let daemon = match &report.started_at {
        Some(at) if report.running => format!("running since {at}"),
        _ => "not running".to_string(),
    };
    let _ = writeln!(out, "daemon:      {daemon}");
    let _ = writeln!(
        out,
        "documents:   {} in {} ({})",
        report.documents,
        config.index.display(),
        human_bytes(report.index_bytes)
    );
    let _ = writeln!(out, "files:       {} processed", report.files);
    let _ = writeln!(
        out,
        "alerts:      {} in {}",
        report.alerts,
        config.alert_log.display()
    );
    let _ = writeln!(
        out,
        "queries:     {} active, {} invalid",
        report.queries.active, report.queries.invalid
    );
    if report.running {
        let _ = writeln!(
            out,
            "queues:      {} ready files, {} requests, {} uncommitted changes",
            report.queues.ready_files, report.queues.requests, report.queues.uncommitted
        );
    }
    let _ = writeln!(
        out,
        "last commit: {}",
        report.last_commit.as_deref().unwrap_or("never")
    );
    for webhook in &report.webhooks {
        match &webhook.disabled_reason {
            Some(reason) => {
                let _ = writeln!(out, "webhook:     {} DISABLED: {reason}", webhook.name);
            }
            None if report.running => {
                let _ = writeln!(
                    out,
                    "webhook:     {} {} ({} delivered, {} failed attempts, {} dead-lettered, {} behind)",
                    webhook.name,
                    webhook.state,
                    webhook.delivered,
                    webhook.failed_attempts,
                    webhook.dead_lettered,
                    human_bytes(webhook.backlog_bytes)
                );
                if webhook.digests > 0 || webhook.digest_pending > 0 {
                    let _ = writeln!(
                        out,
                        "             {} digests sent, {} alerts waiting in open digests",
                        webhook.digests, webhook.digest_pending
                    );
                }
            }
            None => {
                let _ = writeln!(out, "webhook:     {} enabled", webhook.name);
            }
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(
            out,
            "warnings:    {} file(s) read with warnings",
            report.warnings.len()
        );
        for w in &report.warnings {
            let _ = writeln!(
                out,
                "  {}: {} record(s) skipped, {} warning(s) (read {})",
                w.path, w.skipped_records, w.warnings, w.at
            );
            for detail in &w.details {
                let _ = writeln!(out, "    {detail}");
            }
        }
    }
    if report.ignored_files > 0 {
        let types: Vec<String> = report
            .ignored_types
            .iter()
            .map(|t| {
                let name = if t.extension.is_empty() {
                    "no extension"
                } else {
                    t.extension.as_str()
                };
                format!("{name} {}", t.files)
            })
            .collect();
        let _ = writeln!(
            out,
            "ignored:     {} file(s) of types lookout does not read ({})",
            report.ignored_files,
            types.join(", ")
        );
    }
    for folder in &report.watch_folders {
        match &folder.detail {
            Some(detail) => {
                let _ = writeln!(
                    out,
                    "watch:       {} {}: {detail}",
                    folder.path,
                    folder.state.to_uppercase()
                );
            }
            None => {
                let _ = writeln!(out, "watch:       {} {}", folder.path, folder.state);
            }
        }
    }
    if !report.retrying.is_empty() {
        let _ = writeln!(
            out,
            "retrying:    {} file(s) that could not be read",
            report.retrying.len()
        );
        for r in &report.retrying {
            let _ = writeln!(
                out,
                "  {}: {} ({} failed reads since {}, next in {:.1} s)",
                r.path,
                r.error,
                r.attempts,
                r.since,
                r.next_attempt_in_ms as f64 / 1000.0
            );
        }
    }
    if report.quarantined.is_empty() {
        let _ = writeln!(out, "quarantine:  none");
    } else {
        let _ = writeln!(out, "quarantine:  {} file(s)", report.quarantined.len());
        for q in &report.quarantined {
            let _ = writeln!(
                out,
                "  {}: {} (seen {}x, last {})",
                q.path, q.reason, q.attempts, q.at
            );
        }
    }
    out
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
