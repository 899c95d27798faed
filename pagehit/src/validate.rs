//! What makes a [`PageHit`] valid: field formats and length caps.

use crate::{time, PageHit};
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
}

impl Field {
    /// The field's column name.
    pub fn name(self) -> &'static str {
        match self {
            Field::EventId => "event_id",
            Field::Ts => "ts",
            Field::Host => "host",
            Field::Path => "path",
            Field::Action => "action",
            Field::Method => "method",
            Field::Status => "status",
            Field::User => "user",
            Field::Visitor => "visitor",
            Field::Referrer => "referrer",
            Field::Country => "country",
            Field::UserAgent => "user_agent",
        }
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
        }
    }
}

impl std::error::Error for InvalidHit {}

fn cap(field: Field, value: &str, max: usize) -> Result<(), InvalidHit> {
    if value.len() > max {
        return Err(InvalidHit::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

fn required(field: Field, value: &str, max: usize) -> Result<(), InvalidHit> {
    if value.is_empty() {
        return Err(InvalidHit::Empty { field });
    }
    cap(field, value, max)
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

impl PageHit {
    /// Checks every field; the first broken rule is the error.
    pub fn validate(&self) -> Result<(), InvalidHit> {
        if !is_uuid(&self.event_id) {
            return Err(InvalidHit::Malformed {
                field: Field::EventId,
                expected: "a lowercase hyphenated UUID",
            });
        }
        if time::parse_ts(&self.ts).is_none() {
            return Err(InvalidHit::Malformed {
                field: Field::Ts,
                expected: "an RFC 3339 UTC time with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)",
            });
        }
        required(Field::Host, &self.host, Limits::HOST)?;
        required(Field::Path, &self.path, Limits::PATH)?;
        if !self.path.starts_with('/') {
            return Err(InvalidHit::Malformed {
                field: Field::Path,
                expected: "an absolute path starting with /",
            });
        }
        required(Field::Action, &self.action, Limits::ACTION)?;
        required(Field::Method, &self.method, Limits::METHOD)?;
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
        cap(Field::User, &self.user, Limits::USER)?;
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
        cap(Field::Referrer, &self.referrer, Limits::REFERRER)?;
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
        cap(Field::UserAgent, &self.user_agent, Limits::USER_AGENT)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample;

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
        let checks: [Breaker; 9] = [
            (|h| h.event_id = "not-a-uuid".into(), Field::EventId),
            (|h| h.event_id = h.event_id.to_uppercase(), Field::EventId),
            (|h| h.ts = "2026-11-25".into(), Field::Ts),
            (|h| h.path = "about".into(), Field::Path),
            (|h| h.method = "get".into(), Field::Method),
            (|h| h.status = 99, Field::Status),
            (|h| h.visitor = "xyz".into(), Field::Visitor),
            (|h| h.country = "Germany".into(), Field::Country),
            (|h| h.country = "de".into(), Field::Country),
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
