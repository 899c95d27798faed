//! What one client can do to the edge, through the real Wasm build under `wrangler dev`: the
//! beacon and page-view caps count by the client's address, not by the visitor (a script that
//! changes its User-Agent on every request is still one client), and an origin behind the proxy
//! never sees an address header the client wrote.
//!
//! Run with `cargo xtask test` (it installs the tools and builds the worker first).

mod edge_support;

use edge_support::*;
use std::time::Duration;
use xtask::kinesis::{self, wait_for_records};
use xtask::moto::Moto;
use xtask::wrangler::{DevOptions, WranglerDev};

/// A User-Agent of its own for each `i`: a new visitor id each time.
fn agent(i: usize) -> String {
    format!("Mozilla/5.0 (X11; Linux x86_64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0")
}

/// Waits for the next minute to start (both caps count per minute), with `margin` of it
/// left at least when the caller starts.
async fn next_minute() {
    let into = now_ms().rem_euclid(60_000) as u64;
    tokio::time::sleep(Duration::from_millis(60_000 - into + 200)).await;
}

/// Sends `n` beacons, the `i`th with User-Agent `ua(i)`; returns how many were taken (204) and
/// asserts every other one was refused as too many (429).
async fn send_beacons(base: &str, n: usize, ua: impl Fn(usize) -> String) -> usize {
    let http = reqwest::Client::new();
    let mut taken = 0;
    for i in 0..n {
        let body = format!(r#"{{"path":"/spa/{i}","event":"signup"}}"#);
        let (status, text, _) = beacon(&http, base, &ua(i), None, &body).await;
        match status {
            204 => taken += 1,
            429 => assert!(text.contains("too many beacons"), "{text}"),
            other => panic!("beacon {i}: {other} {text}"),
        }
    }
    taken
}

/// 200 beacons from one address with one User-Agent, then (in the next minute) 200 from the
/// same address with 200 User-Agents; returns how many of each were taken, and checks that
/// Kinesis got exactly those.
async fn one_agent_then_many(
    tag: &str,
    vars_extra: &[(&'static str, String)],
    options: &DevOptions,
) -> (usize, usize) {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, tag, 1).await.unwrap();
    let mut vars = collector_vars(&moto.endpoint, tag);
    vars.extend(vars_extra.iter().cloned());
    let dev = WranglerDev::start_with(tag, &vars, options).await.unwrap();
    clear_of_minute_end(Duration::from_secs(30)).await;
    let one = send_beacons(&dev.url, 200, |_| FIREFOX.to_string()).await;
    next_minute().await;
    let many = send_beacons(&dev.url, 200, agent).await;
    wait_for_records(&kin, tag, one + many, Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let records = kinesis::read_all(&kin, tag).await.unwrap();
    assert_eq!(
        records.len(),
        one + many,
        "a refused beacon is not recorded"
    );
    (one, many)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn the_isolate_cap_holds_one_address_whatever_its_user_agents() {
    // Only the per-isolate cap (20 a minute); the binding's limit far above it.
    let (one, many) = one_agent_then_many(
        "isolate-cap",
        &[("COLLECT_MAX_PER_MINUTE", "20".into())],
        &DevOptions {
            beacon_limit: Some(10_000),
            ..Default::default()
        },
    )
    .await;
    assert_eq!((one, many), (20, 20), "200 User-Agents are capped like one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn the_rate_limiting_binding_holds_one_address_whatever_its_user_agents() {
    // Only the binding (25 a minute); the per-isolate cap off.
    let (one, many) = one_agent_then_many(
        "binding-cap",
        &[("COLLECT_MAX_PER_MINUTE", "0".into())],
        &DevOptions {
            beacon_limit: Some(25),
            ..Default::default()
        },
    )
    .await;
    assert_eq!((one, many), (25, 25), "200 User-Agents are capped like one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn page_views_past_the_address_limit_are_served_but_not_recorded() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "views", 1).await.unwrap();
    let options = DevOptions {
        pageview_limit: Some(15),
        ..Default::default()
    };
    let mut dev =
        WranglerDev::start_with("views", &collector_vars(&moto.endpoint, "views"), &options)
            .await
            .unwrap();
    let http = reqwest::Client::new();
    clear_of_minute_end(Duration::from_secs(20)).await;
    for i in 0..40 {
        let resp = http
            .get(format!("{}/blog", dev.url))
            .header("user-agent", agent(i))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "the page is served whatever the limit");
        assert!(resp.text().await.unwrap().contains("<h1>Blog</h1>"));
    }
    wait_for_records(&kin, "views", 15, Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let records = kinesis::read_all(&kin, "views").await.unwrap();
    assert_eq!(
        records.len(),
        15,
        "40 page views with 40 User-Agents, one address"
    );
    let log = dev
        .wait_for_log("page_views_limited", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        log.matches("page_views_limited").count(),
        1,
        "logged once a minute, not per page view"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn the_origin_never_sees_an_address_header_the_client_wrote() {
    let origin = start_origin();
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "forged", 1).await.unwrap();
    let mut vars = collector_vars(&moto.endpoint, "forged");
    vars.push(("ORIGIN_URL", format!("http://127.0.0.1:{origin}")));
    let dev = WranglerDev::start("forged", &vars).await.unwrap();
    let forged = [
        ("Forwarded", "for=6.6.6.1;proto=https"),
        ("X-Forwarded-For", "6.6.6.2"),
        ("X-Forwarded-Host", "6.6.6.3.example"),
        ("X-Real-IP", "6.6.6.4"),
        ("True-Client-IP", "6.6.6.5"),
        ("X-Client-IP", "6.6.6.6"),
        ("Client-IP", "6.6.6.7"),
        ("X-Cluster-Client-IP", "6.6.6.8"),
    ];
    let mut req = reqwest::Client::new()
        .get(format!("{}/echo", dev.url))
        .header("user-agent", FIREFOX)
        .header("accept", "text/plain");
    for (name, value) in forged {
        req = req.header(name, value);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let received = resp.text().await.unwrap();
    assert!(
        !received.contains("6.6.6."),
        "a forged address reached the origin:\n{received}"
    );
    let header = |name: &str| -> Vec<&str> {
        received
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .collect()
    };
    let host = dev.url.trim_start_matches("http://");
    assert_eq!(header("x-forwarded-for"), [CLIENT_IP], "{received}");
    assert_eq!(header("x-forwarded-host"), [host], "{received}");
    assert_eq!(header("x-forwarded-proto"), ["http"], "{received}");
    assert_eq!(
        header("forwarded"),
        [format!("for={CLIENT_IP};host=\"{host}\";proto=http").as_str()],
        "{received}"
    );
    for name in ["x-real-ip", "true-client-ip", "x-client-ip", "client-ip"] {
        assert!(header(name).is_empty(), "{name} in\n{received}");
    }
    assert_eq!(header("accept"), ["text/plain"], "other headers pass");

    // A client's own CF-Connecting-IP is not passed on either. (`wrangler dev` hands it to the
    // worker as the address it saw, so X-Forwarded-For is not checked here; Cloudflare's edge
    // sets that header itself, whatever the client sent.)
    let received = reqwest::Client::new()
        .get(format!("{}/echo", dev.url))
        .header("user-agent", FIREFOX)
        .header("CF-Connecting-IP", "6.6.6.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !received.to_ascii_lowercase().contains("cf-connecting-ip"),
        "{received}"
    );
}
