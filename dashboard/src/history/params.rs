//! A history view's state, all of it in the URL: the period (a preset or `from`/`to`), the time
//! zone, the comparison, the filters and `top`. Parsed from a query string with a reason for
//! anything wrong (the server answers 400 with it), and written back for every link.

use analyzer::period::{DateArg, Period};
use analyzer::report::filter::{Filter, Filters, Op};
use chrono_tz::Tz;
use std::fmt::Write;

/// The period presets the page offers.
pub const PRESETS: [(&str, &str); 6] = [
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "This month"),
    ("last_month", "Last month"),
];

/// The most rows a list may be asked for.
pub const MAX_TOP: usize = 100_000;

/// The period as asked: a preset, or days given as the CLI takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// One of [`PRESETS`].
    Preset(&'static str),
    /// `date=D`, or `from=D1&to=D2` (`YYYY-MM-DD`, `today`, `yesterday`).
    Days {
        /// The first day as written.
        from: String,
        /// The last day as written.
        to: String,
    },
}

/// Everything a history view or `/api/report` is asked for.
#[derive(Debug, Clone)]
pub struct Params {
    /// The period as asked (links keep it so).
    pub asked: Asked,
    /// The time zone.
    pub tz: Tz,
    /// Also the period before.
    pub compare: bool,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Rows per list (`None`: the caller's default).
    pub top: Option<usize>,
}

impl Params {
    /// Parses a query string (without `?`); `default_tz` applies when `tz` is absent.
    pub fn parse(query: &str, default_tz: Tz) -> Result<Params, String> {
        let mut period = None::<String>;
        let (mut date, mut from, mut to) = (None, None, None);
        let mut tz = None;
        let mut compare = false;
        let mut filters = Vec::new();
        let mut top = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let once = |slot: &Option<String>| {
                if slot.is_some() {
                    Err(format!("{key} is given twice"))
                } else {
                    Ok(Some(value.to_string()))
                }
            };
            match &*key {
                "period" => period = once(&period)?,
                "date" => date = once(&date)?,
                "from" => from = once(&from)?,
                "to" => to = once(&to)?,
                "tz" => tz = once(&tz)?,
                "compare" => {
                    compare = match &*value {
                        "true" | "1" | "on" => true,
                        "false" | "0" | "off" | "" => false,
                        v => return Err(format!("compare={v:?}: use true or false")),
                    }
                }
                "filter" => filters.push(Filter::parse(&value).map_err(|e| e.0)?),
                "top" => {
                    let n: usize = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| format!("top={value:?}: a number from 1 to {MAX_TOP}"))?;
                    top = Some(n);
                }
                other => {
                    return Err(format!(
                        "unknown parameter {other:?} (period, date, from, to, tz, compare, \
                         filter, top)"
                    ))
                }
            }
        }
        let asked = match (period, date, from, to) {
            (Some(p), None, None, None) => Asked::Preset(
                PRESETS
                    .iter()
                    .map(|(k, _)| *k)
                    .find(|k| *k == p)
                    .ok_or_else(|| {
                        let names: Vec<&str> = PRESETS.iter().map(|(k, _)| *k).collect();
                        format!("period={p:?}: one of {}", names.join(", "))
                    })?,
            ),
            (None, Some(d), None, None) => Asked::Days {
                from: d.clone(),
                to: d,
            },
            (None, None, Some(from), Some(to)) => Asked::Days { from, to },
            (None, None, None, None) => Asked::Preset("today"),
            _ => {
                return Err(
                    "give one of period=..., date=D, or from=D1&to=D2 (days as YYYY-MM-DD, \
                     today or yesterday)"
                        .into(),
                )
            }
        };
        let tz = match tz {
            Some(t) => analyzer::cli::parse_tz(&t)?,
            None => default_tz,
        };
        Ok(Params {
            asked,
            tz,
            compare,
            filters,
            top,
        })
    }

    /// The local days of the period, as of `now`.
    pub fn period(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Period, String> {
        let today = DateArg::Today.resolve(self.tz, now);
        let (first, last) = match &self.asked {
            Asked::Preset(p) => preset_days(p, today),
            Asked::Days { from, to } => {
                let day = |s: &str| {
                    s.parse::<DateArg>()
                        .map(|d| d.resolve(self.tz, now))
                        .map_err(|e| format!("{s:?}: {e}"))
                };
                (day(from)?, day(to)?)
            }
        };
        Period::new(first, last, self.tz)
    }

    /// The query string of this state (no `?`), parameters in a fixed order.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        match &self.asked {
            Asked::Preset(p) => {
                q.append_pair("period", p);
            }
            Asked::Days { from, to } if from == to => {
                q.append_pair("date", from);
            }
            Asked::Days { from, to } => {
                q.append_pair("from", from);
                q.append_pair("to", to);
            }
        }
        q.append_pair("tz", self.tz.name());
        if self.compare {
            q.append_pair("compare", "true");
        }
        for f in &self.filters {
            q.append_pair("filter", &f.expression());
        }
        if let Some(n) = self.top {
            q.append_pair("top", &n.to_string());
        }
        q.finish()
    }

    /// This state with `dimension = value` as its filter on that dimension (a click on a row).
    pub fn with_is(&self, filter: Filter) -> Params {
        let mut next = self.clone();
        next.filters.retain(|f| f.dimension != filter.dimension);
        next.filters.push(filter);
        next
    }

    /// This state without its `i`-th filter.
    pub fn without(&self, i: usize) -> Params {
        let mut next = self.clone();
        if i < next.filters.len() {
            next.filters.remove(i);
        }
        next
    }

    /// This state over another period.
    pub fn over(&self, asked: Asked) -> Params {
        Params {
            asked,
            ..self.clone()
        }
    }

    /// The filters as the report takes them.
    pub fn report_filters(&self) -> Filters {
        Filters(self.filters.clone())
    }
}

