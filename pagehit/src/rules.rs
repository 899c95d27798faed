//! Which requests are page views, what action a path is, and which user agents are crawlers.
//!
//! These rules live here, once, so the edge that applies them and the tests and tools that check
//! them can never disagree.

use crate::validate::Limits;
use std::collections::BTreeMap;

/// Configured path -> action names, e.g. `{"/": "index", "/about-us": "about"}`.
///
/// Paths match exactly, ignoring one trailing slash (`/about/` is `/about`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionMap {
    actions: BTreeMap<String, String>,
}

impl ActionMap {
    /// Parses the JSON object form used in the worker's `ACTION_MAP` variable.
    pub fn from_json(json: &str) -> Result<ActionMap, String> {
        let raw: BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|e| format!("ACTION_MAP must be a JSON object of path -> action: {e}"))?;
        let mut actions = BTreeMap::new();
        for (path, action) in raw {
            if !path.starts_with('/') {
                return Err(format!("ACTION_MAP path {path:?} must start with /"));
            }
            if action.is_empty() || action.len() > Limits::ACTION {
                return Err(format!(
                    "ACTION_MAP action for {path:?} must be 1 to {} bytes",
                    Limits::ACTION
                ));
            }
            actions.insert(trim_slash(&path).to_string(), action);
        }
        Ok(ActionMap { actions })
    }

    /// The action of `path`: the configured one, else `index` for `/`, else the first path
    /// segment.
    pub fn action_for(&self, path: &str) -> String {
        if let Some(action) = self.actions.get(trim_slash(path)) {
            return action.clone();
        }
        match path.split('/').find(|s| !s.is_empty()) {
            Some(segment) => Limits::clamp(segment, Limits::ACTION).to_string(),
            None => "index".to_string(),
        }
    }
}

fn trim_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    }
}

/// File extensions of static assets: requests for these are not page views.
pub const ASSET_EXTENSIONS: &[&str] = &[
    // styles and scripts, with their source maps
    "css",
    "js",
    "mjs",
    "map",
    "wasm", // images
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "avif",
    "bmp",
    "apng", // fonts
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot", // media
    "mp4",
    "webm",
    "mp3",
    "ogg", // machine-read files
    "txt",
    "xml",
    "webmanifest",
];

/// True when `path` names a static asset (by extension, case-insensitively).
pub fn is_asset(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext)) => ASSET_EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(ext)),
        None => false,
    }
}

/// Lowercase user-agent fragments of known crawlers, link previewers, monitors and HTTP
/// libraries. Maintained by hand; add a pattern with a test line in `bot_examples` below.
pub const BOT_PATTERNS: &[&str] = &[
    // generic words crawlers put in their names
    "bot/",
    "bot;",
    "-bot",
    "_bot",
    "crawler",
    "spider",
    "scraper",
    // search engines and AI crawlers without "bot" in a matched form
    "slurp",
    "baiduspider",
    "yandex",
    "sogou",
    "exabot",
    "ia_archiver",
    "archive.org_bot",
    "bytespider",
    "ccbot",
    "gptbot",
    "claudebot",
    "perplexitybot",
    "amazonbot",
    "petalbot",
    "semrush",
    "ahrefs",
    "mj12bot",
    "dotbot",
    "seznambot",
    "applebot",
    // link previews
    "facebookexternalhit",
    "facebookcatalog",
    "twitterbot",
    "linkedinbot",
    "slackbot",
    "discordbot",
    "telegrambot",
    "whatsapp",
    "skypeuripreview",
    "embedly",
    "pinterest",
    "redditbot",
    // monitors and audits
    "pingdom",
    "uptimerobot",
    "statuscake",
    "site24x7",
    "newrelicpinger",
    "datadog",
    "lighthouse",
    "pagespeed",
    "gtmetrix",
    // headless browsers and HTTP libraries
    "headlesschrome",
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "axios/",
    "node-fetch",
    "undici",
    "libwww-perl",
    "scrapy",
    "postmanruntime",
    "insomnia",
];

