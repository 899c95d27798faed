//! The session cookie the login form sets: `<expiry>.<HMAC-SHA256 of it>`, keyed by a key
//! derived from the token. Nothing is stored on the server; a new token ends every session.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The cookie's name.
pub const NAME: &str = "pagehit_session";

/// How long a login lasts.
pub const LIFETIME_SECS: i64 = 12 * 3600;

/// Makes and checks session cookies.
pub struct Sessions {
    key: [u8; 32],
}

impl Sessions {
    /// Keyed by `token`.
    pub fn new(token: &str) -> Sessions {
        let mut h = Sha256::new();
        h.update(b"pagehit dashboard session cookie key\0");
        h.update(token.as_bytes());
        Sessions {
            key: h.finalize().into(),
        }
    }

    fn mac(&self, expiry: i64) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes any key length");
        mac.update(format!("session:{expiry}").as_bytes());
        mac
    }

    /// A cookie value valid until `now_secs` + [`LIFETIME_SECS`].
    pub fn issue(&self, now_secs: i64) -> String {
        let expiry = now_secs + LIFETIME_SECS;
        let tag = self.mac(expiry).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("{expiry}.{hex}")
    }

    /// Whether `value` is a cookie this server issued that has not expired.
    pub fn valid(&self, value: &str, now_secs: i64) -> bool {
        let Some((expiry, hex)) = value.split_once('.') else {
            return false;
        };
        let Ok(expiry) = expiry.parse::<i64>() else {
            return false;
        };
        let Some(tag) = unhex(hex) else {
            return false;
        };
        // verify_slice compares in constant time.
        expiry > now_secs && self.mac(expiry).verify_slice(&tag).is_ok()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The value of cookie `name` in a `Cookie` header.
pub fn find<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_cookies_are_valid_until_they_expire() {
        let s = Sessions::new("a token of sixteen+");
        let c = s.issue(1000);
        assert!(s.valid(&c, 1000));
        assert!(s.valid(&c, 1000 + LIFETIME_SECS - 1));
        assert!(!s.valid(&c, 1000 + LIFETIME_SECS), "expired");
        assert!(
            !Sessions::new("another token......").valid(&c, 1000),
            "another key"
        );
        let (expiry, tag) = c.split_once('.').unwrap();
        let later = format!("{}.{tag}", expiry.parse::<i64>().unwrap() + 3600);
        assert!(!s.valid(&later, 1000), "the expiry is signed");
        for bad in ["", "x", "1.2", "99999999999.zz", &c[..c.len() - 1]] {
            assert!(!s.valid(bad, 1000), "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(find("a=1; pagehit_session=x.y; b=2", NAME), Some("x.y"));
        assert_eq!(find("a=1", NAME), None);
    }
}
