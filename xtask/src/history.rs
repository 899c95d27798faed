//! A labelled synthetic history for the demo: whole UTC days of traffic that look like a real
//! site's, generated deterministically as [`PageHit`]s.
//!
//! The live burst of `cargo xtask demo` lasts seconds, so a report of it has one hourly bar,
//! no bounces and identical visitors. This module makes the days before it: a diurnal curve,
//! quieter weekends, sessions with bounces, search, social and direct visitors, a weekly
//! newsletter and an ads campaign, desktop, mobile and tablet browsers, signed-in users on two
//! devices, custom events at a plausible conversion rate, a few 404s, an outage's 5xx and a few
//! crawlers. The demo puts the hits on the same Kinesis stream as the worker's, in the same JSON
//! form with the visitor as partition key, so the same aggregator lands them.
//!
//! Every hit is on the host [`HOST`]: a name under `.example` (RFC 2606, never a real site), so
//! any row of the history can be told from real traffic by its `host` alone (the report's
//! `hosts` list and `--filter host=` show it apart); its own host makes the history's internal
//! navigation internal, so it is not a source, as on a real site.
//!
//! [`History::tally`] is what a report of any span of the history must say, kept from the
//! generator's own choices (each agent's device class is declared in [`AGENTS`], each session
//! is counted as it is made), so a test can hold the whole pipeline to it.

use pagehit::rules::{is_bot, ActionMap};
use pagehit::time::{format_date, format_ts, MS_PER_DAY};
use pagehit::{PageHit, PAGEVIEW};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The host of every synthetic hit.
pub const HOST: &str = "history.demo.example";

/// The session gap of the analyzer's sessions: page views more than this apart are two sessions.
const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// A user agent of the history and the device class it stands for.
pub struct Agent {
    /// The `User-Agent` header, as the browser sends it.
    pub ua: &'static str,
    /// `desktop`, `mobile`, `tablet` or `other` (crawlers): the analyzer's classes.
    pub device: &'static str,
    /// Relative share among people's devices (0 for crawlers, which are scheduled apart).
    weight: u32,
}

/// Real browsers' agents (late 2026 versions) with their shares, then the crawlers.
pub const AGENTS: &[Agent] = &[
    Agent {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
        device: "desktop",
        weight: 24,
    },
    Agent {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
        device: "desktop",
        weight: 7,
    },
    Agent {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
        device: "desktop",
        weight: 4,
    },
    Agent {
        ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15",
        device: "desktop",
        weight: 8,
    },
    Agent {
        ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
        device: "desktop",
        weight: 7,
    },
    Agent {
        ua: "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
        device: "desktop",
        weight: 3,
    },
    Agent {
        ua: "Mozilla/5.0 (X11; CrOS x86_64 16433.57.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
        device: "desktop",
        weight: 1,
    },
    Agent {
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 26_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Mobile/15E148 Safari/604.1",
        device: "mobile",
        weight: 17,
    },
    Agent {
        ua: "Mozilla/5.0 (Linux; Android 16; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.7444.102 Mobile Safari/537.36",
        device: "mobile",
        weight: 9,
    },
    Agent {
        ua: "Mozilla/5.0 (Linux; Android 15; SM-S931B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36",
        device: "mobile",
        weight: 5,
    },
    Agent {
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 26_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/142.0.7444.77 Mobile/15E148 Safari/604.1",
        device: "mobile",
        weight: 3,
    },
    Agent {
        ua: "Mozilla/5.0 (Android 16; Mobile; rv:145.0) Gecko/145.0 Firefox/145.0",
        device: "mobile",
        weight: 1,
    },
    Agent {
        ua: "Mozilla/5.0 (iPad; CPU OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.7 Mobile/15E148 Safari/604.1",
        device: "tablet",
        weight: 4,
    },
    Agent {
        ua: "Mozilla/5.0 (Linux; Android 15; SM-X716B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
        device: "tablet",
        weight: 2,
    },
    // Crawlers, monitors and scanners (scheduled by `BOT_VISITS`, never a person's device).
    Agent {
        ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        device: "other",
        weight: 0,
    },
    Agent {
        ua: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        device: "other",
        weight: 0,
    },
    Agent {
        ua: "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        device: "other",
        weight: 0,
    },
    Agent {
        ua: "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        device: "other",
        weight: 0,
    },
    Agent {
        ua: "python-requests/2.32.5",
        device: "other",
        weight: 0,
    },
];

/// The uptime monitor of [`AGENTS`]: it asks for `/` at the same minute of every hour.
const MONITOR: usize = 17;

/// Crawler visits a day: agent index, hits, and which paths (`None`: the site's pages).
const BOT_VISITS: [(usize, u32, Option<&[&str]>); 5] = [
    (14, 40, None),
    (15, 15, None),
    (16, 10, None),
    (MONITOR, 24, Some(&["/"])),
    // A scanner looking for well-known weaknesses: all 404s.
    (
        18,
        4,
        Some(&["/wp-login.php", "/.env", "/admin", "/phpmyadmin/"]),
    ),
];

