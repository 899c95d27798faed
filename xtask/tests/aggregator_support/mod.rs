//! What the aggregator's integration tests share: the hits they send, what landed and what was
//! rejected, runs of `aggregator consume`.
#![allow(dead_code)]

use pagehit::{time, PageHit};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::moto::Moto;

/// 2026-11-26T23:59:00.000Z: a minute before midnight UTC.
pub const BEFORE_MIDNIGHT: i64 = 1_795_737_540_000;

pub fn hit(n: u32, ts_ms: i64) -> PageHit {
    let paths = ["/", "/about", "/a,b\"c/café", "/日本語", "/products"];
    PageHit {
        event_id: format!("01936b2e-{:04x}-7abc-8def-{n:012}", n % 0xffff),
        ts: time::format_ts(ts_ms),
        host: "shop.example".into(),
        path: paths[n as usize % paths.len()].into(),
        action: "x".into(),
        method: "GET".into(),
        status: 200,
        user: if n.is_multiple_of(3) {
            format!("Zoë \"{n}\", Jr.")
        } else {
            String::new()
        },
        visitor: format!("{:016x}", 0x1234_5678_9abc_0000u64 + u64::from(n % 97)),
        referrer: String::new(),
        country: "DE".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into(),
        bot: n.is_multiple_of(10),
        origin_ms: n,
        ..PageHit::default()
    }
}

/// Every hit landed under `dir/hits`, with its day partition.
pub fn landed_hits(dir: &Path) -> Vec<(String, PageHit)> {
    xtask::aggregator::landed_hits(dir).unwrap()
}

pub fn rejected_lines(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let rejected = dir.join("rejected");
    if !rejected.exists() {
        return out;
    }
    for day in std::fs::read_dir(rejected).unwrap() {
        for file in std::fs::read_dir(day.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            out.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
            );
        }
    }
    out
}

/// How many times each event id landed.
pub fn counts(landed: &[(String, PageHit)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, h) in landed {
        *m.entry(h.event_id.clone()).or_insert(0) += 1;
    }
    m
}

/// `aggregator consume --once`; returns its summary line.
pub fn consume_once(moto: &Moto, stream: &str, sink: &str) -> String {
    let out = xtask::aggregator::command(&moto.endpoint)
        .args(["consume", "--stream", stream, "--sink", sink, "--once"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "consume failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `aggregator consume --once` with extra arguments; the whole output.
pub fn consume_with(moto: &Moto, stream: &str, sink: &str, extra: &[&str]) -> std::process::Output {
    xtask::aggregator::command(&moto.endpoint)
        .args(["consume", "--stream", stream, "--sink", sink, "--once"])
        .args(extra)
        .output()
        .unwrap()
}

pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// moto started, a Kinesis client of it, and the stream `name` of `shards` shards made there.
pub async fn moto_with_stream(name: &str, shards: i32) -> (Moto, aws_sdk_kinesis::Client) {
    let moto = Moto::start().await.unwrap();
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, name, shards).await.unwrap();
    (moto, kin)
}
