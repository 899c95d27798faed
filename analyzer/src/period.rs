//! Which instants make up a report's local days, and which UTC `dt=` partitions hold them.
//!
//! Hits are partitioned by their UTC date, but a report is for calendar days in `--tz`. A day
//! in Asia/Tokyo (UTC+9) runs from 15:00Z the day before to 15:00Z, so it touches two UTC
//! partitions; a day in UTC touches one. Daylight-saving days are 23 or 25 hours long.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use pagehit::time::{self, MS_PER_DAY};
use std::fmt;
use std::str::FromStr;

// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const CE_TO_UNIX_DAYS: i64 = 719_163;

/// The `--date` argument: a calendar date, or a day relative to now in `--tz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateArg {
    /// The current local day.
    Today,
    /// The local day before today: what a nightly job reports on.
    Yesterday,
    /// A fixed calendar day, as days since 1970-01-01.
    Day(i64),
}

impl FromStr for DateArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "today" => Ok(DateArg::Today),
            "yesterday" => Ok(DateArg::Yesterday),
            _ => time::parse_date(s)
                .map(DateArg::Day)
                .ok_or_else(|| format!("{s:?} is not a date: use YYYY-MM-DD, today or yesterday")),
        }
    }
}

impl DateArg {
    /// The calendar day (days since 1970-01-01) this argument names in `tz` at instant `now`.
    pub fn resolve(self, tz: Tz, now: DateTime<Utc>) -> i64 {
        let today = now.with_timezone(&tz).date_naive();
        let today = i64::from(chrono::Datelike::num_days_from_ce(&today)) - CE_TO_UNIX_DAYS;
        match self {
            DateArg::Today => today,
            DateArg::Yesterday => today - 1,
            DateArg::Day(d) => d,
        }
    }
}

/// Most days one report covers.
pub const MAX_DAYS: i64 = 366;

/// Local calendar days `first_day..=last_day` in one zone, as the half-open UTC interval
/// `[start_ms, end_ms)`, with the zone's UTC offsets over it (so that a hit's local day and
/// hour are two additions, not a time-zone lookup per row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// Days since 1970-01-01 of the first local date.
    pub first_day: i64,
    /// Days since 1970-01-01 of the last local date (inclusive).
    pub last_day: i64,
    /// The zone the days are counted in.
    pub tz: Tz,
    /// First millisecond of the period, since the Unix epoch.
    pub start_ms: i64,
    /// First millisecond after it.
    pub end_ms: i64,
    /// `(from_ms, offset_ms)`: from `from_ms` on (until the next entry) local time is UTC plus
    /// `offset_ms`. The first entry's `from_ms` is `start_ms`.
    offsets: Vec<(i64, i64)>,
}

impl Period {
    /// The local days `first_day..=last_day` in `tz` (at most [`MAX_DAYS`]).
    pub fn new(first_day: i64, last_day: i64, tz: Tz) -> Result<Period, String> {
        if last_day < first_day {
            return Err(format!(
                "--from {} is after --to {}",
                time::format_date(first_day),
                time::format_date(last_day)
            ));
        }
        if last_day - first_day + 1 > MAX_DAYS {
            return Err(format!(
                "{} days from {} to {}: a report covers at most {MAX_DAYS} days",
                last_day - first_day + 1,
                time::format_date(first_day),
                time::format_date(last_day)
            ));
        }
        let start_ms = local_midnight_ms(tz, first_day);
        let end_ms = local_midnight_ms(tz, last_day + 1);
        Ok(Period {
            first_day,
            last_day,
            tz,
            start_ms,
            end_ms,
            offsets: offsets(tz, start_ms, end_ms),
        })
    }

    /// One local day.
    pub fn day(day: i64, tz: Tz) -> Period {
        Period::new(day, day, tz).expect("one day is a valid period")
    }

    /// Number of local days.
    pub fn days(&self) -> usize {
        (self.last_day - self.first_day + 1) as usize
    }

