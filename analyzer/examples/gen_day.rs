//! Writes a deterministic, realistic day of page hits as `hits/dt=YYYY-MM-DD/*.csv`, for the
//! benchmark and for trying the analyzer by hand.
//!
//! ```text
//! cargo run --release --example gen_day -- --hits 1000000 --out /tmp/day [--date 2026-11-25] [--files 8] [--seed 1]
//! ```
//!
//! Shape: pages are Zipf-distributed (s = 1.1 over 2,000 paths); traffic follows a day/night
//! curve; visitors come in sessions of 1 to 12 page views a few seconds to 10 minutes apart;
//! about 30% of sessions are signed in (50,000 possible users, a user may use two devices);
//! 5% of hits are crawlers, 1% of hits are delivered twice (a retried batch), statuses are
//! mostly 2xx with some 3xx/4xx/5xx, referrers and countries vary. The same arguments always
//! give the same bytes.

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

struct Args {
    hits: u64,
    out: PathBuf,
    date: String,
    files: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        hits: 1_000_000,
        out: PathBuf::new(),
        date: "2026-11-25".into(),
        files: 8,
        seed: 1,
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

    let mut rng = Rng(args.seed);
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
        } else {
            BROWSERS[(visitor % 3) as usize]
        };
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
                // UUIDv7 layout: 48-bit ms timestamp, version 7, then a serial for uniqueness.
                event_id: format!(
                    "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
                    (ts >> 16) as u32,
                    (ts & 0xffff) as u16,
                    (serial >> 48) & 0xfff,
                    (serial >> 36) & 0xfff,
                    serial & 0xffff_ffff_ffff
                ),
                ts: time::format_ts(ts),
                host: "shop.example".into(),
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
                ..PageHit::default()
            };
            row.clear();
            hit.write_csv_row(&mut row);
            let file = rng.below(args.files as u64) as usize;
            writers[file].write_all(row.as_bytes()).unwrap();
            // A retried batch delivers the same record again, into another file.
            if rng.unit() < 0.01 {
                let again = (file + 1) % args.files;
                writers[again].write_all(row.as_bytes()).unwrap();
            }
            written += 1;
            // Next page of the session: internal navigation, seconds to 10 minutes later.
            referrer = format!("https://shop.example{path}");
            ts += 2_000 + rng.below(600_000) as i64;
        }
    }
    for mut w in writers {
        w.flush().unwrap();
    }
    eprintln!(
        "gen_day: {written} hits (plus ~1% duplicates) in {} files under {}",
        args.files,
        dir.display()
    );
}
