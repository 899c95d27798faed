//! The day the visitor salt belongs to, in the zone the reports are cut in (`VISITOR_TZ`).
//!
//! A visitor id is stable for one day. If that day is the UTC day while the analyzer counts
//! days in `--tz America/New_York`, one person becomes two visitors at 19:00 New York time.
//! The worker asks the runtime's `Intl.DateTimeFormat` for the local date (no time zone
//! database in the Wasm: chrono-tz alone would break the size budget); everything around that
//! one call is pure and tested here natively.

use pagehit::time;

/// The zone's local calendar day of an instant, `YYYY-MM-DD`.
pub trait ZoneDay {
    /// The local date at `ms` (milliseconds since the epoch); `None` when it cannot be told.
    fn local_day(&self, ms: i64) -> Option<String>;
}

/// The UTC day: the default zone, computed without the runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utc;

impl ZoneDay for Utc {
    fn local_day(&self, ms: i64) -> Option<String> {
        Some(utc_day(ms))
    }
}

/// The UTC date of `ms`.
pub fn utc_day(ms: i64) -> String {
    time::format_ts(ms)[..10].to_string()
}

/// Whether `zone` names UTC, so no runtime zone lookup is needed.
pub fn is_utc(zone: &str) -> bool {
    [
        "UTC",
        "Etc/UTC",
        "GMT",
        "Etc/GMT",
        "Zulu",
        "Universal",
        "Etc/Universal",
    ]
    .iter()
    .any(|z| z.eq_ignore_ascii_case(zone))
}

/// `YYYY-MM-DD` from `Intl.DateTimeFormat.formatToParts` output (type, value pairs) for the
/// options `{year: "numeric", month: "2-digit", day: "2-digit"}`; `None` unless year, month and
/// day are all there and plausible.
pub fn day_from_parts<'a>(parts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let (mut year, mut month, mut day) = (None, None, None);
    for (kind, value) in parts {
        let number = || {
            value
                .parse::<u32>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
        };
        match kind {
            "year" => year = number(),
            "month" => month = number(),
            "day" => day = number(),
            _ => {}
        }
    }
    let (year, month, day) = (year?, month?, day?);
    ((1..=9999).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day))
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// The salt day of `ms`: the zone's local day, or the UTC day when the zone cannot tell.
pub fn salt_day(zone: &impl ZoneDay, ms: i64) -> String {
    zone.local_day(ms).unwrap_or_else(|| utc_day(ms))
}

/// Remembers the day of the last minute asked for. Zone offsets are whole minutes, so a day
/// never changes inside a minute: under load one runtime call per minute instead of per hit.
#[derive(Debug, Clone, Default)]
pub struct MinuteCache {
    minute: Option<i64>,
    day: String,
}

impl MinuteCache {
    /// The salt day of `ms` in `zone`, computed at most once per minute.
    pub fn day(&mut self, zone: &impl ZoneDay, ms: i64) -> String {
        let minute = ms.div_euclid(60_000);
        if self.minute != Some(minute) {
            self.day = salt_day(zone, minute * 60_000);
            self.minute = Some(minute);
        }
        self.day.clone()
    }
}

/// The runtime's `Intl.DateTimeFormat` for one IANA zone.
#[derive(Debug, Clone)]
pub struct IntlDay {
    format: worker::js_sys::Intl::DateTimeFormat,
}

impl IntlDay {
    /// A formatter for `zone` (an IANA name such as `America/New_York`); the runtime's
    /// message when it does not know the zone.
    pub fn new(zone: &str) -> Result<IntlDay, String> {
        use worker::js_sys::{Array, Object, Reflect};
        use worker::wasm_bindgen::JsCast;
        let options = Object::new();
        for (key, value) in [
            ("timeZone", zone),
            ("calendar", "gregory"),
            ("numberingSystem", "latn"),
            ("year", "numeric"),
            ("month", "2-digit"),
            ("day", "2-digit"),
        ] {
            Reflect::set(&options, &key.into(), &value.into()).map_err(describe)?;
        }
        let intl = Reflect::get(&worker::js_sys::global(), &"Intl".into()).map_err(describe)?;
        let ctor = Reflect::get(&intl, &"DateTimeFormat".into()).map_err(describe)?;
        // Reflect.construct, not `DateTimeFormat::new`: an unknown zone throws a RangeError,
        // which must become a config warning, not a trap.
        let args = Array::of2(&Array::of1(&"en-US".into()), &options);
        let ctor: &worker::js_sys::Function = ctor.unchecked_ref();
        let format = Reflect::construct(ctor, &args).map_err(describe)?;
        Ok(IntlDay {
            format: format.unchecked_into(),
        })
    }
}