    /// The first local date, `YYYY-MM-DD`.
    pub fn from(&self) -> String {
        time::format_date(self.first_day)
    }

    /// The last local date, `YYYY-MM-DD`.
    pub fn to(&self) -> String {
        time::format_date(self.last_day)
    }

    /// The local date of day `index` of the period.
    pub fn date_of(&self, index: usize) -> String {
        time::format_date(self.first_day + index as i64)
    }

    /// The period of equal length just before this one (`--compare`).
    pub fn previous(&self) -> Period {
        let n = self.last_day - self.first_day + 1;
        Period::new(self.first_day - n, self.first_day - 1, self.tz)
            .expect("a period before a valid one is valid")
    }

    /// The UTC dates (`YYYY-MM-DD`) of the `dt=` partitions that can hold hits of the period.
    pub fn partitions(&self) -> Vec<String> {
        let first = self.start_ms.div_euclid(MS_PER_DAY);
        let last = (self.end_ms - 1).div_euclid(MS_PER_DAY);
        (first..=last).map(time::format_date).collect()
    }

    /// Whether the instant is in the period.
    pub fn contains(&self, ts_ms: i64) -> bool {
        (self.start_ms..self.end_ms).contains(&ts_ms)
    }

    /// Local wall-clock time of an instant of the period, as ms since the local epoch.
    #[inline]
    pub fn local_ms(&self, ts_ms: i64) -> i64 {
        if let [(_, offset)] = self.offsets[..] {
            // One offset all period long (UTC, or no change of clocks): no search.
            return ts_ms + offset;
        }
        let i = self.offsets.partition_point(|&(from, _)| from <= ts_ms);
        let offset = self.offsets[i.saturating_sub(1)].1;
        ts_ms + offset
    }

    /// Which local day of the period an instant of it falls on (0 for the first).
    pub fn day_index(&self, ts_ms: i64) -> usize {
        let day = self.local_ms(ts_ms).div_euclid(MS_PER_DAY) - self.first_day;
        day.clamp(0, self.last_day - self.first_day) as usize
    }

    /// The local clock hour (0-23) of an instant.
    pub fn hour(&self, ts_ms: i64) -> usize {
        (self.local_ms(ts_ms).rem_euclid(MS_PER_DAY) / 3_600_000) as usize
    }

