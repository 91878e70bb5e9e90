//! Webhooks: signed requests (Standard Webhooks) and the one request-and-retry loop (`send`),
//! and delivery fed from the alert log with a persisted cursor per webhook, dead letters,
//! disabled markers and replay (`delivery`). Everything public is re-exported here, so callers
//! write `crate::webhooks::LogDelivery`, `crate::webhooks::sign`, ...

pub mod error;
pub mod format;
pub mod send;

#[cfg(test)]
mod send_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use error::WebhookError;
pub use send::{
    default_max_attempts, default_timeout_ms, sign, verify, RetryPolicy, WebhookConfig, USER_AGENT,
};
