//! What comes in: requests, answered by the proxied origin, the built-in demo site or the beacon
//! endpoint (each returns the response and the facts a hit is built from), and the fallback
//! queue's messages.

pub mod beacon;
pub mod demo;
pub mod proxy;
pub mod queue;

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == name).then(|| {
            let v = v.trim().trim_matches('"');
            pagehit::rules::percent_decode(v)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::cookie_value;

    #[test]
    fn cookie_values() {
        let h = "theme=dark; user=alice%20b; other=x";
        assert_eq!(cookie_value(h, "user").as_deref(), Some("alice b"));
        assert_eq!(cookie_value("user=\"bob\"", "user").as_deref(), Some("bob"));
        assert_eq!(cookie_value("username=eve", "user"), None);
        assert_eq!(cookie_value("", "user"), None);
    }
}
