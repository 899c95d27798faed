//! Decode + validate + CSV-encode throughput of the aggregator's core (one thread).
//! Goal: >= 500k records/s, so one core keeps up with 500 shards at 1000 records/s each.
//!
//! `cargo bench -p aggregator --bench encode`

use aggregator::transform::batch::{build, StreamRecord};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pagehit::{time, PageHit};
use std::hint::black_box;

/// 100k hits like the edge makes them: varied paths, referrers, user agents, a third signed
/// in, some CSV-special characters, a day of timestamps.
fn realistic_records(n: usize) -> Vec<(String, String)> {
    let paths = [
        "/",
        "/products",
        "/about",
        "/blog/2026/11/edge-analytics-in-rust",
        "/faq",
        "/search,results",
        "/café/menu",
    ];
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ];
    (0..n)
        .map(|i| {
            let hit = PageHit {
                event_id: format!("01936b2e-{:04x}-7abc-8def-{:012x}", i % 0xffff, i),
                ts: time::format_ts(1_795_651_200_000 + (i as i64) * 864),
                host: "shop.example.com".into(),
                path: paths[i % paths.len()].into(),
                action: "products".into(),
                method: "GET".into(),
                status: if i % 50 == 0 { 404 } else { 200 },
                user: if i % 3 == 0 {
                    format!("user{} \"the {}th\"", i % 5000, i % 7)
                } else {
                    String::new()
                },
                visitor: format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                referrer: if i % 4 == 0 {
                    "https://www.google.com/search?q=edge+analytics".into()
                } else {
                    String::new()
                },
                country: "DE".into(),
                user_agent: agents[i % agents.len()].into(),
                bot: i % agents.len() == 3,
                origin_ms: (i % 120) as u32,
                ..PageHit::default()
            };
            (
                hit.to_json(),
                format!("4959033827149025660855969253836157109592157598{:010}", i),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    const N: usize = 100_000;
    let raw = realistic_records(N);
    let records: Vec<StreamRecord<'_>> = raw
        .iter()
        .map(|(json, seq)| StreamRecord {
            sequence: seq,
            arrival_ms: 1_795_651_200_000,
            data: json.as_bytes(),
        })
        .collect();
    let bytes: usize = raw.iter().map(|(j, _)| j.len()).sum();
    eprintln!(
        "{N} records, {:.1} MB of JSON, {} bytes/record",
        bytes as f64 / 1e6,
        bytes / N
    );
    let mut group = c.benchmark_group("aggregator-core");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(20);
    group.bench_function("decode+validate+csv 100k hits", |b| {
        b.iter(|| {
            let out = build(black_box(&records));
            assert_eq!(out.hits, N);
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
