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
    let end = target.find(['?', '#']).unwrap_or(target.len());
    &target[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
