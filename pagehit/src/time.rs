//! The record's one timestamp format, `YYYY-MM-DDTHH:MM:SS.mmmZ`, without a date library.
//!
//! Exactly one format keeps every reader fast and simple (the analyzer parses it with a fixed
//! pattern) and makes a hit's day a plain prefix of its `ts`.

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_ts(epoch_ms: i64) -> String {
    let (y, m, d, h, min, s, ms) = clock(epoch_ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}Z")
}

/// Year, month, day, hour, minute, second and millisecond of ms since the epoch (of UTC, or
/// of a local clock when given local ms).
fn clock(epoch_ms: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let (y, m, d) = civil_from_days(epoch_ms.div_euclid(MS_PER_DAY));
    let ms_of_day = epoch_ms.rem_euclid(MS_PER_DAY);
    let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    (y, m, d, h, min, rest / 1000, rest % 1000)
}

/// Formats an instant as RFC 3339 with milliseconds at a fixed offset from UTC of
/// `offset_minutes` (`+00:00` for UTC, never `Z`): the local wall-clock time, then the offset.
pub fn format_ts_at(epoch_ms: i64, offset_minutes: i64) -> String {
    let (y, m, d, h, min, s, ms) = clock(epoch_ms + offset_minutes * 60_000);
    let sign = if offset_minutes < 0 { b'-' } else { b'+' };
    let (oh, om) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
    if !(0..=9999).contains(&y) {
        // Outside four-digit years (no report's): as `format!` writes them.
        return format!(
            "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}{}{oh:02}:{om:02}",
            sign as char
        );
    }
    // Written digit by digit: the user report formats two a user, and `format!` with ten
    // arguments cost as much as the rest of the row.
    let mut out = *b"0000-00-00T00:00:00.000+00:00";
    let mut put = |at: usize, width: usize, value: i64| {
        let mut v = value;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, i64::from(m));
    put(8, 2, i64::from(d));
    put(11, 2, h);
    put(14, 2, min);
    put(17, 2, s);
    put(20, 3, ms);
    put(24, 2, oh);
    put(27, 2, om);
    out[23] = sign;
    String::from_utf8(out.to_vec()).expect("ASCII digits")
}

/// Formats days since the Unix epoch as `YYYY-MM-DD`.
pub fn format_date(epoch_days: i64) -> String {
    let (y, m, d) = civil_from_days(epoch_days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` into days since the Unix epoch; `None` unless it is a real calendar date.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])? as i64;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses the record's timestamp format into milliseconds since the epoch; `None` for anything
/// else (other precisions, offsets other than `Z`, impossible dates or times).
pub fn parse_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let days = parse_date(&s[..10])?;
    let h = digits(&b[11..13])? as i64;
    let min = digits(&b[14..16])? as i64;
    let sec = digits(&b[17..19])? as i64;
    let ms = digits(&b[20..23])? as i64;
    if h > 23 || min > 59 || sec > 59 {
        return None;
    }
    Some(days * MS_PER_DAY + ((h * 60 + min) * 60 + sec) * 1000 + ms)
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian), exact for every i64 day we use.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T21:10:22.123Z, checked with GNU `date -u -d @1795641022`.
        assert_eq!(format_ts(1_795_641_022_123), "2026-11-25T21:10:22.123Z");
        assert_eq!(format_ts(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_ts(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rejects_other_formats_and_impossible_values() {
        for bad in [
            "2026-11-25T21:10:22Z",
            "2026-11-25T21:10:22.1234Z",
            "2026-11-25T21:10:22.123+00:00",
            "2026-11-25 21:10:22.123Z",
            "2026-02-29T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "2026-11-25T24:00:00.000Z",
            "2026-11-25T23:60:00.000Z",
            "2026-1a-25T23:00:00.000Z",
            "",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
        assert_eq!(
            parse_ts("2024-02-29T00:00:00.000Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_date("2026-11-31"), None);
        assert_eq!(parse_date("2026-11-30"), Some(20_787));
        assert_eq!(format_date(20_787), "2026-11-30");
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in -62_135_596_800_000i64..253_402_300_799_999i64) {
            prop_assert_eq!(parse_ts(&format_ts(ms)), Some(ms));
        }
    }
}
