//! Owns the files whose read failed for a reason that may go away while their bytes stay the
//! same (a `ReadError::Io`: permissions, too many open files, an I/O error on a share, a folder
//! on the path that cannot be searched for a moment): when each is tried again (exponential
//! backoff from 1 s, capped at 30 s), how often it failed, and what `lookout status` shows.
//!
//! Bounded in memory and in work: one entry per failing file; a file that reads, or that is
//! gone, leaves; each entry is tried at most once per backoff step, and the
//! entries due are found through an ordered index, not by walking them all.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The wait before the first retry; each failure doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_RETRY_GAP: Duration = Duration::from_secs(30);

/// A file waiting for its read to be tried again, as `lookout status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryingFile {
    pub path: String,
    /// The last failure (`cannot read: Permission denied (os error 13)`).
    pub error: String,
    /// Failed reads so far.
    pub attempts: u64,
    /// When the first read failed (RFC 3339).
    pub since: String,
    /// Milliseconds until the next attempt.
    pub next_attempt_in_ms: u64,
}

/// What a failure means for reporting: the first failure of a file (or a different error
/// than before) is reported; a repeat of the same one is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    First,
    Changed { attempts: u64 },
    Again { attempts: u64 },
}

#[derive(Debug)]
struct Entry {
    error: String,
    attempts: u64,
    since: chrono::DateTime<chrono::Utc>,
    next_at: Instant,
}

/// The files waiting for a retry.
#[derive(Debug, Default)]
pub struct RetrySchedule {
    entries: HashMap<PathBuf, Entry>,
    /// (next attempt, path): the entries in the order they fall due.
    by_time: BTreeSet<(Instant, PathBuf)>,
}

/// The wait after `attempts` failures: 1 s, 2 s, 4 s, ... up to `MAX_RETRY_GAP`.
pub fn backoff(attempts: u64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    FIRST_RETRY
        .saturating_mul(1u32 << doublings)
        .min(MAX_RETRY_GAP)
}

impl RetrySchedule {
    /// Record a failed read of `path` with `error` (its one-line text) at `now`.
    pub fn failed(&mut self, path: &Path, error: String, now: Instant) -> Failure {
        let (failure, attempts, since) = match self.entries.remove(path) {
            Some(entry) => {
                self.by_time.remove(&(entry.next_at, path.to_path_buf()));
                let attempts = entry.attempts + 1;
                let failure = if entry.error == error {
                    Failure::Again { attempts }
                } else {
                    Failure::Changed { attempts }
                };
                (failure, attempts, entry.since)
            }
            None => (Failure::First, 1, chrono::Utc::now()),
        };
        let next_at = now + backoff(attempts);
        self.by_time.insert((next_at, path.to_path_buf()));
        self.entries.insert(
            path.to_path_buf(),
            Entry {
                error,
                attempts,
                since,
                next_at,
            },
        );
        failure
    }

    /// An attempt at `path` is under way (taken at `now`, its outcome applied later): it is
    /// not due again before the next backoff step, by when its outcome has normally moved it
    /// (a failure) or removed it (a read). Without this a file taken again waits in flight
    /// behind the files taken before it, still due, and is taken again and again.
    pub fn attempting(&mut self, path: &Path, now: Instant) {
        let Some(entry) = self.entries.get_mut(path) else {
            return;
        };
        self.by_time.remove(&(entry.next_at, path.to_path_buf()));
        entry.next_at = now + backoff(entry.attempts.saturating_add(1));
        self.by_time.insert((entry.next_at, path.to_path_buf()));
    }

