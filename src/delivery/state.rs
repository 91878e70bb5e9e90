//! The files webhook delivery keeps under the state folder, and how they are written:
//! `webhooks/<name>.cursor` (where each webhook is in the alert log), `webhooks/<name>.disabled`
//! (a webhook that answered 410 Gone, with the reason) and `dead-letter.jsonl` (alerts given up
//! on). Cursors and markers are replaced atomically (temp file, fsync, rename, fsync folder); the
//! dead-letter file is appended to, one line per write, and synced.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::record::truncate_chars;
use crate::atomic_file::{self, Durability};
use crate::delivery::digest::DigestBook;
use crate::delivery::source::LogIdentity;
use crate::lock::lock;
use crate::webhooks::error::WebhookError;

/// A `WebhookError::State` about `path`.
pub(crate) fn state_error(
    path: impl Into<PathBuf>,
    action: &'static str,
    source: io::Error,
) -> WebhookError {
    WebhookError::State {
        path: path.into(),
        action,
        source,
    }
}

/// The folder of the cursors and `.disabled` markers, under the state folder.
const WEBHOOKS_DIR: &str = "webhooks";
/// The dead-letter file, under the state folder.
const DEAD_LETTER_FILE: &str = "dead-letter.jsonl";
/// `last_error` of a dead-letter record is cut to this many chars.
const MAX_ERROR_CHARS: usize = 1_000;

/// The file name stem of a webhook: its name with every byte other than ASCII letters, digits,
/// `-` and `_` (and a `.` that is not first) written as `%XX`, so that any name is one safe file
/// name in the folder (never hidden, never `..`).
fn file_stem(webhook: &str) -> String {
    let mut stem = String::with_capacity(webhook.len());
    for (i, b) in webhook.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            stem.push(char::from(b));
        } else {
            stem.push_str(&format!("%{b:02X}"));
        }
    }
    stem
}

/// Where the cursor of webhook `webhook` is kept: `state_dir/webhooks/<name>.cursor` (the name
/// made file-safe: bytes other than letters, digits, `-`, `_` and a non-leading `.` become `%XX`).
pub fn cursor_path(state_dir: &Path, webhook: &str) -> PathBuf {
    state_dir
        .join(WEBHOOKS_DIR)
        .join(format!("{}.cursor", file_stem(webhook)))
}

/// The marker of a disabled webhook: `state_dir/webhooks/<name>.disabled`. While it exists, the
/// webhook is sent nothing; remove it to deliver again (from where its cursor stopped).
pub fn disabled_path(state_dir: &Path, webhook: &str) -> PathBuf {
    state_dir
        .join(WEBHOOKS_DIR)
        .join(format!("{}.disabled", file_stem(webhook)))
}

/// The dead-letter file: `state_dir/dead-letter.jsonl`, one [`DeadLetter`] per line.
pub fn dead_letter_path(state_dir: &Path) -> PathBuf {
    state_dir.join(DEAD_LETTER_FILE)
}

/// Why webhook `webhook` is disabled, if it is (its `.disabled` marker exists).
pub fn disabled_reason(state_dir: &Path, webhook: &str) -> Result<Option<String>, WebhookError> {
    let path = disabled_path(state_dir, webhook);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.lines().next().unwrap_or("").trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(state_error(path, "read", e)),
    }
}

/// The `webhooks/` folder, created if needed.
pub(crate) fn ensure_webhooks_dir(state_dir: &Path) -> Result<(), WebhookError> {
    let dir = state_dir.join(WEBHOOKS_DIR);
    fs::create_dir_all(&dir).map_err(|e| state_error(dir, "create", e))
}

/// A cursor file: the offset of the start of the next line to deliver, in the file `log` names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CursorFile {
    pub webhook: String,
    pub offset: u64,
    pub log: LogIdentity,
    /// When it was written (informative).
    pub written: String,
    /// The destination's open digests and throttle, consistent with `offset`: the lines before
    /// it are in them, the lines after it not.
    #[serde(default, skip_serializing_if = "DigestBook::is_empty")]
    pub digests: DigestBook,
}

/// The cursor at `path`; `None` if there is none.
pub(crate) fn read_cursor(path: &Path) -> Result<Option<CursorFile>, WebhookError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_error(path, "read", e)),
    };
    serde_json::from_str(text.trim())
        .map(Some)
        .map_err(|e| WebhookError::CorruptCursor {
            path: path.to_path_buf(),
            reason: format!(
                "{e}; delete the file to start this destination again at the alert log's end (then `lookout alerts replay --to NAME` sends the alerts it missed)"
            ),
        })
}

