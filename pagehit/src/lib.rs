//! The page-hit record shared by every stage of the pipeline.
//!
//! One [`PageHit`] is one page view (or one custom event). It travels as JSON on the stream
//! ([`PageHit::to_json`], [`PageHit::from_json`]) and lands as one CSV row in S3
//! ([`PageHit::write_csv_row`], read back with [`csv::FileReader`]). The field names and their
//! order are the same in both forms: [`COLUMNS`].
//!
//! # Versions of the record
//!
//! Columns are only ever appended, never reordered or renamed. Version 1 had the first
//! [`V1_COLUMNS`] names of [`COLUMNS`]; version 2 appended `event` and the five `utm_*`
//! columns. A reader maps columns by the header's names, so it reads every version: a column
//! the file does not have takes its default ([`default_value`]), and a column it does not know
//! (written by a newer writer) is ignored. A file whose header lacks a version-1 column is not a
//! hit file ([`csv::HeaderError`]). JSON on the stream follows the same rule: a record without
//! the newer keys decodes with their defaults.
//!
//! This crate knows nothing of Kinesis, S3, Cloudflare or polars; it depends on serde and
//! csv-core only, so it builds for `wasm32-unknown-unknown` (the edge worker) and natively
//! (aggregator, analyzer).

pub mod csv;
pub mod json;
pub mod layout;
pub mod rules;
pub mod time;
mod validate;

pub use validate::{is_event_name, Field, HitRef, InvalidHit, Limits};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The record's field names, in the order of the JSON object and of the CSV columns.
pub const COLUMNS: [&str; 20] = [
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
    // Version 2.
    "event",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// How many of [`COLUMNS`] the record's first version had; every readable header has them.
pub const V1_COLUMNS: usize = 14;

/// The `event` of a page view; any other event is a custom event (a goal, a click).
pub const PAGEVIEW: &str = "pageview";

/// The value a column takes in a row of a file written before the column existed.
pub fn default_value(column: &str) -> &'static str {
    match column {
        "event" => PAGEVIEW,
        _ => "",
    }
}

fn pageview() -> String {
    PAGEVIEW.to_string()
}

/// One page view or custom event, as recorded at the edge.
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
    /// Where the visitor came from: scheme, host and path of the referring URL; empty when none.
    pub referrer: String,
    /// Two-letter country code from the edge, empty when unknown.
    pub country: String,
    /// The client's user agent, capped at [`Limits::USER_AGENT`] bytes.
    pub user_agent: String,
    /// True when the user agent is a known crawler ([`rules::is_bot`]).
    pub bot: bool,
    /// Milliseconds the origin took to answer (0 when the edge answered itself).
    pub origin_ms: u32,
    /// [`PAGEVIEW`] for a page view, else the name of a custom event (`signup`, `cart:add`).
    #[serde(default = "pageview")]
    pub event: String,
    /// `utm_source` of the page's URL (campaign tracking); empty when absent.
    #[serde(default)]
    pub utm_source: String,
    /// `utm_medium` of the page's URL.
    #[serde(default)]
    pub utm_medium: String,
    /// `utm_campaign` of the page's URL.
    #[serde(default)]
    pub utm_campaign: String,
    /// `utm_term` of the page's URL.
    #[serde(default)]
    pub utm_term: String,
    /// `utm_content` of the page's URL.
    #[serde(default)]
    pub utm_content: String,
}

impl Default for PageHit {
    /// An empty (invalid) page view: a base for building hits field by field.
    fn default() -> Self {
        PageHit {
            event_id: String::new(),
            ts: String::new(),
            host: String::new(),
            path: String::new(),
            action: String::new(),
            method: String::new(),
            status: 0,
            user: String::new(),
            visitor: String::new(),
            referrer: String::new(),
            country: String::new(),
            user_agent: String::new(),
            bot: false,
            origin_ms: 0,
            event: pageview(),
            utm_source: String::new(),
            utm_medium: String::new(),
            utm_campaign: String::new(),
            utm_term: String::new(),
            utm_content: String::new(),
        }
    }
}

