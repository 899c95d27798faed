//! Browser, operating system and device class of a user agent, by the uap-core regexes (the
//! `ua-parser` crate; the data is `analyzer/data/uap-regexes.json`, uap-core's `regexes.yaml`
//! as JSON). Each distinct agent is parsed once, however many hits it has.
//!
//! Cost scales with the number of distinct agents (tens of microseconds each), not of hits.

use crate::transform::intern::Interner;
use rayon::prelude::*;
use std::sync::{Mutex, OnceLock};

/// uap-core 0.18.0's `regexes.yaml` converted to JSON (no YAML parser in the build).
const REGEXES: &str = include_str!("../../data/uap-regexes.json");

/// A device class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Device {
    /// Windows, macOS, Linux, Chrome OS computers.
    Desktop,
    /// Phones.
    Mobile,
    /// Tablets (iPad, Kindle, Android without `Mobile`).
    Tablet,
    /// Crawlers, TVs, consoles, unknown.
    Other,
}

impl Device {
    /// Every class, in report order of names.
    pub const ALL: [Device; 4] = [
        Device::Desktop,
        Device::Mobile,
        Device::Other,
        Device::Tablet,
    ];

    /// The report's name.
    pub fn name(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::Mobile => "mobile",
            Device::Tablet => "tablet",
            Device::Other => "other",
        }
    }
}

/// What a user agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// Code of the browser family in [`Agents::browsers`].
    pub browser: u32,
    /// Code of the OS family in [`Agents::os`].
    pub os: u32,
    /// The device class.
    pub device: Device,
}

/// Classes of the agents seen so far, by agent code.
pub struct Agents {
    classes: Mutex<Vec<Option<Class>>>,
    /// Browser family names.
    pub browsers: Interner,
    /// OS family names.
    pub os: Interner,
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            classes: Mutex::new(Vec::new()),
            browsers: Interner::default(),
            os: Interner::default(),
        }
    }
}

/// The uap-core regexes compiled, once per process: compiling them takes ~0.3 s, which a
/// dashboard paid for every query while it was per report.
fn extractor() -> anyhow::Result<&'static ua_parser::Extractor<'static>> {
    static SHARED: OnceLock<Result<ua_parser::Extractor<'static>, String>> = OnceLock::new();
    SHARED
        .get_or_init(compile)
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn compile() -> Result<ua_parser::Extractor<'static>, String> {
    let regexes: ua_parser::Regexes<'static> =
        serde_json::from_str(REGEXES).map_err(|e| format!("the uap-core regexes: {e}"))?;
    ua_parser::Extractor::try_from(regexes).map_err(|e| format!("the uap-core regexes: {e}"))
}

/// What one user agent is, by name: the report's browser and OS families and device class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Browser family (`Other` when unknown).
    pub browser: String,
    /// OS family (`Other` when unknown).
    pub os: String,
    /// Device class.
    pub device: Device,
}

fn describe_with(extractor: &ua_parser::Extractor<'_>, agent: &str) -> Family {
    let (ua, os, dev) = extractor.extract(agent);
    let browser = ua.as_ref().map_or("Other", |v| &v.family);
    let os_family = os.as_ref().map_or("Other", |v| &v.os);
    let dev_family = dev.as_ref().map_or("Other", |v| &v.device);
    Family {
        browser: browser.to_string(),
        os: os_family.to_string(),
        device: device(agent, dev_family, os_family),
    }
}

/// Classifies one user agent by the same rules as the report (for readers of single hits,
/// such as the dashboard's live window).
pub fn describe(agent: &str) -> anyhow::Result<Family> {
    Ok(describe_with(extractor()?, agent))
}

