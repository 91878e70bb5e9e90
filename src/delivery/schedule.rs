//! When digests go out and how fast single alerts may: the digest schedule (`every = "1h"`, or
//! `"daily at 08:00 Europe/Berlin"`), which cuts time into windows, and the throttle
//! (`at_most = "10/h"`). Both are parsed from the configuration's strings with errors that say
//! what is wrong, and are pure: windows depend on the time given, never on the clock.

use std::collections::VecDeque;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use crate::alerts::digest::Window;

/// The shortest digest period and throttle period accepted.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);
/// The longest digest period and throttle period accepted (31 days).
pub const MAX_PERIOD: Duration = Duration::from_secs(31 * 24 * 3600);
/// The largest `at_most` count accepted (the throttle remembers this many sends per query).
pub const MAX_RATE_COUNT: u32 = 10_000;

/// A schedule or rate that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("'{text}' is not a schedule: write a period such as \"1h\" or \"30m\", or \"daily at 08:00 Europe/Berlin\" ({reason})")]
    Schedule { text: String, reason: String },
    #[error("'{text}' is not a rate: write COUNT/PERIOD such as \"10/h\", \"100/day\" or \"5/10m\" ({reason})")]
    Rate { text: String, reason: String },
}

/// When digests are sent: the windows that cut time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Windows of this length, aligned on the Unix epoch (an hourly digest covers whole hours
    /// of UTC).
    Every(Duration),
    /// One window per day, from one `at` in `zone` to the next.
    Daily { at: NaiveTime, zone: Tz },
}

/// Parse a period: `"2s"`, `"30m"`, `"1h"`, `"1h30m"`, `"1 day"` (humantime's syntax), or a
/// bare unit (`"h"`, `"day"`) meaning one of it. Bounded by [`MIN_PERIOD`] and [`MAX_PERIOD`].
fn parse_period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit = match text {
        "s" | "sec" | "second" => Some(1),
        "m" | "min" | "minute" => Some(60),
        "h" | "hour" => Some(3600),
        "d" | "day" => Some(86_400),
        "w" | "week" => Some(7 * 86_400),
        _ => None,
    };
    let period = match unit {
        Some(seconds) => Duration::from_secs(seconds),
        None => humantime::parse_duration(text).map_err(|e| e.to_string())?,
    };
    if period < MIN_PERIOD {
        return Err(format!("'{text}' is shorter than 1 s"));
    }
    if period > MAX_PERIOD {
        return Err(format!("'{text}' is longer than 31 days"));
    }
    if period.subsec_nanos() != 0 {
        return Err("use whole seconds".into());
    }
    Ok(period)
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        let fail = |reason: String| ScheduleError::Schedule {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if let Some(rest) = trimmed.strip_prefix("daily at ") {
            let mut parts = rest.split_whitespace();
            let time = parts.next().ok_or_else(|| fail("no time of day".into()))?;
            let at = NaiveTime::parse_from_str(time, "%H:%M")
                .map_err(|_| fail(format!("'{time}' is not a time of day HH:MM")))?;
            let zone = match parts.next() {
                None => Tz::UTC,
                Some(zone) => zone.parse::<Tz>().map_err(|_| {
                    fail(format!(
                        "'{zone}' is not an IANA time zone such as Europe/Berlin"
                    ))
                })?,
            };
            if let Some(extra) = parts.next() {
                return Err(fail(format!("unexpected '{extra}' after the time zone")));
            }
            return Ok(Schedule::Daily { at, zone });
        }
        let period = trimmed.strip_prefix("every ").unwrap_or(trimmed);
        parse_period(period).map(Schedule::Every).map_err(fail)
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Every(period) => write!(f, "every {}", humantime::format_duration(*period)),
            Schedule::Daily { at, zone } => write!(f, "daily at {} {zone}", at.format("%H:%M")),
        }
    }
}

