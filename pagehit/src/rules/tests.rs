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
    let map = ActionMap::from_json(r#"{"/": "home", "/about-us/": "about", "/p/x": "x"}"#).unwrap();
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