/// True when the user agent belongs to a crawler, monitor or script. An empty user agent counts
/// as a bot: every browser sends one.
pub fn is_bot(user_agent: &str) -> bool {
    let ua = user_agent.trim().to_ascii_lowercase();
    if ua.is_empty() {
        return true;
    }
    // "...Bot" at the very end, e.g. "Mozilla/5.0 (compatible; ExampleBot)".
    if ua.ends_with("bot") || ua.ends_with("bot)") {
        return true;
    }
    BOT_PATTERNS.iter().any(|p| ua.contains(p))
}

/// The path part of a request target: the query string and fragment are dropped, because they
/// often carry tokens or personal data and they split one page into many rows.
pub fn path_only(target: &str) -> &str {
    // Bytes, not chars: both marks are ASCII, and a char pattern decoded every character of
    // every referrer the analyzer reads.
    let end = target
        .bytes()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(target.len());
    &target[..end]
}

/// Whether `s` holds a control character: C0 (including CR, LF, tab), DEL or C1. Valid hits
/// have none ([`crate::InvalidHit::Control`]).
pub fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    // Every field of every row is checked: one pass without early exit (which the compiler
    // vectorises) over the bytes that can start a control character, then the exact check
    // only for the rare text that has one. C1 controls are U+0080..=U+009F: 0xC2 0x80..=0x9F.
    let suspect = b.iter().fold(false, |acc, &c| {
        acc | (c < 0x20) | (c == 0x7f) | (c == 0xc2)
    });
    suspect
        && (b.iter().any(|&c| c < 0x20 || c == 0x7f)
            || b.windows(2).any(|w| w[0] == 0xc2 && w[1] < 0xa0))
}

