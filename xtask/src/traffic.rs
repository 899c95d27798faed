//! A realistic, deterministic burst of page views for the demo and end-to-end tests: signed-in
//! users (the demo's `user` cookie), anonymous visitors, the eight demo pages with a skewed
//! popularity, referrers, a few crawlers and a few asset requests.

use anyhow::Result;
use std::time::Duration;

/// One request of the burst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Path requested.
    pub path: String,
    /// User agent sent (one per visitor).
    pub user_agent: String,
    /// Signed-in user (sent as the `user` cookie), empty when anonymous.
    pub user: String,
    /// Referer header, empty when none.
    pub referrer: String,
    /// Whether the pipeline records it (not an asset).
    pub page_view: bool,
    /// Whether it comes from a crawler.
    pub bot: bool,
}

const PAGES: [&str; 8] = [
    "/",
    "/products",
    "/about",
    "/blog",
    "/services",
    "/faq",
    "/contact",
    "/portfolio",
];
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const REFERRERS: [&str; 4] = [
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "https://t.co/abc",
    "https://duckduckgo.com/",
];
const BOTS: [&str; 2] = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
];

/// A small linear congruential generator: the same stream on every run and platform, no
/// dependency (the demo's burst and the tests' generated days).
pub struct Lcg(pub u64);

impl Lcg {
    /// The next 31 random bits.
    pub fn next_u31(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    /// A number in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u31() % n as u64) as usize
    }
    /// One of `items`, each as likely.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    /// Index in 0..n with weights 1/(i+1) (Zipf, s = 1).
    pub fn zipf(&mut self, n: usize) -> usize {
        let total: f64 = (1..=n).map(|i| 1.0 / i as f64).sum();
        let mut x = (self.next_u31() % 1_000_000) as f64 / 1_000_000.0 * total;
        for i in 0..n {
            x -= 1.0 / (i + 1) as f64;
            if x <= 0.0 {
                return i;
            }
        }
        n - 1
    }
}

/// `n` visits from `seed`: about a third signed in, 5% crawlers, 10% assets.
pub fn burst(n: usize, seed: u64) -> Vec<Visit> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|_| {
            let roll = rng.below(100);
            let path = PAGES[rng.zipf(PAGES.len())].to_string();
            if roll < 5 {
                return Visit {
                    path,
                    user_agent: BOTS[rng.below(BOTS.len())].to_string(),
                    user: String::new(),
                    referrer: String::new(),
                    page_view: true,
                    bot: true,
                };
            }
            let visitor = rng.below(40);
            let user_agent = format!(
                "Mozilla/5.0 (X11; Linux x86_64; demo visitor {visitor}) Gecko/20100101 Firefox/140.0"
            );
            let user = if visitor < 15 { USERS[visitor % USERS.len()].to_string() } else { String::new() };
            if roll < 15 {
                let asset = ["/static/site.css", "/favicon.ico"][rng.below(2)];
                return Visit { path: asset.to_string(), user_agent, user, referrer: String::new(), page_view: false, bot: false };
            }
            let referrer = if rng.below(4) == 0 { REFERRERS[rng.below(REFERRERS.len())].to_string() } else { String::new() };
            Visit { path, user_agent, user, referrer, page_view: true, bot: false }
        })
        .collect()
}

/// Sends the visits to the worker at `base`, `concurrency` at a time; returns, per visit, the
/// HTTP status and the moment (ms since the epoch) the response was complete.
pub async fn send(base: &str, visits: &[Visit], concurrency: usize) -> Result<Vec<(u16, i64)>> {
    use tokio::sync::Semaphore;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let permits = std::sync::Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    for v in visits.iter().cloned() {
        let (client, permits, url) = (client.clone(), permits.clone(), format!("{base}{}", v.path));
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire().await?;
            let mut req = client.get(url).header("user-agent", &v.user_agent);
            if !v.user.is_empty() {
                req = req.header("cookie", format!("user={}", v.user));
            }
            if !v.referrer.is_empty() {
                req = req.header("referer", &v.referrer);
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            resp.bytes().await?;
            let done = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as i64;
            anyhow::Ok((status, done))
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_deterministic_and_realistic() {
        let a = burst(400, 7);
        assert_eq!(a, burst(400, 7));
        assert_ne!(a, burst(400, 8));
        let bots = a.iter().filter(|v| v.bot).count();
        let assets = a.iter().filter(|v| !v.page_view).count();
        let signed_in = a
            .iter()
            .filter(|v| !v.user.is_empty() && v.page_view)
            .count();
        assert!((5..=40).contains(&bots), "{bots}");
        assert!((20..=70).contains(&assets), "{assets}");
        assert!(signed_in > 60, "{signed_in}");
        let home = a.iter().filter(|v| v.path == "/").count();
        let portfolio = a.iter().filter(|v| v.path == "/portfolio").count();
        assert!(home > 2 * portfolio, "Zipf: / is the most popular page");
    }
}
