//! `POST /collect`: page views and custom events reported by single-page apps
//! (`navigator.sendBeacon`).
//!
//! The body is JSON `{"path": "...", "referrer": "...", "event": "..."}` whatever the content
//! type (`sendBeacon` sends `text/plain` to avoid a preflight), at most [`MAX_BODY`] bytes.
//!
//! Who may send one: a browser names the page's origin in `Origin`, and a beacon from an
//! origin that is neither the worker's own nor in `COLLECT_ORIGINS` is refused (403) and
//! recorded nowhere, so other sites cannot make their visitors' browsers inflate the counts. A
//! request without `Origin` is let through: it does not come from a page in a browser (curl, a
//! server, an app), and such a client could forge any `Origin` anyway. The check is therefore
//! not authentication. What bounds one client is a cap per client address
//! (`transform::hit::client_key`: a keyed hash of the IPv4 address or the IPv6 /64), not per
//! visitor: a visitor id changes with the User-Agent, an address does not. Two caps count by
//! it: [`PerMinute`] in each isolate, and the `BEACON_LIMITER` binding per Cloudflare location.

use pagehit::is_event_name;
use serde::Deserialize;
use std::fmt;

/// Largest accepted body; a page view needs far less.
pub const MAX_BODY: usize = 4096;

/// A decoded beacon.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Beacon {
    /// The page viewed: an absolute path, or a full URL whose path is taken.
    pub path: String,
    /// The page's referrer (`document.referrer`).
    #[serde(default)]
    pub referrer: String,
    /// A custom event (`signup`, `cart:add`); absent for a page view.
    #[serde(default)]
    pub event: Option<String>,
}

/// Why a beacon was refused; the status and text go back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeaconError {
    /// Over [`MAX_BODY`] bytes (413).
    TooLarge(usize),
    /// Not a JSON object with a string `path` (400).
    BadJson(String),
    /// `path` is not an absolute path or http(s) URL (400).
    BadPath,
    /// `event` is not 1 to 64 characters of `A-Za-z0-9_.:-` (400).
    BadEvent(String),
    /// The page's origin may not send beacons here (403).
    OriginRefused(String),
    /// This client address sent more beacons this minute than the cap allows (429).
    TooMany,
}

impl BeaconError {
    /// HTTP status for the error.
    pub fn status(&self) -> u16 {
        match self {
            BeaconError::TooLarge(_) => 413,
            BeaconError::BadJson(_) | BeaconError::BadPath | BeaconError::BadEvent(_) => 400,
            BeaconError::OriginRefused(_) => 403,
            BeaconError::TooMany => 429,
        }
    }
}

impl fmt::Display for BeaconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BeaconError::TooLarge(n) => write!(
                f,
                "beacon body is over the {MAX_BODY}-byte limit ({n} bytes or more)"
            ),
            BeaconError::BadJson(e) => write!(
                f,
                "beacon body must be JSON {{\"path\": \"/...\", \"referrer\": \"...\", \"event\": \"...\"}}: {e}"
            ),
            BeaconError::BadPath => write!(f, "beacon path must start with / or be an http(s) URL"),
            BeaconError::BadEvent(e) => write!(
                f,
                "beacon event {e:?} must be 1 to 64 characters of A-Z, a-z, 0-9, _ . : -"
            ),
            BeaconError::OriginRefused(o) => write!(
                f,
                "origin {o} may not send beacons here (see COLLECT_ORIGINS)"
            ),
            BeaconError::TooMany => {
                write!(f, "too many beacons from this address; try again in a minute")
            }
        }
    }
}