fn describe(e: worker::wasm_bindgen::JsValue) -> String {
    worker::js_sys::Error::from(e)
        .message()
        .as_string()
        .unwrap_or_else(|| "unknown error".into())
}

impl ZoneDay for IntlDay {
    fn local_day(&self, ms: i64) -> Option<String> {
        use worker::js_sys::{Date, Reflect};
        let date = Date::new(&(ms as f64).into());
        let parts: Vec<(String, String)> = self
            .format
            .format_to_parts(&date)
            .iter()
            .filter_map(|p| {
                let kind = Reflect::get(&p, &"type".into()).ok()?.as_string()?;
                let value = Reflect::get(&p, &"value".into()).ok()?.as_string()?;
                Some((kind, value))
            })
            .collect();
        day_from_parts(parts.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A zone at a fixed offset from UTC, counting its calls.
    struct Fixed {
        offset_ms: i64,
        calls: Cell<u32>,
    }

    impl ZoneDay for Fixed {
        fn local_day(&self, ms: i64) -> Option<String> {
            self.calls.set(self.calls.get() + 1);
            Some(utc_day(ms + self.offset_ms))
        }
    }

    const H: i64 = 3_600_000;
    // 2026-11-26T03:30:00Z: still the 25th in New York (UTC-5).
    const LATE_EVENING_NY: i64 = 1_795_663_800_000;

    #[test]
    fn the_day_follows_the_zone() {
        assert_eq!(utc_day(LATE_EVENING_NY), "2026-11-26");
        let ny = Fixed {
            offset_ms: -5 * H,
            calls: Cell::new(0),
        };
        assert_eq!(salt_day(&ny, LATE_EVENING_NY), "2026-11-25");
        assert_eq!(salt_day(&Utc, LATE_EVENING_NY), "2026-11-26");
    }

    #[test]
    fn parts_as_intl_gives_them() {
        // en-US order with literals, as formatToParts returns it.
        let parts = [
            ("month", "11"),
            ("literal", "/"),
            ("day", "25"),
            ("literal", "/"),
            ("year", "2026"),
        ];
        assert_eq!(day_from_parts(parts).as_deref(), Some("2026-11-25"));
        assert_eq!(
            day_from_parts([("year", "987"), ("month", "1"), ("day", "2")]).as_deref(),
            Some("0987-01-02")
        );
        assert_eq!(day_from_parts([("year", "2026"), ("month", "11")]), None);
        assert_eq!(
            day_from_parts([("year", "2026"), ("month", "13"), ("day", "1")]),
            None
        );
        assert_eq!(
            day_from_parts([("year", "٢٠٢٦"), ("month", "11"), ("day", "25")]),
            None,
            "non-Latin digits are refused, not misread"
        );
    }

    #[test]
    fn an_unknown_day_falls_back_to_utc() {
        struct Broken;
        impl ZoneDay for Broken {
            fn local_day(&self, _: i64) -> Option<String> {
                None
            }
        }
        assert_eq!(salt_day(&Broken, LATE_EVENING_NY), "2026-11-26");
    }

    #[test]
    fn utc_names() {
        for z in ["UTC", "utc", "Etc/UTC", "GMT"] {
            assert!(is_utc(z), "{z}");
        }
        for z in ["America/New_York", "Etc/GMT+5", "Europe/London"] {
            assert!(!is_utc(z), "{z}");
        }
    }

    #[test]
    fn the_cache_asks_once_a_minute_and_turns_with_the_local_midnight() {
        let ny = Fixed {
            offset_ms: -5 * H,
            calls: Cell::new(0),
        };
        let mut cache = MinuteCache::default();
        // 2026-11-26T04:59:00Z = 23:59 in New York; a minute later it is the 26th there.
        let before = LATE_EVENING_NY + 89 * 60_000;
        assert_eq!(cache.day(&ny, before), "2026-11-25");
        assert_eq!(cache.day(&ny, before + 59_999), "2026-11-25");
        assert_eq!(ny.calls.get(), 1);
        assert_eq!(cache.day(&ny, before + 60_000), "2026-11-26");
        assert_eq!(ny.calls.get(), 2);
        assert_eq!(
            cache.day(&ny, before),
            "2026-11-25",
            "going back asks again"
        );
    }
}
