//! Webhooks: signed requests (Standard Webhooks) and the one request-and-retry loop (`send`),
//! and the body formats (`format`). Delivery from the alert log, for webhooks and e-mail alike,
//! is `crate::delivery`'s.

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
