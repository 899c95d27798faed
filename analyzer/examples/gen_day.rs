//! Writes a deterministic day of page hits as `hits/dt=YYYY-MM-DD/*.csv`, for the benchmark
//! and for trying the analyzer by hand.
//!
//! ```text
//! cargo run --release --example gen_day -- --hits 1000000 --out /tmp/day [--date 2026-11-25] [--files 8] [--seed 1] [--shape realistic|site|hostile|cardinality]
//! ```
//!
//! `--shape realistic` (the default; its bytes are unchanged since before the flag existed):
//! pages are Zipf-distributed (s = 1.1 over 2,000 paths); traffic follows a day/night
//! curve; visitors come in sessions of 1 to 12 page views a few seconds to 10 minutes apart;
//! about 30% of sessions are signed in (50,000 possible users, a user may use two devices);
//! 5% of hits are crawlers, 1% of hits are delivered twice (a retried batch), statuses are
//! mostly 2xx with some 3xx/4xx/5xx, referrers and countries vary. Every hit is a page view
//! without `utm_*` (record version 2's columns keep their defaults).
//!
//! `--shape site`: the realistic day (the same visits, pages and times) with what a dashboard's
//! filters are asked about: a quarter of the visitors on a second host (`docs.example`), nine
//! user agents (desktop, phone and tablet browsers), and 15% of sessions arriving from a
//! campaign (`utm_source`, `utm_medium` and `utm_campaign` on their first page view; four
//! sources, three campaigns).
//!
//! `--shape hostile`: a day built against work that grows with distinct values. Every hit is a
//! new visitor (no two hits share one, but for the duplicates); paths are
//! `/item/<slug>-<id>/reviews/page-<n>` drawn uniformly from a space of `hits * 5 / 11`, so
//! about 40% of hits are a distinct path (4M of 10M hits); 30% of human hits are signed in,
//! drawn from 300,000 users; referrers are empty, internal or long external URLs (thousands of
//! hosts); about 400 distinct user agents; 3% of hits are custom events (`signup`,
//! `cart:add`, ...), 10% carry `utm_*` campaigns; 5% crawlers, 1% delivered twice.
//!
//! `--shape cardinality`: a day built against memory that grows with distinct values. Visitors
//! and sessions as in the realistic day (a pool of `hits / 6` visitors, sessions of 1 to 12
//! page views), but every page view has its own path (`/c/<n>/<word>`, ~20 bytes), its own
//! external referrer (`https://r<n>.example.net/from/<n>`: a distinct referrer host, ~45 bytes)
//! and its own campaign (`utm_source=src<n>`, so also its own source, `utm_medium` one of four,
//! `utm_campaign=camp<n>`); 30% of human sessions are signed in, from a million users; 5%
//! crawlers, 1% delivered twice. Values are short on purpose: they are hostile by number, not by
//! size, and a 30M-hit day stays ~10 GB of CSV.
//!
//! The same arguments always give the same bytes.

use pagehit::{csv_header, time, PageHit};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// SplitMix64: tiny, fast and deterministic; statistical quality is plenty for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples index `i` with probability proportional to `1 / (i + 1)^s`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(s);
                total
            })
            .collect::<Vec<_>>();
        let cumulative = cumulative.into_iter().map(|c| c / total).collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1)
    }
}

/// What the day looks like (see the module's doc).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Realistic,
    Site,
    Hostile,
    Cardinality,
}

