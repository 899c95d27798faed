//! The edge worker end to end: the real Wasm build under `wrangler dev`, putting real
//! `PutRecords` calls to moto's Kinesis, read back with aws-sdk-kinesis.
//!
//! Run with `cargo xtask test` (it installs the tools and builds the worker first).

mod edge_support;

use edge_support::*;
use pagehit::PageHit;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use xtask::kinesis::{self, wait_for_records};
use xtask::moto::Moto;
use xtask::wrangler::{self, WranglerDev};

/// The fields a test can predict, per hit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    path: String,
    method: String,
    status: u16,
    user: String,
    referrer: String,
    action: String,
    bot: bool,
}

fn seen(path: &str, status: u16, user: &str, referrer: &str, action: &str, bot: bool) -> Seen {
    Seen {
        path: path.into(),
        method: "GET".into(),
        status,
        user: user.into(),
        referrer: referrer.into(),
        action: action.into(),
        bot,
    }
}

/// The predictable fields of a hit that arrived.
fn seen_of(h: &PageHit) -> Seen {
    Seen {
        path: h.path.clone(),
        method: h.method.clone(),
        status: h.status,
        user: h.user.clone(),
        referrer: h.referrer.clone(),
        action: h.action.clone(),
        bot: h.bot,
    }
}

