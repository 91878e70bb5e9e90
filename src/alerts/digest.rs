//! A digest as deliveries send it: a saved query's alerts over one window of a destination's
//! schedule (`Digest`), each listed alert with the copies of it met meanwhile (`DigestEntry`).
//! How alerts are gathered into digests, durably, is `delivery::digest`'s.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::record::Alert;

/// A digest lists at most this many alerts in full; it counts all of them.
pub const MAX_LISTED: usize = 20;
/// A listed alert names at most this many sources of its copies.
const MAX_COPY_SOURCES: usize = 10;

/// A window of time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// An alert as a digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub alert_id: String,
    #[serde(with = "millis")]
    pub at: DateTime<Utc>,
    pub title: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The matches in `<b>…</b>`, HTML-escaped otherwise (the alert's snippet).
    pub snippet: String,
    /// Near-copies of this article that arrived while the digest was open ("also in N sources").
    #[serde(default)]
    pub copies: u32,
    /// The sources of those copies (distinct, at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copy_sources: Vec<String>,
}

impl DigestEntry {
    fn of(alert: &Alert) -> DigestEntry {
        DigestEntry {
            alert_id: alert.alert_id.clone(),
            at: alert.at,
            title: alert.doc.title.clone(),
            path: alert.doc.path.clone(),
            source: alert.doc.source.clone(),
            date: alert.doc.date,
            url: alert.doc.url.clone(),
            snippet: alert.matched.snippet.clone(),
            copies: 0,
            copy_sources: Vec::new(),
        }
    }
}

/// One digest: a saved query's alerts in one window, for one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// `"digest:q:{query}/w:{window start}/{window end}"` (the window as an ISO 8601 interval):
    /// the same digest always has the same id (a digest sent again after a crash can be
    /// recognised by it), and a window of another length (the schedule changed) has another.
    pub digest_id: String,
    pub query: String,
    pub query_text: String,
    pub window: Window,
    /// Alerts in the digest, listed or not.
    pub count: u64,
    /// The first [`MAX_LISTED`] of them, in log order.
    pub alerts: Vec<DigestEntry>,
    /// Copy records of the digest's alerts met while it was open.
    #[serde(default)]
    pub copies: u64,
}

impl Digest {
    /// An empty digest of `alert`'s query over `window`.
    pub fn new(alert: &Alert, window: Window) -> Digest {
        Digest {
            digest_id: format!(
                "digest:q:{}/w:{}/{}",
                alert.query.name,
                window.start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                window.end.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
            query: alert.query.name.to_string(),
            query_text: alert.query.text.to_string(),
            window,
            count: 0,
            alerts: Vec::new(),
            copies: 0,
        }
    }

    /// Alerts counted but not listed.
    pub fn unlisted(&self) -> u64 {
        self.count.saturating_sub(self.alerts.len() as u64)
    }
}

impl Digest {
    /// Count `alert` in the digest, and list it while fewer than [`MAX_LISTED`] are.
    pub fn push_listed(&mut self, alert: &Alert) {
        // Read again (a truncated log delivered from its start): counted once.
        if self.alerts.iter().any(|e| e.alert_id == alert.alert_id) {
            return;
        }
        self.count += 1;
        if self.alerts.len() < MAX_LISTED {
            self.alerts.push(DigestEntry::of(alert));
        }
    }

    /// A copy record of alert `original` (from `source`) was met: counted on its entry if the
    /// digest lists it. True if it does.
    pub fn count_copy(&mut self, original: &str, source: Option<&str>) -> bool {
        let Some(entry) = self.alerts.iter_mut().find(|e| e.alert_id == original) else {
            return false;
        };
        entry.copies += 1;
        if let Some(source) = source {
            if entry.copy_sources.len() < MAX_COPY_SOURCES
                && !entry.copy_sources.iter().any(|s| s == source)
                && entry.source.as_deref() != Some(source)
            {
                entry.copy_sources.push(source.to_owned());
            }
        }
        self.copies += 1;
        true
    }

    /// A digest of `alert` alone, for trying templates on.
    pub fn sample(alert: &Alert) -> Digest {
        let start = DateTime::from_timestamp(1_764_576_000, 0).unwrap_or_default();
        let mut digest = Digest::new(
            alert,
            Window {
                start,
                end: start + chrono::Duration::hours(1),
            },
        );
        digest.push_listed(alert);
        digest
    }
}

/// RFC 3339 with milliseconds, as the alert log writes times.
mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