    /// Formats an instant as RFC 3339 local time in the period's zone, with milliseconds and
    /// offset (`+00:00`, never `Z`).
    pub fn format_local(&self, epoch_ms: i64) -> String {
        // Inside the period its offsets are known: formatted without chrono's zone lookup and
        // format parsing (two a user of the user report, a few percent of a filtered count).
        if self.contains(epoch_ms) {
            let offset = self.local_ms(epoch_ms) - epoch_ms;
            // Four-digit years (1970 to 9998) and whole minutes, as chrono writes them.
            const YEAR_9999_MS: i64 = 253_370_764_800_000;
            if offset % 60_000 == 0 && (0..YEAR_9999_MS).contains(&epoch_ms) {
                return time::format_ts_at(epoch_ms, offset / 60_000);
            }
        }
        match Utc.timestamp_millis_opt(epoch_ms).single() {
            Some(t) => t
                .with_timezone(&self.tz)
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string(),
            None => time::format_ts(epoch_ms),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first_day == self.last_day {
            write!(f, "{} ({})", self.from(), self.tz.name())
        } else {
            write!(f, "{} to {} ({})", self.from(), self.to(), self.tz.name())
        }
    }
}

/// The zone's UTC offset at an instant, in ms.
fn offset_at(tz: Tz, ts_ms: i64) -> i64 {
    use chrono::Offset;
    match Utc.timestamp_millis_opt(ts_ms).single() {
        Some(t) => i64::from(t.with_timezone(&tz).offset().fix().local_minus_utc()) * 1000,
        None => 0,
    }
}

/// The offsets over `[start, end)`: sampled every hour (zones change offset at most a few times
/// a year), each change then found to the millisecond by bisection.
fn offsets(tz: Tz, start: i64, end: i64) -> Vec<(i64, i64)> {
    const HOUR: i64 = 3_600_000;
    let mut out = vec![(start, offset_at(tz, start))];
    let mut prev = start;
    let mut t = start;
    while t < end {
        t = (t + HOUR).min(end);
        let off = offset_at(tz, t.min(end - 1));
        if off != out.last().expect("one entry at least").1 {
            // The first millisecond in (prev, t] with the new offset.
            let (mut lo, mut hi) = (prev, t.min(end - 1));
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == off {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            out.push((hi, off));
        }
        prev = t;
    }
    out
}

/// The first instant of local day `epoch_day` in `tz`, in ms since the epoch.
///
/// Where midnight falls in a daylight-saving gap (some zones switch at 00:00) the day starts
/// at the first local time that exists; where midnight happens twice, at the earlier one.
fn local_midnight_ms(tz: Tz, epoch_day: i64) -> i64 {
    let date = i32::try_from(epoch_day + CE_TO_UNIX_DAYS)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .expect("--date is a four-digit year, well inside chrono's range");
    let midnight = date.and_hms_opt(0, 0, 0).expect("00:00:00 is a valid time");
    // Gaps are at most a few hours; step by minutes since every zone switches on a whole minute.
    let mut local = midnight;
    while local < midnight + Duration::hours(48) {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.timestamp_millis();
        }
        local += Duration::minutes(1);
    }
    // Unreachable for real zone data; fall back to the UTC reading rather than panic.
    midnight.and_utc().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_formatted_as_chrono_formats_them() {
        // Zones with and without daylight saving, a half-hour offset, west and east of UTC;
        // instants every 37 minutes and 11 ms across a year, so both transitions are crossed.
        for tz in [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
        ] {
            let tz: Tz = tz.parse().unwrap();
            let p = Period::new(20_454, 20_819, tz).unwrap();
            let mut t = p.start_ms;
            while t < p.end_ms {
                let want = Utc
                    .timestamp_millis_opt(t)
                    .unwrap()
                    .with_timezone(&tz)
                    .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                    .to_string();
                assert_eq!(p.format_local(t), want, "{t} in {tz}");
                t += 37 * 60_000 + 11;
            }
        }
    }

    fn day(s: &str, tz: &str) -> Period {
        Period::day(time::parse_date(s).unwrap(), tz.parse().unwrap())
    }

    fn ts(s: &str) -> i64 {
        time::parse_ts(s).unwrap()
    }

    #[test]
    fn utc_day_is_one_partition() {
        let d = day("2026-11-25", "UTC");
        assert_eq!(time::format_ts(d.start_ms), "2026-11-25T00:00:00.000Z");
        assert_eq!(time::format_ts(d.end_ms), "2026-11-26T00:00:00.000Z");
        assert_eq!(d.partitions(), vec!["2026-11-25"]);
    }

    #[test]
    fn tokyo_day_spans_two_partitions() {
        let d = day("2026-11-25", "Asia/Tokyo");
        assert_eq!(time::format_ts(d.start_ms), "2026-11-24T15:00:00.000Z");
        assert_eq!(time::format_ts(d.end_ms), "2026-11-25T15:00:00.000Z");
        assert_eq!(d.partitions(), vec!["2026-11-24", "2026-11-25"]);
        assert_eq!(d.format_local(d.start_ms), "2026-11-25T00:00:00.000+09:00");
    }

    #[test]
    fn west_of_utc_and_dst_days() {
        // New York, 2026-03-08: clocks jump 02:00 -> 03:00, a 23-hour day.
        let d = day("2026-03-08", "America/New_York");
        assert_eq!(time::format_ts(d.start_ms), "2026-03-08T05:00:00.000Z");
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
        assert_eq!(d.partitions(), vec!["2026-03-08", "2026-03-09"]);
        // 2026-11-01 falls back: 25 hours.
        let d = day("2026-11-01", "America/New_York");
        assert_eq!(d.end_ms - d.start_ms, 25 * 3_600_000);
    }

    #[test]
    fn midnight_in_a_gap_starts_at_the_first_real_minute() {
        // Havana springs forward at 00:00 -> 01:00 (2026-03-08 here): the day starts at 01:00 CDT.
        let d = day("2026-03-08", "America/Havana");
        assert_eq!(d.format_local(d.start_ms), "2026-03-08T01:00:00.000-04:00");
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
    }

    #[test]
    fn date_arguments() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap();
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // 16:00Z is already the 26th in Tokyo.
        assert_eq!(
            time::format_date(DateArg::Today.resolve(tokyo, now)),
            "2026-11-26"
        );
        assert_eq!(
            time::format_date(DateArg::Yesterday.resolve(tokyo, now)),
            "2026-11-25"
        );
        assert_eq!(
            time::format_date(DateArg::Yesterday.resolve(Tz::UTC, now)),
            "2026-11-24"
        );
        assert_eq!(
            "2026-02-03".parse::<DateArg>(),
            Ok(DateArg::Day(time::parse_date("2026-02-03").unwrap()))
        );
        assert!("2026-02-30".parse::<DateArg>().is_err());
        assert!("tomorrow".parse::<DateArg>().is_err());
    }