/// Replace the cursor at `path`, atomically and durably.
/// Replace the cursor file: `durable` fsyncs it (power-loss safe); without, the rename alone
/// still survives a crash of the process.
pub(crate) fn write_cursor(
    path: &Path,
    cursor: &CursorFile,
    durable: bool,
) -> Result<(), WebhookError> {
    let mut text = serde_json::to_string(cursor)
        .map_err(|e| state_error(path, "serialize", io::Error::other(e.to_string())))?;
    text.push('\n');
    let durability = if durable {
        Durability::PowerLoss
    } else {
        Durability::ProcessCrash
    };
    replace(path, text.as_bytes(), durability)
}

/// Mark a webhook disabled: the marker holds `reason` on one line (`lookout status` shows it).
pub(crate) fn write_disabled(path: &Path, reason: &str) -> Result<(), WebhookError> {
    let text = format!("{}\n", reason.replace(['\r', '\n'], " "));
    replace(path, text.as_bytes(), Durability::PowerLoss)
}

/// Replace `path` with `bytes` atomically (`crate::atomic_file`).
fn replace(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), WebhookError> {
    atomic_file::write(path, bytes, durability).map_err(|e| state_error(path, "replace", e))
}

/// One line of the dead-letter file: an alert a webhook never accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub webhook: String,
    pub alert_id: String,
    /// The saved query's name.
    pub query: String,
    /// Attempts made.
    pub attempts: u32,
    /// What the last attempt came to (cut to 1,000 chars).
    pub last_error: String,
    /// When it was given up on (RFC 3339, milliseconds, UTC).
    pub at: String,
    /// The alert's own time (its `at` in the alert log), for `replay --since`.
    pub alert_at: String,
}

impl DeadLetter {
    pub(crate) fn new(
        webhook: &str,
        alert_id: &str,
        query: &str,
        alert_at: DateTime<Utc>,
        attempts: u32,
        last_error: &str,
    ) -> DeadLetter {
        DeadLetter {
            webhook: webhook.to_owned(),
            alert_id: alert_id.to_owned(),
            query: query.to_owned(),
            attempts,
            last_error: truncate_chars(last_error, MAX_ERROR_CHARS).into_owned(),
            at: rfc3339_now(),
            alert_at: alert_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

pub(crate) fn rfc3339_now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The dead-letter file, shared by every webhook's task (one writer at a time).
#[derive(Debug)]
pub(crate) struct DeadLetterFile {
    path: PathBuf,
    lock: Mutex<()>,
}

impl DeadLetterFile {
    pub(crate) fn new(state_dir: &Path) -> DeadLetterFile {
        DeadLetterFile {
            path: dead_letter_path(state_dir),
            lock: Mutex::new(()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Append `record` as one line (one `write_all` in append mode) and sync it. Blocking.
    pub(crate) fn append(&self, record: &DeadLetter) -> Result<(), WebhookError> {
        let mut line = serde_json::to_string(record)
            .map_err(|e| state_error(&self.path, "serialize", io::Error::other(e.to_string())))?;
        line.push('\n');
        let _one_writer = lock(&self.lock);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| state_error(&self.path, "open", e))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| state_error(&self.path, "append to", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe_file_names() {
        let dir = Path::new("/s");
        assert_eq!(
            cursor_path(dir, "ops-desk_1.v2"),
            Path::new("/s/webhooks/ops-desk_1.v2.cursor")
        );
        assert_eq!(
            disabled_path(dir, "../x y/é"),
            Path::new("/s/webhooks/%2E.%2Fx%20y%2F%C3%A9.disabled")
        );
        assert_eq!(file_stem(".hidden"), "%2Ehidden");
        assert_ne!(file_stem("a/b"), file_stem("a%2Fb"));
    }

    #[test]
    fn cursor_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        ensure_webhooks_dir(dir.path()).unwrap();
        let path = cursor_path(dir.path(), "ops");
        assert_eq!(read_cursor(&path).unwrap(), None);
        let cursor = CursorFile {
            webhook: "ops".into(),
            offset: 1234,
            log: LogIdentity {
                dev: Some(1),
                ino: Some(2),
                first_line: Some("ab".into()),
            },
            written: rfc3339_now(),
            digests: DigestBook::default(),
        };
        write_cursor(&path, &cursor, true).unwrap();
        assert_eq!(read_cursor(&path).unwrap(), Some(cursor));
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("ops.cursor")]);

        fs::write(&path, "{\"offset\":").unwrap();
        let err = read_cursor(&path).unwrap_err();
        assert!(matches!(err, WebhookError::CorruptCursor { .. }), "{err}");
        assert!(err.to_string().contains("ops.cursor"), "{err}");
    }

    #[test]
    fn disabled_marker_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        ensure_webhooks_dir(dir.path()).unwrap();
        assert_eq!(disabled_reason(dir.path(), "ops").unwrap(), None);
        write_disabled(&disabled_path(dir.path(), "ops"), "HTTP 410 Gone").unwrap();
        assert_eq!(
            disabled_reason(dir.path(), "ops").unwrap().as_deref(),
            Some("HTTP 410 Gone")
        );
    }
}
