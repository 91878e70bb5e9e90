//! `AlertLogError`: what can go wrong while writing or reading the alert log. Every variant
//! names the file it is about and what went wrong.

use std::path::PathBuf;

/// What can go wrong while writing or reading the alert log.
#[derive(Debug, thiserror::Error)]
pub enum AlertLogError {
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
}

impl AlertLogError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        source: std::io::Error,
    ) -> Self {
        AlertLogError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