/// Decodes and checks a beacon body.
pub fn parse(body: &[u8]) -> Result<Beacon, BeaconError> {
    if body.len() > MAX_BODY {
        return Err(BeaconError::TooLarge(body.len()));
    }
    let mut beacon: Beacon =
        serde_json::from_slice(body).map_err(|e| BeaconError::BadJson(e.to_string()))?;
    if let Some(rest) = beacon
        .path
        .strip_prefix("https://")
        .or_else(|| beacon.path.strip_prefix("http://"))
    {
        beacon.path = match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        };
    }
    if !beacon.path.starts_with('/') {
        return Err(BeaconError::BadPath);
    }
    if let Some(event) = &beacon.event {
        if !is_event_name(event) {
            // The name goes back in the message: keep that short and printable.
            let shown: String = event.chars().take(80).filter(|c| !c.is_control()).collect();
            return Err(BeaconError::BadEvent(shown));
        }
    }
    Ok(beacon)
}

/// Reads a body of at most `limit` bytes, chunk by chunk, keeping no more than `limit + 1`
/// bytes whatever `Content-Length` says (chunked bodies have none).
#[derive(Debug)]
pub struct LimitedBody {
    bytes: Vec<u8>,
    limit: usize,
}

impl LimitedBody {
    /// An empty body that takes up to `limit` bytes.
    pub fn new(limit: usize) -> LimitedBody {
        LimitedBody {
            bytes: Vec::new(),
            limit,
        }
    }

    /// How many more bytes are worth copying from the next chunk: one past the limit is enough
    /// to know it is too large.
    pub fn room(&self) -> usize {
        (self.limit + 1).saturating_sub(self.bytes.len())
    }

    /// Adds a chunk (only [`LimitedBody::room`] bytes of it); `Err` once over the limit, when
    /// the caller must stop reading.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), BeaconError> {
        let take = chunk.len().min(self.room());
        self.bytes.extend_from_slice(&chunk[..take]);
        if self.bytes.len() > self.limit {
            return Err(BeaconError::TooLarge(self.bytes.len()));
        }
        Ok(())
    }

    /// The body read.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Whether a beacon may be recorded, by its `Origin` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin`: not a page in a browser. Recorded, without CORS headers.
    Absent,
    /// An allowed origin: recorded, answered with this `access-control-allow-origin`.
    Allowed(String),
    /// Another site's page: refused (403), nothing recorded.
    Refused(String),
}

/// Checks `origin` against `COLLECT_ORIGINS` (`allowed`) and the worker's own origin
/// (`own`, `scheme://host[:port]` of the request): a site's own pages may always send beacons.
pub fn check_origin(allowed: &[String], own: &str, origin: Option<&str>) -> OriginCheck {
    let Some(origin) = origin else {
        return OriginCheck::Absent;
    };
    if origin.eq_ignore_ascii_case(own) {
        return OriginCheck::Allowed(origin.to_string());
    }
    match allowed_origin(allowed, Some(origin)) {
        Some(allow) => OriginCheck::Allowed(allow),
        None => OriginCheck::Refused(origin.to_string()),
    }
}

/// A per-isolate cap on beacons per client per minute: cheap (no storage, no subrequest) and
/// approximate (each isolate counts alone), enough to stop one client from adding thousands of
/// hits a minute through one isolate. For a cap across isolates, bind the Workers Rate
/// Limiting API (README).
#[derive(Debug, Default)]
pub struct PerMinute {
    minute: i64,
    /// (64-bit hash of the client key, beacons this minute), sorted by hash. A sorted vector,
    /// not a HashMap: the same lookups for a fraction of the Wasm.
    counts: Vec<(u64, u32)>,
    /// Beacons this minute from clients that came after the table was full, counted together.
    overflow: u32,
}

/// How long a Workers Rate Limiting binding (beacons, page views) may take to answer; without
/// an answer the request is let through (the limiter is local to the location and answers in
/// well under a millisecond when it works).
pub const LIMITER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// How many clients one isolate tracks in a minute. Memory stays bounded: past that, new
/// clients share one count with the same cap, so a flood of addresses gets at most one
/// client's worth of beacons through this isolate, never an unlimited number.
pub const MAX_TRACKED: usize = 10_000;

