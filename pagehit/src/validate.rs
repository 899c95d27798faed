//! What makes a [`PageHit`] valid: field formats and length caps.

use crate::time;
use std::fmt;

/// Byte caps on the free-text fields. The edge clamps to these ([`Limits::clamp`]) so the hits it
/// makes are always valid; the aggregator rejects anything longer.
pub struct Limits;

impl Limits {
    /// `path`: long enough for any real route, short enough to keep rows small.
    pub const PATH: usize = 2048;
    /// `referrer`: same cap as `path`.
    pub const REFERRER: usize = 2048;
    /// `user_agent`: real browsers stay well under this.
    pub const USER_AGENT: usize = 512;
    /// `user`: a name or an email address.
    pub const USER: usize = 256;
    /// `host`: a DNS name is at most 253 bytes, plus a port.
    pub const HOST: usize = 260;
    /// `action`: a short label.
    pub const ACTION: usize = 128;
    /// `method`: longest standard method is 7 bytes; leave room for extension methods.
    pub const METHOD: usize = 16;
    /// `event`: a short name.
    pub const EVENT: usize = 64;
    /// Each `utm_*` value.
    pub const UTM: usize = 256;

    /// Cuts `s` to at most `max` bytes on a char boundary.
    pub fn clamp(s: &str, max: usize) -> &str {
        if s.len() <= max {
            return s;
        }
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        &s[..end]
    }
}

/// A record field, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    EventId,
    Ts,
    Host,
    Path,
    Action,
    Method,
    Status,
    User,
    Visitor,
    Referrer,
    Country,
    UserAgent,
    Bot,
    OriginMs,
    Event,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
}

impl Field {
    /// Every field, in [`crate::COLUMNS`] order.
    pub const ALL: [Field; crate::COLUMNS.len()] = [
        Field::EventId,
        Field::Ts,
        Field::Host,
        Field::Path,
        Field::Action,
        Field::Method,
        Field::Status,
        Field::User,
        Field::Visitor,
        Field::Referrer,
        Field::Country,
        Field::UserAgent,
        Field::Bot,
        Field::OriginMs,
        Field::Event,
        Field::UtmSource,
        Field::UtmMedium,
        Field::UtmCampaign,
        Field::UtmTerm,
        Field::UtmContent,
    ];

    /// The field's column name.
    pub fn name(self) -> &'static str {
        crate::COLUMNS[self as usize]
    }
}

/// Why a decoded hit is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidHit {
    /// A required field is empty.
    Empty { field: Field },
    /// A field is longer than its cap, in bytes.
    TooLong {
        field: Field,
        len: usize,
        max: usize,
    },
    /// A field does not have its required form.
    Malformed {
        field: Field,
        expected: &'static str,
    },
    /// A text field holds a control character (CR, LF, tab, ESC, ...). Stored raw, these split
    /// rows in line-based readers (Athena's OpenCSVSerde) and move terminals' cursors; the
    /// edge percent-encodes them ([`crate::rules::escape_controls`]).
    Control { field: Field },
}

impl fmt::Display for InvalidHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidHit::Empty { field } => write!(f, "{} is empty", field.name()),
            InvalidHit::TooLong { field, len, max } => {
                write!(
                    f,
                    "{} is {len} bytes, over the {max}-byte cap",
                    field.name()
                )
            }
            InvalidHit::Malformed { field, expected } => {
                write!(f, "{} is not {expected}", field.name())
            }
            InvalidHit::Control { field } => {
                write!(f, "{} holds a control character", field.name())
            }
        }
    }
}

impl std::error::Error for InvalidHit {}

/// A hit as borrowed fields: a [`crate::PageHit`]'s ([`crate::PageHit::view`]) or a CSV row's
/// ([`crate::csv::RowReader`]). Its [`HitRef::validate`] holds every rule of a valid hit, so
/// the stream's decoder and every file reader apply exactly the same ones.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HitRef<'a> {
    pub event_id: &'a str,
    pub ts: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub action: &'a str,
    pub method: &'a str,
    pub status: u16,
    pub user: &'a str,
    pub visitor: &'a str,
    pub referrer: &'a str,
    pub country: &'a str,
    pub user_agent: &'a str,
    pub bot: bool,
    pub origin_ms: u32,
    pub event: &'a str,
    pub utm_source: &'a str,
    pub utm_medium: &'a str,
    pub utm_campaign: &'a str,
    pub utm_term: &'a str,
    pub utm_content: &'a str,
}

