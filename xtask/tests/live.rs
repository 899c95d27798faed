//! The live view end to end: page views sent through the real worker under `wrangler dev` into
//! moto's Kinesis, read by `dashboard serve` (and `dashboard live --once`), and checked in
//! `/api/live` and its Server-Sent Events with exact counts; what is counted apart; a restart;
//! a reshard while running; the token.
//!
//! Run with `cargo xtask test` (it installs the tools and builds the worker first).

use pagehit::PageHit;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use xtask::dashboard::{count, row, Dashboard};
use xtask::kinesis;
use xtask::moto::Moto;
use xtask::wrangler::{self, WranglerDev};

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn agent(visitor: usize) -> String {
    format!("Mozilla/5.0 (X11; Linux x86_64; live test {visitor}) Gecko/20100101 Firefox/140.0")
}

/// A valid hit put straight on the stream (what the worker would make).
fn direct_hit(n: u64, ts: i64, path: &str) -> PageHit {
    PageHit {
        event_id: pagehit::rules::uuid_text(
            0x0193_0000_0000_7000_8000_0000_0000_0000 + u128::from(n),
        ),
        ts: pagehit::time::format_ts(ts),
        host: "live.example".into(),
        path: path.into(),
        action: "x".into(),
        method: "GET".into(),
        status: 200,
        visitor: format!("{:016x}", 0xabc0_0000 + n),
        country: "JP".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ..PageHit::default()
    }
}

