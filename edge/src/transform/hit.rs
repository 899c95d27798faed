//! Request facts -> [`PageHit`]: event id, timestamp, visitor id, action, bot flag, campaign
//! (`utm_*`), caps.
//!
//! Pure: the clock, the salt's day and randomness come in as arguments, so every rule is a
//! unit test.

use hmac::{Hmac, KeyInit, Mac};
use pagehit::rules::{
    escape_controls, is_bot, path_only, percent_decode, trim_referrer, ActionMap, Utm,
};
use pagehit::{time, Limits, PageHit, PAGEVIEW};
use sha2::Sha256;

/// What the edge knows about one page view once it has answered it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// When the request arrived (ms since the epoch).
    pub received_ms: i64,
    /// Host the client addressed.
    pub host: String,
    /// Request target: the path, percent-encoded as it came, with its query when it had one.
    /// Only the query's `utm_*` parameters are kept; the rest of it is dropped here.
    pub path: String,
    /// [`PAGEVIEW`], or a custom event's name from a beacon (already checked).
    pub event: String,
    /// HTTP method.
    pub method: String,
    /// Status the client got.
    pub status: u16,
    /// Signed-in user, empty when anonymous.
    pub user: String,
    /// Referring URL.
    pub referrer: String,
    /// Country code from the edge.
    pub country: String,
    /// Client user agent.
    pub user_agent: String,
    /// Client IP: hashed into the visitor id, never stored.
    pub client_ip: String,
    /// Time the origin took.
    pub origin_ms: u32,
}

impl RequestFacts {
    /// Facts of a page view with nothing known yet; the caller fills in what it knows.
    pub fn page_view(received_ms: i64) -> RequestFacts {
        RequestFacts {
            received_ms,
            status: 200,
            event: PAGEVIEW.to_string(),
            ..RequestFacts::default()
        }
    }
}

/// Builds the record for one page view. `day_salt` keys the visitor id: the salt of the day
/// (in the zone the reports are cut in) the hit belongs to ([`derived_salt`], or the random
/// one of `transform::salt`); `random` seeds the UUIDv7's random bits.
pub fn build_hit(
    facts: &RequestFacts,
    actions: &ActionMap,
    day_salt: &[u8],
    random: [u8; 10],
) -> PageHit {
    // Decoded for readable reports; control characters stay encoded, never stored raw.
    let path = escape_controls(&percent_decode(path_only(&facts.path))).into_owned();
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let path = Limits::clamp(&path, Limits::PATH).to_string();
    let ts = time::format_ts(facts.received_ms);
    let user_agent = escape_controls(&facts.user_agent);
    let user_agent = Limits::clamp(&user_agent, Limits::USER_AGENT).to_string();
    let host = Limits::clamp(&facts.host, Limits::HOST).to_string();
    let country = if facts.country.len() == 2
        && facts
            .country
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        facts.country.clone()
    } else {
        String::new()
    };
    let method = facts.method.to_ascii_uppercase();
    // The campaign is the one part of a query worth keeping; the rest often holds tokens.
    let query = facts
        .path
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .unwrap_or("");
    let utm = Utm::from_query(query);
    let event = if facts.event.is_empty() {
        PAGEVIEW.to_string()
    } else {
        facts.event.clone()
    };
    PageHit {
        event_id: uuid_v7(facts.received_ms, random),
        ts,
        visitor: visitor_id(day_salt, &facts.client_ip, &facts.user_agent, &host),
        action: actions.action_for(&path),
        bot: is_bot(&facts.user_agent),
        host,
        path,
        method: Limits::clamp(&method, Limits::METHOD).to_string(),
        status: facts.status.clamp(100, 599),
        user: Limits::clamp(&escape_controls(facts.user.trim()), Limits::USER).to_string(),
        referrer: Limits::clamp(&trim_referrer(&facts.referrer), Limits::REFERRER).to_string(),
        country,
        user_agent,
        origin_ms: facts.origin_ms,
        event: Limits::clamp(&event, Limits::EVENT).to_string(),
        utm_source: utm.source,
        utm_medium: utm.medium,
        utm_campaign: utm.campaign,
        utm_term: utm.term,
        utm_content: utm.content,
    }
}