impl Schedule {
    /// The window `t` falls in.
    pub fn window_of(&self, t: DateTime<Utc>) -> Window {
        match self {
            Schedule::Every(period) => {
                let period_ms = period.as_millis() as i64;
                let start_ms = t.timestamp_millis().div_euclid(period_ms) * period_ms;
                let start = DateTime::from_timestamp_millis(start_ms).unwrap_or(t);
                let end = DateTime::from_timestamp_millis(start_ms + period_ms).unwrap_or(t);
                Window { start, end }
            }
            Schedule::Daily { at, zone } => {
                let local_day = t.with_timezone(zone).date_naive();
                // The occurrence on the local day of `t`, or the day before if `t` is earlier.
                let today = occurrence(zone, local_day, *at);
                let (start_day, start) = if today <= t {
                    (local_day, today)
                } else {
                    let yesterday = local_day
                        .checked_sub_days(Days::new(1))
                        .unwrap_or(local_day);
                    (yesterday, occurrence(zone, yesterday, *at))
                };
                let next_day = start_day
                    .checked_add_days(Days::new(1))
                    .unwrap_or(start_day);
                let end = occurrence(zone, next_day, *at);
                Window { start, end }
            }
        }
    }
}

/// `at` on local day `day` in `zone`, in UTC: the earlier instant when the clock shows it twice
/// (autumn), and the first instant after the gap when it never shows it (spring).
fn occurrence(zone: &Tz, day: chrono::NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(at);
    let mut probe = local;
    for _ in 0..4 {
        if let Some(instant) = zone.from_local_datetime(&probe).earliest() {
            return instant.with_timezone(&Utc);
        }
        // In a gap (at most a few hours wide in any zone): try 30 minutes later.
        probe += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

/// At most `count` alerts sent one by one per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Rate, ScheduleError> {
        let fail = |reason: String| ScheduleError::Rate {
            text: text.to_owned(),
            reason,
        };
        let (count, per) = text.split_once('/').ok_or_else(|| fail("no '/'".into()))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| fail(format!("'{}' is not a whole number", count.trim())))?;
        if count == 0 || count > MAX_RATE_COUNT {
            return Err(fail(format!(
                "the count must be from 1 to {MAX_RATE_COUNT}"
            )));
        }
        let per = parse_period(per).map_err(fail)?;
        Ok(Rate { count, per })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// The times of the last sends of one query to one destination, for its [`Rate`]: never more
/// than `rate.count` of them are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendTimes(VecDeque<DateTime<Utc>>);

impl SendTimes {
    /// True if one more alert may be sent alone at `now` under `rate`; if so, it is counted.
    pub fn admit(&mut self, now: DateTime<Utc>, rate: Rate) -> bool {
        let per = chrono::Duration::from_std(rate.per).unwrap_or(chrono::Duration::MAX);
        while self.0.front().is_some_and(|&t| t + per <= now || t > now) {
            self.0.pop_front();
        }
        if self.0.len() >= rate.count as usize {
            return false;
        }
        self.0.push_back(now);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forget sends older than `per` before `now` (they no longer count).
    pub fn expire(&mut self, now: DateTime<Utc>, per: Duration) {
        let per = chrono::Duration::from_std(per).unwrap_or(chrono::Duration::MAX);
        self.0.retain(|&t| t + per > now && t <= now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn periods_cut_aligned_windows() {
        let s: Schedule = "1h".parse().unwrap();
        let w = s.window_of(at("2026-12-01T10:59:59.999Z"));
        assert_eq!(w.start, at("2026-12-01T10:00:00Z"));
        assert_eq!(w.end, at("2026-12-01T11:00:00Z"));
        let s: Schedule = "every 2s".parse().unwrap();
        let w = s.window_of(at("2026-12-01T10:00:03Z"));
        assert_eq!(
            (w.start, w.end),
            (at("2026-12-01T10:00:02Z"), at("2026-12-01T10:00:04Z"))
        );
        assert!(w.contains(at("2026-12-01T10:00:02Z")));
        assert!(!w.contains(at("2026-12-01T10:00:04Z")));
    }

    #[test]
    fn daily_windows_follow_the_zone_and_its_clock_changes() {
        let s: Schedule = "daily at 08:00 Europe/Berlin".parse().unwrap();
        // Winter: 08:00 in Berlin is 07:00 UTC.
        let w = s.window_of(at("2026-12-01T06:59:00Z"));
        assert_eq!(w.start, at("2026-11-30T07:00:00Z"));
        assert_eq!(w.end, at("2026-12-01T07:00:00Z"));
        let w = s.window_of(at("2026-12-01T07:00:00Z"));
        assert_eq!(w.start, at("2026-12-01T07:00:00Z"));
        // Across the spring change (29 March 2026): a 23-hour window.
        let w = s.window_of(at("2026-03-28T12:00:00Z"));
        assert_eq!(w.start, at("2026-03-28T07:00:00Z"));
        assert_eq!(w.end, at("2026-03-29T06:00:00Z"));
        // A time the clock skips (02:30 on 29 March) is taken just after the gap.
        let s: Schedule = "daily at 02:30 Europe/Berlin".parse().unwrap();
        let w = s.window_of(at("2026-03-29T12:00:00Z"));
        assert_eq!(w.start, at("2026-03-29T01:00:00Z"));
        // Without a zone: UTC.
        let s: Schedule = "daily at 00:00".parse().unwrap();
        assert_eq!(
            s.window_of(at("2026-12-01T13:00:00Z")).start,
            at("2026-12-01T00:00:00Z")
        );
    }

    #[test]
    fn windows_tile_time_without_gaps_or_overlaps() {
        for text in [
            "7s",
            "1h",
            "daily at 08:00 Europe/Berlin",
            "daily at 02:30 America/New_York",
        ] {
            let s: Schedule = text.parse().unwrap();
            let mut t = at("2026-03-01T00:00:00Z");
            let mut w = s.window_of(t);
            for _ in 0..300 {
                assert!(w.start < w.end, "{text}: {w:?}");
                assert!(w.contains(t), "{text}: {t} not in {w:?}");
                let next = s.window_of(w.end);
                assert_eq!(next.start, w.end, "{text}");
                t = w.end + chrono::Duration::seconds(1);
                w = s.window_of(t);
                if t > at("2026-12-01T00:00:00Z") {
                    break;
                }
                // Jump far to cover both clock changes in fewer steps.
                if text.starts_with("daily") {
                    continue;
                }
                t += chrono::Duration::hours(37);
                w = s.window_of(t);
            }
        }
    }

    #[test]
    fn bad_schedules_and_rates_say_what_is_wrong() {
        for bad in [
            "",
            "0s",
            "500ms",
            "soon",
            "40 days",
            "daily at 25:00",
            "daily at 08:00 Mars/Base",
            "daily at",
            "daily at 08:00 UTC x",
        ] {
            let err = bad.parse::<Schedule>().unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
        for bad in [
            "10", "0/h", "x/h", "10/0s", "10/ms", "10001/h", "-1/h", "10/",
        ] {
            let err = bad.parse::<Rate>().unwrap_err().to_string();
            assert!(err.contains("not a rate"), "{bad}: {err}");
        }
        let rate: Rate = "10/h".parse().unwrap();
        assert_eq!((rate.count, rate.per), (10, Duration::from_secs(3600)));
        let rate: Rate = "5/10m".parse().unwrap();
        assert_eq!((rate.count, rate.per), (5, Duration::from_secs(600)));
        assert_eq!(
            "100/day".parse::<Rate>().unwrap().per,
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn the_throttle_admits_at_most_its_rate_in_any_period() {
        let rate: Rate = "3/10s".parse().unwrap();
        let mut sent = SendTimes::default();
        let t0 = at("2026-12-01T10:00:00Z");
        let admitted: Vec<bool> = (0..6)
            .map(|i| sent.admit(t0 + chrono::Duration::seconds(i), rate))
            .collect();
        assert_eq!(admitted, [true, true, true, false, false, false]);
        // 10 s after the first send, one slot is free again.
        assert!(sent.admit(t0 + chrono::Duration::seconds(10), rate));
        assert!(!sent.admit(t0 + chrono::Duration::seconds(10), rate));
        assert!(sent.0.len() <= 3);
    }
}
