//! Which instants make up a local day, and which UTC `dt=` partitions hold them.
//!
//! Hits are partitioned by their UTC date, but a report is for a calendar day in `--tz`. A day
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

/// One calendar day in one time zone, as a half-open UTC interval `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// Days since 1970-01-01 of the local calendar date.
    pub epoch_day: i64,
    /// The zone the day is counted in.
    pub tz: Tz,
    /// First millisecond of the day, since the Unix epoch.
    pub start_ms: i64,
    /// First millisecond of the next day.
    pub end_ms: i64,
}

impl Day {
    /// The local day `epoch_day` in `tz`.
    pub fn new(epoch_day: i64, tz: Tz) -> Day {
        Day {
            epoch_day,
            tz,
            start_ms: local_midnight_ms(tz, epoch_day),
            end_ms: local_midnight_ms(tz, epoch_day + 1),
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        time::format_date(self.epoch_day)
    }

    /// The UTC dates (`YYYY-MM-DD`) of the `dt=` partitions that can hold hits of this day.
    pub fn partitions(&self) -> Vec<String> {
        let first = self.start_ms.div_euclid(MS_PER_DAY);
        let last = (self.end_ms - 1).div_euclid(MS_PER_DAY);
        (first..=last).map(time::format_date).collect()
    }

    /// Formats an instant as RFC 3339 local time in the day's zone, with milliseconds and offset.
    pub fn format_local(&self, epoch_ms: i64) -> String {
        match Utc.timestamp_millis_opt(epoch_ms).single() {
            Some(t) => t
                .with_timezone(&self.tz)
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string(),
            None => time::format_ts(epoch_ms),
        }
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.date(), self.tz.name())
    }
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

    fn day(s: &str, tz: &str) -> Day {
        Day::new(time::parse_date(s).unwrap(), tz.parse().unwrap())
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
}
