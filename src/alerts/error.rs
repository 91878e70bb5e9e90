//! `SinkError`: the one error type of the alert sinks (the alert log and the webhooks). Every
//! variant names the file or the webhook it is about and what went wrong.

use std::path::PathBuf;

/// What can go wrong while writing, reading or sending alerts.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A file operation on the alert log failed; `action` says which ("open", "append to", ...).
    #[error("alert log {}: cannot {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A complete line of the alert log is not a valid alert. `line` is 1-based.
    #[error("alert log {}: line {line} is not a valid alert: {source}", .path.display())]
    CorruptLine {
        path: PathBuf,
        line: u64,
        #[source]
        source: serde_json::Error,
    },

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

impl SinkError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        SinkError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
