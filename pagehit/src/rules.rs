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
mod tests;
