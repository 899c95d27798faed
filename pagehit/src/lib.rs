//! The page-hit record shared by every stage of the pipeline.
//!
//! One [`PageHit`] is one page view. It travels as JSON on the stream ([`PageHit::to_json`],
//! [`PageHit::from_json`]) and lands as one CSV row in S3 ([`PageHit::write_csv_row`],
//! [`csv`]). The field names and their order are the same in both forms: [`COLUMNS`].
//!
//! This crate knows nothing of Kinesis, S3, Cloudflare or polars; it depends on serde only so it
//! builds for `wasm32-unknown-unknown` (the edge worker) and natively (aggregator, analyzer).

pub mod csv;
pub mod rules;
pub mod time;
mod validate;

pub use validate::{Field, InvalidHit, Limits};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The record's field names, in the order of the JSON object and of the CSV columns.
pub const COLUMNS: [&str; 14] = [
    "event_id",
    "ts",
    "host",
    "path",
    "action",
    "method",
    "status",
    "user",
    "visitor",
    "referrer",
    "country",
    "user_agent",
    "bot",
    "origin_ms",
];

/// One page view, as recorded at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageHit {
    /// UUIDv7 made at the edge; the dedup key downstream.
    pub event_id: String,
    /// When the edge received the request: RFC 3339 UTC with milliseconds (`2026-11-25T21:10:22.123Z`).
    pub ts: String,
    /// Host the request was addressed to.
    pub host: String,
    /// URL path without the query string (queries often carry tokens and personal data).
    pub path: String,
    /// Named action from the path (see [`rules::ActionMap`]).
    pub action: String,
    /// HTTP method of the request.
    pub method: String,
    /// HTTP status the client received.
    pub status: u16,
    /// Signed-in user's name as the origin reported it; empty when anonymous.
    pub user: String,
    /// Pseudonymous visitor id: 16 lowercase hex chars of a keyed, daily-salted hash.
    pub visitor: String,
    /// Referring URL, empty when none.
    pub referrer: String,
    /// Two-letter country code from the edge, empty when unknown.
    pub country: String,
    /// The client's user agent, capped at [`Limits::USER_AGENT`] bytes.
    pub user_agent: String,
    /// True when the user agent is a known crawler ([`rules::is_bot`]).
    pub bot: bool,
    /// Milliseconds the origin took to answer (0 when the edge answered itself).
    pub origin_ms: u32,
}

/// Why a record from the stream or a CSV row could not be turned into a valid [`PageHit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The bytes are not a JSON object of the record's shape (bad JSON, missing or mistyped field).
    Json(String),
    /// A CSV row has the wrong number of fields or a field of the wrong type.
    Csv(String),
    /// The record decoded but a field breaks a rule.
    Invalid(InvalidHit),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Json(e) => write!(f, "not a page-hit JSON object: {e}"),
            RecordError::Csv(e) => write!(f, "not a page-hit CSV row: {e}"),
            RecordError::Invalid(e) => write!(f, "invalid page hit: {e}"),
        }
    }
}

impl std::error::Error for RecordError {}

impl From<InvalidHit> for RecordError {
    fn from(e: InvalidHit) -> Self {
        RecordError::Invalid(e)
    }
}

impl PageHit {
    /// Decodes a stream record and validates it: the only way bytes become a `PageHit` downstream.
    pub fn from_json(bytes: &[u8]) -> Result<PageHit, RecordError> {
        let hit: PageHit =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Json(e.to_string()))?;
        hit.validate()?;
        Ok(hit)
    }

    /// The JSON form put on the stream (fields in [`COLUMNS`] order).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a struct of strings and integers always serialises")
    }

    /// The UTC day of the hit (`YYYY-MM-DD`), taken from its own `ts`, never from the clock.
    ///
    /// Only meaningful on a validated hit; on a malformed `ts` it returns whatever is there.
    pub fn utc_date(&self) -> &str {
        self.ts.get(..10).unwrap_or(&self.ts)
    }

    /// Kinesis partition key: the visitor id spreads hits over shards and keeps one visitor's
    /// hits in order. Never a constant (a constant key sends everything to one shard).
    pub fn partition_key(&self) -> &str {
        if self.visitor.is_empty() {
            &self.event_id
        } else {
            &self.visitor
        }
    }

    /// Appends this hit as one CSV row (RFC 4180 quoting, LF terminated).
    pub fn write_csv_row(&self, out: &mut String) {
        let status = self.status.to_string();
        let origin_ms = self.origin_ms.to_string();
        let fields: [&str; 14] = [
            &self.event_id,
            &self.ts,
            &self.host,
            &self.path,
            &self.action,
            &self.method,
            &status,
            &self.user,
            &self.visitor,
            &self.referrer,
            &self.country,
            &self.user_agent,
            if self.bot { "true" } else { "false" },
            &origin_ms,
        ];
        csv::write_record(out, fields.iter().copied());
    }

    /// Builds a hit from one parsed CSV row (fields in [`COLUMNS`] order) and validates it.
    pub fn from_csv_fields<S: AsRef<str>>(fields: &[S]) -> Result<PageHit, RecordError> {
        if fields.len() != COLUMNS.len() {
            return Err(RecordError::Csv(format!(
                "expected {} fields, found {}",
                COLUMNS.len(),
                fields.len()
            )));
        }
        let f = |i: usize| fields[i].as_ref().to_string();
        let status = fields[6]
            .as_ref()
            .parse::<u16>()
            .map_err(|_| RecordError::Csv(format!("status {:?} is not a number", f(6))))?;
        let bot = match fields[12].as_ref() {
            "true" => true,
            "false" => false,
            other => return Err(RecordError::Csv(format!("bot {other:?} is not true/false"))),
        };
        let origin_ms = fields[13]
            .as_ref()
            .parse::<u32>()
            .map_err(|_| RecordError::Csv(format!("origin_ms {:?} is not a number", f(13))))?;
        let hit = PageHit {
            event_id: f(0),
            ts: f(1),
            host: f(2),
            path: f(3),
            action: f(4),
            method: f(5),
            status,
            user: f(7),
            visitor: f(8),
            referrer: f(9),
            country: f(10),
            user_agent: f(11),
            bot,
            origin_ms,
        };
        hit.validate()?;
        Ok(hit)
    }
}

