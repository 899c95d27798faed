//! `wrangler dev` running the real Wasm build in workerd on 127.0.0.1, and the deploy dry run.

use crate::edge_build::worker_module;
use crate::paths;
use crate::process::{free_port, start_on_free_ports, wait_ready, Service};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Environment that keeps wrangler offline and plain: no login, metrics, cf lookups or colour
/// codes (the worker's log lines are read back as JSON).
const OFFLINE_ENV: [(&str, &str); 5] = [
    ("CI", "true"),
    ("WRANGLER_SEND_METRICS", "false"),
    ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
    ("NO_COLOR", "1"),
    ("FORCE_COLOR", "0"),
];

/// What a test or demo instance binds besides the root `wrangler.toml`'s settings.
#[derive(Debug, Clone, Default)]
pub struct DevOptions {
    /// Bind the fallback queue (`HITS_FALLBACK`) and consume it in the same worker, as the
    /// commented-out `[[queues.*]]` tables in `wrangler.toml` do, with a 1 s batch window so
    /// tests need not wait.
    pub fallback_queue: bool,
    /// Override the `BEACON_LIMITER` rate limit (beacons per client address a minute).
    pub beacon_limit: Option<u32>,
    /// Keep the `PAGEVIEW_LIMITER` binding, with this limit (recorded page views per client
    /// address a minute). Without it the binding is removed: every local client is 127.0.0.1,
    /// and the tests, the demo and the bench send thousands of page views a minute from it.
    pub pageview_limit: Option<u32>,
    /// Bind the `VISITOR_SALTS` KV namespace (random daily visitor salts), as the
    /// commented-out `[[kv_namespaces]]` table in `wrangler.toml` does.
    pub visitor_salts: bool,
    /// Where workerd keeps KV and queue state (`--persist-to`); a fresh folder when `None`.
    /// Two runs given the same folder, one after the other, share their KV namespaces.
    pub state: Option<std::path::PathBuf>,
}

/// Queue name of the fallback queue in test instances.
pub const FALLBACK_QUEUE: &str = "hits-fallback";

/// The `VISITOR_SALTS` namespace id in test instances (any id works locally).
pub const VISITOR_SALTS_ID: &str = "visitor-salts-local";

/// The fallback queue's producer and consumer tables: the deployed settings of
/// `wrangler.toml` except the batch window (1 s instead of 5 s) and fewer retries.
fn fallback_queue_config() -> toml::Table {
    let text = format!(
        r#"
[[producers]]
binding = "HITS_FALLBACK"
queue = "{FALLBACK_QUEUE}"

[[consumers]]
queue = "{FALLBACK_QUEUE}"
max_batch_size = 100
max_batch_timeout = 1
max_retries = 10
dead_letter_queue = "{FALLBACK_QUEUE}-dlq"
"#
    );
    text.parse().expect("a valid table")
}

