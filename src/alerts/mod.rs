//! Alerts: the alert record (`record`) and the JSON Lines alert log that is the source of truth
//! for alerts (`log`): appending, reading back (`read_alerts`, `AlertLogReader`), reading a page
//! backwards from the end (`read_backwards`, for the API and the CLI) and tailing (`follow`).
//! Synchronous; the webhooks that deliver from the log are `crate::webhooks`. Everything public
//! is re-exported here, so callers write `crate::alerts::Alert`, `crate::alerts::AlertLog`, ...

pub mod digest;
pub mod error;
pub mod log;
pub mod record;

#[cfg(test)]
pub(crate) mod test_support;

pub use error::AlertLogError;
pub use log::{
    follow, parse_since, read_alerts, read_backwards, AlertFollower, AlertLog, AlertLogReader,
    AlertLogSync, AlertsBackwards,
};
pub use record::{
    alert_id, doc_of_alert_id, Alert, AlertDoc, AlertQuery, Matched, MAX_LINE_BYTES,
    MAX_SNIPPET_CHARS, MAX_TERMS, MAX_TERM_CHARS, MAX_TITLE_CHARS,
};