/// The CSV header row (the names of [`COLUMNS`], LF terminated).
pub fn csv_header() -> String {
    let mut out = String::new();
    csv::write_record(&mut out, COLUMNS.iter().copied());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> PageHit {
        PageHit {
            event_id: "01936b2e-1f00-7abc-8def-0123456789ab".into(),
            ts: "2026-11-25T21:10:22.123Z".into(),
            host: "shop.example".into(),
            path: "/about".into(),
            action: "about".into(),
            method: "GET".into(),
            status: 200,
            user: "alice".into(),
            visitor: "0123456789abcdef".into(),
            referrer: "https://search.example/?q=a".into(),
            country: "DE".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
            bot: false,
            origin_ms: 12,
        }
    }

    #[test]
    fn json_keeps_field_order_of_columns() {
        let json = sample().to_json();
        let positions: Vec<usize> = COLUMNS
            .iter()
            .map(|c| json.find(&format!("\"{c}\":")).expect(c))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
    }

    #[test]
    fn header_is_the_column_names() {
        assert_eq!(
            csv_header(),
            "event_id,ts,host,path,action,method,status,user,visitor,referrer,country,user_agent,bot,origin_ms\n"
        );
    }

    #[test]
    fn csv_row_parses_back() {
        let mut hit = sample();
        hit.path = "/a,b\"c\r\nd/café".into();
        let mut row = String::new();
        hit.write_csv_row(&mut row);
        let rows = csv::parse(&row).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(PageHit::from_csv_fields(&rows[0]).unwrap(), hit);
    }

    #[test]
    fn from_json_rejects_missing_field_and_bad_json() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("visitor");
        let err = PageHit::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, RecordError::Json(m) if m.contains("visitor")),
            "{err}"
        );
        assert!(matches!(
            PageHit::from_json(b"{\"event_id\": "),
            Err(RecordError::Json(_))
        ));
    }

    #[test]
    fn from_json_validates() {
        let mut hit = sample();
        hit.user = "u".repeat(257);
        let err = PageHit::from_json(hit.to_json().as_bytes()).unwrap_err();
        assert_eq!(
            err,
            RecordError::Invalid(InvalidHit::TooLong {
                field: Field::User,
                len: 257,
                max: 256
            })
        );
    }

    #[test]
    fn csv_fields_with_wrong_types_are_errors() {
        let mut row = String::new();
        sample().write_csv_row(&mut row);
        let mut fields = csv::parse(&row).unwrap().remove(0);
        fields[6] = "OK".into();
        assert!(
            matches!(PageHit::from_csv_fields(&fields), Err(RecordError::Csv(m)) if m.contains("status"))
        );
        fields[6] = "200".into();
        fields[12] = "yes".into();
        assert!(
            matches!(PageHit::from_csv_fields(&fields), Err(RecordError::Csv(m)) if m.contains("bot"))
        );
        assert!(matches!(
            PageHit::from_csv_fields(&fields[..13]),
            Err(RecordError::Csv(_))
        ));
    }

    #[test]
    fn partition_key_is_the_visitor_never_constant() {
        let mut hit = sample();
        assert_eq!(hit.partition_key(), "0123456789abcdef");
        hit.visitor.clear();
        assert_eq!(hit.partition_key(), hit.event_id);
    }

    #[test]
    fn utc_date_comes_from_ts() {
        assert_eq!(sample().utc_date(), "2026-11-25");
    }
}