/// Writes a wrangler config for a test or demo instance: the root `wrangler.toml` without its
/// build step (the worker is built once, before), `main` made absolute, `vars` as given and
/// `options` applied. Secrets and vars go to `.dev.vars` beside it, as `wrangler dev` expects.
fn write_config(
    dir: &Path,
    vars: &[(&str, String)],
    options: &DevOptions,
) -> Result<std::path::PathBuf> {
    let root_config = std::fs::read_to_string(paths::root().join("wrangler.toml"))?;
    let mut config: toml::Table = root_config.parse().context("parsing wrangler.toml")?;
    config.remove("build");
    config.remove("vars");
    config.insert(
        "main".into(),
        toml::Value::String(worker_module().to_string_lossy().into_owned()),
    );
    if options.fallback_queue {
        config.insert("queues".into(), fallback_queue_config().into());
    }
    let limiters = config
        .get_mut("ratelimits")
        .and_then(|r| r.as_array_mut())
        .context("wrangler.toml has no [[ratelimits]]")?;
    let named = |l: &toml::Value, name: &str| l.get("name").and_then(|n| n.as_str()) == Some(name);
    if options.pageview_limit.is_none() {
        limiters.retain(|l| !named(l, "PAGEVIEW_LIMITER"));
    }
    for (name, limit) in [
        ("BEACON_LIMITER", options.beacon_limit),
        ("PAGEVIEW_LIMITER", options.pageview_limit),
    ] {
        if let Some(limit) = limit {
            let limiter = limiters
                .iter_mut()
                .find(|l| named(l, name))
                .with_context(|| format!("wrangler.toml has no [[ratelimits]] named {name}"))?;
            limiter["simple"]["limit"] = toml::Value::Integer(i64::from(limit));
        }
    }
    if options.visitor_salts {
        let kv: toml::Table = format!("binding = \"VISITOR_SALTS\"\nid = \"{VISITOR_SALTS_ID}\"\n")
            .parse()
            .expect("a valid table");
        config.insert("kv_namespaces".into(), toml::Value::Array(vec![kv.into()]));
    }
    let path = dir.join("wrangler.toml");
    std::fs::write(&path, toml::to_string(&config)?)?;
    let mut dev_vars = String::new();
    for (k, v) in vars {
        // Single quotes: dotenv takes the value literally (JSON such as ACTION_MAP included).
        if v.contains(['\'', '\n']) {
            bail!("{k}: values with single quotes or newlines cannot go in .dev.vars");
        }
        dev_vars.push_str(&format!("{k}='{v}'\n"));
    }
    std::fs::write(dir.join(".dev.vars"), dev_vars)?;
    Ok(path)
}

/// The settings that switch the collector on: put hits on `stream` at `kinesis_endpoint` with
/// the emulator's test credentials, visitor hashes salted with `salt`.
pub fn collector_vars(
    stream: &str,
    kinesis_endpoint: &str,
    salt: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("KINESIS_STREAM", stream.to_string()),
        ("KINESIS_ENDPOINT", kinesis_endpoint.to_string()),
        ("AWS_REGION", crate::kinesis::REGION.to_string()),
        (
            "AWS_ACCESS_KEY_ID",
            crate::kinesis::ACCESS_KEY_ID.to_string(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            crate::kinesis::SECRET_ACCESS_KEY.to_string(),
        ),
        ("VISITOR_SALT", salt.to_string()),
    ]
}

/// A running `wrangler dev`.
pub struct WranglerDev {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The process group (wrangler and its workerd).
    pub service: Service,
}

impl WranglerDev {
    /// Starts the built worker with `vars` (vars and secrets alike) on a free port and waits for
    /// `/healthz`. `edge_build::build()` must have run.
    pub async fn start(tag: &str, vars: &[(&str, String)]) -> Result<WranglerDev> {
        Self::start_with(tag, vars, &DevOptions::default()).await
    }

    /// [`WranglerDev::start`] with extra bindings.
    pub async fn start_with(
        tag: &str,
        vars: &[(&str, String)],
        options: &DevOptions,
    ) -> Result<WranglerDev> {
        if !worker_module().exists() {
            bail!(
                "{} is missing: run `cargo xtask build-edge`",
                worker_module().display()
            );
        }
        start_on_free_ports(&format!("wrangler dev ({tag})"), || {
            Self::start_once(tag, vars, options)
        })
        .await
    }

    async fn start_once(
        tag: &str,
        vars: &[(&str, String)],
        options: &DevOptions,
    ) -> Result<WranglerDev> {
        let dir = paths::scratch(&format!("wrangler-{tag}"));
        let config = write_config(&dir, vars, options)?;
        let port = free_port();
        let mut cmd = Command::new(paths::node_bin("wrangler"));
        cmd.arg("dev")
            .arg("--config")
            .arg(&config)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--inspector-port",
                &free_port().to_string(),
                "--inspector-ip",
                "127.0.0.1",
            ])
            .arg("--persist-to")
            .arg(options.state.clone().unwrap_or_else(|| dir.join("state")))
            .arg("--show-interactive-dev-session=false")
            .current_dir(&dir)
            .envs(OFFLINE_ENV);
        let mut service = Service::spawn(
            &format!("wrangler dev ({tag})"),
            &mut cmd,
            &dir.join("wrangler.log"),
        )?;
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(
            &mut service,
            &format!("{url}/healthz"),
            Duration::from_secs(120),
        )
        .await?;
        Ok(WranglerDev { url, service })
    }

    /// Waits until the worker's log holds `needle` (see [`Service::wait_for_log`]).
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        self.service.wait_for_log(needle, timeout).await
    }
}