    /// `path` leaves the schedule (it was read, or it is gone); how many failed reads it had.
    pub fn remove(&mut self, path: &Path) -> Option<u64> {
        let entry = self.entries.remove(path)?;
        self.by_time.remove(&(entry.next_at, path.to_path_buf()));
        Some(entry.attempts)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// When the next attempt falls due.
    pub fn next_due(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Up to `limit` files whose attempt is due at `now`, soonest first.
    pub fn due(&self, now: Instant, limit: usize) -> Vec<PathBuf> {
        self.by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|(_, path)| path.clone())
            .collect()
    }

    /// The files waiting, sorted by path, for the status report.
    pub fn report(&self, now: Instant) -> Vec<RetryingFile> {
        let mut files: Vec<RetryingFile> = self
            .entries
            .iter()
            .map(|(path, entry)| RetryingFile {
                path: path.display().to_string(),
                error: entry.error.clone(),
                attempts: entry.attempts,
                since: entry
                    .since
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                next_attempt_in_ms: u64::try_from(
                    entry.next_at.saturating_duration_since(now).as_millis(),
                )
                .unwrap_or(u64::MAX),
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_is_capped() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u64::MAX), MAX_RETRY_GAP);
        assert_eq!(backoff(0), FIRST_RETRY);
    }

    #[test]
    fn a_file_being_tried_again_is_not_due_until_its_next_step() {
        let mut schedule = RetrySchedule::default();
        let t0 = Instant::now();
        let a = Path::new("/w/a.txt");
        schedule.failed(a, "cannot read: x".into(), t0);
        let t1 = t0 + FIRST_RETRY;
        assert_eq!(schedule.due(t1, 10), [a.to_path_buf()]);
        schedule.attempting(a, t1);
        assert!(
            schedule.due(t1, 10).is_empty(),
            "taken: not due again at once"
        );
        assert_eq!(schedule.next_due(), Some(t1 + backoff(2)));
        // Its outcome (another failure) schedules it from then on.
        schedule.failed(a, "cannot read: x".into(), t1 + Duration::from_millis(10));
        assert_eq!(
            schedule.next_due(),
            Some(t1 + Duration::from_millis(10) + backoff(2))
        );
        assert_eq!(schedule.len(), 1);
        schedule.attempting(Path::new("/w/unknown.txt"), t1);
        assert_eq!(schedule.len(), 1);
    }

    #[test]
    fn a_failing_file_is_due_after_its_backoff_and_leaves_when_removed() {
        let mut schedule = RetrySchedule::default();
        let t0 = Instant::now();
        let a = Path::new("/w/a.txt");
        let b = Path::new("/w/sub/b.txt");
        assert_eq!(
            schedule.failed(a, "cannot read: x".into(), t0),
            Failure::First
        );
        assert_eq!(
            schedule.failed(b, "cannot read: x".into(), t0),
            Failure::First
        );
        assert!(schedule.due(t0, 10).is_empty());
        assert_eq!(schedule.next_due(), Some(t0 + FIRST_RETRY));
        assert_eq!(schedule.due(t0 + FIRST_RETRY, 1).len(), 1);
        assert_eq!(schedule.due(t0 + FIRST_RETRY, 10).len(), 2);

        let t1 = t0 + FIRST_RETRY;
        assert_eq!(
            schedule.failed(a, "cannot read: x".into(), t1),
            Failure::Again { attempts: 2 }
        );
        assert_eq!(schedule.due(t1, 10), vec![b.to_path_buf()]);
        assert_eq!(
            schedule.failed(a, "cannot read: y".into(), t1),
            Failure::Changed { attempts: 3 }
        );
        let report = schedule.report(t1);
        assert_eq!(report.len(), 2);
        assert_eq!(report[0].path, "/w/a.txt");
        assert_eq!(report[0].attempts, 3);
        assert_eq!(report[0].error, "cannot read: y");
        assert_eq!(report[0].next_attempt_in_ms, 4000);

        assert_eq!(schedule.remove(a), Some(3));
        assert_eq!(schedule.remove(a), None);
        assert_eq!(schedule.remove(b), Some(1));
        assert_eq!(schedule.len(), 0);
        assert_eq!(schedule.next_due(), None);
        assert!(schedule.by_time.is_empty());
    }
}