/// Why a record from the stream or a CSV row could not be turned into a valid [`PageHit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The bytes are not a JSON object of the record's shape (bad JSON, missing or mistyped field).
    Json(String),
    /// A CSV row is not a row of the record (see [`csv::RowError`]).
    Csv(csv::RowError),
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

    /// Checks every field; the first broken rule is the error. The rules are [`HitRef`]'s, the
    /// same that a CSV reader applies to each row.
    pub fn validate(&self) -> Result<(), InvalidHit> {
        self.view().validate().map(|_| ())
    }

    /// The hit as borrowed fields.
    pub fn view(&self) -> HitRef<'_> {
        HitRef {
            event_id: &self.event_id,
            ts: &self.ts,
            host: &self.host,
            path: &self.path,
            action: &self.action,
            method: &self.method,
            status: self.status,
            user: &self.user,
            visitor: &self.visitor,
            referrer: &self.referrer,
            country: &self.country,
            user_agent: &self.user_agent,
            bot: self.bot,
            origin_ms: self.origin_ms,
            event: &self.event,
            utm_source: &self.utm_source,
            utm_medium: &self.utm_medium,
            utm_campaign: &self.utm_campaign,
            utm_term: &self.utm_term,
            utm_content: &self.utm_content,
        }
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

    /// Appends this hit as one CSV row (RFC 4180 quoting, LF terminated), in [`COLUMNS`] order.
    pub fn write_csv_row(&self, out: &mut String) {
        self.view().write_csv_row(out);
    }
}

impl<'a> HitRef<'a> {
    /// The value of a text column by its name; `None` for `status`, `bot`, `origin_ms` and
    /// names that are not columns.
    pub fn text(&self, column: &str) -> Option<&'a str> {
        Some(match column {
            "event_id" => self.event_id,
            "ts" => self.ts,
            "host" => self.host,
            "path" => self.path,
            "action" => self.action,
            "method" => self.method,
            "user" => self.user,
            "visitor" => self.visitor,
            "referrer" => self.referrer,
            "country" => self.country,
            "user_agent" => self.user_agent,
            "event" => self.event,
            "utm_source" => self.utm_source,
            "utm_medium" => self.utm_medium,
            "utm_campaign" => self.utm_campaign,
            "utm_term" => self.utm_term,
            "utm_content" => self.utm_content,
            _ => return None,
        })
    }

    /// Appends this hit as one CSV row (RFC 4180 quoting, LF terminated), in [`COLUMNS`] order.
    pub fn write_csv_row(&self, out: &mut String) {
        let status = self.status.to_string();
        let origin_ms = self.origin_ms.to_string();
        let fields: [&str; COLUMNS.len()] = [
            self.event_id,
            self.ts,
            self.host,
            self.path,
            self.action,
            self.method,
            &status,
            self.user,
            self.visitor,
            self.referrer,
            self.country,
            self.user_agent,
            if self.bot { "true" } else { "false" },
            &origin_ms,
            self.event,
            self.utm_source,
            self.utm_medium,
            self.utm_campaign,
            self.utm_term,
            self.utm_content,
        ];
        csv::write_record(out, fields.iter().copied());
    }

    /// An owned copy.
    pub fn to_owned_hit(&self) -> PageHit {
        PageHit {
            event_id: self.event_id.to_string(),
            ts: self.ts.to_string(),
            host: self.host.to_string(),
            path: self.path.to_string(),
            action: self.action.to_string(),
            method: self.method.to_string(),
            status: self.status,
            user: self.user.to_string(),
            visitor: self.visitor.to_string(),
            referrer: self.referrer.to_string(),
            country: self.country.to_string(),
            user_agent: self.user_agent.to_string(),
            bot: self.bot,
            origin_ms: self.origin_ms,
            event: self.event.to_string(),
            utm_source: self.utm_source.to_string(),
            utm_medium: self.utm_medium.to_string(),
            utm_campaign: self.utm_campaign.to_string(),
            utm_term: self.utm_term.to_string(),
            utm_content: self.utm_content.to_string(),
        }
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
            referrer: "https://search.example/results".into(),
            country: "DE".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
            bot: false,
            origin_ms: 12,
            utm_source: "newsletter".into(),
            utm_campaign: "winter sale, 2026".into(),
            ..PageHit::default()
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
            "event_id,ts,host,path,action,method,status,user,visitor,referrer,country,user_agent,bot,origin_ms,\
             event,utm_source,utm_medium,utm_campaign,utm_term,utm_content\n"
        );
        assert_eq!(COLUMNS[V1_COLUMNS - 1], "origin_ms");
    }

    #[test]
    fn version_1_json_decodes_as_a_page_view() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        for c in &COLUMNS[V1_COLUMNS..] {
            v.as_object_mut().unwrap().remove(*c);
        }
        let hit = PageHit::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(hit.event, PAGEVIEW);
        assert_eq!(hit.utm_source, "");
        assert_eq!(default_value("event"), PAGEVIEW);
        assert_eq!(default_value("utm_term"), "");
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
    fn text_columns_by_name() {
        let hit = sample();
        let view = hit.view();
        for column in COLUMNS {
            let typed = matches!(column, "status" | "bot" | "origin_ms");
            assert_eq!(view.text(column).is_none(), typed, "{column}");
        }
        assert_eq!(view.text("utm_campaign"), Some("winter sale, 2026"));
        assert_eq!(view.text("nope"), None);
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