/// A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, 74 random bits.
/// Time-ordered ids keep S3 keys and dedup indexes local.
pub fn uuid_v7(ms: i64, random: [u8; 10]) -> String {
    let ms = (ms.max(0) as u64) & 0xFFFF_FFFF_FFFF;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6..].copy_from_slice(&random);
    b[6] = 0x70 | (b[6] & 0x0F);
    b[8] = 0x80 | (b[8] & 0x3F);
    pagehit::rules::uuid_text(u128::from_be_bytes(b))
}

/// The salt of `day` derived from the secret `VISITOR_SALT`: HMAC-SHA256(secret,
/// `visitor-salt:<day>`). Used when no `VISITOR_SALTS` KV namespace is bound; whoever holds the
/// secret can make any day's salt again.
pub fn derived_salt(secret: &str, day: &str) -> Vec<u8> {
    hmac(secret.as_bytes(), format!("visitor-salt:{day}").as_bytes())
}

/// The pseudonymous visitor id: HMAC-SHA256 of (client IP, user agent, host) keyed by the salt
/// of the hit's day, first 8 bytes in hex. Without the salt it cannot be linked back to an IP;
/// across days it cannot be linked at all.
pub fn visitor_id(day_salt: &[u8], client_ip: &str, user_agent: &str, host: &str) -> String {
    let id = hmac(
        day_salt,
        format!("{client_ip}\n{user_agent}\n{host}").as_bytes(),
    );
    hex(&id[..8])
}

/// The part of a client address one client cannot change cheaply: an IPv4 address whole, an
/// IPv6 address's /64 network (`2001:db8:1:2::/64`; one subscriber gets a /64 at least, and
/// picks addresses inside it freely). An IPv4-mapped IPv6 address is its IPv4 address.
/// Anything that is not an address is its own key, so it still counts as one client.
pub fn address_prefix(ip: &str) -> String {
    let ip = ip.trim().to_ascii_lowercase();
    if !ip.contains(':') {
        return ip;
    }
    if let Some(v4) = ip
        .strip_prefix("::ffff:")
        .filter(|v4| v4.contains('.') && !v4.contains(':'))
    {
        return v4.to_string();
    }
    ipv6_net64(&ip).unwrap_or(ip)
}

/// `a:b:c:d::/64` of a textual IPv6 address (RFC 4291 section 2.2 forms), `None` when it is
/// not one. Written here: std's parser costs the Wasm more than these lines.
fn ipv6_net64(ip: &str) -> Option<String> {
    let ip = ip.split('%').next().unwrap_or(ip);
    // Byte search, not `str::find("::")`: the substring searcher costs the Wasm a kilobyte.
    let gap = |s: &str| s.as_bytes().windows(2).position(|w| w == b"::");
    // An embedded IPv4 address takes the place of two groups.
    let groups = |part: &str| -> Option<Vec<u16>> {
        let mut out = Vec::new();
        for g in part.split(':').filter(|g| !g.is_empty()) {
            if g.contains('.') {
                out.extend([0, 0]);
            } else if g.len() <= 4 {
                out.push(u16::from_str_radix(g, 16).ok()?);
            } else {
                return None;
            }
        }
        Some(out)
    };
    let mut all = [0u16; 8];
    match gap(ip).map(|i| (&ip[..i], &ip[i + 2..])) {
        Some((_, tail)) if gap(tail).is_some() => return None,
        Some((head, tail)) => {
            let (head, tail) = (groups(head)?, groups(tail)?);
            if head.len() + tail.len() > 7 {
                return None;
            }
            all[..head.len()].copy_from_slice(&head);
            all[8 - tail.len()..].copy_from_slice(&tail);
        }
        None => {
            let g = groups(ip)?;
            if g.len() != 8 {
                return None;
            }
            all.copy_from_slice(&g);
        }
    }
    Some(format!(
        "{:x}:{:x}:{:x}:{:x}::/64",
        all[0], all[1], all[2], all[3]
    ))
}

/// What the beacon and page-view caps count by: a keyed hash of the client's
/// [`address_prefix`], 16 hex characters, so that a client cannot dodge them by changing its
/// User-Agent (as it can its visitor id) and no raw address reaches a limiter's counters.
pub fn client_key(secret: &str, client_ip: &str) -> String {
    let data = format!("client-address:{}", address_prefix(client_ip));
    hex(&hmac(secret.as_bytes(), data.as_bytes())[..8])
}

// Not inlined: three callers share one copy in the Wasm.
#[inline(never)]
fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Fresh random bytes from the platform (crypto.getRandomValues in the worker).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // Without randomness the ids would collide; there is no sane way on without it.
    getrandom::getrandom(&mut buf).expect("the platform has a random source");
    buf
}

