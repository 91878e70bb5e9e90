//! `WebhookError`: what can go wrong while configuring, sending or delivering webhooks. Every
//! variant names the webhook or the file it is about and what went wrong; the alert log's own
//! errors pass through unchanged (`AlertLog`).

use std::path::PathBuf;

use crate::alerts::AlertLogError;

/// What can go wrong while configuring, sending or delivering webhooks.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Reading the alert log that delivery follows failed.
    #[error(transparent)]
    AlertLog(#[from] AlertLogError),

    /// An e-mail destination's configuration is unusable (a setting, credentials, TLS).
    #[error("e-mail destination {name:?}: {reason}")]
    InvalidEmail { name: String, reason: String },

    /// A webhook's configuration is unusable (bad URL, duplicate name, bad secret, ...).
    #[error("webhook {name:?}: {reason}")]
    InvalidWebhook { name: String, reason: String },

    /// A webhook secret could not be turned into a signing key.
    #[error("invalid webhook secret: {reason}")]
    InvalidSecret { reason: String },

    /// The shared HTTP client could not be built (e.g. the TLS backend failed to initialise).
    #[error("cannot build the HTTP client for webhooks: {source}")]
    HttpClient {
        #[source]
        source: reqwest::Error,
    },

    /// `LogDelivery::start` was called outside a tokio runtime.
    #[error("webhook delivery must be started inside a tokio runtime")]
    NoRuntime,

    /// A file of the webhook delivery state (a cursor, a `.disabled` marker, the dead-letter
    /// file, or their folder) could not be read or written; `action` says which.
    #[error("webhook delivery state {}: cannot {action}: {source}", .path.display())]
    State {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A cursor file exists but cannot be understood. Not guessed around: delete the file to
    /// deliver the whole alert log to that webhook again.
    #[error("webhook cursor {}: {reason}", .path.display())]
    CorruptCursor { path: PathBuf, reason: String },
}