impl PerMinute {
    /// Counts a beacon from the client `key` at `now_ms`; `false` when it is over `max` this
    /// minute. `max == 0` switches the cap off.
    pub fn allow(&mut self, key: &str, now_ms: i64, max: u32) -> bool {
        if max == 0 {
            return true;
        }
        let minute = now_ms.div_euclid(60_000);
        if minute != self.minute {
            self.minute = minute;
            self.counts.clear();
            self.overflow = 0;
        }
        let hash = fnv1a(key);
        let n = match self.counts.binary_search_by_key(&hash, |(k, _)| *k) {
            Ok(i) => &mut self.counts[i].1,
            Err(i) if self.counts.len() < MAX_TRACKED => {
                self.counts.insert(i, (hash, 0));
                &mut self.counts[i].1
            }
            Err(_) => &mut self.overflow,
        };
        *n = n.saturating_add(1);
        *n <= max
    }
}

/// FNV-1a, 64 bits: clients are few per isolate and minute, so collisions do not matter.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The `access-control-allow-origin` value for a request from `origin`, when it is allowed.
pub fn allowed_origin(allowed: &[String], origin: Option<&str>) -> Option<String> {
    let origin = origin?;
    if allowed.iter().any(|a| a == "*") {
        return Some("*".to_string());
    }
    allowed
        .iter()
        .any(|a| a == origin)
        .then(|| origin.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_bodies() {
        assert_eq!(
            parse(br#"{"path":"/app/settings?tab=1","referrer":"https://a.example/"}"#).unwrap(),
            Beacon {
                path: "/app/settings?tab=1".into(),
                referrer: "https://a.example/".into(),
                event: None,
            }
        );
        assert_eq!(
            parse(br#"{"path":"/p?utm_source=x","event":"cart:add-1.b_c"}"#)
                .unwrap()
                .event
                .as_deref(),
            Some("cart:add-1.b_c")
        );
        assert_eq!(
            parse(br#"{"path":"https://shop.example/x/y"}"#)
                .unwrap()
                .path,
            "/x/y"
        );
        assert_eq!(
            parse(br#"{"path":"https://shop.example"}"#).unwrap().path,
            "/"
        );
    }

    #[test]
    fn bad_bodies() {
        assert!(matches!(parse(b"path=/x"), Err(BeaconError::BadJson(_))));
        assert!(
            matches!(parse(br#"{"referrer":"x"}"#), Err(e @ BeaconError::BadJson(_)) if e.to_string().contains("path"))
        );
        assert!(matches!(
            parse(br#"{"path":42}"#),
            Err(BeaconError::BadJson(_))
        ));
        assert_eq!(parse(br#"{"path":"relative"}"#), Err(BeaconError::BadPath));
        for bad in ["", "has space", "semi;colon", "é", &"e".repeat(65)] {
            let body = serde_json::json!({"path": "/", "event": bad}).to_string();
            let err = parse(body.as_bytes()).unwrap_err();
            assert!(matches!(err, BeaconError::BadEvent(_)), "{bad:?}: {err:?}");
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains("1 to 64 characters"), "{err}");
        }
        assert!(matches!(
            parse(br#"{"path":"/","event":7}"#),
            Err(BeaconError::BadJson(_))
        ));
        let big = format!(r#"{{"path":"/{}"}}"#, "a".repeat(MAX_BODY));
        assert_eq!(parse(big.as_bytes()).unwrap_err().status(), 413);
        let exact = format!(r#"{{"path":"/{}"}}"#, "a".repeat(MAX_BODY - 12));
        assert_eq!(exact.len(), MAX_BODY);
        assert!(parse(exact.as_bytes()).is_ok());
    }

    #[test]
    fn a_body_is_cut_one_byte_past_the_limit_whatever_its_chunks() {
        let mut body = LimitedBody::new(10);
        body.push(b"0123").unwrap();
        body.push(b"456789").unwrap();
        assert_eq!(body.room(), 1);
        let err = body.push(&[b'x'; 1 << 20]).unwrap_err();
        assert_eq!(err.status(), 413);
        assert_eq!(
            err,
            BeaconError::TooLarge(11),
            "kept no more than limit + 1"
        );

        let mut exact = LimitedBody::new(4);
        exact.push(b"ab").unwrap();
        exact.push(b"").unwrap();
        exact.push(b"cd").unwrap();
        assert_eq!(exact.into_bytes(), b"abcd");
    }

    #[test]
    fn origins_other_than_allowed_and_own_are_refused() {
        let allowed = vec!["https://app.example".to_string()];
        let own = "https://shop.example";
        assert_eq!(check_origin(&allowed, own, None), OriginCheck::Absent);
        assert_eq!(
            check_origin(&allowed, own, Some("https://app.example")),
            OriginCheck::Allowed("https://app.example".into())
        );
        assert_eq!(
            check_origin(&[], own, Some("https://shop.example")),
            OriginCheck::Allowed("https://shop.example".into()),
            "a site's own pages"
        );
        assert_eq!(
            check_origin(&allowed, own, Some("https://evil.example")),
            OriginCheck::Refused("https://evil.example".into())
        );
        assert_eq!(
            check_origin(&allowed, own, Some("null")),
            OriginCheck::Refused("null".into()),
            "sandboxed frames and file: pages"
        );
        assert_eq!(
            check_origin(&["*".into()], own, Some("https://any.example")),
            OriginCheck::Allowed("*".into())
        );
        assert_eq!(BeaconError::OriginRefused("x".into()).status(), 403);
    }

    #[test]
    fn per_client_cap_per_minute() {
        let mut cap = PerMinute::default();
        let t = 1_795_641_000_000;
        assert!(cap.allow("a", t, 2));
        assert!(cap.allow("a", t + 1, 2));
        assert!(!cap.allow("a", t + 2, 2), "third in the minute");
        assert!(cap.allow("b", t + 3, 2), "others are counted apart");
        assert!(cap.allow("a", t + 60_000, 2), "a new minute");
        assert!((0..100).all(|_| cap.allow("a", t, 0)), "0 switches it off");
        assert_eq!(BeaconError::TooMany.status(), 429);
    }

    #[test]
    fn a_full_table_refuses_new_clients_past_one_shared_count() {
        let mut cap = PerMinute::default();
        for i in 0..MAX_TRACKED {
            assert!(cap.allow(&i.to_string(), 0, 2));
        }
        assert_eq!(cap.counts.len(), MAX_TRACKED);
        // New clients now share one count of 2: two beacons pass, then none, whoever sends.
        let newcomers: Vec<bool> = (0..50)
            .map(|i| cap.allow(&format!("new-{i}"), 1, 2))
            .collect();
        assert_eq!(newcomers.iter().filter(|&&ok| ok).count(), 2);
        assert!(!newcomers[2..].iter().any(|&ok| ok), "{newcomers:?}");
        assert_eq!(cap.counts.len(), MAX_TRACKED, "memory stays bounded");
        assert!(cap.allow("0", 2, 2), "tracked clients keep their own count");
        assert!(!cap.allow("0", 3, 2));
        assert!(cap.allow("new-x", 60_000, 2), "a new minute starts afresh");
    }

    #[test]
    fn cors() {
        let allowed = vec!["https://app.example".to_string()];
        assert_eq!(
            allowed_origin(&allowed, Some("https://app.example")).as_deref(),
            Some("https://app.example")
        );
        assert_eq!(allowed_origin(&allowed, Some("https://evil.example")), None);
        assert_eq!(allowed_origin(&allowed, None), None);
        assert_eq!(
            allowed_origin(&["*".into()], Some("https://x.example")).as_deref(),
            Some("*")
        );
    }
}