/// A uniform random number in [0, 1).
pub fn random_unit() -> f64 {
    (u64::from_le_bytes(random_bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts {
        RequestFacts {
            received_ms: 1_795_641_022_123, // 2026-11-25T21:10:22.123Z
            host: "shop.example".into(),
            path: "/about".into(),
            method: "get".into(),
            status: 200,
            user: "alice".into(),
            referrer: "https://search.example/".into(),
            country: "DE".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
                .into(),
            client_ip: "203.0.113.7".into(),
            origin_ms: 42,
            event: PAGEVIEW.into(),
        }
    }

    const DAY: &str = "2026-11-25";

    fn salt(secret: &str) -> Vec<u8> {
        derived_salt(secret, DAY)
    }

    #[test]
    fn builds_a_valid_hit() {
        let hit = build_hit(&facts(), &ActionMap::default(), &salt("s3cret"), [7; 10]);
        hit.validate().unwrap();
        assert_eq!(hit.ts, "2026-11-25T21:10:22.123Z");
        assert_eq!(hit.method, "GET");
        assert_eq!(hit.action, "about");
        assert_eq!(hit.user, "alice");
        assert!(!hit.bot);
        assert_eq!(hit.origin_ms, 42);
        assert_eq!(hit.country, "DE");
        assert_eq!(hit.event, PAGEVIEW);
        assert!(
            !hit.to_json().contains("203.0.113.7"),
            "the raw IP is never stored"
        );
    }

    #[test]
    fn decodes_paths_drops_queries_and_caps_fields() {
        let mut f = facts();
        f.path = "/p/a,b%22c/caf%C3%A9?token=secret".into();
        f.user_agent = "Googlebot/2.1 ".to_string() + &"x".repeat(600);
        f.country = "unknown".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.path, "/p/a,b\"c/café");
        assert_eq!(hit.action, "p");
        assert!(hit.bot);
        assert_eq!(hit.user_agent.len(), Limits::USER_AGENT);
        assert_eq!(hit.country, "");
        hit.validate().unwrap();

        f.path = format!("/{}", "é".repeat(2000));
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert!(hit.path.len() <= Limits::PATH);
        hit.validate().unwrap();
    }

    #[test]
    fn the_referrer_keeps_scheme_host_and_path_only() {
        let mut f = facts();
        f.referrer =
            "HTTPS://ann:pw@mail.example:8443/reset?token=s3cret&email=a@b.example#top".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.referrer, "https://mail.example:8443/reset");
        f.referrer = "android-app://com.example/\n".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.referrer, "android-app://com.example/%0A");
        f.referrer = "not a url".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.referrer, "");
        hit.validate().unwrap();
    }

    #[test]
    fn the_query_gives_the_campaign_and_nothing_else() {
        let mut f = facts();
        f.path = "/landing?token=s3cret&utm_source=news+letter&utm_medium=email&utm_campaign=black%20friday&utm_term=bo%0Aots&utm_content=a#frag".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.path, "/landing");
        assert_eq!(hit.utm_source, "news letter");
        assert_eq!(hit.utm_medium, "email");
        assert_eq!(hit.utm_campaign, "black friday");
        assert_eq!(hit.utm_term, "bo%0Aots", "control characters stay encoded");
        assert_eq!(hit.utm_content, "a");
        assert!(!hit.to_json().contains("s3cret"));
        hit.validate().unwrap();

        f.path = "/plain".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert!(hit.utm_source.is_empty() && hit.utm_campaign.is_empty());
    }

    #[test]
    fn custom_events_are_kept_and_page_views_are_pageview() {
        let mut f = facts();
        f.event = "cart:add".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.event, "cart:add");
        hit.validate().unwrap();
        f.event = String::new();
        assert_eq!(
            build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]).event,
            PAGEVIEW
        );
        assert_eq!(RequestFacts::page_view(5).event, PAGEVIEW);
    }

    #[test]
    fn control_characters_in_the_path_are_stored_encoded() {
        let mut f = facts();
        f.path = "/x%0A%3Ctr%3E".into();
        let hit = build_hit(&f, &ActionMap::default(), &salt("s"), [0; 10]);
        assert_eq!(hit.path, "/x%0A<tr>");
        hit.validate().unwrap();
    }

    #[test]
    fn the_visitor_is_salted_with_the_day_given() {
        let f = facts();
        let a = build_hit(&f, &ActionMap::default(), &derived_salt("s", DAY), [0; 10]);
        let b = build_hit(
            &f,
            &ActionMap::default(),
            &derived_salt("s", "2026-11-24"),
            [0; 10],
        );
        assert_eq!(
            a.visitor,
            visitor_id(
                &derived_salt("s", DAY),
                &f.client_ip,
                &f.user_agent,
                &f.host
            )
        );
        assert_ne!(a.visitor, b.visitor);
        assert_eq!(a.ts, b.ts, "the day of the salt never moves ts");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        for (ip, prefix) in [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7 ", "203.0.113.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:DB8:1:2::99", "2001:db8:1:2::/64"),
            ("2001:db8::1", "2001:db8:0:0::/64"),
            ("2001:db8:0:0:ffff::", "2001:db8:0:0::/64"),
            ("::1", "0:0:0:0::/64"),
            ("::", "0:0:0:0::/64"),
            ("fe80::1%eth0", "fe80:0:0:0::/64"),
            ("::ffff:198.51.100.4", "198.51.100.4"),
            ("64:ff9b::198.51.100.4", "64:ff9b:0:0::/64"),
            ("not an address", "not an address"),
            ("1:2:3", "1:2:3"),
            ("1::2::3", "1::2::3"),
            ("12345::1", "12345::1"),
        ] {
            assert_eq!(address_prefix(ip), prefix, "{ip}");
        }
        // Against std's parser, for addresses in every written form.
        for ip in [
            "2001:db8:85a3::8a2e:370:7334",
            "2001:db8:85a3:0:0:8a2e:370:7334",
            "2a00:1450:4001:82b::200e",
            "2606:4700:4700::1111",
            "fd00:a:b::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "1:2:3::7:8",
            "::ffff:0:1.2.3.4",
        ] {
            let seg = ip.parse::<std::net::Ipv6Addr>().unwrap().segments();
            let want = format!("{:x}:{:x}:{:x}:{:x}::/64", seg[0], seg[1], seg[2], seg[3]);
            assert_eq!(address_prefix(ip), want, "{ip}");
        }
    }

    #[test]
    fn the_client_key_is_the_address_s_not_the_visitor_s() {
        let a = client_key("k", "203.0.113.7");
        assert_eq!(a.len(), 16);
        assert!(!a.contains("203"));
        assert_eq!(a, client_key("k", "203.0.113.7"));
        assert_ne!(a, client_key("k", "203.0.113.8"));
        assert_ne!(a, client_key("other", "203.0.113.7"), "keyed");
        assert_eq!(
            client_key("k", "2001:db8:1:2::1"),
            client_key("k", "2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "one /64, one client"
        );
        assert_ne!(
            client_key("k", "2001:db8:1:2::1"),
            client_key("k", "2001:db8:1:3::1")
        );
    }

    #[test]
    fn uuid_v7_layout() {
        let id = uuid_v7(0x0123_4567_89ab, [0xff; 10]);
        assert_eq!(id, "01234567-89ab-7fff-bfff-ffffffffffff");
        let id = uuid_v7(1, [0; 10]);
        assert_eq!(id, "00000000-0001-7000-8000-000000000000");
        // Ordered by time.
        assert!(uuid_v7(1000, [0xff; 10]) < uuid_v7(1001, [0; 10]));
    }

    #[test]
    fn visitor_id_is_keyed_daily_and_stable_within_a_day() {
        let day = |d: &str| derived_salt("k", d);
        let a = visitor_id(&day("2026-11-25"), "203.0.113.7", "UA", "h");
        assert_eq!(a.len(), 16);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a, visitor_id(&day("2026-11-25"), "203.0.113.7", "UA", "h"));
        assert_ne!(a, visitor_id(&day("2026-11-26"), "203.0.113.7", "UA", "h"));
        assert_ne!(
            a,
            visitor_id(
                &derived_salt("other", "2026-11-25"),
                "203.0.113.7",
                "UA",
                "h"
            )
        );
        assert_ne!(a, visitor_id(&day("2026-11-25"), "203.0.113.8", "UA", "h"));
        assert_ne!(a, visitor_id(&day("2026-11-25"), "203.0.113.7", "UA2", "h"));
    }

    #[test]
    fn randomness_is_random() {
        assert_ne!(random_bytes::<10>(), random_bytes::<10>());
        let r = random_unit();
        assert!((0.0..1.0).contains(&r));
    }
}
