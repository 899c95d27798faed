//! A period kept in memory (the dashboard's cache: laid out in visitor order, its unfiltered
//! marks kept and reused for the visitors a filter keeps whole) gives the same report as the
//! same period read anew, under every filter and in any order of asking.
//!
//! The day is generated (deterministic): 300 visitors with one to three sessions of one to
//! six page views over two hosts, some changing country, host, agent or page on the way (so filters
//! keep some visitors whole, some in part and some not at all), campaigns, referrers, events
//! and signed-in users.

use analyzer::period::Period;
use analyzer::progress::Progress;
use analyzer::report::cache::Cache;
use analyzer::report::filter::{Filter, Filters};
use analyzer::report::query::{self, Query};
use pagehit::{csv_header, PageHit};
use std::path::Path;
use store::{Location, Store};

const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
];
const PAGES: [&str; 6] = ["/", "/pricing", "/blog/one", "/blog/two", "/docs", "/about"];
const COUNTRIES: [&str; 3] = ["US", "JP", "DE"];

/// SplitMix64, for a day that is the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Writes the day's hits as one landed file of 2026-11-25.
fn write_day(root: &Path) {
    let mut rng = Rng(7);
    let mut body = csv_header();
    let mut n = 0u64;
    let day0 = 1_795_564_800_000i64; // 2026-11-25T00:00:00Z
    for v in 0..300u64 {
        let mut agent = AGENTS[rng.below(3) as usize];
        let mut country = COUNTRIES[rng.below(3) as usize];
        let mut host = if rng.below(4) == 0 {
            "docs.example"
        } else {
            "shop.example"
        };
        let user = if rng.below(5) == 0 {
            format!("user{}", rng.below(40))
        } else {
            String::new()
        };
        let mut ts = day0 + rng.below(20 * 3_600_000) as i64;
        for _session in 0..=rng.below(3) {
            let (source, campaign) = match rng.below(4) {
                0 => ("https://news.example/a", ""),
                1 => ("https://search.example/?q", "spring"),
                _ => ("", ""),
            };
            for k in 0..=rng.below(6) {
                // Some visitors move: another country (a new IP), the other host, another
                // browser (the same visitor id on two agents, e.g. a copied cookie).
                if rng.below(15) == 0 {
                    agent = AGENTS[rng.below(3) as usize];
                }
                if rng.below(12) == 0 {
                    country = COUNTRIES[rng.below(3) as usize];
                }
                if rng.below(12) == 0 {
                    host = if host == "shop.example" {
                        "docs.example"
                    } else {
                        "shop.example"
                    };
                }
                let first = k == 0;
                let event = if !first && rng.below(6) == 0 {
                    "signup"
                } else {
                    "pageview"
                };
                let h = PageHit {
                    event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
                    ts: pagehit::time::format_ts(ts),
                    host: host.into(),
                    path: PAGES[rng.below(6) as usize].into(),
                    action: "x".into(),
                    method: "GET".into(),
                    status: if rng.below(20) == 0 { 404 } else { 200 },
                    user: user.clone(),
                    visitor: format!("{v:016x}"),
                    referrer: if first {
                        source.into()
                    } else {
                        format!("https://{host}/")
                    },
                    country: country.into(),
                    user_agent: agent.into(),
                    origin_ms: 3,
                    event: event.into(),
                    utm_source: if first && !campaign.is_empty() {
                        "search".into()
                    } else {
                        String::new()
                    },
                    utm_campaign: if first {
                        campaign.into()
                    } else {
                        String::new()
                    },
                    ..PageHit::default()
                };
                h.validate().unwrap();
                h.write_csv_row(&mut body);
                n += 1;
                ts += 1_000 + rng.below(600_000) as i64;
            }
            ts += 31 * 60_000 + rng.below(3_600_000) as i64;
        }
    }
    let dir = root.join("hits/dt=2026-11-25");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("part.csv"), body).unwrap();
}

/// The JSON report of the day under `filters`, through `cache` when given.
fn report(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    filters: &[&str],
    cache: Option<&Cache>,
) -> String {
    let mut q = Query::new(Period::day(20_782, chrono_tz::UTC));
    q.filters = Filters(filters.iter().map(|f| Filter::parse(f).unwrap()).collect());
    let report =
        query::run_with(rt.handle(), store, &q, cache, &Progress::silent(), &|_| {}).unwrap();
    let mut out = Vec::new();
    analyzer::output::json::write(&report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The day in a folder of its own (kept while the folder lives), a runtime and its store.
fn day() -> (tempfile::TempDir, tokio::runtime::Runtime, Store) {
    let dir = tempfile::tempdir().unwrap();
    write_day(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt
        .block_on(Store::open(&Location::Dir(dir.path().to_path_buf())))
        .unwrap();
    (dir, rt, store)
}

#[test]
fn a_kept_period_counts_as_one_read_anew_under_every_filter() {
    let (_dir, rt, store) = day();
    let asks: [&[&str]; 12] = [
        &[],
        &["country=JP"],
        &["country!=JP"],
        &["host=docs.example"],
        &["page=/pricing"],
        &["page!~blog"],
        &["browser=Firefox"],
        &["device!=desktop", "country=US|DE"],
        &["source=news.example"],
        &["entry_page=/"],
        &["exit_page=/docs"],
        &["utm_campaign=spring", "host=shop.example"],
    ];
    let fresh: Vec<String> = asks.iter().map(|f| report(&rt, &store, f, None)).collect();
    // Asked unfiltered first (the marks are kept then), and filtered first (kept by a
    // filtered count), then in reverse.
    for order in [
        (0..asks.len()).collect::<Vec<_>>(),
        (1..asks.len()).chain([0]).collect(),
        (0..asks.len()).rev().collect(),
    ] {
        let cache = Cache::new(1 << 30);
        for &i in &order {
            let kept = report(&rt, &store, asks[i], Some(&cache));
            assert!(
                kept == fresh[i],
                "{:?} (order {order:?}): kept and read anew differ",
                asks[i]
            );
        }
        assert_eq!(cache.stats().read, 1, "the day was read once and kept");
    }
    // The filters keep visitors whole, in part and not at all (else the test shows nothing).
    let visitors = |json: &str| {
        serde_json::from_str::<serde_json::Value>(json).unwrap()["summary"]["visitors"]
            .as_u64()
            .unwrap()
    };
    assert!(
        visitors(&fresh[1]) + visitors(&fresh[2]) > visitors(&fresh[0]),
        "visitors that change country"
    );
    assert!(visitors(&fresh[4]) > 0 && visitors(&fresh[4]) < visitors(&fresh[0]));
}
