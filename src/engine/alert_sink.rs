//! Where the engine pushes each alert it raises: an [`AlertSink`] (as ripgrep's searcher pushes
//! matches into a `Sink`). The engine calls every sink in order for each alert, and calls
//! [`AlertSink::durable`] at each commit, between the index commit and the ledger transaction.
//!
//! The first sink is always the alert log ([`AlertLogSink`]), the source of truth: a sink after
//! it sees an alert only once it is in the log, and the ledger records progress only after the
//! log is synced (index commit, then the log's fsync, then the ledger). Then come the tracing
//! line and the metrics (the engine adds them), and whatever the caller adds: the daemon's
//! live-stream counter and webhook nudge (`daemon::alert_sinks`), or an in-memory
//! [`MemorySink`] in tests. Later sinks (digests, chat, a message stream) plug in here.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::alerts::{Alert, AlertLog, AlertLogError};
use crate::metrics::{AlertCounter, AlertKind, Metrics};

/// Why a sink could not take an alert (or make it durable): the engine stops, as for a failed
/// index write.
#[derive(Debug, thiserror::Error)]
pub enum AlertSinkError {
    #[error(transparent)]
    AlertLog(#[from] AlertLogError),
}

/// Receives every alert the engine raises, in the order raised (the alerts of one file in
/// order), a document's alerts at once.
pub trait AlertSink: Send {
    /// One alert. An error stops the engine (as a failed index write does): only the alert
    /// log should fail here.
    fn alert(&mut self, alert: &Alert) -> Result<(), AlertSinkError>;

    /// The alerts of one document, in order (a sink that writes or wakes someone does it once
    /// for all of them).
    fn alerts(&mut self, alerts: &[Alert]) -> Result<(), AlertSinkError> {
        alerts.iter().try_for_each(|alert| self.alert(alert))
    }

    /// Everything pushed so far must become durable (a commit): done now, or by the work
    /// returned, which runs on the commit's thread (the alert log's fsync). The ledger records
    /// the progress after every sink's work is done.
    fn durable(&mut self) -> Result<Durable, AlertSinkError> {
        Ok(Durable::Done)
    }
}

/// What a sink's [`AlertSink::durable`] leaves to do.
pub enum Durable {
    Done,
    /// To run on the commit's thread (no sink is called meanwhile from there).
    Later(DurableWork),
}

/// Work that makes a sink's alerts durable, run on the commit's thread.
pub type DurableWork = Box<dyn FnOnce() -> Result<(), AlertSinkError> + Send>;

/// The JSON Lines alert log: one line per alert, synced at each commit.
pub struct AlertLogSink {
    log: AlertLog,
}

impl AlertLogSink {
    pub fn open(path: &Path) -> Result<AlertLogSink, AlertLogError> {
        Ok(AlertLogSink {
            log: AlertLog::open(path)?,
        })
    }
}

impl AlertSink for AlertLogSink {
    fn alert(&mut self, alert: &Alert) -> Result<(), AlertSinkError> {
        Ok(self.log.append(alert)?)
    }

    fn alerts(&mut self, alerts: &[Alert]) -> Result<(), AlertSinkError> {
        Ok(self.log.append_all(alerts)?)
    }

    fn durable(&mut self) -> Result<Durable, AlertSinkError> {
        let handle = self.log.sync_handle()?;
        Ok(Durable::Later(Box::new(move || Ok(handle.sync()?))))
    }
}

/// One INFO line per alert: which query matched where, with the alert's id (`--log-format
/// json` gives them as fields). The alert log has the rest (title, terms, snippet): formatting
/// those once more per alert cost the writer a fifth of its time.
pub struct TracingSink;

impl AlertSink for TracingSink {
    fn alert(&mut self, alert: &Alert) -> Result<(), AlertSinkError> {
        if let Some(original) = &alert.copy_of {
            tracing::info!(
                query = %alert.query.name,
                doc = %alert.doc.path,
                alert_id = %alert.alert_id,
                copy_of = %original,
                "copy: {} is a copy of a story '{}' already alerted on", alert.doc.path, alert.query.name
            );
            return Ok(());
        }
        tracing::info!(
            query = %alert.query.name,
            doc = %alert.doc.path,
            alert_id = %alert.alert_id,
            backfill = alert.backfill,
            "alert: '{}' matched {}", alert.query.name, alert.doc.path
        );
        Ok(())
    }
}

/// Counts alerts per query and kind, and the alert log's deliveries. Each query's counters are
/// looked up in the metrics once and kept (as the metrics keep a series per query name).
pub struct MetricsSink {
    metrics: Metrics,
    counters: foldhash::HashMap<Box<str>, [Option<AlertCounter>; 2]>,
}

impl MetricsSink {
    pub fn new(metrics: Metrics) -> MetricsSink {
        MetricsSink {
            metrics,
            counters: foldhash::HashMap::default(),
        }
    }

