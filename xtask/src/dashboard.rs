//! Running the `dashboard` binary against the local stack: `dashboard serve` on a free
//! 127.0.0.1 port, and its snapshot read back.

use crate::paths;
use crate::process::{free_port, start_on_free_ports, wait_ready, Service};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The `dashboard` binary of this build.
pub fn binary() -> PathBuf {
    paths::workspace_bin("dashboard")
}

/// A `dashboard` command talking to the emulator at `endpoint` with test credentials.
pub fn command(endpoint: &str) -> Command {
    let mut cmd = Command::new(binary());
    crate::moto::client_env(&mut cmd, endpoint);
    cmd.env_remove("DASHBOARD_TOKEN");
    cmd
}

/// A running `dashboard serve`.
pub struct Dashboard {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The process.
    pub service: Service,
}

impl Dashboard {
    /// `dashboard serve --stream stream` with `args` and `env` added, on a free port; waits
    /// for `/healthz`.
    pub async fn serve(
        endpoint: &str,
        stream: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Dashboard> {
        let mut serve = vec!["--stream", stream];
        serve.extend_from_slice(args);
        Dashboard::start(endpoint, "dashboard", &serve, env).await
    }

    /// `dashboard serve --source source` (the history alone: no stream) on a free port;
    /// `endpoint` is the emulator's for an `s3://` source. Waits for `/healthz`.
    pub async fn history(endpoint: &str, source: &str) -> Result<Dashboard> {
        Dashboard::start(endpoint, "dashboard-history", &["--source", source], &[]).await
    }

    /// `dashboard serve` with `args` and `env` on a free port (logging to the scratch folder
    /// `scratch`), once `/healthz` answers.
    async fn start(
        endpoint: &str,
        scratch: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Dashboard> {
        start_on_free_ports("dashboard serve", || async {
            let port = free_port();
            let dir = paths::scratch(scratch);
            let mut cmd = command(endpoint);
            cmd.env_remove("DASHBOARD_STREAM")
                .arg("serve")
                .args(args)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .envs(env.iter().copied());
            let mut service =
                Service::spawn("dashboard serve", &mut cmd, &dir.join("dashboard.log"))?;
            let url = format!("http://127.0.0.1:{port}");
            wait_ready(
                &mut service,
                &format!("{url}/healthz"),
                Duration::from_secs(60),
            )
            .await?;
            Ok(Dashboard { url, service })
        })
        .await
    }

    /// `GET /api/live` (on a server without a token).
    pub async fn live(&self) -> Result<Value> {
        let resp = reqwest::get(format!("{}/api/live", self.url))
            .await
            .context("GET /api/live")?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("GET /api/live: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("the snapshot: {text}"))
    }

    /// Polls `/api/live` until `done` holds for the snapshot; errors with the last one after
    /// `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.live().await?;
            if done(&s) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!(
                    "the live snapshot did not get there in {timeout:?}: {s}\n{}",
                    self.service.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A count of a snapshot (0 when absent).
pub fn count(s: &Value, key: &str) -> u64 {
    s[key].as_u64().unwrap_or(0)
}

/// The row of list `list` whose `key` is `name`.
pub fn row<'a>(s: &'a Value, list: &str, key: &str, name: &str) -> Option<&'a Value> {
    s[list].as_array()?.iter().find(|r| r[key] == name)
}