/// The demo site's eight pages (the worker's demo mode), most popular first.
const PAGES: [&str; 8] = [
    "/",
    "/products",
    "/blog",
    "/about",
    "/services",
    "/faq",
    "/contact",
    "/portfolio",
];

/// Links from elsewhere that lead nowhere any more: visitors get a 404.
const DEAD_PATHS: [&str; 3] = ["/pricing", "/blog/2019/launch", "/prodcts"];

/// Share of sessions starting in each UTC hour: a European audience with an American evening,
/// quiet at night, busy mornings, an after-work peak.
const DIURNAL: [u32; 24] = [
    16, 11, 8, 6, 5, 6, 11, 22, 40, 56, 64, 68, 70, 68, 66, 64, 62, 62, 66, 74, 78, 68, 48, 28,
];

/// Monday to Sunday traffic, relative.
const WEEKDAY: [f64; 7] = [1.0, 1.03, 1.0, 0.97, 0.9, 0.66, 0.7];

/// Where a session came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Direct,
    Search(&'static str),
    Social(&'static str),
    Newsletter,
    Ads,
}

/// Organic sessions by source (campaign sessions are scheduled apart).
const ORGANIC: [(Source, u32); 9] = [
    (Source::Direct, 38),
    (Source::Search("https://www.google.com/"), 30),
    (Source::Search("https://duckduckgo.com/"), 6),
    (Source::Search("https://www.bing.com/"), 4),
    (Source::Social("https://news.ycombinator.com/"), 6),
    (Source::Social("https://www.reddit.com/r/rust/"), 5),
    (Source::Social("https://github.com/"), 5),
    (Source::Social("https://t.co/"), 3),
    (Source::Social("https://lobste.rs/"), 3),
];

const COUNTRIES: [(&str, u32); 16] = [
    ("DE", 20),
    ("US", 20),
    ("GB", 10),
    ("FR", 8),
    ("NL", 6),
    ("IN", 5),
    ("JP", 4),
    ("CA", 4),
    ("SE", 3),
    ("PL", 3),
    ("BR", 3),
    ("ES", 3),
    ("IT", 3),
    ("AU", 2),
    ("CH", 2),
    ("", 1),
];

const FIRST_NAMES: [&str; 24] = [
    "ana", "ben", "chloe", "dmitri", "emma", "farid", "grace", "hiro", "ines", "jonas", "kofi",
    "lena", "mateo", "nina", "oscar", "priya", "quinn", "rosa", "sven", "tara", "uma", "victor",
    "wen", "yusuf",
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The first UTC day, in days since the Unix epoch.
    pub first_day: i64,
    /// How many days.
    pub days: u32,
    /// Organic visitor sessions on a plain weekday at the start; weekends, growth and
    /// campaigns move each day's number around this.
    pub sessions_per_day: u32,
    /// The same seed and days give the same hits, byte for byte.
    pub seed: u64,
}

/// The demo's history: this many whole UTC days before today, so that its last week can be
/// compared with the week before it.
pub const DEMO_DAYS: u32 = 14;
/// Its organic sessions on a plain weekday: about 2,000 hits a day, 28,000 in all; small
/// enough that putting, landing, compacting and reporting them takes well under a minute on
/// 2 cores, big enough for every list of the dashboard to have a shape.
pub const DEMO_SESSIONS: u32 = 700;
/// The same history every run (only its dates move with today).
pub const DEMO_SEED: u64 = 2026;

impl Plan {
    /// The demo's history before `today` (days since the epoch).
    pub fn demo(today: i64) -> Plan {
        Plan::before(today, DEMO_DAYS, DEMO_SESSIONS, DEMO_SEED)
    }

    /// The `days` whole UTC days just before `today` (days since the epoch).
    pub fn before(today: i64, days: u32, sessions_per_day: u32, seed: u64) -> Plan {
        Plan {
            first_day: today - i64::from(days),
            days,
            sessions_per_day,
            seed,
        }
    }

    /// The last day, in days since the epoch.
    pub fn last_day(&self) -> i64 {
        self.first_day + i64::from(self.days) - 1
    }
}

/// Page views and distinct visitors of one row of a report's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub hits: u64,
    pub visitors: u64,
}

/// Page views, distinct users and distinct visitors of one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Day {
    pub hits: u64,
    pub users: u64,
    pub visitors: u64,
}

