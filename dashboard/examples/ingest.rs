//! The live window's ingest on one core: decode + validate + count of generated stream
//! records, and the process's peak RSS. Run by `cargo xtask bench live` (release build):
//!
//!   cargo run --release -p dashboard --example ingest -- --shape hostile --records 1000000
//!
//! Shapes: `realistic` (returning visitors with several page views, Zipf pages, a few agents,
//! sources and countries), `hostile` (every hit a new visitor on a new path), `agents` (every
//! hit a new user agent, each parsed by the uap-core regexes). Records are generated in chunks
//! so that they do not count in the RSS; only `add_record` is timed.

use dashboard::window::{Options, Window};
use pagehit::PageHit;
use std::time::{Duration, Instant};

const CHUNK: usize = 10_000;

fn main() {
    let mut shape = "realistic".to_string();
    let mut records = 1_000_000usize;
    let mut minutes = 30u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--shape" => shape = value(),
            "--records" => records = value().parse().expect("--records N"),
            "--window-minutes" => minutes = value().parse().expect("--window-minutes N"),
            other => {
                eprintln!("ingest: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let now = dashboard::now_ms();
    let span = i64::from(minutes) * 60_000 - 1_000;
    let mut window = Window::new(Options {
        minutes,
        top: 50,
        max_values: 10_000,
    });
    let base_rss = peak_rss_kib();
    let mut timed = Duration::ZERO;
    let mut chunk: Vec<String> = Vec::with_capacity(CHUNK);
    let mut done = 0usize;
    while done < records {
        chunk.clear();
        let n = CHUNK.min(records - done);
        for i in done..done + n {
            // Spread over the window, oldest first, as the stream delivers them.
            let ts = now - span + (i as i64 * span) / records as i64;
            chunk.push(record(&shape, i, ts).to_json());
        }
        let t = Instant::now();
        for r in &chunk {
            window.add_record(r.as_bytes(), now, now);
        }
        timed += t.elapsed();
        done += n;
    }
    let t = Instant::now();
    let s = window.snapshot(now, 0, true);
    let snapshot_ms = t.elapsed().as_secs_f64() * 1000.0;
    let per_sec = records as f64 / timed.as_secs_f64();
    println!(
        "{{\"shape\":\"{shape}\",\"records\":{records},\"seconds\":{:.3},\"records_per_second\":{per_sec:.0},\
         \"snapshot_ms\":{snapshot_ms:.1},\"peak_rss_mib\":{:.1},\"base_rss_mib\":{:.1},\
         \"hits\":{},\"visitors\":{},\"pages_listed\":{},\"remembered_visitors\":{}}}",
        timed.as_secs_f64(),
        peak_rss_kib() as f64 / 1024.0,
        base_rss as f64 / 1024.0,
        s.hits,
        s.visitors,
        s.pages.len(),
        window.remembered_visitors()
    );
}

/// Record `i` of `shape` at `ts`.
fn record(shape: &str, i: usize, ts: i64) -> PageHit {
    const PATHS: usize = 500;
    const AGENTS: [&str; 4] = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    ];
    let x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let (visitor, path, agent) = match shape {
        "hostile" => (
            i as u64,
            format!("/p/{i:x}/{x:016x}"),
            AGENTS[i % 4].to_string(),
        ),
        "agents" => (
            i as u64,
            format!("/p/{}", i % PATHS),
            format!(
                "Mozilla/5.0 (X11; Linux x86_64; rv:{i}) Gecko/20100101 Firefox/{}.0",
                i % 200
            ),
        ),
        _ => {
            // ~5 page views a visitor, Zipf-like pages (squares of a uniform number).
            let visitor = (x >> 40) % (1 + (i as u64) / 5).max(1);
            let u = ((x >> 20) & 0xffff) as f64 / 65536.0;
            let page = ((u * u) * PATHS as f64) as usize;
            (
                visitor,
                format!("/docs/page-{page}"),
                AGENTS[(visitor % 4) as usize].to_string(),
            )
        }
    };
    PageHit {
        event_id: pagehit::rules::uuid_text((0x0193u128 << 112) | i as u128),
        ts: pagehit::time::format_ts(ts),
        host: "bench.example".into(),
        path,
        action: "page".into(),
        method: "GET".into(),
        status: 200,
        visitor: format!("{:016x}", visitor.wrapping_mul(0x2545_f491_4f6c_dd1d)),
        referrer: if x.is_multiple_of(5) {
            "https://www.google.com/".into()
        } else {
            String::new()
        },
        country: ["US", "DE", "JP", "FR", "BR"][(x % 5) as usize].into(),
        user_agent: agent,
        utm_source: if x.is_multiple_of(17) {
            "newsletter".into()
        } else {
            String::new()
        },
        ..PageHit::default()
    }
}

/// The process's peak resident set (VmHWM), KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
