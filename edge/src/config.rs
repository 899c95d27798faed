//! The worker's settings, read from `[vars]` and secrets. Parsing is pure so every rule about
//! missing or bad settings is a native unit test.

use crate::sink::kinesis::config::KinesisConfig;
use pagehit::rules::ActionMap;
use std::fmt;

/// Beacons one client address may send per minute to one isolate unless
/// `COLLECT_MAX_PER_MINUTE` says otherwise: far above what a person clicking through a
/// single-page app sends, with room for a few people behind one address.
pub const DEFAULT_BEACONS_PER_MINUTE: u32 = 120;

/// Everything the worker reads from its environment, parsed once per request. `Debug` never
/// shows a secret (the salt, the AWS secret key, a session token).
#[derive(Debug, Clone)]
pub struct Config {
    /// Proxy mode when set: the origin that serves the real site.
    pub origin_url: Option<String>,
    /// Origins allowed to POST /collect from a browser (`*` allows any).
    pub collect_origins: Vec<String>,
    /// Configured path -> action names.
    pub actions: ActionMap,
    /// Beacons per client address per minute and isolate (`0`: no cap).
    pub beacons_per_minute: u32,
    /// IANA zone whose calendar day the visitor salt follows; `None` for UTC.
    pub visitor_tz: Option<String>,
    /// Where hits go, or why they are not recorded.
    pub collector: Collector,
    /// Problems that do not stop the site but that the operator must hear about.
    pub warnings: Vec<String>,
}

/// Whether hits are recorded.
#[derive(Clone)]
pub enum Collector {
    /// Hits go to Kinesis with this visitor salt.
    On {
        kinesis: KinesisConfig,
        visitor_salt: String,
    },
    /// Switched off on purpose (`COLLECTOR=off`): pages are served, nothing is recorded or logged.
    Off,
    /// Settings are missing or wrong: pages are served and this reason is logged.
    Misconfigured(String),
}

// The salt keys every visitor id: with it, an IP and user agent can be tested against the ids.
impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Collector::On { kinesis, .. } => f
                .debug_struct("On")
                .field("kinesis", kinesis)
                .field("visitor_salt", &"<redacted>")
                .finish(),
            Collector::Off => f.write_str("Off"),
            Collector::Misconfigured(why) => f.debug_tuple("Misconfigured").field(why).finish(),
        }
    }
}

/// Names of the variables and secrets, as in `wrangler.toml` and `wrangler secret put`.
pub mod names {
    pub const ORIGIN_URL: &str = "ORIGIN_URL";
    pub const COLLECT_ORIGINS: &str = "COLLECT_ORIGINS";
    pub const ACTION_MAP: &str = "ACTION_MAP";
    pub const COLLECTOR: &str = "COLLECTOR";
    pub const KINESIS_STREAM: &str = "KINESIS_STREAM";
    pub const AWS_REGION: &str = "AWS_REGION";
    pub const KINESIS_ENDPOINT: &str = "KINESIS_ENDPOINT";
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    pub const VISITOR_SALT: &str = "VISITOR_SALT";
    pub const VISITOR_TZ: &str = "VISITOR_TZ";
    pub const COLLECT_MAX_PER_MINUTE: &str = "COLLECT_MAX_PER_MINUTE";
    /// Queue binding (producer) that takes the hits Kinesis did not; optional.
    pub const FALLBACK_QUEUE: &str = "HITS_FALLBACK";
    /// Workers Rate Limiting binding for beacons, per client address; optional.
    pub const BEACON_LIMITER: &str = "BEACON_LIMITER";
    /// Workers Rate Limiting binding for recorded page views, per client address; optional.
    pub const PAGEVIEW_LIMITER: &str = "PAGEVIEW_LIMITER";
    /// Workers KV namespace holding the random daily visitor salts; optional (without it the
    /// salts are derived from VISITOR_SALT).
    pub const VISITOR_SALTS: &str = "VISITOR_SALTS";
}

impl Config {
    /// Parses settings from a lookup (the worker's `Env` in production, a map in tests).
    /// Empty values count as unset.
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut warnings = Vec::new();