/// Upload size as `wrangler deploy --dry-run` reports it: (total KiB, gzip KiB).
pub fn deploy_dry_run() -> Result<(f64, f64)> {
    let root = paths::root();
    let out = Command::new(paths::node_bin("wrangler"))
        .args(["deploy", "--dry-run", "--outdir", "dist"])
        .current_dir(&root)
        .envs(OFFLINE_ENV)
        .output()
        .context("running wrangler deploy --dry-run")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("wrangler deploy --dry-run failed:\n{text}");
    }
    parse_upload_size(&text).with_context(|| format!("no 'Total Upload' line in:\n{text}"))
}

/// Reads `Total Upload: 560.12 KiB / gzip: 214.33 KiB` from wrangler's output.
pub fn parse_upload_size(text: &str) -> Option<(f64, f64)> {
    let line = text.lines().find(|l| l.contains("Total Upload"))?;
    let nums: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| !s.is_empty() && s.contains('.'))
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums.as_slice() {
        [total, gzip, ..] => Some((*total, *gzip)),
        _ => None,
    }
}

/// `npx wrangler --version`, to show in reports.
pub fn version() -> String {
    Command::new(paths::node_bin("wrangler"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_config_binds_the_fallback_queue_and_overrides_the_beacon_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            dir.path(),
            &[("A", "1".into())],
            &DevOptions {
                fallback_queue: true,
                beacon_limit: Some(5),
                pageview_limit: Some(7),
                visitor_salts: true,
                state: None,
            },
        )
        .unwrap();
        let config: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        assert!(config.get("build").is_none() && config.get("vars").is_none());
        let queues = &config["queues"];
        assert_eq!(
            queues["producers"][0]["binding"].as_str(),
            Some("HITS_FALLBACK")
        );
        assert_eq!(
            queues["consumers"][0]["queue"].as_str(),
            Some(FALLBACK_QUEUE)
        );
        assert_eq!(
            queues["consumers"][0]["dead_letter_queue"].as_str(),
            Some("hits-fallback-dlq")
        );
        let limit = |name: &str| {
            config["ratelimits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"].as_str() == Some(name))
                .map(|l| l["simple"]["limit"].as_integer().unwrap())
        };
        assert_eq!(limit("BEACON_LIMITER"), Some(5));
        assert_eq!(limit("PAGEVIEW_LIMITER"), Some(7));
        assert_eq!(
            config["kv_namespaces"][0]["binding"].as_str(),
            Some("VISITOR_SALTS")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".dev.vars")).unwrap(),
            "A='1'\n"
        );

        let plain = write_config(dir.path(), &[], &DevOptions::default()).unwrap();
        let plain: toml::Table = std::fs::read_to_string(plain).unwrap().parse().unwrap();
        assert!(plain.get("queues").is_none(), "no queue unless asked for");
        assert!(
            plain.get("kv_namespaces").is_none(),
            "no KV unless asked for"
        );
        let names: Vec<&str> = plain["ratelimits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["BEACON_LIMITER"],
            "page views unlimited locally unless asked"
        );
    }

    #[test]
    fn reads_wrangler_size_line() {
        let out = "Your Worker has access to...\nTotal Upload: 571.43 KiB / gzip: 219.92 KiB\n--dry-run: exiting now.";
        assert_eq!(parse_upload_size(out), Some((571.43, 219.92)));
        assert_eq!(parse_upload_size("nothing"), None);
    }
}