/// Reads the Server-Sent Events of `url` into `events` (data of each `event: snapshot`, with
/// when it came).
fn collect_events(url: String) -> std::sync::Arc<std::sync::Mutex<Vec<(Instant, Value)>>> {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    tokio::spawn(async move {
        let mut resp = reqwest::get(url).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if event.lines().any(|l| l == "event: snapshot") {
                    let data: String = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect::<Vec<_>>()
                        .join("\n");
                    sink.lock()
                        .unwrap()
                        .push((Instant::now(), serde_json::from_str(&data).unwrap()));
                }
            }
        }
    });
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn page_views_through_the_worker_are_live_with_exact_counts_and_survive_a_restart() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "live", 2).await.unwrap();
    let dev = WranglerDev::start(
        "live",
        &wrangler::collector_vars("live", &moto.endpoint, "live-test-salt"),
    )
    .await
    .unwrap();
    let dash = Dashboard::serve(&moto.endpoint, "live", &[], &[])
        .await
        .unwrap();
    dash.wait_for(Duration::from_secs(30), |s| s["caught_up"] == true)
        .await
        .unwrap();
    let events = collect_events(format!("{}/api/live/events", dash.url));

    // Six visitors walk the demo pages in turn, one request at a time (so each one's latest
    // page is known); a crawler and an asset request ride along.
    let pages = ["/", "/products", "/about", "/blog"];
    // A connection per request and a bound on each: a kept-alive connection that wrangler dev
    // dropped under load once held a request (and the test) forever.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut hits: BTreeMap<&str, u64> = BTreeMap::new();
    let mut visitors: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    let mut latest: BTreeMap<usize, &str> = BTreeMap::new();
    for step in 0..20 {
        for v in 0..6 {
            if (step + v) % 3 != 0 {
                continue;
            }
            let page = pages[(step * 7 + v) % pages.len()];
            let resp = http
                .get(format!("{}{page}", dev.url))
                .header("user-agent", agent(v))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            *hits.entry(page).or_default() += 1;
            visitors.entry(page).or_default().insert(v);
            latest.insert(v, page);
        }
    }
    for path in ["/", "/faq"] {
        let resp = http
            .get(format!("{}{path}", dev.url))
            .header("user-agent", GOOGLEBOT)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    http.get(format!("{}/static/site.css", dev.url))
        .header("user-agent", agent(0))
        .send()
        .await
        .unwrap();
    let page_views: u64 = hits.values().sum();

    // Counted apart: a record repeated, two that are not hits, one from two hours ago.
    let recorded = kinesis::wait_for_records(
        &kin,
        "live",
        page_views as usize + 2,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(
        recorded.len() as u64,
        page_views + 2,
        "page views and the crawler's"
    );
    let repeat = PageHit::from_json(&recorded[0].data).unwrap();
    let old = direct_hit(1, now_ms() - 2 * 3600 * 1000, "/old");
    kinesis::put_hits(
        &kin,
        "live",
        &[repeat, old],
        &[b"not json".to_vec(), b"{}".to_vec()],
    )
    .await
    .unwrap();

    let expected = |s: &Value| {
        count(s, "hits") == page_views
            && count(s, "duplicates") == 1
            && count(s, "rejected") == 2
            && count(s, "outside_window") == 1
            && count(s, "bots") == 2
    };
    let s = dash
        .wait_for(Duration::from_secs(30), expected)
        .await
        .unwrap();
    check(&s, page_views, &hits, &visitors, &latest);

    // The Server-Sent Events carried the same numbers.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = events.lock().unwrap().iter().any(|(_, e)| {
            expected(e) && count(e, "visitors") == 6 && count(e, "visitors_now") == 6
        });
        if got {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no event with the final numbers: {:?}",
            events.lock().unwrap().last()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // At most one event a second (the first one comes at once, on connecting), each a change.
    let events = events.lock().unwrap().clone();
    assert!(events.len() >= 3, "{} events", events.len());
    for pair in events[1..].windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= Duration::from_millis(900),
            "two events {gap:?} apart"
        );
        let numbers = |s: &Value| {
            let mut s = s.clone();
            s["now"] = Value::Null;
            s["lag_ms"] = Value::Null;
            s
        };
        assert_ne!(
            numbers(&pair[0].1),
            numbers(&pair[1].1),
            "an event without a change"
        );
    }

    // A restart warms up from the stream: the same numbers at once.
    let mut dash = dash;
    dash.service.stop();
    let dash = Dashboard::serve(&moto.endpoint, "live", &[], &[])
        .await
        .unwrap();
    let s = dash
        .wait_for(Duration::from_secs(30), |s| {
            s["caught_up"] == true && expected(s)
        })
        .await
        .unwrap();
    check(&s, page_views, &hits, &visitors, &latest);

    // One snapshot for scripts: the same numbers, and its table.
    let once = xtask::dashboard::command(&moto.endpoint)
        .args(["live", "--stream", "live", "--once", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let s: Value = serde_json::from_slice(&once.stdout).unwrap();
    assert!(expected(&s), "{s}");
    check(&s, page_views, &hits, &visitors, &latest);
    let table = xtask::dashboard::command(&moto.endpoint)
        .args(["live", "--stream", "live", "--once"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success());
    assert!(
        text.lines()
            .any(|l| l.starts_with("page views") && l.ends_with(&format!(" {page_views}"))),
        "{text}"
    );
}

/// The exact numbers of the worker's page views in snapshot `s`.
fn check(
    s: &Value,
    page_views: u64,
    hits: &BTreeMap<&str, u64>,
    visitors: &BTreeMap<&str, BTreeSet<usize>>,
    latest: &BTreeMap<usize, &str>,
) {
    assert_eq!(count(s, "hits"), page_views, "{s}");
    assert_eq!(count(s, "visitors"), 6, "{s}");
    assert_eq!(count(s, "visitors_now"), 6, "{s}");
    assert_eq!(count(s, "users"), 0);
    assert_eq!(s["window_minutes"], 30);
    assert_eq!(s["per_minute"].as_array().unwrap().len(), 30);
    let per_minute: u64 = s["per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| count(m, "hits"))
        .sum();
    assert_eq!(per_minute, page_views);
    for (page, n) in hits {
        let r = row(s, "pages", "path", page).unwrap_or_else(|| panic!("{page} in {s}"));
        assert_eq!(count(r, "hits"), *n, "{page}");
        assert_eq!(count(r, "visitors"), visitors[page].len() as u64, "{page}");
        let now = latest.values().filter(|p| *p == page).count() as u64;
        assert_eq!(
            count(r, "now"),
            now,
            "{page}: visitors whose latest page it is"
        );
    }
    assert!(
        row(s, "pages", "path", "/faq").is_none(),
        "the crawler's page is left out"
    );
    assert!(
        row(s, "pages", "path", "/static/site.css").is_none(),
        "assets are not page views"
    );
    let devices = row(s, "devices", "device", "desktop").unwrap();
    assert_eq!(
        (count(devices, "hits"), count(devices, "visitors")),
        (page_views, 6)
    );
    let browser = row(s, "browsers", "browser", "Firefox").unwrap();
    assert_eq!(count(browser, "hits"), page_views);
    let direct = row(s, "sources", "source", "(direct)").unwrap();
    assert_eq!(
        count(direct, "hits"),
        page_views,
        "every session entered without a referrer"
    );
    let lag = s["lag_ms"].as_i64().unwrap();
    assert!((0..120_000).contains(&lag), "lag {lag}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn a_shard_split_while_running_neither_loses_nor_double_counts() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "split", 1).await.unwrap();
    let dash = Dashboard::serve(&moto.endpoint, "split", &["--top", "1000"], &[])
        .await
        .unwrap();
    dash.wait_for(Duration::from_secs(30), |s| s["caught_up"] == true)
        .await
        .unwrap();
    let paths = ["/a", "/b", "/c"];
    let batch = |range: std::ops::Range<u64>| -> Vec<PageHit> {
        range
            .map(|n| direct_hit(n, now_ms(), paths[n as usize % paths.len()]))
            .collect()
    };
    kinesis::put_hits(&kin, "split", &batch(0..150), &[])
        .await
        .unwrap();
    dash.wait_for(Duration::from_secs(30), |s| count(s, "hits") == 150)
        .await
        .unwrap();
    kin.update_shard_count()
        .stream_name("split")
        .target_shard_count(2)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    kinesis::put_hits(&kin, "split", &batch(150..300), &[])
        .await
        .unwrap();
    let shards = kin.list_shards().stream_name("split").send().await.unwrap();
    assert!(shards.shards().len() >= 3, "parent and children");
    // The children are found by the reader's next listing (every 10 s).
    let s = dash
        .wait_for(Duration::from_secs(40), |s| count(s, "hits") >= 300)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s2 = dash.live().await.unwrap();
    for s in [&s, &s2] {
        assert_eq!((count(s, "hits"), count(s, "visitors")), (300, 300), "{s}");
        assert_eq!(count(s, "duplicates"), 0);
        for p in paths {
            assert_eq!(count(row(s, "pages", "path", p).unwrap(), "hits"), 100);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn with_a_token_nothing_but_healthz_is_served_without_it() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "guarded", 1).await.unwrap();

    // Anything but loopback without a token: refused before listening, as a usage error.
    let refused = xtask::dashboard::command(&moto.endpoint)
        .args(["serve", "--stream", "guarded", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("DASHBOARD_TOKEN"));

    let token = "a-test-token-of-thirty-two-chars";
    let dash = Dashboard::serve(
        &moto.endpoint,
        "guarded",
        &[],
        &[("DASHBOARD_TOKEN", token)],
    )
    .await
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| http.get(format!("{}{path}", dash.url));

    assert_eq!(get("/healthz").send().await.unwrap().status(), 200);
    for path in ["/", "/api/live", "/api/live/events"] {
        let resp = get(path).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
    }
    let page = get("/").header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), 401);
    assert!(page.text().await.unwrap().contains("action=\"/login\""));

    // A wrong token is a failed attempt: answered after the delay.
    let started = Instant::now();
    let wrong = get("/api/live")
        .bearer_auth("not-the-token-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "failures are slowed down"
    );
    let right = get("/api/live").bearer_auth(token).send().await.unwrap();
    assert_eq!(right.status(), 200);
    // Never in a URL.
    let in_url = get(&format!("/api/live?token={token}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(in_url.status(), 400);

    // The login form sets a session cookie the browser sends back.
    let bad_login = http
        .post(format!("{}/login", dash.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=guess")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_login.status(), 401);
    assert!(bad_login.headers().get("set-cookie").is_none());
    let login = http
        .post(format!("{}/login", dash.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(token), "the cookie is not the token");
    let session = cookie.split(';').next().unwrap().to_string();
    let with_cookie = get("/api/live")
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    let forged = get("/api/live")
        .header("cookie", "pagehit_session=99999999999.00")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert!(
        !dash.service.log().contains(token),
        "the token is never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto, wrangler dev and chromium: run `cargo xtask test`"]
async fn the_live_page_loaded_once_shows_new_page_views_by_itself_in_chromium() {
    use tokio::io::AsyncBufReadExt;
    xtask::chromium::ensure().unwrap();
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "browser", 1).await.unwrap();
    let dev = WranglerDev::start(
        "live-browser",
        &wrangler::collector_vars("browser", &moto.endpoint, "browser-test-salt"),
    )
    .await
    .unwrap();
    let dash = Dashboard::serve(&moto.endpoint, "browser", &[], &[])
        .await
        .unwrap();
    dash.wait_for(Duration::from_secs(30), |s| s["caught_up"] == true)
        .await
        .unwrap();

    // An attacker-chosen path: shown as text, never as markup.
    let hostile = "/<img src=x onerror=alert(1)>";
    let sends = [
        (0, "/"),
        (1, "/"),
        (2, "/products"),
        (3, "/%3Cimg%20src=x%20onerror=alert(1)%3E"),
        (1, "/blog"),
    ];
    let shot = xtask::paths::target_dir().join("live-page.png");
    let mut browser = tokio::process::Command::new("node")
        .arg(xtask::paths::root().join("xtask/js/live_page.mjs"))
        .arg(format!("{}/", dash.url))
        .arg(sends.len().to_string())
        .arg(&shot)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(browser.stdout.take().unwrap()).lines();
    let loaded: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(loaded["event"], "loaded");
    assert_eq!(loaded["hits"], "0", "{loaded}");

    let http = reqwest::Client::new();
    for (v, path) in sends {
        http.get(format!("{}{path}", dev.url))
            .header("user-agent", agent(v))
            .send()
            .await
            .unwrap();
    }
    let reached: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let status = browser.wait().await.unwrap();
    assert!(status.success(), "{reached}");
    assert_eq!(reached["event"], "reached", "{reached}");
    assert_eq!(reached["loaded_once"], true, "the page was not reloaded");
    assert_eq!(reached["visitors"], "4");
    assert_eq!(reached["visitors_now"], "4");
    assert_eq!(reached["state"], "connected");
    let rows: Vec<Vec<String>> = serde_json::from_value(reached["pages"].clone()).unwrap();
    // Path, now, visitors, views; hits descending, then path.
    assert_eq!(rows[0], ["/", "1", "2", "2"]);
    assert!(
        rows.contains(&vec![
            hostile.to_string(),
            "1".into(),
            "1".into(),
            "1".into()
        ]),
        "{rows:?}"
    );
    assert_eq!(reached["images"], 0, "no markup from recorded text");
    assert_eq!(
        reached["problems"],
        serde_json::json!([]),
        "no script error, CSP violation or dialog"
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "a screenshot at {}",
        shot.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and tmux: run `cargo xtask test`"]
async fn the_terminal_view_shows_the_numbers_and_leaves_the_terminal_on_q() {
    xtask::debian::ensure("/usr/bin/tmux", "tmux").unwrap();
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "tty", 1).await.unwrap();
    // Five page views of three visitors.
    let hits: Vec<PageHit> = (0..5u64)
        .map(|n| {
            let mut h = direct_hit(
                n,
                now_ms() - 1000 * n as i64,
                ["/", "/pricing"][n as usize % 2],
            );
            h.visitor = format!("{:016x}", 0xabc0_0000 + n % 3);
            h
        })
        .collect();
    kinesis::put_hits(&kin, "tty", &hits, &[]).await.unwrap();

    // A private tmux server (its own socket), a terminal of 140x40.
    let socket = format!("pagehit-live-test-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap()
    };
    let command = format!(
        "env AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION={} \
         AWS_EC2_METADATA_DISABLED=true {} live --stream tty; echo EXITED $?; sleep 60",
        moto.endpoint,
        kinesis::REGION,
        xtask::dashboard::binary().display()
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        "live",
        "-x",
        "140",
        "-y",
        "40",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    let screen = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-t", "live", "-p"]).stdout).into_owned()
    };
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never on screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let s = wait_for("page views (last 30 min): 5");
    assert!(s.contains("visitors now (last 5 min): 3"), "{s}");
    assert!(s.contains("/pricing"), "{s}");
    tmux(&["send-keys", "-t", "live", "q"]);
    let s = wait_for("EXITED 0");
    assert!(
        !s.contains("visitors now"),
        "the terminal is back as it was:\n{s}"
    );
    tmux(&["kill-server"]);
}