/// `s` with every control character percent-encoded (`\n` -> `%0A`), the way the edge stores
/// text that came from a client: the view is kept and no row can be split or forged.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !has_control(s) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        if ch.is_control() {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Characters that steer how the text around them is shown without showing themselves: the
/// format characters (Unicode category Cf: bidi embeddings, overrides and isolates, zero-width
/// spaces and joiners, the soft hyphen, tag characters) and the line and paragraph separators
/// (Zl, Zp), as inclusive ranges in order. Unicode 16.0, written by hand so that `pagehit` needs
/// no Unicode crate; `tests::invisible_ranges_match_unicode` checks it against regex-syntax's
/// tables.
const INVISIBLE: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Whether `ch` is not shown as itself: a control character (Cc), a format character (Cf) or
/// a line or paragraph separator (Zl, Zp).
pub fn is_invisible(ch: char) -> bool {
    ch.is_control()
        || (ch >= '\u{ad}'
            && INVISIBLE
                .binary_search_by(|&(lo, hi)| {
                    if hi < ch {
                        std::cmp::Ordering::Less
                    } else if lo > ch {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .is_ok())
}

/// `s` as people should see it: every control, format, line- or paragraph-separator character
/// ([`is_invisible`]) written as a visible escape (`\n`, `\t`, `\u{202e}`, `\u{200b}`), so that
/// a recorded value cannot move the cursor, reorder the text around it (a right-to-left
/// override makes `/txt.exe` read as `/exe.txt`), hide part of itself or break a line. The one
/// rule for every human-readable output (the analyzer's table, Markdown and HTML, the
/// dashboard); machine-readable outputs (JSON, CSV) keep values exactly as recorded.
pub fn visible_text(s: &str) -> std::borrow::Cow<'_, str> {
    // Printable ASCII needs no look-up; U+0080 and up is rare in most fields.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(is_invisible) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        if is_invisible(ch) {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Percent-decodes a URL path, query value or cookie value; keeps the raw text when the result
/// would not be UTF-8. `+` is left alone (it means a space only in form-encoded queries).
pub fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_string())
}

/// The authority (host and port, without user info) and the path of an absolute URL; query
/// and fragment dropped. `None` for anything that is not `scheme://host...`.
pub fn url_authority_and_path(url: &str) -> Option<(&str, &str)> {
    // The scheme ends at the first ':', which must begin "://": a later "://" would leave a
    // ':' in the scheme, which no scheme has. Bytes, not a substring search: this runs on
    // every referrer a report reads, and the searcher's setup cost more than the search.
    let colon = url.bytes().position(|b| b == b':')?;
    let (scheme, rest) = (&url[..colon], url[colon..].strip_prefix("://")?);
    let mut bytes = scheme.bytes();
    let scheme_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    if !scheme_ok {
        return None;
    }
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match authority.bytes().rposition(|b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    if before_port(host_port).is_empty() {
        return None;
    }
    Some((host_port, path_only(&rest[end..])))
}

/// `host:port` without `:port` (the text before the first ':').
fn before_port(host_port: &str) -> &str {
    let end = host_port
        .bytes()
        .position(|b| b == b':')
        .unwrap_or(host_port.len());
    &host_port[..end]
}

/// The referrer as a hit keeps it: scheme, host (and port) and path only. A referrer's query
/// and fragment often carry tokens and personal data (`/reset?token=...`), and user info is a
/// credential. Anything that is not an absolute URL is dropped (empty).
pub fn trim_referrer(url: &str) -> String {
    let Some((scheme, _)) = url.split_once("://") else {
        return String::new();
    };
    match url_authority_and_path(url) {
        Some((host_port, path)) => {
            let out = format!("{}://{host_port}{path}", scheme.to_ascii_lowercase());
            escape_controls(&out).into_owned()
        }
        None => String::new(),
    }
}

/// The host of a URL, lowercase, without port or user info: `https://User@News.Example:8443/x`
/// -> `news.example`; `None` for anything that is not `scheme://host...`.
pub fn url_host(url: &str) -> Option<String> {
    let (host_port, _) = url_authority_and_path(url)?;
    let host = host_port.split(':').next().unwrap_or("");
    Some(host.to_lowercase())
}

/// Where a hit came from, by its referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referral<'a> {
    /// No referrer, or one that is not an absolute URL.
    Direct,
    /// A referrer on the hit's own host (port ignored, case-insensitive): internal navigation.
    Internal,
    /// Another site: its host, lowercase, without port or user info.
    External(std::borrow::Cow<'a, str>),
}

impl Referral<'_> {
    /// The report's name for it: the host, `(internal)` or `(direct)`.
    pub fn label(&self) -> &str {
        match self {
            Referral::Direct => "(direct)",
            Referral::Internal => "(internal)",
            Referral::External(host) => host,
        }
    }
}

/// Classifies a hit's `referrer` against the hit's own `host` (both as recorded).
pub fn referral<'a>(referrer: &'a str, host: &str) -> Referral<'a> {
    let Some((authority, _)) = url_authority_and_path(referrer) else {
        return Referral::Direct;
    };
    let (ref_host, own) = (before_port(authority), before_port(host));
    let lower = if ref_host
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        std::borrow::Cow::Owned(ref_host.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(ref_host)
    };
    let same = if own.is_ascii() && lower.is_ascii() {
        own.eq_ignore_ascii_case(&lower)
    } else {
        own.to_lowercase() == *lower
    };
    if same {
        Referral::Internal
    } else {
        Referral::External(lower)
    }
}

/// The source of a page view, as every report names it: `utm_source` when it is set, else
/// the referral's label (the referrer's host, `(internal)` or `(direct)`, see [`referral`]).
pub fn source<'a>(utm_source: &'a str, referrer: &'a str, host: &str) -> std::borrow::Cow<'a, str> {
    use std::borrow::Cow;
    if !utm_source.is_empty() {
        return Cow::Borrowed(utm_source);
    }
    match referral(referrer, host) {
        Referral::External(h) => h,
        Referral::Internal => Cow::Borrowed("(internal)"),
        Referral::Direct => Cow::Borrowed("(direct)"),
    }
}

/// The campaign parameters of a page's URL ([`crate::PageHit`]'s `utm_*` fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub term: String,
    pub content: String,
}

