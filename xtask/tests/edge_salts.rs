//! Random daily visitor salts in a Workers KV namespace (`VISITOR_SALTS`), through the real
//! Wasm build under `wrangler dev` (miniflare's KV, kept on disk between runs): a visitor's id
//! is the same within a day in every isolate that reads the namespace, differs between days,
//! and is not derived from anything the operator holds.
//!
//! Two days at once: the salt's day is the local day in `VISITOR_TZ`, and UTC-12 and UTC+14 are
//! always on different dates. A new isolate: a new `wrangler dev` process on the same state.
//!
//! Run with `cargo xtask test` (it installs the tools and builds the worker first).

mod edge_support;

use edge_support::*;
use pagehit::PageHit;
use std::path::Path;
use std::time::Duration;
use xtask::kinesis::{self, wait_for_records};
use xtask::moto::Moto;
use xtask::wrangler::{self, DevOptions, WranglerDev};

const HOST: &str = "salts.example";
const BEHIND: (&str, i64) = ("Etc/GMT+12", -12 * 3_600_000);
const AHEAD: (&str, i64) = ("Pacific/Kiritimati", 14 * 3_600_000);

/// One page view of `path` by FIREFOX from a new isolate (a fresh `wrangler dev`) keyed by the
/// secret `secret`, with the salts of `zone`'s day kept in `state` (`None`: no KV bound);
/// returns the hit as it reached Kinesis and the salt day.
async fn visit(
    moto: &Moto,
    path: &str,
    zone: (&str, i64),
    secret: &str,
    state: Option<&Path>,
) -> (PageHit, String) {
    let kin = kinesis::client(&moto.endpoint);
    let stream = format!("salts{}", path.replace('/', "-"));
    kinesis::create_stream(&kin, &stream, 1).await.unwrap();
    let mut vars = wrangler::collector_vars(&stream, &moto.endpoint, secret);
    vars.push(("VISITOR_TZ", zone.0.to_string()));
    let options = DevOptions {
        visitor_salts: state.is_some(),
        state: state.map(Path::to_path_buf),
        ..Default::default()
    };
    let dev = WranglerDev::start_with("salts", &vars, &options)
        .await
        .unwrap();
    // One host for every run (each `wrangler dev` listens on its own port, and the host is
    // part of the visitor id).
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", dev.url))
        .header("user-agent", FIREFOX)
        .header("host", HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    let records = wait_for_records(&kin, &stream, 1, Duration::from_secs(30))
        .await
        .unwrap();
    let hit = PageHit::from_json(&records[0].data).unwrap();
    assert_eq!(hit.host, HOST);
    let ts = pagehit::time::parse_ts(&hit.ts).unwrap();
    let day = pagehit::time::format_ts(ts + zone.1)[..10].to_string();
    assert!(
        !dev.service.log().contains("visitor_salts"),
        "no KV error: {}",
        dev.service.log()
    );
    // Stopped (dropped) before the next isolate opens the same state.
    drop(dev);
    (hit, day)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn kv_salts_are_random_per_day_and_shared_by_every_isolate() {
    // Not in the last minutes of a day in BEHIND's zone: its first two visits share a day.
    let into_day = (now_ms() + BEHIND.1).rem_euclid(86_400_000);
    if 86_400_000 - into_day < 5 * 60_000 {
        tokio::time::sleep(Duration::from_millis((86_400_000 - into_day + 1000) as u64)).await;
    }
    let moto = Moto::start().await.unwrap();
    let state = xtask::paths::scratch("salts-state");
    let other_state = xtask::paths::scratch("salts-other-state");

    let (first, day) = visit(&moto, "/about", BEHIND, "secret-one", Some(&state)).await;
    let host = first.host.clone();
    let derived = expected_visitor("secret-one", &day, CLIENT_IP, FIREFOX, &host);
    assert_ne!(
        first.visitor, derived,
        "with VISITOR_SALTS the id is not keyed by a salt derived from the secret"
    );

    // Another isolate, the same day and namespace (even another secret): the same id.
    let (again, again_day) = visit(&moto, "/blog", BEHIND, "secret-two", Some(&state)).await;
    assert_eq!(again_day, day);
    assert_eq!(
        again.visitor, first.visitor,
        "stable within a day across isolates"
    );

    // Another day, the same namespace: another id.
    let (other_day, ahead_day) = visit(&moto, "/faq", AHEAD, "secret-one", Some(&state)).await;
    assert_ne!(ahead_day, day);
    assert_ne!(other_day.visitor, first.visitor, "a new day, a new id");

    // The same day in another namespace: another random salt, another id.
    let (elsewhere, _) = visit(&moto, "/contact", BEHIND, "secret-one", Some(&other_state)).await;
    assert_ne!(
        elsewhere.visitor, first.visitor,
        "the salt is random, not made again"
    );

    // Without the binding the derived salt stays.
    let (plain, plain_day) = visit(&moto, "/services", BEHIND, "secret-one", None).await;
    assert_eq!(
        plain.visitor,
        expected_visitor("secret-one", &plain_day, CLIENT_IP, FIREFOX, &host)
    );
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir_all(&other_state);
}
