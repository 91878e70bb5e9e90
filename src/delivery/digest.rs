//! Digests: the alerts of one saved query for one destination gathered over a window of its
//! schedule and sent as one message. `DigestBook` is one destination's open digests, the ends of
//! the windows it has sent, and its throttle's send times; it is saved with the destination's
//! cursor in one atomically replaced file, so that after a crash the alerts read again after the
//! cursor go into the same digests they went into before: each alert is in exactly one digest.
//!
//! An alert goes into the window its own time (`at`) falls in, unless that window was sent
//! already (the alert came late: delivery was behind, or the clock stepped back); then into the
//! first window not yet sent. A window is sent once it has ended and every alert of it has been
//! read: delivery has caught up with the log, or has read an alert from after the window's end
//! (the log is written in time order), `GRACE` later.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::digest::Digest;
use crate::alerts::record::Alert;
use crate::delivery::schedule::{Rate, Schedule, ScheduleError, SendTimes};

/// How long after a window's end the alerts stamped inside it may still be on their way to the
/// log (they are stamped when matched, and written a moment later).
pub const GRACE: chrono::Duration = chrono::Duration::seconds(1);

/// One destination's digest state (see the module comment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestBook {
    /// The open digests, in no particular order (a few per saved query at most).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    open: Vec<Digest>,
    /// Per saved query: the end of the last window sent. No alert goes into a window before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sent_through: BTreeMap<String, DateTime<Utc>>,
    /// Per saved query: the times of its last single sends, for the throttle.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sends: BTreeMap<String, SendTimes>,
    /// The latest alert time read: everything stamped before it minus [`GRACE`] has been read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest: Option<DateTime<Utc>>,
}

/// How one destination delivers: each alert, digests, or each alert up to a rate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The digest schedule: with no `at_most`, every alert goes into a digest.
    pub digest: Option<Schedule>,
    /// Alerts sent one by one, at most this fast; the rest go into the digest (on `digest`'s
    /// schedule, or windows of the rate's period).
    pub at_most: Option<Rate>,
}

/// Where [`DigestBook::route`] puts an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Send it now, alone.
    Send,
    /// It went into a digest.
    Digested,
}

impl Policy {
    pub fn is_each(&self) -> bool {
        self.digest.is_none() && self.at_most.is_none()
    }

    /// The schedule of the digests this policy makes, if it makes any.
    fn schedule(&self) -> Option<Schedule> {
        match (&self.digest, self.at_most) {
            (Some(schedule), _) => Some(schedule.clone()),
            (None, Some(rate)) => Some(Schedule::Every(rate.per)),
            (None, None) => None,
        }
    }
}

/// A saved query's own `digest` and `at_most`, over the policy of each destination it goes to,
/// setting by setting: a setting left out keeps the destination's, `"off"` turns it off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverride {
    /// `Some(None)`: no digest, whatever the destination says.
    pub digest: Option<Option<Schedule>>,
    /// `Some(None)`: no throttle, whatever the destination says.
    pub at_most: Option<Option<Rate>>,
}

/// The word that turns a destination's `digest` or `at_most` off for one saved query.
pub const OFF: &str = "off";

impl PolicyOverride {
    /// Read a saved query's `digest` and `at_most` settings (each a schedule, a rate or
    /// [`OFF`]). The error names the setting.
    pub fn parse(
        digest: Option<&str>,
        at_most: Option<&str>,
    ) -> Result<PolicyOverride, (&'static str, ScheduleError)> {
        fn setting<T: std::str::FromStr<Err = ScheduleError>>(
            text: Option<&str>,
        ) -> Result<Option<Option<T>>, ScheduleError> {
            match text {
                None => Ok(None),
                Some(text) if text.trim().eq_ignore_ascii_case(OFF) => Ok(Some(None)),
                Some(text) => text.parse().map(|value| Some(Some(value))),
            }
        }
        Ok(PolicyOverride {
            digest: setting(digest).map_err(|e| ("digest", e))?,
            at_most: setting(at_most).map_err(|e| ("at_most", e))?,
        })
    }

    /// True if it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.digest.is_none() && self.at_most.is_none()
    }

    /// The policy of a destination whose own is `base`, for this query.
    pub fn over(&self, base: &Policy) -> Policy {
        Policy {
            digest: self.digest.clone().unwrap_or_else(|| base.digest.clone()),
            at_most: self.at_most.unwrap_or(base.at_most),
        }
    }
}