fn multiset(items: impl IntoIterator<Item = Seen>) -> BTreeMap<Seen, usize> {
    let mut m = BTreeMap::new();
    for s in items {
        *m.entry(s).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn demo_site_page_views_reach_kinesis_exactly_once_with_the_right_fields() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "hits", 2).await.unwrap();
    let dev = WranglerDev::start("demo", &collector_vars(&moto.endpoint, "hits"))
        .await
        .unwrap();
    let base = &dev.url;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = now_ms();
    let mut expected = Vec::new();
    let mut responses = Vec::new();

    // The eight demo pages, signed in (cookie) and anonymous, with and without a referrer.
    let pages = [
        "/",
        "/about",
        "/contact",
        "/products",
        "/services",
        "/blog",
        "/faq",
        "/portfolio",
    ];
    for (i, page) in pages.iter().enumerate() {
        let action = match *page {
            "/" => "index",
            "/about" => "about-us", // from ACTION_MAP
            p => &p[1..],
        };
        let user = if i % 2 == 0 { "alice" } else { "" };
        let referrer = if i % 3 == 0 {
            "https://search.example/?q=shop"
        } else {
            ""
        };
        // Stored without its query: search terms and tokens stay out of the data.
        let stored_referrer = referrer.trim_end_matches("?q=shop");
        let mut req = http
            .get(format!("{base}{page}"))
            .header("user-agent", FIREFOX);
        if !user.is_empty() {
            req = req.header("cookie", format!("theme=dark; user={user}"));
        }
        if !referrer.is_empty() {
            req = req.header("referer", referrer);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{page}");
        responses.push(resp);
        expected.push(seen(page, 200, user, stored_referrer, action, false));
    }

    // A second visitor (other user agent), a user name with CSV-special characters.
    let resp = http
        .get(format!("{base}/blog"))
        .header("user-agent", CHROME)
        .header("cookie", "user=O%27Brien%2C%20%22Bob%22%20%E2%9C%93")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Signed in as <b>O'Brien, &quot;Bob&quot; ✓</b>"));
    expected.push(seen("/blog", 200, "O'Brien, \"Bob\" ✓", "", "blog", false));

    // A path with commas, quotes and unicode: not a demo page, so 404, still a page view.
    let resp = http
        .get(format!("{base}/products/a,b%22c/caf%C3%A9?utm_source=x"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    responses.push(resp);
    expected.push(seen(
        "/products/a,b\"c/café",
        404,
        "",
        "",
        "products",
        false,
    ));

    // A crawler: recorded and flagged.
    let resp = http
        .get(format!("{base}/about"))
        .header("user-agent", GOOGLEBOT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    expected.push(seen("/about", 200, "", "", "about-us", true));

    // Not page views: assets, HEAD, the collector's own endpoints.
    let css = http
        .get(format!("{base}/static/site.css"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let icon = http
        .get(format!("{base}/favicon.ico"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    for asset in [
        "/static/app.js",
        "/img/logo.png",
        "/app.js.map",
        "/fonts/x.woff2",
    ] {
        let resp = http
            .get(format!("{base}{asset}"))
            .header("user-agent", FIREFOX)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{asset}");
    }
    assert_eq!(
        http.head(format!("{base}/faq"))
            .header("user-agent", FIREFOX)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    // Beacons: text/plain as sendBeacon sends it, and JSON with CORS.
    let resp = http
        .post(format!("{base}/collect"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("user-agent", CHROME)
        .header("cookie", "user=carol")
        .body(r#"{"path":"/app/settings?tab=2","referrer":"https://app.example/home"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    expected.push(seen(
        "/app/settings",
        200,
        "carol",
        "https://app.example/home",
        "app",
        false,
    ));
    let resp = http
        .post(format!("{base}/collect"))
        .header("content-type", "application/json")
        .header("origin", "https://app.example")
        .header("user-agent", CHROME)
        .body(r#"{"path":"https://app.example/app/reports"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    expected.push(seen("/app/reports", 200, "", "", "app", false));

    // Bad beacons: clear errors, nothing recorded.
    let bad = http
        .post(format!("{base}/collect"))
        .header("user-agent", CHROME)
        .body("path=/x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("beacon body must be JSON"));
    let bad = http
        .post(format!("{base}/collect"))
        .body(r#"{"path":"nope"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let big = format!(r#"{{"path":"/{}"}}"#, "a".repeat(5000));
    let bad = http
        .post(format!("{base}/collect"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 413);
    assert_eq!(
        http.get(format!("{base}/collect"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{base}/collect"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-methods"],
        "POST, OPTIONS"
    );
    let pre = http
        .request(reqwest::Method::OPTIONS, format!("{base}/collect"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 403);
    for r in &responses {
        assert!(r.headers().get("x-analytics-user").is_none());
    }
    let finished = now_ms();

    wait_for_records(&kin, "hits", expected.len(), Duration::from_secs(30))
        .await
        .unwrap();
    // Give stragglers (hits that should not exist) a moment to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = kinesis::read_all(&kin, "hits").await.unwrap();
    let host = dev.url.trim_start_matches("http://");
    let hits = decode_all(&records, host, started, finished);
    let got = multiset(hits.iter().map(seen_of));
    assert_eq!(
        got,
        multiset(expected.clone()),
        "exactly the expected page views, each once"
    );

    // One visitor per (IP, user agent) on a day: Firefox and Chrome and Googlebot here.
    let visitors = |ua: &str| {
        hits.iter()
            .filter(|h| h.user_agent == ua)
            .map(|h| h.visitor.clone())
            .collect::<HashSet<_>>()
    };
    assert_eq!(visitors(FIREFOX).len(), 1);
    assert_eq!(visitors(CHROME).len(), 1);
    assert_ne!(visitors(FIREFOX), visitors(CHROME));
    assert!(
        hits.iter().all(|h| h.origin_ms == 0),
        "the demo answers at the edge"
    );
    assert!(!dev.service.log().contains("hit_not_delivered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn proxy_mode_forwards_streams_back_and_strips_the_user_header() {
    let origin = start_origin();
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "proxied", 1).await.unwrap();
    let mut vars = collector_vars(&moto.endpoint, "proxied");
    vars.push(("ORIGIN_URL", format!("http://127.0.0.1:{origin}")));
    let dev = WranglerDev::start("proxy", &vars).await.unwrap();
    let base = &dev.url;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = now_ms();

    // A client claiming a user and an address: neither claim reaches the origin.
    let resp = http
        .get(format!("{base}/account?tab=1&utm_source=newsletter"))
        .header("user-agent", FIREFOX)
        .header("cookie", "session=bob")
        .header("x-analytics-user", "admin")
        .header("x-forwarded-for", "6.6.6.6")
        .header("referer", "https://mail.example/reset?token=s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("x-analytics-user").is_none(),
        "the user header never reaches the client"
    );
    assert_eq!(resp.headers()["set-cookie"], "seen=1");
    let host = base.trim_start_matches("http://");
    assert_eq!(
        resp.text().await.unwrap(),
        format!(
            "origin saw GET /account?tab=1&utm_source=newsletter host={host} xff={CLIENT_IP} user=- body="
        ),
        "X-Forwarded-For is the address the edge saw, and the client's user header is gone"
    );

    let resp = http
        .post(format!("{base}/form"))
        .header("user-agent", FIREFOX)
        .header("cookie", "session=bob")
        .body("a=1&b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.text().await.unwrap(),
        format!("origin saw POST /form host={host} xff={CLIENT_IP} user=- body=a=1&b=2")
    );

    let resp = http
        .get(format!("{base}/old"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        302,
        "redirects are passed back, not followed"
    );
    assert_eq!(resp.headers()["location"], "/new");
    let resp = http
        .get(format!("{base}/broken"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let resp = http
        .get(format!("{base}/logo.png"))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "assets are proxied");
    let finished = now_ms();

    let expected = vec![
        seen(
            "/account",
            200,
            "bob",
            "https://mail.example/reset",
            "account",
            false,
        ),
        Seen {
            method: "POST".into(),
            ..seen("/form", 200, "bob", "", "form", false)
        },
        seen("/old", 302, "", "", "old", false),
        seen("/broken", 500, "", "", "broken", false),
    ];
    wait_for_records(&kin, "proxied", expected.len(), Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = kinesis::read_all(&kin, "proxied").await.unwrap();
    let hits = decode_all(&records, host, started, finished);
    let got = multiset(hits.iter().map(seen_of));
    assert_eq!(got, multiset(expected));
    let account = hits.iter().find(|h| h.path == "/account").unwrap();
    assert_eq!(account.utm_source, "newsletter");
    assert!(hits.iter().all(|h| h.event == pagehit::PAGEVIEW));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn a_kinesis_outage_or_missing_settings_never_break_the_site() {
    // Kinesis unreachable: the page is served, and after 3 tries one log line holds the hit.
    let dead = xtask::process::free_port();
    let vars = wrangler::collector_vars("hits", &format!("http://127.0.0.1:{dead}"), "s");
    let mut outage = WranglerDev::start("outage", &vars).await.unwrap();
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/services?x=1", outage.url))
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("<h1>Services</h1>"));
    let log = outage
        .wait_for_log("hit_not_delivered", Duration::from_secs(30))
        .await
        .unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("hit_not_delivered"))
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&line[line.find('{').unwrap()..=line.rfind('}').unwrap()]).unwrap();
    assert_eq!(json["tries"], 3);
    assert_eq!(json["stream"], "hits");
    assert!(
        json["error"].as_str().unwrap().starts_with("network:"),
        "{json}"
    );
    let hit: PageHit = serde_json::from_value(json["hit"].clone()).unwrap();
    hit.validate().unwrap();
    assert_eq!(hit.path, "/services");

    // No credentials or salt: pages still served, one error naming what is missing.
    let mut missing = WranglerDev::start("missing", &[("KINESIS_STREAM", "hits".to_string())])
        .await
        .unwrap();
    for page in ["/", "/faq", "/blog"] {
        let resp = http
            .get(format!("{}{page}", missing.url))
            .header("user-agent", FIREFOX)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{page}");
    }
    let log = missing
        .wait_for_log(
            "missing AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, VISITOR_SALT",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(
        log.matches("page hits are not recorded").count(),
        1,
        "logged once, not per request:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn a_concurrent_burst_lands_exactly_once_through_shared_batches() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "burst", 3).await.unwrap();
    let dev = WranglerDev::start("burst", &collector_vars(&moto.endpoint, "burst"))
        .await
        .unwrap();
    let visits = xtask::traffic::burst(600, 42);
    let started = now_ms();
    let answers = xtask::traffic::send(&dev.url, &visits, 24).await.unwrap();
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "every demo page and asset is served"
    );
    let finished = now_ms();
    let expected: Vec<Seen> = visits
        .iter()
        .filter(|v| v.page_view)
        .map(|v| {
            let action = match v.path.as_str() {
                "/" => "index",
                "/about" => "about-us",
                p => &p[1..],
            };
            seen(&v.path, 200, &v.user, &v.referrer, action, v.bot)
        })
        .collect();
    wait_for_records(&kin, "burst", expected.len(), Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = kinesis::read_all(&kin, "burst").await.unwrap();
    let hits = decode_all(
        &records,
        dev.url.trim_start_matches("http://"),
        started,
        finished,
    );
    let got = multiset(hits.iter().map(seen_of));
    assert_eq!(got, multiset(expected), "each page view exactly once");
    let shards: HashSet<&str> = records.iter().map(|r| r.shard_id.as_str()).collect();
    assert!(
        shards.len() > 1,
        "visitor partition keys spread hits over shards: {shards:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn throttled_calls_and_failed_entries_are_resent_until_every_hit_lands_once() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "flaky", 2).await.unwrap();
    // Every 3rd PutRecords call throttled whole; every 4th entry seen for the first time fails.
    let faults = xtask::faults::KinesisFaults::start(&moto.endpoint, 3, 4)
        .await
        .unwrap();
    let vars = collector_vars(&faults.endpoint, "flaky");
    let dev = WranglerDev::start("flaky", &vars).await.unwrap();
    let visits = xtask::traffic::burst(300, 7);
    let started = now_ms();
    let answers = xtask::traffic::send(&dev.url, &visits, 12).await.unwrap();
    assert!(answers.iter().all(|(s, _)| *s == 200));
    let finished = now_ms();
    let views = visits.iter().filter(|v| v.page_view).count();
    wait_for_records(&kin, "flaky", views, Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = kinesis::read_all(&kin, "flaky").await.unwrap();
    let hits = decode_all(
        &records,
        dev.url.trim_start_matches("http://"),
        started,
        finished,
    );
    assert_eq!(hits.len(), views, "every page view landed exactly once");
    use std::sync::atomic::Ordering::Relaxed;
    let (throttled, failed) = (
        faults.injected.throttled_calls.load(Relaxed),
        faults.injected.failed_entries.load(Relaxed),
    );
    assert!(
        throttled > 0 && failed > 0,
        "faults were injected: {throttled} calls, {failed} entries"
    );
    assert!(
        !dev.service.log().contains("hit_not_delivered"),
        "nothing given up on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn no_page_view_is_lost_while_kinesis_is_down_with_the_fallback_queue() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "fallback", 2).await.unwrap();
    // Kinesis behind a switch: off, every connection is refused or cut.
    let switch = xtask::faults::TcpSwitch::start(&moto.endpoint)
        .await
        .unwrap();
    let vars = collector_vars(&switch.endpoint, "fallback");
    let options = wrangler::DevOptions {
        fallback_queue: true,
        ..Default::default()
    };
    let mut dev = WranglerDev::start_with("fallback", &vars, &options)
        .await
        .unwrap();

    // Page views before, during and after the outage.
    let mut visits = Vec::new();
    let before = xtask::traffic::burst(60, 11);
    assert!(xtask::traffic::send(&dev.url, &before, 8)
        .await
        .unwrap()
        .iter()
        .all(|(s, _)| *s == 200));
    visits.extend(before);
    switch.set_up(false);
    for wave in 0..3 {
        let during = xtask::traffic::burst(60, 100 + wave);
        let answers = xtask::traffic::send(&dev.url, &during, 8).await.unwrap();
        assert!(
            answers.iter().all(|(s, _)| *s == 200),
            "the site is served while Kinesis is down"
        );
        visits.extend(during);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    dev.wait_for_log("hits_queued", Duration::from_secs(30))
        .await
        .unwrap();
    // The consumer tries while Kinesis is still down, and retries.
    dev.wait_for_log("\"messages_retried\":", Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    switch.set_up(true);
    let after = xtask::traffic::burst(60, 12);
    xtask::traffic::send(&dev.url, &after, 8).await.unwrap();
    visits.extend(after);

    let views = visits.iter().filter(|v| v.page_view).count();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let distinct = loop {
        let records = kinesis::read_all(&kin, "fallback").await.unwrap();
        let ids: HashSet<String> = records
            .iter()
            .map(|r| PageHit::from_json(&r.data).unwrap().event_id)
            .collect();
        if ids.len() >= views || std::time::Instant::now() > deadline {
            break ids.len();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let log = dev.service.log();
    assert_eq!(
        distinct,
        views,
        "every page view landed (repeats allowed); worker log: {}",
        dev.service.log_path().display()
    );
    assert!(!log.contains("hit_not_delivered"), "nothing given up on");
    assert!(
        log.contains(r#""event":"queue_consumed""#) && log.contains(r#""records_failed":0"#),
        "the queue consumer landed the queued hits"
    );
    assert!(
        !log.contains("dead letter"),
        "nothing went to the dead-letter queue"
    );
}