    #[test]
    fn ranges_days_hours_and_the_period_before() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // Across the spring-forward change (2026-03-08).
        let p = Period::new(
            time::parse_date("2026-03-07").unwrap(),
            time::parse_date("2026-03-09").unwrap(),
            ny,
        )
        .unwrap();
        assert_eq!(p.days(), 3);
        assert_eq!(
            (p.from().as_str(), p.to().as_str()),
            ("2026-03-07", "2026-03-09")
        );
        assert_eq!(p.end_ms - p.start_ms, (72 - 1) * 3_600_000);
        assert_eq!(
            p.partitions(),
            ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"]
        );
        // 06:59Z on the 8th is 01:59 EST; 07:00Z is 03:00 EDT.
        assert_eq!(p.hour(ts("2026-03-08T06:59:59.999Z")), 1);
        assert_eq!(p.hour(ts("2026-03-08T07:00:00.000Z")), 3);
        assert_eq!(p.day_index(ts("2026-03-08T04:59:59.999Z")), 0);
        assert_eq!(p.day_index(ts("2026-03-08T05:00:00.000Z")), 1);
        assert_eq!(p.day_index(ts("2026-03-10T03:59:59.999Z")), 2);
        assert!(p.contains(ts("2026-03-10T03:59:59.999Z")));
        assert!(!p.contains(ts("2026-03-10T04:00:00.000Z")));
        assert_eq!(p.date_of(2), "2026-03-09");
        let before = p.previous();
        assert_eq!(
            (before.from().as_str(), before.to().as_str()),
            ("2026-03-04", "2026-03-06")
        );
        assert_eq!(before.end_ms, p.start_ms);
        // Fall back (2026-11-01): the repeated hour 01:00 is hour 1 both times.
        let fall = day("2026-11-01", "America/New_York");
        assert_eq!(fall.hour(ts("2026-11-01T05:30:00.000Z")), 1);
        assert_eq!(fall.hour(ts("2026-11-01T06:30:00.000Z")), 1);
        assert_eq!(fall.hour(ts("2026-11-01T07:30:00.000Z")), 2);
        assert_eq!(
            format!("{p}"),
            "2026-03-07 to 2026-03-09 (America/New_York)"
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let d = time::parse_date("2026-01-01").unwrap();
        assert!(Period::new(d, d - 1, Tz::UTC)
            .unwrap_err()
            .contains("after"));
        assert!(Period::new(d, d + 365, Tz::UTC).is_ok());
        assert!(Period::new(d, d + 366, Tz::UTC)
            .unwrap_err()
            .contains("at most 366"));
    }
}
