//! Browser, OS and device class of each hit's user agent, by the report's own rules
//! (`analyzer::report::agents::describe`), each distinct agent parsed once while it is in a
//! bounded cache: agents are client-chosen, and a flood of new ones must not grow memory.

use analyzer::report::agents::{self, Device};
use hashbrown::HashMap;
use std::sync::Arc;

/// Distinct agents kept at most; past that the cache starts again (a parse costs tens of
/// microseconds, so a busy site's few thousand agents stay cached).
const CAP: usize = 50_000;

/// What an agent is, with names shared between the agents of one family.
#[derive(Debug, Clone)]
pub struct Class {
    /// Browser family.
    pub browser: Arc<str>,
    /// OS family.
    pub os: Arc<str>,
    /// Device class.
    pub device: Device,
}

/// The cache.
pub struct Agents {
    cap: usize,
    classes: HashMap<Box<str>, Class, foldhash::fast::RandomState>,
    names: HashMap<String, Arc<str>, foldhash::fast::RandomState>,
}

impl Default for Agents {
    fn default() -> Self {
        Agents::with_cap(CAP)
    }
}

impl Agents {
    /// A cache of at most `cap` agents.
    pub fn with_cap(cap: usize) -> Agents {
        Agents {
            cap,
            classes: HashMap::default(),
            names: HashMap::default(),
        }
    }

    /// The class of `agent`.
    pub fn class(&mut self, agent: &str) -> Class {
        if let Some(c) = self.classes.get(agent) {
            return c.clone();
        }
        // The regexes are built in, so the only failure is a broken build: count it as Other.
        let family = agents::describe(agent).unwrap_or(agents::Family {
            browser: "Other".into(),
            os: "Other".into(),
            device: Device::Other,
        });
        if self.classes.len() >= self.cap {
            self.classes.clear();
            self.names.clear();
        }
        let mut name = |n: String| -> Arc<str> {
            self.names
                .entry(n)
                .or_insert_with_key(|k| Arc::from(k.as_str()))
                .clone()
        };
        let class = Class {
            browser: name(family.browser),
            os: name(family.os),
            device: family.device,
        };
        self.classes.insert(agent.into(), class.clone());
        class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_report_and_are_cached() {
        let mut a = Agents::default();
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
        let c = a.class(firefox);
        assert_eq!(
            (&*c.browser, &*c.os, c.device),
            ("Firefox", "Linux", Device::Desktop)
        );
        let again = a.class(firefox);
        assert!(Arc::ptr_eq(&c.browser, &again.browser), "cached");
        let other = a.class("curl/8.0");
        assert_eq!(other.device, Device::Other);
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut a = Agents::with_cap(8);
        for i in 0..20 {
            a.class(&format!("agent-{i}"));
            assert!(a.classes.len() <= 8);
        }
        assert_eq!(a.class("agent-19").device, Device::Other);
    }
}