/// The device class from uap's device and OS families and the agent itself.
pub fn device(agent: &str, device_family: &str, os_family: &str) -> Device {
    let has = |needle: &str| agent.contains(needle);
    if device_family == "Spider" {
        return Device::Other;
    }
    if device_family.contains("iPad")
        || device_family.contains("Kindle")
        || device_family.contains("Tablet")
        || (os_family == "Android" && !has("Mobile"))
    {
        return Device::Tablet;
    }
    if device_family.contains("iPhone")
        || device_family.contains("Smartphone")
        || device_family.contains("Phone")
        || matches!(
            os_family,
            "iOS" | "Android" | "Windows Phone" | "BlackBerry OS" | "KaiOS"
        )
        || has("Mobi")
    {
        return Device::Mobile;
    }
    if os_family.starts_with("Windows")
        || os_family.starts_with("Mac OS")
        || matches!(
            os_family,
            "Linux"
                | "Ubuntu"
                | "Fedora"
                | "Debian"
                | "Chrome OS"
                | "FreeBSD"
                | "OpenBSD"
                | "NetBSD"
        )
    {
        return Device::Desktop;
    }
    Device::Other
}

impl Agents {
    /// Classifies every code of `agents` not classified yet (in parallel); names come from
    /// `names`.
    pub fn classify(&self, agents: &[u32], names: &Interner) -> anyhow::Result<()> {
        let mut new: Vec<u32> = {
            let classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
            agents
                .iter()
                .copied()
                .filter(|&a| classes.get(a as usize).is_none_or(Option::is_none))
                .collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        new.sort_unstable();
        new.dedup();
        let extractor = extractor()?;
        let found: Vec<(u32, Class)> = new
            .par_iter()
            .map(|&code| {
                let agent = names.name(code);
                let family = describe_with(extractor, &agent);
                let class = Class {
                    browser: self.browsers.code(&family.browser),
                    os: self.os.code(&family.os),
                    device: family.device,
                };
                (code, class)
            })
            .collect();
        let mut classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        for (code, class) in found {
            let i = code as usize;
            if classes.len() <= i {
                classes.resize(i + 1, None);
            }
            classes[i] = Some(class);
        }
        Ok(())
    }

    /// The class of a classified agent.
    pub fn class(&self, agent: u32) -> Class {
        let classes = self.classes.lock().unwrap_or_else(|e| e.into_inner());
        classes
            .get(agent as usize)
            .copied()
            .flatten()
            .expect("agents are classified before they are looked up")
    }

    /// The classes of the agents classified so far, by agent code: looked up without the
    /// lock, and without a class per row (12 bytes a row that a count used to gather).
    pub fn table(&self) -> Classes {
        Classes(
            self.classes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// Classes by agent code ([`Agents::table`]).
#[derive(Default)]
pub struct Classes(Vec<Option<Class>>);

impl Classes {
    /// The class of a classified agent.
    #[inline]
    pub fn of(&self, agent: u32) -> Class {
        self.0
            .get(agent as usize)
            .copied()
            .flatten()
            .expect("agents are classified before they are looked up")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_agents() {
        let names = Interner::default();
        let agents = Agents::default();
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows", Device::Desktop),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox", "Linux", Device::Desktop),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari", "Mac OS X", Device::Desktop),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", Device::Mobile),
            ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", Device::Tablet),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", "Chrome Mobile", "Android", Device::Mobile),
            ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "Chrome", "Android", Device::Tablet),
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Other", Device::Other),
            ("", "Other", "Other", Device::Other),
        ];
        let codes: Vec<u32> = cases.iter().map(|c| names.code(c.0)).collect();
        agents.classify(&codes, &names).unwrap();
        let browsers = agents.browsers.snapshot();
        let os = agents.os.snapshot();
        for ((agent, browser, os_family, device), code) in cases.iter().zip(&codes) {
            let c = agents.class(*code);
            assert_eq!(
                (browsers.name(c.browser), os.name(c.os), c.device),
                (*browser, *os_family, *device),
                "{agent}"
            );
        }
        for (agent, browser, os_family, device) in &cases {
            let one = describe(agent).unwrap();
            assert_eq!(
                (one.browser.as_str(), one.os.as_str(), one.device),
                (*browser, *os_family, *device),
                "describe agrees with classify: {agent}"
            );
        }
        // Classified once: the same codes again change nothing; the table agrees.
        agents.classify(&codes, &names).unwrap();
        let table = agents.table();
        for &code in &codes {
            assert_eq!(table.of(code), agents.class(code));
        }
    }
}