/// An `is` filter on one value (the link of a row).
pub fn is(dimension: analyzer::report::filter::Dimension, value: &str) -> Filter {
    Filter::new(dimension, Op::Is, vec![value.to_string()])
}

/// The days (since the epoch) of a preset, given today's.
fn preset_days(preset: &str, today: i64) -> (i64, i64) {
    use chrono::Datelike;
    let date = |d: i64| chrono::DateTime::from_timestamp(d * 86_400, 0).map(|t| t.date_naive());
    let day = |n: chrono::NaiveDate| {
        n.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
            .num_days()
    };
    let first_of_month = |d: chrono::NaiveDate| d.with_day(1).expect("the first exists");
    match preset {
        "yesterday" => (today - 1, today - 1),
        "7d" => (today - 6, today),
        "30d" => (today - 29, today),
        "month" => date(today).map_or((today, today), |d| (day(first_of_month(d)), today)),
        "last_month" => date(today).map_or((today, today), |d| {
            let last = first_of_month(d).pred_opt().expect("a day before");
            (day(first_of_month(last)), day(last))
        }),
        _ => (today, today),
    }
}

/// The expression shown for a filter on the page: `page is /blog`, `country is JP or US`.
pub fn describe(f: &Filter) -> String {
    let op = match f.op {
        Op::Is => "is",
        Op::IsNot => "is not",
        Op::Contains => "contains",
        Op::NotContains => "does not contain",
    };
    let mut out = format!("{} {op} ", f.dimension.name());
    for (i, v) in f.values.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        let _ = write!(out, "{}", if v.is_empty() { "(none)" } else { v });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> chrono::DateTime<chrono::Utc> {
        "2026-03-15T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn presets_and_days_resolve_in_the_zone() {
        let p = |q: &str| {
            let params = Params::parse(q, Tz::UTC).unwrap();
            let period = params.period(now()).unwrap();
            (period.from(), period.to())
        };
        assert_eq!(p(""), ("2026-03-15".into(), "2026-03-15".into()));
        assert_eq!(p("period=7d"), ("2026-03-09".into(), "2026-03-15".into()));
        assert_eq!(
            p("period=month"),
            ("2026-03-01".into(), "2026-03-15".into())
        );
        assert_eq!(
            p("period=last_month"),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        assert_eq!(
            p("from=2026-01-30&to=2026-02-02&tz=Asia/Tokyo"),
            ("2026-01-30".into(), "2026-02-02".into())
        );
        assert_eq!(
            p("date=yesterday"),
            ("2026-03-14".into(), "2026-03-14".into())
        );
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        for (q, says) in [
            ("period=decade", "one of today"),
            ("date=2026-02-30", ""),
            ("from=2026-01-01", "give one of"),
            ("tz=Mars/Base", "IANA"),
            ("compare=maybe", "true or false"),
            ("filter=pages%3D%2F", "is not a dimension"),
            ("top=0", "from 1"),
            ("token=abc", "unknown parameter"),
            ("tz=UTC&tz=UTC", "twice"),
        ] {
            let err = Params::parse(q, Tz::UTC).and_then(|p| p.period(now()).map(|_| p));
            let err = err.expect_err(q);
            assert!(err.contains(says), "{q}: {err}");
        }
    }

    #[test]
    fn the_url_round_trips_and_a_click_replaces_the_dimensions_filter() {
        let q = "from=2026-03-01&to=2026-03-07&tz=Europe%2FBerlin&compare=true&filter=source%3Dnews.example&filter=page%7E%2Fa%5C%7Cb&top=20";
        let p = Params::parse(q, Tz::UTC).unwrap();
        assert_eq!(p.query(), q);
        let clicked = p.with_is(is(analyzer::report::filter::Dimension::Source, "a|b=c"));
        let again = Params::parse(&clicked.query(), Tz::UTC).unwrap();
        assert_eq!(again.filters.len(), 2);
        assert_eq!(again.filters[1].values, ["a|b=c"]);
        assert_eq!(again.without(0).filters.len(), 1);
    }
}