    fn count(&mut self, alert: &Alert) {
        if alert.is_copy() {
            self.metrics.copy_recorded();
            return;
        }
        let kind = if alert.backfill {
            AlertKind::Backfill
        } else {
            AlertKind::Live
        };
        let slot = usize::from(alert.backfill);
        let name = &*alert.query.name;
        let counters = match self.counters.get_mut(name) {
            Some(counters) => counters,
            None => self.counters.entry(name.into()).or_default(),
        };
        counters[slot]
            .get_or_insert_with(|| self.metrics.alert_counter(name, kind))
            .inc();
    }
}

impl AlertSink for MetricsSink {
    fn alert(&mut self, alert: &Alert) -> Result<(), AlertSinkError> {
        self.count(alert);
        self.metrics.sink_delivered(crate::metrics::ALERT_LOG_SINK);
        Ok(())
    }

    fn alerts(&mut self, alerts: &[Alert]) -> Result<(), AlertSinkError> {
        for alert in alerts {
            self.count(alert);
        }
        self.metrics
            .sinks_delivered(crate::metrics::ALERT_LOG_SINK, alerts.len() as u64);
        Ok(())
    }
}

/// Keeps every alert in memory, and counts the `durable` calls (tests).
#[derive(Clone, Default)]
pub struct MemorySink {
    seen: Arc<Mutex<MemorySeen>>,
}

#[derive(Default)]
struct MemorySeen {
    alerts: Vec<Alert>,
    durable: usize,
}

impl MemorySink {
    /// The alerts pushed so far, in order.
    pub fn alerts(&self) -> Vec<Alert> {
        self.seen().alerts.clone()
    }

    /// `(query, document path)` of each alert pushed so far, in order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.seen()
            .alerts
            .iter()
            .map(|a| (a.query.name.to_string(), a.doc.path.clone()))
            .collect()
    }

    /// How many times the sinks were made durable (commits).
    pub fn commits(&self) -> usize {
        self.seen().durable
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, MemorySeen> {
        // A test that panicked while holding it leaves what it saw: still worth reading.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl AlertSink for MemorySink {
    fn alert(&mut self, alert: &Alert) -> Result<(), AlertSinkError> {
        self.seen().alerts.push(alert.clone());
        Ok(())
    }

    fn alerts(&mut self, alerts: &[Alert]) -> Result<(), AlertSinkError> {
        self.seen().alerts.extend_from_slice(alerts);
        Ok(())
    }

    fn durable(&mut self) -> Result<Durable, AlertSinkError> {
        self.seen().durable += 1;
        Ok(Durable::Done)
    }
}

/// Alerts kept before [`AlertSinks::flush`] sends them on even within one command.
const FLUSH_AT: usize = 4096;
/// How long the first alert kept may wait for others before they all go on.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(1);

/// The sinks in the order they are called, and the alerts not yet handed to them: the alerts
/// of the documents a command applies within a millisecond go out together (one write to the
/// alert log for a slice of documents, not one per document), and all of them when the
/// command ends, before a commit, and whenever `FLUSH_AT` wait.
#[derive(Default)]
pub struct AlertSinks {
    sinks: Vec<Box<dyn AlertSink>>,
    waiting: Vec<Alert>,
    /// When the first alert of `waiting` came.
    waiting_since: Option<std::time::Instant>,
}

impl AlertSinks {
    pub fn push(&mut self, sink: Box<dyn AlertSink>) {
        self.sinks.push(sink);
    }

    /// The alerts of one document, in order, for the sinks (see [`AlertSinks::flush`]); a
    /// document without alerts comes too, so that the alerts kept do not wait on for it.
    pub fn alerts(&mut self, alerts: Vec<Alert>) -> Result<(), AlertSinkError> {
        if !alerts.is_empty() {
            if self.waiting.is_empty() {
                self.waiting_since = Some(std::time::Instant::now());
                self.waiting = alerts;
            } else {
                self.waiting.extend(alerts);
            }
        }
        let waited_enough = self
            .waiting_since
            .is_some_and(|since| since.elapsed() >= FLUSH_AFTER);
        if self.waiting.len() >= FLUSH_AT || waited_enough {
            self.flush()?;
        }
        Ok(())
    }

    /// The alerts kept so far, into every sink in turn (the alert log first, so whoever a
    /// later sink wakes finds them there). An error is the engine's end (only the alert log
    /// fails here): the alerts are not offered again.
    pub fn flush(&mut self) -> Result<(), AlertSinkError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        self.waiting_since = None;
        let alerts = std::mem::take(&mut self.waiting);
        for sink in &mut self.sinks {
            sink.alerts(&alerts)?;
        }
        // The buffer is kept for the next command, unless a burst made it large.
        if alerts.capacity() <= FLUSH_AT {
            self.waiting = alerts;
            self.waiting.clear();
        }
        Ok(())
    }

    /// Ask every sink to become durable; returns the work left for the commit's thread, in
    /// order.
    pub fn durable(&mut self) -> Result<Vec<DurableWork>, AlertSinkError> {
        self.flush()?;
        let mut later = Vec::new();
        for sink in &mut self.sinks {
            if let Durable::Later(work) = sink.durable()? {
                later.push(work);
            }
        }
        Ok(later)
    }
}