/// What a report of days of the history must say (bots left out, as the report does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Page views by people.
    pub page_views: u64,
    /// Crawler hits.
    pub bots: u64,
    /// Custom events by people.
    pub events: u64,
    /// Distinct visitors and signed-in users with a page view.
    pub visitors: u64,
    pub users: u64,
    /// Visitor sessions (no gap over 30 minutes) and those of one page view.
    pub sessions: u64,
    pub bounces: u64,
    /// Page views per UTC hour.
    pub hourly: [u64; 24],
    /// Per UTC day (`YYYY-MM-DD`).
    pub daily: BTreeMap<String, Day>,
    /// Per custom event name.
    pub by_event: BTreeMap<String, Count>,
    /// Per (`utm_source`, `utm_medium`, `utm_campaign`).
    pub campaigns: BTreeMap<(String, String, String), Count>,
    /// Per device class, as [`AGENTS`] declares it.
    pub devices: BTreeMap<&'static str, Count>,
    /// Page views by status class: 1xx to 5xx.
    pub status_classes: [u64; 5],
}

/// The generated days.
#[derive(Debug, Clone)]
pub struct History {
    /// What was asked for.
    pub plan: Plan,
    /// Every hit, ordered by `ts` (then `event_id`), as the days would have sent them.
    pub hits: Vec<PageHit>,
    /// Per day of the plan: (visitor sessions, bounces), counted as they were made.
    sessions: Vec<(u64, u64)>,
}

/// SplitMix64: small, fast and good enough for traffic; the same stream on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64) as i64
    }
    fn weighted(&mut self, weights: impl IntoIterator<Item = u32> + Clone) -> usize {
        let total: u64 = weights.clone().into_iter().map(u64::from).sum();
        let mut x = self.below(total);
        for (i, w) in weights.into_iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        unreachable!("x < total")
    }
    fn pick<T: Copy>(&mut self, table: &[(T, u32)]) -> T {
        table[self.weighted(table.iter().map(|(_, w)| *w))].0
    }
    /// A page index with Zipf weights (s = 1): `/` most, `/portfolio` least.
    fn page(&mut self) -> &'static str {
        PAGES[self.weighted((1..=PAGES.len() as u32).map(|i| 840 / i))]
    }
}

/// SplitMix64's finaliser: spreads any input over all 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A UUIDv7 (RFC 9562) as the edge makes it: 48-bit Unix milliseconds, version 7, variant 10,
/// 74 random bits.
fn uuid_v7(ms: i64, rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    let ms = (ms as u64) & 0xffff_ffff_ffff;
    let ver = 0x7000 | (a & 0x0fff);
    let var = 0x8000 | ((a >> 16) & 0x3fff);
    let node = b & 0xffff_ffff_ffff;
    format!(
        "{:08x}-{:04x}-{ver:04x}-{var:04x}-{node:012x}",
        ms >> 16,
        ms & 0xffff
    )
}

/// One person: the devices they use, where they are, their account if any.
struct Person {
    /// (device key, agent index); two for the signed-in users who also use a phone.
    devices: Vec<(u64, usize)>,
    country: &'static str,
    user: Option<String>,
}

impl Person {
    fn make(i: usize, rng: &mut Rng) -> Person {
        let agent = |rng: &mut Rng| rng.weighted(AGENTS.iter().map(|a| a.weight));
        let country = rng.pick(&COUNTRIES);
        let key = |n: u64| mix(((i as u64) << 8) | n);
        // About one person in seven has an account; half of those use it on a computer and a
        // phone, so one user has two visitors.
        if rng.chance(0.14) {
            let user = format!(
                "{}.{}",
                FIRST_NAMES[i % FIRST_NAMES.len()],
                (b'a' + (i / FIRST_NAMES.len() % 26) as u8) as char
            );
            let devices = if rng.chance(0.5) {
                let desktop = [0, 3, 4][rng.below(3) as usize];
                let phone = [7, 8][rng.below(2) as usize];
                vec![(key(0), desktop), (key(1), phone)]
            } else {
                vec![(key(0), agent(rng))]
            };
            return Person {
                devices,
                country,
                user: Some(user),
            };
        }
        Person {
            devices: vec![(key(0), agent(rng))],
            country,
            user: None,
        }
    }
}

/// The visitor id of a device on a UTC day: 16 hex characters that change every day, like the
/// edge's daily-salted hash (the same device is another visitor tomorrow).
fn visitor(seed: u64, device: u64, day: i64) -> String {
    format!("{:016x}", mix(mix(seed ^ device) ^ day as u64))
}

/// The day being generated: its hits and the visitors' busy times.
struct DayGen<'a> {
    plan: &'a Plan,
    day: i64,
    rng: Rng,
    actions: ActionMap,
    hits: Vec<PageHit>,
    /// Per visitor, the (first, last) page view of each of its sessions so far.
    busy: HashMap<String, Vec<(i64, i64)>>,
    sessions: u64,
    bounces: u64,
    /// The origin was down for these 20 minutes: page views got 502.
    outage: Option<(i64, i64)>,
}

/// One session as asked for: who, when, from where.
struct Visit<'a> {
    person: &'a Person,
    start: i64,
    source: Source,
    /// (`utm_source`, `utm_medium`, `utm_campaign`, `utm_content`) of the landing page.
    utm: Option<(&'static str, &'static str, String, &'static str)>,
}

