//! Alert sinks: the alert record (`record`), the JSON Lines alert log that is the source of
//! truth for alerts (`log`), signed webhook requests (`webhook`), and webhook delivery fed from
//! the log with a persisted cursor per webhook (`delivery`). Everything public is
//! re-exported here, so callers write `crate::sinks::Alert`, `crate::sinks::AlertLog`, ...

pub mod delivery;
pub mod error;
pub mod log;
pub mod record;
pub mod webhook;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod webhook_tests;

pub use delivery::{
    cursor_path, dead_letter_path, disabled_path, disabled_reason, replay,
    start_new_webhooks_at_log_end, DeadLetter, DeliveryStats, LogDelivery, ReplayStats, Routes,
    WebhookStats,
};
pub use error::SinkError;
pub use log::{
    follow, parse_since, read_alerts, read_backwards, AlertFollower, AlertLog, AlertLogReader,
    AlertsBackwards,
};
pub use record::{
    alert_id, Alert, AlertDoc, AlertQuery, Matched, MAX_LINE_BYTES, MAX_SNIPPET_CHARS, MAX_TERMS,
    MAX_TERM_CHARS, MAX_TITLE_CHARS,
};
pub use webhook::{
    default_max_attempts, default_timeout_ms, sign, verify, RetryPolicy, WebhookConfig, USER_AGENT,
};
