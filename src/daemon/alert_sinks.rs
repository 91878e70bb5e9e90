//! The daemon's own alert sinks, pushed after the engine's (the alert log, the tracing line,
//! the metrics): the live-stream counter the API's `/alerts/stream` waits on, and the nudge that
//! wakes webhook delivery (which reads the alert log itself). Both run after the alert log's
//! write, so whoever they wake finds the alert in the log. Also where webhook delivery is
//! started, routed by the engine's saved queries.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::alerts::Alert;
use crate::config::Config;
use crate::delivery::{self, LogDelivery, Routes};
use crate::engine::AlertSinkError;
use crate::engine::{AlertSink, QuerySet};
use crate::metrics::Metrics;
use crate::webhooks::{RetryPolicy, WebhookError};

/// Counts the alerts written to the log, for live followers (the API's event stream).
pub struct AlertCounter(pub tokio::sync::watch::Sender<u64>);

impl AlertSink for AlertCounter {
    fn alert(&mut self, _alert: &Alert) -> Result<(), AlertSinkError> {
        self.0.send_modify(|count| *count += 1);
        Ok(())
    }

    fn alerts(&mut self, alerts: &[Alert]) -> Result<(), AlertSinkError> {
        self.0.send_modify(|count| *count += alerts.len() as u64);
        Ok(())
    }
}

/// The webhook delivery running now, if any, shared by the daemon (which starts, restarts and
/// stops it) and the [`WebhookNudge`] sink.
#[derive(Clone, Default)]
pub struct SharedDelivery(Arc<Mutex<Option<LogDelivery>>>);

impl SharedDelivery {
    fn lock(&self) -> MutexGuard<'_, Option<LogDelivery>> {
        // Nothing is left half-done under this lock: a panic elsewhere leaves it usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Put `delivery` in place; the one running before is handed back to be shut down.
    pub fn replace(&self, delivery: Option<LogDelivery>) -> Option<LogDelivery> {
        std::mem::replace(&mut *self.lock(), delivery)
    }

    /// Read the running delivery.
    pub fn with<T>(&self, read: impl FnOnce(&LogDelivery) -> T) -> Option<T> {
        self.lock().as_ref().map(read)
    }
}

/// Wakes webhook delivery: new lines are in the alert log.
pub struct WebhookNudge(pub SharedDelivery);

impl AlertSink for WebhookNudge {
    fn alert(&mut self, _alert: &Alert) -> Result<(), AlertSinkError> {
        self.0.with(LogDelivery::notify);
        Ok(())
    }

    fn alerts(&mut self, _alerts: &[Alert]) -> Result<(), AlertSinkError> {
        self.0.with(LogDelivery::notify);
        Ok(())
    }
}

/// Start delivering the alert log to the configured webhooks, routed by each saved query's
/// `webhooks` (every webhook when it has none), counting in `metrics`. Call inside a tokio
/// runtime.
pub fn start_delivery(
    config: &Config,
    queries: &QuerySet,
    metrics: Metrics,
) -> Result<LogDelivery, WebhookError> {
    delivery::start_new_webhooks_at_log_end(
        &config.alert_log,
        &config.state_dir,
        &config.destinations(),
    )?;
    let names = config.destinations().names();
    LogDelivery::start(
        config.alert_log.clone(),
        config.state_dir.clone(),
        config.destinations(),
        Routes::new(&queries.routes(), &names),
        RetryPolicy::default(),
        metrics,
    )
}