impl DayGen<'_> {
    fn day_start(&self) -> i64 {
        self.day * MS_PER_DAY
    }

    /// A moment in the day: an hour by the diurnal curve, then uniform in it.
    fn moment(&mut self, curve: &[u32; 24]) -> i64 {
        let hour = self.rng.weighted(curve.iter().copied()) as i64;
        self.day_start() + hour * 3_600_000 + self.rng.below(3_600_000) as i64
    }

    #[allow(clippy::too_many_arguments)]
    fn hit(
        &mut self,
        ts: i64,
        path: &str,
        status: u16,
        event: &str,
        person_user: &str,
        visitor: &str,
        agent: usize,
        country: &str,
        referrer: &str,
    ) -> PageHit {
        PageHit {
            event_id: uuid_v7(ts, &mut self.rng),
            ts: format_ts(ts),
            host: HOST.to_string(),
            path: path.to_string(),
            action: self.actions.action_for(path),
            method: "GET".to_string(),
            status,
            user: person_user.to_string(),
            visitor: visitor.to_string(),
            referrer: referrer.to_string(),
            country: country.to_string(),
            user_agent: AGENTS[agent].ua.to_string(),
            bot: is_bot(AGENTS[agent].ua),
            origin_ms: 0,
            event: event.to_string(),
            ..PageHit::default()
        }
    }

    /// Makes one session; skipped when the device already has a session within 30 minutes of
    /// this one (the two would be one session to the analyzer, and the tally would be wrong).
    fn session(&mut self, visit: Visit<'_>) {
        let day_end = self.day_start() + MS_PER_DAY;
        let rng = &mut self.rng;
        let (device, agent) =
            visit.person.devices[rng.below(visit.person.devices.len() as u64) as usize];
        let visitor = visitor(self.plan.seed, device, self.day);
        let user = visit.person.user.clone().unwrap_or_default();
        let (landing, referrer, bounce) = match visit.source {
            Source::Direct => (if rng.chance(0.6) { "/" } else { rng.page() }, "", 0.33),
            Source::Search(r) => (rng.page(), r, 0.45),
            Source::Social(r) => (
                if rng.chance(0.75) {
                    "/blog"
                } else {
                    rng.page()
                },
                r,
                0.6,
            ),
            Source::Newsletter => ("/blog", "", 0.38),
            Source::Ads => ("/products", "https://www.google.com/", 0.55),
        };
        // An old link somewhere: the visitor lands on a 404, then often gives up.
        let (landing, dead) = if visit.source != Source::Newsletter && rng.chance(0.012) {
            (
                DEAD_PATHS[rng.below(DEAD_PATHS.len() as u64) as usize],
                true,
            )
        } else {
            (landing, false)
        };
        let views = if rng.chance(if dead { 0.7 } else { bounce }) {
            1
        } else {
            // 2 and more, geometric: about 3.9 on average.
            let mut n = 2;
            while n < 12 && rng.chance(0.65) {
                n += 1;
            }
            n
        };
        // The page views' times and paths, cut at midnight: the visitor id changes there.
        let mut pages: Vec<(i64, &'static str)> = Vec::with_capacity(views);
        let mut t = visit.start;
        for k in 0..views {
            if k > 0 {
                // 8 s to about 4 min between pages, mostly short.
                let u = rng.unit();
                t += 8_000 + (u * u * 240_000.0) as i64;
            }
            if t >= day_end {
                break;
            }
            let path = match (k, pages.last()) {
                (0, _) => landing,
                (_, Some((_, prev))) if *prev == landing && dead => "/",
                (_, Some((_, prev))) => loop {
                    let p = rng.page();
                    if p != *prev {
                        break p;
                    }
                },
                _ => unreachable!("k > 0 has a previous page"),
            };
            pages.push((t, path));
        }
        let (first, last) = (pages[0].0, pages[pages.len() - 1].0);
        let sessions = self.busy.entry(visitor.clone()).or_default();
        if sessions.iter().any(|&(a, b)| {
            first <= b + SESSION_GAP_MS + 60_000 && a <= last + SESSION_GAP_MS + 60_000
        }) {
            return;
        }
        sessions.push((first, last));
        self.sessions += 1;
        self.bounces += u64::from(pages.len() == 1);

        let country = visit.person.country;
        let mut prev: Option<&str> = None;
        for (i, &(t, path)) in pages.iter().enumerate() {
            let status = if DEAD_PATHS.contains(&path) {
                404
            } else if self.outage.is_some_and(|(a, b)| (a..b).contains(&t)) {
                502
            } else if path == "/contact" && self.rng.chance(0.02) {
                500
            } else {
                200
            };
            let referrer = match prev {
                None => referrer.to_string(),
                Some(p) => format!("https://{HOST}{p}"),
            };
            let mut hit = self.hit(
                t, path, status, PAGEVIEW, &user, &visitor, agent, country, &referrer,
            );
            if let (0, Some((source, medium, campaign, content))) = (i, &visit.utm) {
                hit.utm_source = source.to_string();
                hit.utm_medium = medium.to_string();
                hit.utm_campaign = campaign.clone();
                hit.utm_content = content.to_string();
            }
            self.hits.push(hit);
            prev = Some(path);
            if status != 200 {
                continue;
            }
            // Custom events a second or few after the page view they happened on, before the
            // next page view (at least 8 s later) and before midnight.
            let rng = &mut self.rng;
            let event = match path {
                "/products" if rng.chance(0.10) => Some("cart:add"),
                "/contact" if rng.chance(0.15) => Some("contact:submit"),
                _ if user.is_empty() && i == 2 && rng.chance(0.06) => Some("signup"),
                _ => None,
            };
            let at = t + rng.between(1_000, 6_000);
            if let Some(event) = event.filter(|_| at < day_end) {
                let hit = self.hit(at, path, 200, event, &user, &visitor, agent, country, "");
                self.hits.push(hit);
            }
        }
    }

    /// The crawlers' hits of the day (bots: not in sessions, counted apart by the report).
    fn bots(&mut self) {
        for (agent, n, paths) in BOT_VISITS {
            let visitor = visitor(self.plan.seed, 0xb07 + agent as u64, self.day);
            // Crawlers come more often to a bigger site; the monitor does not care.
            let n = if agent == MONITOR {
                n
            } else {
                (n * self.plan.sessions_per_day / 600).max(1)
            };
            for k in 0..n {
                let t = if agent == MONITOR {
                    self.day_start() + i64::from(k) * 3_600_000 + 17_000
                } else {
                    self.day_start() + self.rng.below(MS_PER_DAY as u64) as i64
                };
                let path = match paths {
                    Some(p) => p[k as usize % p.len()],
                    // Crawlers also follow the old links.
                    None if self.rng.chance(0.05) => {
                        DEAD_PATHS[self.rng.below(DEAD_PATHS.len() as u64) as usize]
                    }
                    None => self.rng.page(),
                };
                let status = if path == "/" || PAGES.contains(&path) {
                    200
                } else {
                    404
                };
                let hit = self.hit(t, path, status, PAGEVIEW, "", &visitor, agent, "US", "");
                self.hits.push(hit);
            }
        }
    }
}