impl DigestBook {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
            && self.sent_through.is_empty()
            && self.sends.is_empty()
            && self.latest.is_none()
    }

    /// The open digests.
    pub fn open(&self) -> &[Digest] {
        &self.open
    }

    /// Route one alert (not a copy record) read at `now` under `policy`: send it now, or put it
    /// into its digest.
    pub fn route(&mut self, alert: &Alert, policy: &Policy, now: DateTime<Utc>) -> Route {
        self.latest = Some(self.latest.map_or(alert.at, |t| t.max(alert.at)));
        let Some(schedule) = policy.schedule() else {
            return Route::Send;
        };
        if let Some(rate) = policy.at_most {
            let sends = self.sends.entry(alert.query.name.to_string()).or_default();
            if sends.admit(now, rate) {
                return Route::Send;
            }
        }
        let mut at = alert.at;
        if let Some(&through) = self.sent_through.get(&*alert.query.name) {
            at = at.max(through);
        }
        let window = schedule.window_of(at);
        let index = match self
            .open
            .iter()
            .position(|d| *d.query == *alert.query.name && d.window == window)
        {
            Some(index) => index,
            None => {
                self.open.push(Digest::new(alert, window));
                self.open.len() - 1
            }
        };
        self.open[index].push_listed(alert);
        Route::Digested
    }

    /// A copy record (`copy_of` set) was read: count it on the open digest listing its first
    /// alert, if one does. True if one did.
    pub fn copy(&mut self, record: &Alert) -> bool {
        let Some(original) = &record.copy_of else {
            return false;
        };
        self.open
            .iter_mut()
            .filter(|d| *d.query == *record.query.name)
            .any(|digest| digest.count_copy(original, record.doc.source.as_deref()))
    }

    /// The open digest due first at `now`, if one is: its window has ended, and every alert of
    /// it has been read (`caught_up`: delivery has read the whole log), [`GRACE`] later.
    pub fn due(&self, now: DateTime<Utc>, caught_up: bool) -> Option<usize> {
        let read_through = if caught_up {
            now - GRACE
        } else {
            self.latest? - GRACE
        };
        let read_through = read_through.min(now - GRACE);
        self.open
            .iter()
            .enumerate()
            .filter(|(_, d)| d.window.end <= read_through)
            .min_by_key(|(_, d)| (d.window.end, d.query.clone()))
            .map(|(i, _)| i)
    }

    /// The digest at `index` (from [`DigestBook::due`]), to send.
    pub fn digest(&self, index: usize) -> Option<&Digest> {
        self.open.get(index)
    }

    /// The digest at `index` was sent (or given up on): it is closed, and no later alert of its
    /// query goes into its window or an earlier one.
    pub fn sent(&mut self, index: usize, now: DateTime<Utc>) {
        if index >= self.open.len() {
            return;
        }
        let digest = self.open.swap_remove(index);
        let through = self
            .sent_through
            .entry(digest.query)
            .or_insert(digest.window.end);
        *through = (*through).max(digest.window.end);
        // Forget what can no longer matter: windows sent more than two maximal periods ago,
        // and throttle sends that no longer count.
        let horizon = now - chrono::Duration::days(62);
        self.sent_through.retain(|_, end| *end > horizon);
    }

    /// Drop throttle send times that no longer count: older than the period of the query's
    /// rate (`per_of`), or all of them when the query is no longer throttled.
    pub fn expire_sends(
        &mut self,
        now: DateTime<Utc>,
        per_of: impl Fn(&str) -> Option<std::time::Duration>,
    ) {
        self.sends.retain(|query, sends| match per_of(query) {
            Some(per) => {
                sends.expire(now, per);
                !sends.is_empty()
            }
            None => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::digest::{Window, MAX_LISTED};
    use crate::alerts::record::alert_id;
    use crate::alerts::test_support::alert;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn alert_at(query: &str, n: usize, t: DateTime<Utc>) -> Alert {
        let mut a = alert(n);
        a.query.name = query.into();
        a.alert_id = alert_id(query, &a.doc.id);
        a.at = t;
        a
    }

    fn every(text: &str) -> Policy {
        Policy {
            digest: Some(text.parse().unwrap()),
            at_most: None,
        }
    }

    #[test]
    fn windows_of_another_length_from_the_same_instant_are_other_digests() {
        // A schedule changed from 2 s to 20 s opens a window at the same instant: its digest
        // must not take the id of the one already sent (receivers would drop it as a repeat).
        let t0 = at("2026-12-01T10:00:00Z");
        let a = alert_at("a", 1, t0);
        let ids: Vec<String> = [2, 20, 3600]
            .into_iter()
            .map(|secs| {
                let window = Window {
                    start: t0,
                    end: t0 + chrono::Duration::seconds(secs),
                };
                Digest::new(&a, window).digest_id
            })
            .collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        // Sub-second windows are told apart too.
        let short = |ms| Window {
            start: t0,
            end: t0 + chrono::Duration::milliseconds(ms),
        };
        assert_ne!(
            Digest::new(&a, short(500)).digest_id,
            Digest::new(&a, short(600)).digest_id
        );
    }

    #[test]
    fn alerts_gather_per_query_and_window_and_are_due_once_read() {
        let policy = every("10s");
        let mut book = DigestBook::default();
        let t0 = at("2026-12-01T10:00:00Z");
        let s = chrono::Duration::seconds;
        for (i, (q, dt)) in [("a", 1), ("a", 2), ("b", 3), ("a", 12)]
            .into_iter()
            .enumerate()
        {
            assert_eq!(
                book.route(&alert_at(q, i, t0 + s(dt)), &policy, t0 + s(dt)),
                Route::Digested
            );
        }
        assert_eq!(book.open().len(), 3);
        // Not before the window ends, and not before it is read through.
        assert_eq!(book.due(t0 + s(10), true), None);
        let first = book.due(t0 + s(11), true).unwrap();
        let digest = book.digest(first).unwrap().clone();
        assert_eq!((digest.query.as_str(), digest.count), ("a", 2));
        assert_eq!(digest.window.start, t0);
        assert_eq!(
            digest.digest_id,
            "digest:q:a/w:2026-12-01T10:00:00Z/2026-12-01T10:00:10Z"
        );
        book.sent(first, t0 + s(11));
        let next = book
            .digest(book.due(t0 + s(11), true).unwrap())
            .unwrap()
            .clone();
        assert_eq!((next.query.as_str(), next.count), ("b", 1));
        // Behind (not caught up): due only once an alert from after the end + grace was read.
        let mut behind = book.clone();
        let i = behind.due(t0 + s(11), true).unwrap();
        behind.sent(i, t0 + s(11));
        assert_eq!(behind.due(t0 + s(60), false), None, "latest read is 12 s");
        behind.route(&alert_at("c", 9, t0 + s(25)), &policy, t0 + s(60));
        assert!(behind.due(t0 + s(60), false).is_some());
    }

    #[test]
    fn a_late_alert_goes_into_the_first_window_not_sent() {
        let policy = every("10s");
        let mut book = DigestBook::default();
        let t0 = at("2026-12-01T10:00:00Z");
        let s = chrono::Duration::seconds;
        book.route(&alert_at("a", 0, t0 + s(1)), &policy, t0 + s(1));
        let i = book.due(t0 + s(12), true).unwrap();
        book.sent(i, t0 + s(12));
        // Stamped in the sent window, read after it went out.
        book.route(&alert_at("a", 1, t0 + s(9)), &policy, t0 + s(12));
        assert_eq!(book.open()[0].window.start, t0 + s(10));
    }

    #[test]
    fn the_throttle_sends_its_rate_and_digests_the_rest() {
        let policy = Policy {
            digest: None,
            at_most: Some("2/1h".parse().unwrap()),
        };
        let mut book = DigestBook::default();
        let t0 = at("2026-12-01T10:00:00Z");
        let routes: Vec<Route> = (0..5)
            .map(|i| book.route(&alert_at("a", i, t0), &policy, t0))
            .collect();
        assert_eq!(
            routes,
            [
                Route::Send,
                Route::Send,
                Route::Digested,
                Route::Digested,
                Route::Digested
            ]
        );
        // The overflow digest covers the rate's period.
        assert_eq!(
            book.open()[0].window.end - book.open()[0].window.start,
            chrono::Duration::hours(1)
        );
        assert_eq!(book.open()[0].count, 3);
    }

    #[test]
    fn copies_are_counted_on_the_listed_alert_with_their_sources() {
        let policy = every("1h");
        let mut book = DigestBook::default();
        let t0 = at("2026-12-01T10:00:00Z");
        let first = alert_at("a", 0, t0);
        book.route(&first, &policy, t0);
        for (n, source) in [(1, "AP"), (2, "AFP"), (3, "AP")] {
            let mut copy = alert_at("a", n, t0);
            copy.copy_of = Some(first.alert_id.clone());
            Arc::make_mut(&mut copy.doc).source = Some(source.into());
            assert!(book.copy(&copy));
        }
        let entry = &book.open()[0].alerts[0];
        assert_eq!(entry.copies, 3);
        assert_eq!(entry.copy_sources, ["AP", "AFP"]);
        let mut stray = alert_at("b", 4, t0);
        stray.copy_of = Some(first.alert_id.clone());
        assert!(!book.copy(&stray), "another query's copy record");
    }

    #[test]
    fn a_digest_lists_a_bounded_number_and_counts_all() {
        let policy = every("1h");
        let mut book = DigestBook::default();
        let t0 = at("2026-12-01T10:00:00Z");
        for i in 0..(MAX_LISTED + 30) {
            book.route(&alert_at("a", i, t0), &policy, t0);
        }
        let digest = &book.open()[0];
        assert_eq!(digest.count as usize, MAX_LISTED + 30);
        assert_eq!(digest.alerts.len(), MAX_LISTED);
        assert_eq!(digest.unlisted(), 30);
        let json = serde_json::to_string(&book).unwrap();
        assert_eq!(serde_json::from_str::<DigestBook>(&json).unwrap(), book);
    }

    use std::sync::Arc;

    proptest! {
        /// A crash at any point (the book as last saved, and every alert after it read again)
        /// leaves each alert in exactly one digest, the same one as without the crash.
        #[test]
        fn each_alert_is_in_exactly_one_digest_across_a_crash(
            gaps in proptest::collection::vec(0i64..4_000, 1..60),
            crash_at in 0usize..60,
            saved_at in 0usize..60,
        ) {
            let policy = every("2s");
            let t0 = at("2026-12-01T10:00:00Z");
            let mut t = t0;
            let alerts: Vec<Alert> = gaps
                .iter()
                .enumerate()
                .map(|(i, gap)| {
                    t += chrono::Duration::milliseconds(*gap);
                    alert_at(if i % 3 == 0 { "a" } else { "b" }, i, t)
                })
                .collect();
            let crash_at = crash_at.min(alerts.len());
            let saved_at = saved_at.min(crash_at);
            // Run: read alert i at its own time, send what is due; save the book at `saved_at`.
            let run = |book: &mut DigestBook, from: usize, to: usize, sent: &mut Vec<Digest>, saved: &mut Option<(DigestBook, usize)>| {
                for (i, alert) in alerts.iter().enumerate().take(to).skip(from) {
                    if saved_at == i && saved.is_none() {
                        *saved = Some((book.clone(), i));
                    }
                    let now = alert.at;
                    while let Some(d) = book.due(now, false) {
                        sent.push(book.digest(d).unwrap().clone());
                        book.sent(d, now);
                    }
                    book.route(alert, &policy, now);
                }
            };
            let finish = |book: &mut DigestBook, sent: &mut Vec<Digest>| {
                let end = t + chrono::Duration::seconds(10);
                while let Some(d) = book.due(end, true) {
                    sent.push(book.digest(d).unwrap().clone());
                    book.sent(d, end);
                }
            };
            // Without a crash.
            let mut book = DigestBook::default();
            let mut clean = Vec::new();
            let mut unused = None;
            run(&mut book, 0, alerts.len(), &mut clean, &mut unused);
            finish(&mut book, &mut clean);
            // With one: alerts up to `crash_at` read, then back to the book saved at `saved_at`.
            let mut book = DigestBook::default();
            let mut crashed = Vec::new();
            let mut saved = None;
            run(&mut book, 0, crash_at, &mut crashed, &mut saved);
            let (mut book, from) = saved.unwrap_or((book, crash_at));
            let mut after = Vec::new();
            run(&mut book, from, alerts.len(), &mut after, &mut None);
            finish(&mut book, &mut after);
            // Digests sent twice (before and after the crash) have the same id and content.
            let mut by_id: BTreeMap<String, Digest> = BTreeMap::new();
            for d in crashed.into_iter().chain(after) {
                if let Some(before) = by_id.get(&d.digest_id) {
                    prop_assert_eq!(before, &d);
                }
                by_id.insert(d.digest_id.clone(), d);
            }
            let clean: BTreeMap<String, Digest> = clean.into_iter().map(|d| (d.digest_id.clone(), d)).collect();
            prop_assert_eq!(&by_id, &clean);
            let total: u64 = clean.values().map(|d| d.count).sum();
            prop_assert_eq!(total as usize, alerts.len());
            for d in clean.values() {
                for e in &d.alerts {
                    prop_assert!(d.window.contains(e.at), "{:?} not in {:?}", e.at, d.window);
                }
            }
        }
    }
}