impl Utm {
    /// Takes the `utm_*` parameters of a query string (without `?`) and nothing else:
    /// form-decoded (`+` is a space, `%xx` bytes), control characters percent-encoded, each
    /// capped at [`Limits::UTM`] bytes. The first occurrence of a parameter wins.
    pub fn from_query(query: &str) -> Utm {
        let mut utm = Utm::default();
        let mut seen = [false; 5];
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "utm_source" => 0,
                "utm_medium" => 1,
                "utm_campaign" => 2,
                "utm_term" => 3,
                "utm_content" => 4,
                _ => continue,
            };
            if std::mem::replace(&mut seen[slot], true) {
                continue;
            }
            let decoded = percent_decode(&value.replace('+', " "));
            let value = escape_controls(decoded.trim()).into_owned();
            let value = Limits::clamp(&value, Limits::UTM).to_string();
            match slot {
                0 => utm.source = value,
                1 => utm.medium = value,
                2 => utm.campaign = value,
                3 => utm.term = value,
                _ => utm.content = value,
            }
        }
        utm
    }

    /// Whether any parameter is set.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
            && self.medium.is_empty()
            && self.campaign.is_empty()
            && self.term.is_empty()
            && self.content.is_empty()
    }
}

/// The lowercase hyphenated form in which every event id is written
/// (`01936b2e-1f00-7abc-8def-0000000000ff`), from its 128 bits.
pub fn uuid_text(id: u128) -> String {
    let h = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`url_authority_and_path`] as it was written with `str` patterns, the reference for the
    /// byte scans that replaced it.
    fn authority_and_path_reference(url: &str) -> Option<(&str, &str)> {
        let (scheme, rest) = url.split_once("://")?;
        let mut chars = scheme.chars();
        let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
        if !scheme_ok {
            return None;
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host_port.split(':').next().unwrap_or("").is_empty() {
            return None;
        }
        let target = &rest[end..];
        let path_end = target.find(['?', '#']).unwrap_or(target.len());
        Some((host_port, &target[..path_end]))
    }

    proptest::proptest! {
        /// The byte scans split every URL as the `str` patterns did, whatever its characters
        /// (schemes, ':' and "://" anywhere, multi-byte text).
        #[test]
        fn url_scans_agree_with_str_patterns(url in "[a-zA-Z0-9+.:/?#@é日-]{0,24}") {
            proptest::prop_assert_eq!(url_authority_and_path(&url), authority_and_path_reference(&url));
        }
    }

    #[test]
    fn urls_split_as_the_pattern_version_did() {
        for url in [
            "https://a.example/x?y#z",
            "https://a.example:8443",
            "h:ttps://a.example/",
            "ht-tp+s.1://a/b",
            "1http://a/b",
            "://a/b",
            "https:/a/b",
            "https://user:pw@h.example:1/p",
            "https://:80/p",
            "mailto:x@y",
            "https://é.example/日?x",
            "a://b://c",
        ] {
            assert_eq!(
                url_authority_and_path(url),
                authority_and_path_reference(url),
                "{url}"
            );
        }
        assert_eq!(
            url_authority_and_path("https://News.example:8443/a/b?q#f"),
            Some(("News.example:8443", "/a/b"))
        );
    }

    #[test]
    fn invisible_ranges_match_unicode() {
        use regex_syntax::hir::{Class, HirKind};
        let hir = regex_syntax::Parser::new()
            .parse(r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]")
            .unwrap();
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            panic!("{hir:?}");
        };
        let reference = |ch: char| {
            class
                .ranges()
                .iter()
                .any(|r| r.start() <= ch && ch <= r.end())
        };
        let mismatches: Vec<String> = (0..=0x10_ffff_u32)
            .filter_map(char::from_u32)
            .filter(|&ch| is_invisible(ch) != reference(ch))
            .map(|ch| format!("U+{:04X}", ch as u32))
            .collect();
        assert!(mismatches.is_empty(), "differ from Unicode: {mismatches:?}");
        assert!(
            INVISIBLE.windows(2).all(|w| w[0].1 < w[1].0),
            "ranges in order, apart"
        );
    }

    #[test]
    fn visible_text_shows_what_would_hide_or_reorder() {
        for (raw, shown) in [
            ("/plain/path?a=b", "/plain/path?a=b"),
            ("/café/日本", "/café/日本"),
            ("a\nb\tc\u{1b}[31m", "a\\nb\\tc\\u{1b}[31m"),
            ("/\u{202e}txt.exe", "/\\u{202e}txt.exe"),
            ("/a\u{2066}b\u{2069}", "/a\\u{2066}b\\u{2069}"),
            ("pay\u{200b}pal", "pay\\u{200b}pal"),
            ("a\u{2028}b\u{2029}c", "a\\u{2028}b\\u{2029}c"),
            ("\u{feff}x\u{ad}", "\\u{feff}x\\u{ad}"),
            ("\u{85}\u{7f}", "\\u{85}\\u{7f}"),
            ("tag\u{e0041}", "tag\\u{e0041}"),
        ] {
            assert_eq!(visible_text(raw), shown, "{raw:?}");
        }
        assert!(matches!(
            visible_text("/café"),
            std::borrow::Cow::Borrowed(_)
        ));
        // Shown text never holds an invisible character, whatever came in.
        let all: String = (0..=0x10_ffff_u32).filter_map(char::from_u32).collect();
        assert!(!visible_text(&all).chars().any(is_invisible));
    }

    #[test]
    fn configured_actions_win_then_index_then_first_segment() {
        let map =
            ActionMap::from_json(r#"{"/": "home", "/about-us/": "about", "/p/x": "x"}"#).unwrap();
        assert_eq!(map.action_for("/"), "home");
        assert_eq!(map.action_for("/about-us"), "about");
        assert_eq!(map.action_for("/about-us/"), "about");
        assert_eq!(map.action_for("/p/x"), "x");
        assert_eq!(map.action_for("/p/y"), "p");
        let empty = ActionMap::default();
        assert_eq!(empty.action_for("/"), "index");
        assert_eq!(empty.action_for("//"), "index");
        assert_eq!(empty.action_for("/contact"), "contact");
        assert_eq!(empty.action_for("/blog/2026/hello"), "blog");
        assert_eq!(empty.action_for("//blog"), "blog");
    }

    #[test]
    fn action_map_errors_are_clear() {
        assert!(ActionMap::from_json("[1]")
            .unwrap_err()
            .contains("JSON object"));
        assert!(ActionMap::from_json(r#"{"about": "a"}"#)
            .unwrap_err()
            .contains("must start with /"));
        assert!(ActionMap::from_json(r#"{"/a": ""}"#)
            .unwrap_err()
            .contains("1 to"));
    }

    #[test]
    fn assets_by_extension() {
        for p in [
            "/static/app.css",
            "/app.JS",
            "/favicon.ico",
            "/img/a.b.webp",
            "/fonts/x.woff2",
            "/app.js.map",
            "/robots.txt",
            "/.well-known/x.txt",
        ] {
            assert!(is_asset(p), "{p}");
        }
        for p in [
            "/",
            "/about",
            "/blog/v1.2/post",
            "/report.pdf",
            "/dir.css/page",
            "/x.",
        ] {
            assert!(!is_asset(p), "{p}");
        }
    }

    #[test]
    fn bot_examples() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; YandexBot/3.0)",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
            "curl/8.5.0",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (compatible; Some-Crawler 1.0)",
            "ExampleBot",
            "",
            "   ",
        ] {
            assert!(is_bot(ua), "{ua:?}");
        }
        for ua in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
            "Mozilla/5.0 (Linux; Android 13; CUBOT KINGKONG) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
        ] {
            assert!(!is_bot(ua), "{ua:?}");
        }
    }

    #[test]
    fn path_only_drops_query_and_fragment() {
        assert_eq!(path_only("/a/b?token=x#f"), "/a/b");
        assert_eq!(path_only("/a#f?x"), "/a");
        assert_eq!(path_only("/"), "/");
    }

    #[test]
    fn control_characters_are_found_and_percent_encoded() {
        assert!(!has_control("/café/日本 a\u{2028}"));
        assert!(!has_control(
            "\u{a0}¢ non-breaking space and cent: 0xC2 0xA0, 0xC2 0xA2"
        ));
        for c in [
            "\n", "\r", "\t", "\0", "\u{1b}", "\u{7f}", "\u{80}", "\u{9f}",
        ] {
            assert!(has_control(&format!("/a{c}b")), "{c:?}");
        }
        assert_eq!(escape_controls("/x\n<tr>\r\u{85}é"), "/x%0A<tr>%0D%C2%85é");
        assert!(matches!(
            escape_controls("/ok"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn percent_decoding_edge_cases() {
        assert_eq!(percent_decode("/a%20b"), "/a b");
        assert_eq!(percent_decode("/100%"), "/100%");
        assert_eq!(percent_decode("/%zz"), "/%zz");
        assert_eq!(
            percent_decode("/%ff"),
            "/%ff",
            "invalid UTF-8 keeps the raw form"
        );
        assert_eq!(percent_decode("/%4"), "/%4");
        assert_eq!(percent_decode("/caf%C3%A9"), "/café");
        assert_eq!(percent_decode("a+b"), "a+b");
    }

    #[test]
    fn referrers_keep_scheme_host_and_path_only() {
        assert_eq!(
            trim_referrer("https://user:pw@Site.example:8443/reset/?token=abc#frag"),
            "https://Site.example:8443/reset/"
        );
        assert_eq!(trim_referrer("HTTP://news.example"), "http://news.example");
        assert_eq!(
            trim_referrer("android-app://com.example.app/"),
            "android-app://com.example.app/"
        );
        assert_eq!(
            trim_referrer("https://a.example/x%0Ay\n"),
            "https://a.example/x%0Ay%0A"
        );
        assert_eq!(trim_referrer("not a url"), "");
        assert_eq!(trim_referrer("https:///path"), "");
        assert_eq!(trim_referrer(""), "");
    }

    #[test]
    fn url_hosts() {
        for (url, host) in [
            ("https://User@News.Example:8443/x?y#z", Some("news.example")),
            ("http://search.example", Some("search.example")),
            ("android-app://com.example.app/", Some("com.example.app")),
            ("https://bücher.example/", Some("bücher.example")),
            ("search.example/x", None),
            ("://x", None),
            ("1http://x", None),
            ("https:///path", None),
            ("", None),
        ] {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn campaign_parameters_from_a_query() {
        let utm = Utm::from_query(
            "id=7&utm_source=news+letter&utm_medium=email&utm_campaign=%C3%A9t%C3%A9%1B&utm_source=second&token=x&utm_content",
        );
        assert_eq!(
            utm,
            Utm {
                source: "news letter".into(),
                medium: "email".into(),
                campaign: "été%1B".into(),
                term: String::new(),
                content: String::new(),
            }
        );
        assert!(Utm::from_query("a=1&b").is_empty());
        let long = Utm::from_query(&format!("utm_term={}", "x".repeat(300)));
        assert_eq!(long.term.len(), Limits::UTM);
    }

    #[test]
    fn referrals() {
        assert_eq!(referral("", "shop.example"), Referral::Direct);
        assert_eq!(referral("not a url", "shop.example"), Referral::Direct);
        assert_eq!(
            referral("https://Shop.Example:8443/a?b", "shop.example:443"),
            Referral::Internal
        );
        assert_eq!(
            referral("https://News.Example/x", "shop.example"),
            Referral::External("news.example".into())
        );
        assert_eq!(
            referral("https://BÜCHER.example/", "bücher.example"),
            Referral::Internal
        );
        assert_eq!(
            referral("https://a.example/", "b.example").label(),
            "a.example"
        );
        assert_eq!(Referral::Direct.label(), "(direct)");
        assert_eq!(Referral::Internal.label(), "(internal)");
    }

    #[test]
    fn sources() {
        assert_eq!(source("", "", "shop.example"), "(direct)");
        assert_eq!(
            source("", "https://shop.example/a", "shop.example"),
            "(internal)"
        );
        assert_eq!(
            source("", "https://News.Example/x", "shop.example"),
            "news.example"
        );
        assert_eq!(
            source("newsletter", "https://news.example/x", "shop.example"),
            "newsletter",
            "utm_source wins over the referrer"
        );
    }
}