/// Generates the plan's days.
pub fn generate(plan: Plan) -> History {
    let mut rng = Rng(plan.seed);
    // Enough people that most come once, some come back day after day.
    let people: Vec<Person> = (0..(plan.sessions_per_day as usize * 3).max(50))
        .map(|i| Person::make(i, &mut rng))
        .collect();
    // The newsletter goes out on Tuesday mornings and is read that day and the next; the ads
    // campaign starts halfway through, so a comparison of the two halves shows it.
    let mut newsletter_curve = [1u32; 24];
    newsletter_curve[8..13].copy_from_slice(&[40, 60, 45, 25, 15]);
    let mut hits = Vec::new();
    let mut sessions = Vec::new();
    for i in 0..plan.days {
        let day = plan.first_day + i64::from(i);
        let weekday = (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        let mut g = DayGen {
            plan: &plan,
            day,
            rng: Rng(mix(plan.seed ^ mix(day as u64))),
            actions: ActionMap::default(),
            hits: Vec::new(),
            busy: HashMap::new(),
            sessions: 0,
            bounces: 0,
            outage: None,
        };
        if i + 4 == plan.days {
            let start = g.day_start() + 14 * 3_600_000 + 5 * 60_000;
            g.outage = Some((start, start + 20 * 60_000));
        }
        // Growth of about 1.5% a day, then the weekday's rhythm.
        let organic =
            f64::from(plan.sessions_per_day) * WEEKDAY[weekday] * (1.0 + 0.015 * f64::from(i));
        let pick_person = |rng: &mut Rng| {
            // Skewed toward the first people: regulars come back, most others come once.
            let u = rng.unit();
            &people[(u * u * people.len() as f64) as usize]
        };
        for _ in 0..organic.round() as u32 {
            let person = pick_person(&mut g.rng);
            let source = g.rng.pick(&ORGANIC);
            let start = g.moment(&DIURNAL);
            g.session(Visit {
                person,
                start,
                source,
                utm: None,
            });
        }
        let issue = match weekday {
            1 => Some(day),
            2 => Some(day - 1),
            _ => None,
        };
        if let Some(sent) = issue {
            let share = if weekday == 1 { 0.22 } else { 0.07 };
            let curve = if weekday == 1 {
                newsletter_curve
            } else {
                DIURNAL
            };
            for _ in 0..(f64::from(plan.sessions_per_day) * share).round() as u32 {
                let person = pick_person(&mut g.rng);
                let start = g.moment(&curve);
                let utm = (
                    "newsletter",
                    "email",
                    format!("digest-{}", format_date(sent)),
                    "",
                );
                g.session(Visit {
                    person,
                    start,
                    source: Source::Newsletter,
                    utm: Some(utm),
                });
            }
        }
        if 2 * i >= plan.days {
            for _ in 0..(f64::from(plan.sessions_per_day) * 0.08).round() as u32 {
                let person = pick_person(&mut g.rng);
                let start = g.moment(&DIURNAL);
                let content = ["ad-a", "ad-b"][g.rng.below(2) as usize];
                let utm = ("google", "cpc", "winter-sale".to_string(), content);
                g.session(Visit {
                    person,
                    start,
                    source: Source::Ads,
                    utm: Some(utm),
                });
            }
        }
        g.bots();
        sessions.push((g.sessions, g.bounces));
        hits.append(&mut g.hits);
    }
    hits.sort_by(|a, b| (&a.ts, &a.event_id).cmp(&(&b.ts, &b.event_id)));
    History {
        plan,
        hits,
        sessions,
    }
}

impl History {
    /// The line the demo prints, so nobody mistakes it for traffic.
    pub fn label(&self) -> String {
        format!(
            "synthetic history: {} days ({} to {}), {} hits, generated, not real traffic (host {HOST})",
            self.plan.days,
            format_date(self.plan.first_day),
            format_date(self.plan.last_day()),
            self.hits.len()
        )
    }

    /// What a UTC report from day `from` to day `to` (days since the epoch, inclusive, within
    /// the plan) must say.
    pub fn tally(&self, from: i64, to: i64) -> Tally {
        let mut t = Tally::default();
        let (lo, hi) = (from * MS_PER_DAY, (to + 1) * MS_PER_DAY);
        let (mut visitors, mut users) = (BTreeSet::new(), BTreeSet::new());
        let mut daily: BTreeMap<String, Days> = (from..=to)
            .map(|d| (format_date(d), Days::default()))
            .collect();
        let mut events: BTreeMap<String, Rows> = BTreeMap::new();
        let mut campaigns: BTreeMap<(String, String, String), Rows> = BTreeMap::new();
        let mut devices: BTreeMap<&'static str, Rows> = BTreeMap::new();
        let session_campaign = self.session_campaigns(lo, hi);
        for (i, h) in self.hits.iter().enumerate() {
            let ms = pagehit::time::parse_ts(&h.ts).expect("generated ts");
            if !(lo..hi).contains(&ms) {
                continue;
            }
            if h.bot {
                t.bots += 1;
                continue;
            }
            if h.event != PAGEVIEW {
                t.events += 1;
                events.entry(h.event.clone()).or_default().add(&h.visitor);
                continue;
            }
            t.page_views += 1;
            t.hourly[((ms % MS_PER_DAY) / 3_600_000) as usize] += 1;
            t.status_classes[usize::from(h.status / 100 - 1)] += 1;
            visitors.insert(h.visitor.as_str());
            let day = daily.entry(h.utc_date().to_string()).or_default();
            day.rows.add(&h.visitor);
            if !h.user.is_empty() {
                users.insert(h.user.as_str());
                day.users.insert(&h.user);
            }
            if let Some(key) = &session_campaign[i] {
                campaigns.entry(key.clone()).or_default().add(&h.visitor);
            }
            let device = device_of(&h.user_agent).expect("every agent is in AGENTS");
            devices.entry(device).or_default().add(&h.visitor);
        }
        t.visitors = visitors.len() as u64;
        t.users = users.len() as u64;
        t.daily = daily
            .into_iter()
            .map(|(d, day)| {
                let Count { hits, visitors } = day.rows.count();
                (
                    d,
                    Day {
                        hits,
                        users: day.users.len() as u64,
                        visitors,
                    },
                )
            })
            .collect();
        t.by_event = events.into_iter().map(|(k, r)| (k, r.count())).collect();
        t.campaigns = campaigns.into_iter().map(|(k, r)| (k, r.count())).collect();
        t.devices = devices.into_iter().map(|(k, r)| (k, r.count())).collect();
        for i in (from - self.plan.first_day)..=(to - self.plan.first_day) {
            let (s, b) = self.sessions[i as usize];
            t.sessions += s;
            t.bounces += b;
        }
        t
    }
}

impl History {
    /// For each hit: the campaign of its visitor session (that of the session's first page
    /// view, `None` without utm_*) when it is a page view of the report from `lo` to `hi` ms,
    /// as the report counts campaigns.
    fn session_campaigns(&self, lo: i64, hi: i64) -> Vec<Option<(String, String, String)>> {
        let mut views: Vec<(&str, i64, &str, usize)> = self
            .hits
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.bot && h.event == PAGEVIEW)
            .map(|(i, h)| {
                let ms = pagehit::time::parse_ts(&h.ts).expect("generated ts");
                (h.visitor.as_str(), ms, h.event_id.as_str(), i)
            })
            .filter(|v| (lo..hi).contains(&v.1))
            .collect();
        views.sort_unstable();
        let mut out = vec![None; self.hits.len()];
        let mut entry: Option<(String, String, String)> = None;
        let mut last: Option<(&str, i64)> = None;
        for (visitor, ms, _, i) in views {
            let h = &self.hits[i];
            if last.is_none_or(|(v, t)| v != visitor || ms - t > SESSION_GAP_MS) {
                let utm = !(h.utm_source.is_empty()
                    && h.utm_medium.is_empty()
                    && h.utm_campaign.is_empty()
                    && h.utm_term.is_empty()
                    && h.utm_content.is_empty());
                entry = utm.then(|| {
                    (
                        h.utm_source.clone(),
                        h.utm_medium.clone(),
                        h.utm_campaign.clone(),
                    )
                });
            }
            out[i].clone_from(&entry);
            last = Some((visitor, ms));
        }
        out
    }
}