        let origin_url = match get(names::ORIGIN_URL) {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(url) => {
                warnings.push(format!(
                    "ORIGIN_URL {url:?} is not an http(s) URL; serving the demo site instead"
                ));
                None
            }
            None => None,
        };

        let collect_origins = get(names::COLLECT_ORIGINS)
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let actions = match get(names::ACTION_MAP) {
            Some(json) => ActionMap::from_json(&json).unwrap_or_else(|e| {
                warnings.push(format!("{e}; using the default actions"));
                ActionMap::default()
            }),
            None => ActionMap::default(),
        };

        let beacons_per_minute = match get(names::COLLECT_MAX_PER_MINUTE) {
            Some(v) => v.parse::<u32>().unwrap_or_else(|_| {
                warnings.push(format!(
                    "COLLECT_MAX_PER_MINUTE {v:?} is not a whole number; using {DEFAULT_BEACONS_PER_MINUTE}"
                ));
                DEFAULT_BEACONS_PER_MINUTE
            }),
            None => DEFAULT_BEACONS_PER_MINUTE,
        };

        // Checked against the runtime's zone list where it is used (transform::day::IntlDay).
        let visitor_tz = get(names::VISITOR_TZ).filter(|zone| !crate::transform::day::is_utc(zone));

        let collector = if get(names::COLLECTOR).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
            Collector::Off
        } else {
            let required = [
                names::KINESIS_STREAM,
                names::AWS_REGION,
                names::AWS_ACCESS_KEY_ID,
                names::AWS_SECRET_ACCESS_KEY,
                names::VISITOR_SALT,
            ];
            let missing: Vec<&str> = required.into_iter().filter(|n| get(n).is_none()).collect();
            if missing.is_empty() {
                let region = get(names::AWS_REGION).unwrap_or_default();
                let endpoint = get(names::KINESIS_ENDPOINT)
                    .map(|e| e.trim_end_matches('/').to_string())
                    .unwrap_or_else(|| format!("https://kinesis.{region}.amazonaws.com"));
                Collector::On {
                    kinesis: KinesisConfig {
                        stream: get(names::KINESIS_STREAM).unwrap_or_default(),
                        region,
                        endpoint,
                        access_key_id: get(names::AWS_ACCESS_KEY_ID).unwrap_or_default(),
                        secret_access_key: get(names::AWS_SECRET_ACCESS_KEY).unwrap_or_default(),
                        session_token: get(names::AWS_SESSION_TOKEN),
                    },
                    visitor_salt: get(names::VISITOR_SALT).unwrap_or_default(),
                }
            } else {
                Collector::Misconfigured(format!(
                    "page hits are not recorded: missing {} (set vars in wrangler.toml, secrets with `wrangler secret put`)",
                    missing.join(", ")
                ))
            }
        };

        Config {
            origin_url,
            collect_origins,
            actions,
            beacons_per_minute,
            visitor_tz,
            collector,
            warnings,
        }
    }

    /// Reads the settings from the worker's environment (vars and secrets alike).
    pub fn from_env(env: &worker::Env) -> Config {
        Config::parse(|name| {
            env.secret(name)
                .map(|s| s.to_string())
                .ok()
                .or_else(|| env.var(name).map(|v| v.to_string()).ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(|n| map.get(n).cloned())
    }

    const FULL: [(&str, &str); 5] = [
        ("KINESIS_STREAM", "hits"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("VISITOR_SALT", "salt"),
    ];

    #[test]
    fn complete_settings_turn_the_collector_on_with_the_regional_endpoint() {
        let cfg = parse(&FULL);
        match cfg.collector {
            Collector::On {
                kinesis,
                visitor_salt,
            } => {
                assert_eq!(kinesis.endpoint, "https://kinesis.eu-west-1.amazonaws.com");
                assert_eq!(kinesis.stream, "hits");
                assert_eq!(kinesis.session_token, None);
                assert_eq!(visitor_salt, "salt");
            }
            other => panic!("{other:?}"),
        }
        assert!(cfg.origin_url.is_none());
        assert!(cfg.warnings.is_empty());
    }

    #[test]
    fn missing_settings_are_named() {
        let cfg = parse(&[("KINESIS_STREAM", "hits"), ("VISITOR_SALT", "  ")]);
        match cfg.collector {
            Collector::Misconfigured(why) => {
                assert!(
                    why.contains("missing AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, VISITOR_SALT"),
                    "{why}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn collector_off_wins_and_endpoint_override_is_used() {
        let mut pairs = FULL.to_vec();
        pairs.push(("COLLECTOR", "OFF"));
        assert!(matches!(parse(&pairs).collector, Collector::Off));
        let mut pairs = FULL.to_vec();
        pairs.push(("KINESIS_ENDPOINT", "http://127.0.0.1:5000/"));
        pairs.push(("AWS_SESSION_TOKEN", "tok"));
        match parse(&pairs).collector {
            Collector::On { kinesis, .. } => {
                assert_eq!(kinesis.endpoint, "http://127.0.0.1:5000");
                assert_eq!(kinesis.session_token.as_deref(), Some("tok"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let mut pairs = FULL.to_vec();
        pairs.retain(|(k, _)| !matches!(*k, "AWS_SECRET_ACCESS_KEY" | "VISITOR_SALT"));
        pairs.push(("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret-key"));
        pairs.push(("VISITOR_SALT", "pepper-salt-value"));
        pairs.push(("AWS_SESSION_TOKEN", "FwoGZXIvYXdz-session"));
        let cfg = parse(&pairs);
        assert!(matches!(cfg.collector, Collector::On { .. }));
        for shown in [
            format!("{cfg:?}"),
            format!("{cfg:#?}"),
            format!("{:?}", cfg.collector),
        ] {
            for secret in [
                "wJalrXUtnFEMI-secret-key",
                "pepper-salt-value",
                "FwoGZXIvYXdz-session",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(
                shown.contains("AKID"),
                "the key id is not a secret: {shown}"
            );
        }
    }

    #[test]
    fn beacon_cap_and_visitor_zone() {
        let cfg = parse(&[]);
        assert_eq!(cfg.beacons_per_minute, DEFAULT_BEACONS_PER_MINUTE);
        assert_eq!(cfg.visitor_tz, None);
        let cfg = parse(&[
            ("COLLECT_MAX_PER_MINUTE", "0"),
            ("VISITOR_TZ", "America/New_York"),
        ]);
        assert_eq!(cfg.beacons_per_minute, 0);
        assert_eq!(cfg.visitor_tz.as_deref(), Some("America/New_York"));
        let cfg = parse(&[("COLLECT_MAX_PER_MINUTE", "lots"), ("VISITOR_TZ", "UTC")]);
        assert_eq!(cfg.beacons_per_minute, DEFAULT_BEACONS_PER_MINUTE);
        assert_eq!(cfg.visitor_tz, None, "UTC needs no zone lookup");
        assert!(cfg.warnings[0].contains("COLLECT_MAX_PER_MINUTE"));
    }

    #[test]
    fn origins_actions_and_bad_values() {
        let cfg = parse(&[
            ("ORIGIN_URL", "https://origin.example/"),
            (
                "COLLECT_ORIGINS",
                " https://a.example/, https://b.example ,",
            ),
            ("ACTION_MAP", r#"{"/": "home"}"#),
        ]);
        assert_eq!(cfg.origin_url.as_deref(), Some("https://origin.example"));
        assert_eq!(
            cfg.collect_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(cfg.actions.action_for("/"), "home");

        let bad = parse(&[("ORIGIN_URL", "origin.example"), ("ACTION_MAP", "nope")]);
        assert!(bad.origin_url.is_none());
        assert_eq!(bad.warnings.len(), 2, "{:?}", bad.warnings);
        assert!(bad.warnings[0].contains("ORIGIN_URL"));
        assert!(bad.warnings[1].contains("ACTION_MAP"));
    }
}