/// A free-text field: at most `max` bytes, no control characters.
fn text(field: Field, value: &str, max: usize) -> Result<(), InvalidHit> {
    if value.len() > max {
        return Err(InvalidHit::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    if crate::rules::has_control(value) {
        return Err(InvalidHit::Control { field });
    }
    Ok(())
}

fn required(field: Field, value: &str, max: usize) -> Result<(), InvalidHit> {
    if value.is_empty() {
        return Err(InvalidHit::Empty { field });
    }
    text(field, value, max)
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// Whether `s` is a valid `event`: 1 to [`Limits::EVENT`] characters of `A-Za-z0-9_.:-`.
pub fn is_event_name(s: &str) -> bool {
    (1..=Limits::EVENT).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
}

impl HitRef<'_> {
    /// Checks every field; the first broken rule is the error. Returns `ts` as milliseconds
    /// since the Unix epoch (readers need it and should not parse it twice).
    pub fn validate(&self) -> Result<i64, InvalidHit> {
        if !is_uuid(self.event_id) {
            return Err(InvalidHit::Malformed {
                field: Field::EventId,
                expected: "a lowercase hyphenated UUID",
            });
        }
        let Some(ts_ms) = time::parse_ts(self.ts) else {
            return Err(InvalidHit::Malformed {
                field: Field::Ts,
                expected: "an RFC 3339 UTC time with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)",
            });
        };
        required(Field::Host, self.host, Limits::HOST)?;
        required(Field::Path, self.path, Limits::PATH)?;
        if !self.path.starts_with('/') {
            return Err(InvalidHit::Malformed {
                field: Field::Path,
                expected: "an absolute path starting with /",
            });
        }
        required(Field::Action, self.action, Limits::ACTION)?;
        required(Field::Method, self.method, Limits::METHOD)?;
        if !self.method.bytes().all(|c| c.is_ascii_uppercase()) {
            return Err(InvalidHit::Malformed {
                field: Field::Method,
                expected: "an uppercase HTTP method",
            });
        }
        if !(100..=599).contains(&self.status) {
            return Err(InvalidHit::Malformed {
                field: Field::Status,
                expected: "an HTTP status from 100 to 599",
            });
        }
        text(Field::User, self.user, Limits::USER)?;
        if self.visitor.len() != 16
            || !self
                .visitor
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(InvalidHit::Malformed {
                field: Field::Visitor,
                expected: "16 lowercase hex characters",
            });
        }
        text(Field::Referrer, self.referrer, Limits::REFERRER)?;
        // Cloudflare uses ISO 3166-1 alpha-2 codes plus `XX` (unknown) and `T1` (Tor).
        if !(self.country.is_empty()
            || (self.country.len() == 2
                && self
                    .country
                    .bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())))
        {
            return Err(InvalidHit::Malformed {
                field: Field::Country,
                expected: "empty or a two-letter country code",
            });
        }
        text(Field::UserAgent, self.user_agent, Limits::USER_AGENT)?;
        if !is_event_name(self.event) {
            return Err(InvalidHit::Malformed {
                field: Field::Event,
                expected: "1 to 64 characters of A-Z a-z 0-9 _ . : -",
            });
        }
        for (field, value) in [
            (Field::UtmSource, self.utm_source),
            (Field::UtmMedium, self.utm_medium),
            (Field::UtmCampaign, self.utm_campaign),
            (Field::UtmTerm, self.utm_term),
            (Field::UtmContent, self.utm_content),
        ] {
            text(field, value, Limits::UTM)?;
        }
        Ok(ts_ms)
    }

    /// Whether this is a page view (not a custom event).
    pub fn is_pageview(&self) -> bool {
        self.event == crate::PAGEVIEW
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample;
    use crate::PageHit;

    /// A change to a hit, and the field it breaks.
    type Breaker = (fn(&mut PageHit), Field);

    #[test]
    fn sample_is_valid() {
        sample().validate().unwrap();
    }

    #[test]
    fn caps_are_exact() {
        let mut hit = sample();
        hit.path = format!("/{}", "p".repeat(Limits::PATH - 1));
        hit.referrer = "r".repeat(Limits::REFERRER);
        hit.user_agent = "u".repeat(Limits::USER_AGENT);
        hit.user = "n".repeat(Limits::USER);
        hit.validate().unwrap();

        let cases: [(Breaker, usize); 4] = [
            ((|h| h.path.push('x'), Field::Path), Limits::PATH),
            (
                (|h| h.referrer.push('x'), Field::Referrer),
                Limits::REFERRER,
            ),
            (
                (|h| h.user_agent.push('x'), Field::UserAgent),
                Limits::USER_AGENT,
            ),
            ((|h| h.user.push('x'), Field::User), Limits::USER),
        ];
        for ((grow, field), max) in cases {
            let mut h = hit.clone();
            grow(&mut h);
            assert_eq!(
                h.validate(),
                Err(InvalidHit::TooLong {
                    field,
                    len: max + 1,
                    max
                })
            );
        }
    }

    #[test]
    fn formats_are_checked() {
        let checks: [Breaker; 13] = [
            (|h| h.event_id = "not-a-uuid".into(), Field::EventId),
            (|h| h.event_id = h.event_id.to_uppercase(), Field::EventId),
            (|h| h.ts = "2026-11-25".into(), Field::Ts),
            (|h| h.path = "about".into(), Field::Path),
            (|h| h.method = "get".into(), Field::Method),
            (|h| h.status = 99, Field::Status),
            (|h| h.visitor = "xyz".into(), Field::Visitor),
            (|h| h.country = "Germany".into(), Field::Country),
            (|h| h.country = "de".into(), Field::Country),
            (|h| h.event = String::new(), Field::Event),
            (|h| h.event = "sign up".into(), Field::Event),
            (|h| h.event = "é".into(), Field::Event),
            (|h| h.event = "e".repeat(65), Field::Event),
        ];
        for (breakit, field) in checks {
            let mut h = sample();
            breakit(&mut h);
            assert!(
                matches!(h.validate(), Err(InvalidHit::Malformed { field: f, .. }) if f == field),
                "{field:?}: {:?}",
                h.validate()
            );
        }
        let mut h = sample();
        h.host.clear();
        assert_eq!(h.validate(), Err(InvalidHit::Empty { field: Field::Host }));
        h = sample();
        h.user.clear();
        h.referrer.clear();
        h.country.clear();
        h.validate().unwrap();
    }

    #[test]
    fn events_and_campaigns() {
        let mut h = sample();
        h.event = "cart:add.v2-x_1".into();
        h.utm_term = "t".repeat(Limits::UTM);
        h.validate().unwrap();
        h.utm_content = "c".repeat(Limits::UTM + 1);
        assert_eq!(
            h.validate(),
            Err(InvalidHit::TooLong {
                field: Field::UtmContent,
                len: Limits::UTM + 1,
                max: Limits::UTM
            })
        );
        assert!(!h.view().is_pageview());
        assert!(sample().view().is_pageview());
    }

    #[test]
    fn control_characters_are_invalid_in_every_text_field() {
        type Setter = fn(&mut PageHit, &str);
        let setters: [(Setter, Field); 10] = [
            (|h, c| h.host.push_str(c), Field::Host),
            (|h, c| h.path.push_str(c), Field::Path),
            (|h, c| h.action.push_str(c), Field::Action),
            (|h, c| h.user.push_str(c), Field::User),
            (|h, c| h.referrer.push_str(c), Field::Referrer),
            (|h, c| h.user_agent.push_str(c), Field::UserAgent),
            (|h, c| h.utm_source.push_str(c), Field::UtmSource),
            (|h, c| h.utm_medium.push_str(c), Field::UtmMedium),
            (|h, c| h.utm_campaign.push_str(c), Field::UtmCampaign),
            (|h, c| h.utm_term.push_str(c), Field::UtmTerm),
        ];
        for (set, field) in setters {
            for c in ["\n", "\r", "\t", "\u{1b}", "\u{7f}", "\u{85}", "\0"] {
                let mut h = sample();
                set(&mut h, c);
                assert_eq!(h.validate(), Err(InvalidHit::Control { field }), "{c:?}");
            }
        }
        let mut h = sample();
        h.path = "/café/\u{2028}/日本".into();
        h.validate().unwrap();
    }

    #[test]
    fn validate_returns_the_timestamp() {
        assert_eq!(
            sample().view().validate(),
            Ok(crate::time::parse_ts("2026-11-25T21:10:22.123Z").unwrap())
        );
    }

    #[test]
    fn clamp_respects_char_boundaries() {
        assert_eq!(Limits::clamp("héllo", 2), "h");
        assert_eq!(Limits::clamp("héllo", 3), "hé");
        assert_eq!(Limits::clamp("abc", 10), "abc");
    }

    #[test]
    fn error_messages_name_the_field() {
        let e = InvalidHit::TooLong {
            field: Field::UserAgent,
            len: 600,
            max: 512,
        };
        assert_eq!(
            e.to_string(),
            "user_agent is 600 bytes, over the 512-byte cap"
        );
    }
}