/// Hits and the distinct visitors behind them, while counting.
#[derive(Default)]
struct Rows<'a> {
    hits: u64,
    visitors: BTreeSet<&'a str>,
}

impl<'a> Rows<'a> {
    fn add(&mut self, visitor: &'a str) {
        self.hits += 1;
        self.visitors.insert(visitor);
    }
    fn count(&self) -> Count {
        Count {
            hits: self.hits,
            visitors: self.visitors.len() as u64,
        }
    }
}

/// A day's rows and distinct users, while counting.
#[derive(Default)]
struct Days<'a> {
    rows: Rows<'a>,
    users: BTreeSet<&'a str>,
}

/// The device class [`AGENTS`] declares for a user agent.
pub fn device_of(user_agent: &str) -> Option<&'static str> {
    AGENTS.iter().find(|a| a.ua == user_agent).map(|a| a.device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-09, a Monday.
    const MONDAY: i64 = 20_766;

    fn two_weeks() -> History {
        generate(Plan {
            first_day: MONDAY,
            days: 14,
            sessions_per_day: 300,
            seed: 13,
        })
    }

    #[test]
    fn the_monday_is_a_monday() {
        assert_eq!(format_date(MONDAY), "2026-11-09");
        assert_eq!((MONDAY + 3).rem_euclid(7), 0);
    }

    #[test]
    fn the_same_plan_gives_the_same_hits_and_another_seed_others() {
        let plan = Plan {
            first_day: MONDAY,
            days: 3,
            sessions_per_day: 200,
            seed: 1,
        };
        let a = generate(plan);
        assert_eq!(a.hits, generate(plan).hits);
        assert_ne!(a.hits, generate(Plan { seed: 2, ..plan }).hits);
    }

    #[test]
    fn every_hit_is_valid_on_the_history_host_in_its_days_and_in_order() {
        let h = two_weeks();
        let (lo, hi) = (MONDAY * MS_PER_DAY, (MONDAY + 14) * MS_PER_DAY);
        let mut ids = BTreeSet::new();
        for hit in &h.hits {
            // The same decoding and validation the aggregator applies to a stream record.
            let back = PageHit::from_json(hit.to_json().as_bytes()).unwrap();
            assert_eq!(&back, hit);
            assert_eq!(hit.host, HOST);
            let ms = pagehit::time::parse_ts(&hit.ts).unwrap();
            assert!((lo..hi).contains(&ms), "{}", hit.ts);
            // UUIDv7 whose time is the hit's own.
            assert_eq!(&hit.event_id[14..15], "7", "{}", hit.event_id);
            assert!("89ab".contains(&hit.event_id[19..20]), "{}", hit.event_id);
            let id_ms = (i64::from_str_radix(&hit.event_id[..8], 16).unwrap() << 16)
                | i64::from_str_radix(&hit.event_id[9..13], 16).unwrap();
            assert_eq!(id_ms, ms);
            assert!(ids.insert(hit.event_id.clone()), "unique ids");
            assert_eq!(hit.bot, is_bot(&hit.user_agent));
            assert!(device_of(&hit.user_agent).is_some());
        }
        assert!(h.hits.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert!(h
            .label()
            .contains("synthetic history: 14 days (2026-11-09 to 2026-11-22)"));
        assert!(h.label().contains("not real traffic"));
    }

    #[test]
    fn agents_are_what_they_say() {
        for a in AGENTS {
            assert_eq!(is_bot(a.ua), a.device == "other", "{}", a.ua);
            assert_eq!(a.weight == 0, a.device == "other", "{}", a.ua);
        }
        for (agent, _, _) in BOT_VISITS {
            assert_eq!(AGENTS[agent].device, "other");
        }
    }

    #[test]
    fn a_visitor_changes_every_day_and_devices_differ() {
        let h = two_weeks();
        let mut days_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for hit in &h.hits {
            days_of
                .entry(&hit.visitor)
                .or_default()
                .insert(hit.utc_date());
        }
        assert!(
            days_of.values().all(|d| d.len() == 1),
            "a visitor id lives one day"
        );
        // Some signed-in users come on two devices the same day: two visitors, one user.
        let mut visitors_of: HashMap<(&str, &str), BTreeSet<&str>> = HashMap::new();
        for hit in h.hits.iter().filter(|h| !h.user.is_empty()) {
            visitors_of
                .entry((&hit.user, hit.utc_date()))
                .or_default()
                .insert(&hit.visitor);
        }
        let two = visitors_of.values().filter(|v| v.len() == 2).count();
        assert!(two >= 5, "{two} user-days on two devices");
    }

    #[test]
    fn the_days_have_the_shapes_of_a_real_site() {
        let h = two_weeks();
        let t = h.tally(MONDAY, MONDAY + 13);
        // Diurnal: the busiest hour has several times the quietest.
        let (min, max) = (
            t.hourly.iter().min().unwrap(),
            t.hourly.iter().max().unwrap(),
        );
        assert!(*max > 5 * *min, "{:?}", t.hourly);
        assert!(t.hourly[4] < t.hourly[20] / 4, "{:?}", t.hourly);
        // Weekends are quieter than weekdays.
        let day = |d: i64| t.daily[&format_date(d)].hits;
        assert!(day(MONDAY + 5) < day(MONDAY + 2), "{:?}", t.daily);
        // Sessions with bounces, but not only bounces.
        let rate = t.bounces as f64 / t.sessions as f64;
        assert!((0.3..0.6).contains(&rate), "bounce rate {rate}");
        assert!(t.page_views > 2 * t.sessions, "pages per session");
        // Custom events at a plausible conversion rate.
        for event in ["cart:add", "contact:submit", "signup"] {
            let e = t.by_event[event];
            let rate = e.visitors as f64 / t.visitors as f64;
            assert!((0.002..0.1).contains(&rate), "{event}: {rate}");
        }
        // Campaigns: two newsletter issues, and ads in the second week only.
        let names: Vec<_> = t
            .campaigns
            .keys()
            .map(|(s, _, c)| format!("{s}/{c}"))
            .collect();
        assert_eq!(
            names,
            [
                "google/winter-sale",
                "newsletter/digest-2026-11-10",
                "newsletter/digest-2026-11-17"
            ]
        );
        let first_week = h.tally(MONDAY, MONDAY + 6);
        assert!(!first_week.campaigns.keys().any(|(s, _, _)| s == "google"));
        // Several device classes, desktop first, then mobile, then tablets.
        let d = |c: &str| t.devices[c].hits;
        assert!(d("desktop") > d("mobile") && d("mobile") > d("tablet") && d("tablet") > 0);
        assert!(!t.devices.contains_key("other"), "bots are not counted");
        // A few 404s and 5xx, a few crawlers, signed-in users.
        let [_, ok, _, e4, e5] = t.status_classes;
        assert!(e4 > 0 && e4 * 50 < ok, "{:?}", t.status_classes);
        assert!(e5 > 0 && e5 * 50 < ok, "{:?}", t.status_classes);
        assert!(t.bots > 0 && t.bots * 10 < t.page_views, "{} bots", t.bots);
        assert!(t.users > 10, "{} users", t.users);
        // Referrers from several places.
        let hosts: BTreeSet<_> = h
            .hits
            .iter()
            .filter_map(|h| pagehit::rules::url_host(&h.referrer))
            .filter(|host| host != HOST)
            .collect();
        assert!(hosts.len() >= 6, "{hosts:?}");
        // The second week grew.
        assert!(h.tally(MONDAY + 7, MONDAY + 13).page_views > first_week.page_views);
    }

    #[test]
    fn sessions_are_apart_so_the_analyzer_cuts_them_the_same_way() {
        let h = two_weeks();
        let mut by_visitor: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for hit in h.hits.iter().filter(|h| !h.bot && h.event == PAGEVIEW) {
            by_visitor
                .entry(&hit.visitor)
                .or_default()
                .push(pagehit::time::parse_ts(&hit.ts).unwrap());
        }
        // Cut every visitor's page views by the 30-minute rule, as the analyzer does.
        let (mut sessions, mut bounces) = (0, 0);
        for times in by_visitor.values() {
            let mut len = 0;
            for (i, t) in times.iter().enumerate() {
                if i > 0 && t - times[i - 1] > SESSION_GAP_MS {
                    sessions += 1;
                    bounces += u64::from(len == 1);
                    len = 0;
                }
                len += 1;
            }
            sessions += 1;
            bounces += u64::from(len == 1);
        }
        let t = h.tally(MONDAY, MONDAY + 13);
        assert_eq!((t.sessions, t.bounces), (sessions, bounces));
    }
}
