//! The trickle that `cargo xtask demo --serve` keeps going: page views through the real worker
//! under `wrangler dev` into moto's Kinesis, seen by `dashboard serve` as they come, until the
//! trickle is told to stop (then nothing more is sent).
//!
//! Run with `cargo xtask test` (it installs the tools and builds the worker first).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xtask::dashboard::{count, Dashboard};
use xtask::kinesis;
use xtask::moto::Moto;
use xtask::trickle::{self, Pace};
use xtask::wrangler::{self, WranglerDev};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto and wrangler dev: run `cargo xtask test`"]
async fn the_live_numbers_move_while_the_trickle_runs_and_stop_with_it() {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, "trickle", 1).await.unwrap();
    let dev = WranglerDev::start(
        "trickle",
        &wrangler::collector_vars("trickle", &moto.endpoint, "trickle-salt"),
    )
    .await
    .unwrap();
    let dash = Dashboard::serve(&moto.endpoint, "trickle", &[], &[])
        .await
        .unwrap();
    dash.wait_for(Duration::from_secs(30), |s| s["caught_up"] == true)
        .await
        .unwrap();

    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let pace = Pace {
        every: Duration::from_millis(300),
        visits: 3,
    };
    let running = tokio::spawn(trickle::run(
        dev.url.clone(),
        pace,
        stop.clone(),
        sent.clone(),
    ));
    // The live view counts more and more page views while it runs.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 3 {
        let s = dash.live().await.unwrap();
        let hits = count(&s, "hits");
        if seen.last().is_none_or(|&last| hits > last) && hits > 0 {
            seen.push(hits);
        }
        assert!(
            Instant::now() < deadline,
            "the live view stayed at {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    running.await.unwrap().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent >= seen[2], "sent {sent}, the view counted {seen:?}");
    // Stopped: everything sent arrives, and nothing more.
    dash.wait_for(Duration::from_secs(30), |s| count(s, "hits") == sent)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&dash.live().await.unwrap(), "hits"), sent);
}