struct Args {
    hits: u64,
    out: PathBuf,
    date: String,
    files: usize,
    seed: u64,
    shape: Shape,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        hits: 1_000_000,
        out: PathBuf::new(),
        date: "2026-11-25".into(),
        files: 8,
        seed: 1,
        shape: Shape::Realistic,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--hits" => args.hits = value()?.parse().map_err(|e| format!("--hits: {e}"))?,
            "--out" => args.out = PathBuf::from(value()?),
            "--date" => args.date = value()?,
            "--files" => args.files = value()?.parse().map_err(|e| format!("--files: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--shape" => {
                args.shape = match value()?.as_str() {
                    "realistic" => Shape::Realistic,
                    "site" => Shape::Site,
                    "hostile" => Shape::Hostile,
                    "cardinality" => Shape::Cardinality,
                    other => {
                        return Err(format!(
                            "--shape takes realistic, site, hostile or cardinality, not {other}"
                        ))
                    }
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.out.as_os_str().is_empty() {
        return Err("--out DIR is required".into());
    }
    if time::parse_date(&args.date).is_none() {
        return Err(format!("--date {:?} is not YYYY-MM-DD", args.date));
    }
    if args.files == 0 {
        return Err("--files must be at least 1".into());
    }
    Ok(args)
}

const SECTIONS: [&str; 8] = [
    "products", "blog", "docs", "help", "news", "account", "search", "café",
];
const COUNTRIES: [&str; 10] = ["US", "DE", "JP", "GB", "FR", "IN", "BR", "CA", "KR", ""];
const REFERRERS: [&str; 6] = [
    "https://www.google.com/",
    "https://duckduckgo.com/",
    "https://news.ycombinator.com/item?id=1",
    "https://t.co/abc",
    "https://www.bing.com/search?q=shop",
    "https://shop.example/",
];
const BROWSERS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
];
/// The site day's agents: the realistic three and six more (phones, tablets, other desktops).
const SITE_AGENTS: [&str; 9] = [
    BROWSERS[0],
    BROWSERS[1],
    BROWSERS[2],
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];
/// The site day's campaigns.
const CAMPAIGNS: [&str; 3] = ["black-friday", "winter-sale", "launch"];
const BOTS: [&str; 2] = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
];

fn paths(n: usize) -> Vec<String> {
    let mut out = vec!["/".to_string()];
    for i in 1..n {
        let section = SECTIONS[i % SECTIONS.len()];
        out.push(format!("/{section}/item-{i}"));
    }
    out
}

/// Milliseconds into the day, following a day/night curve (fewest hits around 04:00).
fn time_of_day(rng: &mut Rng) -> i64 {
    loop {
        let ms = rng.below(time::MS_PER_DAY as u64) as f64;
        let hour = ms / 3_600_000.0;
        let weight = 0.55 - 0.45 * (std::f64::consts::TAU * (hour - 4.0) / 24.0).cos();
        if rng.unit() < weight {
            return ms as i64;
        }
    }
}

/// Writes `row` to a random file and, for 1% of rows, again to the next one: a retried batch
/// delivers the same record twice, into another object.
fn land(writers: &mut [BufWriter<std::fs::File>], rng: &mut Rng, row: &str) {
    let file = rng.below(writers.len() as u64) as usize;
    writers[file].write_all(row.as_bytes()).unwrap();
    if rng.unit() < 0.01 {
        let again = (file + 1) % writers.len();
        writers[again].write_all(row.as_bytes()).unwrap();
    }
}

/// The realistic day: sessions of Zipf pages (see the module's doc). Returns the hits written.
fn realistic(args: &Args, day: i64, writers: &mut [BufWriter<std::fs::File>]) -> u64 {
    let mut rng = Rng(args.seed);
    // The site shape draws its extras from a stream of its own, so that the realistic day's
    // bytes stay what they were.
    let site = args.shape == Shape::Site;
    let mut extra = Rng(args.seed ^ 0x5173_da11);
    let pages = paths(2000);
    let zipf = Zipf::new(pages.len(), 1.1);
    let visitors = (args.hits / 6).max(1);
    let mut written = 0u64;
    let mut serial = 0u64;
    let mut row = String::with_capacity(512);
    while written < args.hits {
        // One session.
        let visitor = rng.below(visitors);
        let is_bot = rng.unit() < 0.05;
        let user = if !is_bot && rng.unit() < 0.3 {
            // A user keeps their name across (up to) two devices: visitor -> user is many-to-one.
            let id = (visitor / 2) % 50_000;
            format!("user{id}@example.com")
        } else {
            String::new()
        };
        let country = COUNTRIES[(visitor % COUNTRIES.len() as u64) as usize];
        let ua = if is_bot {
            BOTS[(visitor % 2) as usize]
        } else if site {
            SITE_AGENTS[(visitor % SITE_AGENTS.len() as u64) as usize]
        } else {
            BROWSERS[(visitor % 3) as usize]
        };
        let host = if site && visitor % 4 == 3 {
            "docs.example"
        } else {
            "shop.example"
        };
        let (mut utm_source, mut utm_medium, mut utm_campaign) = Default::default();
        if site && !is_bot && extra.unit() < 0.15 {
            let k = extra.below(UTM_SOURCES.len() as u64) as usize;
            utm_source = UTM_SOURCES[k].to_string();
            utm_medium = UTM_MEDIUMS[k].to_string();
            utm_campaign = CAMPAIGNS[extra.below(CAMPAIGNS.len() as u64) as usize].to_string();
        }
        let hits_in_session = if is_bot {
            1 + rng.below(30)
        } else {
            1 + rng.below(12)
        };
        let mut ts = day * time::MS_PER_DAY + time_of_day(&mut rng);
        let mut referrer = if rng.unit() < 0.4 {
            REFERRERS[rng.below(REFERRERS.len() as u64 - 1) as usize].to_string()
        } else {
            String::new()
        };
        for _ in 0..hits_in_session {
            if written >= args.hits || ts >= (day + 1) * time::MS_PER_DAY {
                break;
            }
            serial += 1;
            let path = &pages[zipf.sample(&mut rng)];
            let roll = rng.below(1000);
            let status = match roll {
                0..=929 => 200,
                930..=959 => 304,
                960..=989 => 404,
                _ => 500 + (roll % 4) as u16,
            };
            let hit = PageHit {
                event_id: event_id(ts, serial),
                ts: time::format_ts(ts),
                host: host.into(),
                path: path.clone(),
                action: path
                    .split('/')
                    .nth(1)
                    .filter(|s| !s.is_empty())
                    .unwrap_or("index")
                    .into(),
                method: "GET".into(),
                status,
                user: user.clone(),
                visitor: format!("{:016x}", visitor.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                referrer: std::mem::take(&mut referrer),
                country: country.into(),
                user_agent: ua.into(),
                bot: is_bot,
                origin_ms: (rng.below(200) + 5) as u32,
                utm_source: std::mem::take(&mut utm_source),
                utm_medium: std::mem::take(&mut utm_medium),
                utm_campaign: std::mem::take(&mut utm_campaign),
                ..PageHit::default()
            };
            row.clear();
            hit.write_csv_row(&mut row);
            land(writers, &mut rng, &row);
            written += 1;
            // Next page of the session: internal navigation, seconds to 10 minutes later.
            referrer = format!("https://{host}{path}");
            ts += 2_000 + rng.below(600_000) as i64;
        }
    }
    written
}

/// Words of the hostile day's product slugs and referrer paths.
const WORDS: [&str; 32] = [
    "ergonomic",
    "wireless",
    "mechanical",
    "keyboard",
    "stainless",
    "steel",
    "water",
    "bottle",
    "organic",
    "cotton",
    "hoodie",
    "noise",
    "cancelling",
    "headphones",
    "portable",
    "espresso",
    "grinder",
    "waterproof",
    "hiking",
    "boots",
    "vintage",
    "leather",
    "wallet",
    "smart",
    "thermostat",
    "cordless",
    "vacuum",
    "cleaner",
    "bamboo",
    "cutting",
    "board",
    "deluxe",
];
/// Referrer hosts of the hostile day (plus thousands of `<word>-<n>.example.net`).
const HOSTS: [&str; 8] = [
    "www.google.com",
    "www.bing.com",
    "duckduckgo.com",
    "news.ycombinator.com",
    "www.reddit.com",
    "t.co",
    "www.facebook.com",
    "forum.example.org",
];
const EVENTS: [&str; 5] = [
    "signup",
    "cart:add",
    "checkout",
    "newsletter:subscribe",
    "video:play",
];
const UTM_SOURCES: [&str; 4] = ["newsletter", "google", "facebook", "twitter"];
const UTM_MEDIUMS: [&str; 4] = ["email", "cpc", "social", "referral"];

/// `count` words picked by the bits of `seed`, joined with `-`.
fn slug(mut seed: u64, count: usize) -> String {
    let mut out = String::with_capacity(count * 10);
    for k in 0..count {
        if k > 0 {
            out.push('-');
        }
        out.push_str(WORDS[(seed % WORDS.len() as u64) as usize]);
        seed /= WORDS.len() as u64;
    }
    out
}

/// The hostile day's path number `p`: `/item/<slug>-<id>/reviews/page-<n>`, 8 pages per item.
fn hostile_path(p: u64) -> String {
    let item = p / 8;
    let id = 100_000_000 + item * 7_919;
    let words = 3 + (item % 4) as usize;
    format!(
        "/item/{}-{id}/reviews/page-{}",
        slug(item.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20, words),
        p % 8 + 1
    )
}

/// User agent number `k` of 600 (about 400 distinct): browser family, version and OS vary.
fn hostile_agent(k: u64) -> String {
    let version = 110 + k % 30;
    let os = [
        "Windows NT 10.0; Win64; x64",
        "Macintosh; Intel Mac OS X 10_15_7",
        "X11; Linux x86_64",
        "Linux; Android 14; Pixel 8",
    ][((k / 30) % 4) as usize];
    match (k / 120) % 5 {
        0 => format!("Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36"),
        1 => format!("Mozilla/5.0 ({os}; rv:{version}.0) Gecko/20100101 Firefox/{version}.0"),
        2 => format!("Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36 Edg/{version}.0.0.0"),
        3 => format!("Mozilla/5.0 (iPhone; CPU iPhone OS {}_{} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{}.0 Mobile/15E148 Safari/604.1", 15 + k % 4, k % 8, 15 + k % 4),
        _ => format!("Mozilla/5.0 (iPad; CPU OS {}_{} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{}.0 Mobile/15E148 Safari/604.1", 15 + k % 4, k % 8, 15 + k % 4),
    }
}

/// The hostile day (see the module's doc): every hit independent of the others. Returns the
/// hits written.
fn hostile(args: &Args, day: i64, writers: &mut [BufWriter<std::fs::File>]) -> u64 {
    let mut rng = Rng(args.seed);
    // Drawing hits uniformly from hits * 5 / 11 paths gives about 0.4 * hits distinct ones:
    // P (1 - e^(-hits/P)) = 0.4 hits for hits / P = 2.2.
    let path_space = (args.hits * 5 / 11).max(1);
    let agents: Vec<String> = (0..600).map(hostile_agent).collect();
    let mut row = String::with_capacity(1024);
    for serial in 1..=args.hits {
        let ts = day * time::MS_PER_DAY + time_of_day(&mut rng);
        let path = hostile_path(rng.below(path_space));
        let is_bot = rng.unit() < 0.05;
        let user = if !is_bot && rng.unit() < 0.3 {
            format!("member{}@mail.example.org", rng.below(300_000))
        } else {
            String::new()
        };
        let referrer = match rng.below(100) {
            0..=34 => String::new(),
            35..=64 => format!(
                "https://shop.example{}",
                hostile_path(rng.below(path_space))
            ),
            roll => {
                let host = if roll < 80 {
                    HOSTS[rng.below(HOSTS.len() as u64) as usize].to_string()
                } else {
                    format!("{}-{}.example.net", slug(rng.next(), 1), rng.below(5_000))
                };
                let words = 4 + rng.below(6) as usize;
                format!(
                    "https://{host}/t/{}/{}/comments/{}",
                    slug(rng.next(), words),
                    rng.below(10_000_000),
                    rng.below(500)
                )
            }
        };
        let event = if rng.unit() < 0.03 {
            EVENTS[rng.below(EVENTS.len() as u64) as usize]
        } else {
            pagehit::PAGEVIEW
        };
        let (mut utm_source, mut utm_medium, mut utm_campaign) =
            (String::new(), String::new(), String::new());
        let (mut utm_term, mut utm_content) = (String::new(), String::new());
        if rng.unit() < 0.1 {
            let k = rng.below(UTM_SOURCES.len() as u64) as usize;
            utm_source = UTM_SOURCES[k].to_string();
            utm_medium = UTM_MEDIUMS[k].to_string();
            utm_campaign = if rng.unit() < 0.5 {
                "winter-sale-2026".to_string()
            } else {
                format!("launch-{}", rng.below(200))
            };
            if k == 1 {
                utm_term = slug(rng.next(), 2).replace('-', "+");
            }
            if rng.unit() < 0.3 {
                utm_content = format!("banner-{}", rng.below(20));
            }
        }
        let roll = rng.below(1000);
        let status = match roll {
            0..=929 => 200,
            930..=959 => 304,
            960..=989 => 404,
            _ => 500 + (roll % 4) as u16,
        };
        let visitor = serial.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ args.seed;
        let user_agent = if is_bot {
            BOTS[(serial % 2) as usize].to_string()
        } else {
            agents[rng.below(agents.len() as u64) as usize].clone()
        };
        let hit = PageHit {
            event_id: event_id(ts, serial),
            ts: time::format_ts(ts),
            host: "shop.example".into(),
            path,
            action: "item".into(),
            method: "GET".into(),
            status,
            user,
            visitor: format!("{visitor:016x}"),
            referrer,
            country: COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize].into(),
            user_agent,
            bot: is_bot,
            origin_ms: (rng.below(200) + 5) as u32,
            event: event.into(),
            utm_source,
            utm_medium,
            utm_campaign,
            utm_term,
            utm_content,
        };
        row.clear();
        hit.write_csv_row(&mut row);
        land(writers, &mut rng, &row);
    }
    args.hits
}

/// The cardinality day (see the module's doc): sessions whose every page view has its own
/// path, referrer host and campaign. Returns the hits written.
fn cardinality(args: &Args, day: i64, writers: &mut [BufWriter<std::fs::File>]) -> u64 {
    let mut rng = Rng(args.seed);
    let visitors = (args.hits / 6).max(1);
    let mut written = 0u64;
    let mut row = String::with_capacity(512);
    while written < args.hits {
        let visitor = rng.below(visitors);
        let is_bot = rng.unit() < 0.05;
        let user = if !is_bot && rng.unit() < 0.3 {
            format!("u{}@example.com", rng.below(1_000_000))
        } else {
            String::new()
        };
        let ua = if is_bot {
            BOTS[(visitor % 2) as usize]
        } else {
            BROWSERS[(visitor % 3) as usize]
        };
        let country = COUNTRIES[(visitor % COUNTRIES.len() as u64) as usize];
        let hits_in_session = 1 + rng.below(12);
        let mut ts = day * time::MS_PER_DAY + time_of_day(&mut rng);
        for _ in 0..hits_in_session {
            if written >= args.hits || ts >= (day + 1) * time::MS_PER_DAY {
                break;
            }
            written += 1;
            let n = written;
            let status = if rng.below(100) < 3 { 404 } else { 200 };
            let hit = PageHit {
                event_id: event_id(ts, n),
                ts: time::format_ts(ts),
                host: "shop.example".into(),
                path: format!("/c/{n}/{}", WORDS[(n % WORDS.len() as u64) as usize]),
                action: "c".into(),
                method: "GET".into(),
                status,
                user: user.clone(),
                visitor: format!("{:016x}", visitor.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                referrer: format!("https://r{n}.example.net/from/{n}"),
                country: country.into(),
                user_agent: ua.into(),
                bot: is_bot,
                origin_ms: (rng.below(200) + 5) as u32,
                utm_source: format!("src{n}"),
                utm_medium: UTM_MEDIUMS[(n % UTM_MEDIUMS.len() as u64) as usize].into(),
                utm_campaign: format!("camp{n}"),
                ..PageHit::default()
            };
            row.clear();
            hit.write_csv_row(&mut row);
            land(writers, &mut rng, &row);
            ts += 2_000 + rng.below(600_000) as i64;
        }
    }
    written
}

/// A UUIDv7-shaped id: the 48-bit ms timestamp, version 7, variant 8, then a serial for
/// uniqueness.
fn event_id(ts: i64, serial: u64) -> String {
    let ms = (ts as u128) & 0xffff_ffff_ffff;
    let s = u128::from(serial);
    pagehit::rules::uuid_text(
        ms << 80
            | 0x7 << 76
            | ((s >> 48) & 0xfff) << 64
            | 0x8 << 60
            | ((s >> 36) & 0xfff) << 48
            | (s & 0xffff_ffff_ffff),
    )
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen_day: {e}");
            std::process::exit(2);
        }
    };
    let day = time::parse_date(&args.date).expect("checked");
    let dir = args.out.join(format!("hits/dt={}", args.date));
    std::fs::create_dir_all(&dir).expect("creating the output folder");
    let mut writers: Vec<BufWriter<std::fs::File>> = (0..args.files)
        .map(|k| {
            let path = dir.join(format!("shardId-{k:012}-{:020}.csv", 1000 + k));
            let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
            w.write_all(csv_header().as_bytes()).unwrap();
            w
        })
        .collect();

    let written = match args.shape {
        Shape::Realistic | Shape::Site => realistic(&args, day, &mut writers),
        Shape::Hostile => hostile(&args, day, &mut writers),
        Shape::Cardinality => cardinality(&args, day, &mut writers),
    };
    for mut w in writers {
        w.flush().unwrap();
    }
    eprintln!(
        "gen_day: {written} hits (plus ~1% duplicates) in {} files under {}",
        args.files,
        dir.display()
    );
}
