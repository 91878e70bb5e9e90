//! Webhooks: signed requests (Standard Webhooks) and the one request-and-retry loop (`send`),
//! and delivery fed from the alert log with a persisted cursor per webhook, dead letters,
//! disabled markers and replay (`delivery`). Everything public is re-exported here, so callers
//! write `crate::webhooks::LogDelivery`, `crate::webhooks::sign`, ...

pub mod delivery;
pub mod error;
pub mod send;

#[cfg(test)]
mod send_tests;
#[cfg(test)]
mod test_support;

pub use delivery::{
    cursor_path, dead_letter_path, disabled_path, disabled_reason, replay,
    start_new_webhooks_at_log_end, DeadLetter, DeliveryStats, LogDelivery, ReplayStats, Routes,
    WebhookStats,
};
pub use error::WebhookError;
pub use send::{
    default_max_attempts, default_timeout_ms, sign, verify, RetryPolicy, WebhookConfig, USER_AGENT,
};
