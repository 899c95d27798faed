//! moto in server mode: Kinesis and S3 on 127.0.0.1, in memory, one request at a time.
//!
//! `moto_server` handles requests on concurrent threads, and its Kinesis backend then loses
//! records (two concurrent `PutRecords` can take the same sequence number, one replacing the
//! other, both answered as success). `xtask/py/moto_server.py` is moto's server with every
//! request under one lock; see its docstring for the measurement.

use crate::paths;
use crate::process::{free_port, start_on_free_ports, wait_ready, Service};
use anyhow::{bail, ensure, Result};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use store::{Location, Store};

/// A running moto server.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The process.
    pub service: Service,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub async fn start() -> Result<Moto> {
        start_on_free_ports("moto", Self::start_once).await
    }

    /// Starts moto on a free port serving HTTPS with the PEM certificate `cert` and its `key`,
    /// and waits until it listens: the TLS of the programs' AWS clients tested for real.
    pub async fn start_tls(cert: &Path, key: &Path) -> Result<Moto> {
        start_on_free_ports("moto", || Self::start_once_with(Some((cert, key)))).await
    }

    async fn start_once() -> Result<Moto> {
        Self::start_once_with(None).await
    }

    async fn start_once_with(tls: Option<(&Path, &Path)>) -> Result<Moto> {
        let python = paths::venv().join("bin/python");
        ensure!(
            paths::venv().join("bin/moto_server").exists(),
            "moto is missing from {}: run `cargo xtask setup`",
            paths::venv().display()
        );
        let script = paths::root().join("xtask/py/moto_server.py");
        let port = free_port();
        let dir = paths::scratch("moto");
        let mut cmd = Command::new(python);
        cmd.arg(script).args(["127.0.0.1", &port.to_string()]);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut service = Service::spawn("moto", &mut cmd, &dir.join("moto.log"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let endpoint = format!("{scheme}://127.0.0.1:{port}");
        if tls.is_some() {
            // xtask's own HTTP client speaks no TLS: werkzeug says when it listens.
            service
                .wait_for_log(&format!("Running on {endpoint}"), Duration::from_secs(60))
                .await?;
        } else {
            wait_ready(
                &mut service,
                &format!("{endpoint}/moto-api/"),
                Duration::from_secs(60),
            )
            .await?;
        }
        Ok(Moto { endpoint, service })
    }
}

/// Points an AWS client program (the aggregator, the analyzer) at the emulator at `endpoint`,
/// with its test credentials.
pub fn client_env<'c>(cmd: &'c mut Command, endpoint: &str) -> &'c mut Command {
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", crate::kinesis::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", crate::kinesis::SECRET_ACCESS_KEY)
        .env("AWS_REGION", crate::kinesis::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
}

impl Moto {
    /// Creates an S3 bucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        let made = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await?;
        if !made.status().is_success() {
            let status = made.status();
            bail!("creating bucket {bucket}: {status}: {}", made.text().await?);
        }
        Ok(())
    }

    /// A store at `location` (`s3://BUCKET[/PREFIX]`) in this emulator, opened the way the
    /// programs open theirs, with [`sdk_config`].
    pub async fn store(&self, location: &str) -> Result<Store> {
        let location: Location = location.parse().map_err(anyhow::Error::msg)?;
        Store::open_with(&location, Some(&sdk_config(&self.endpoint))).await
    }
}

/// The AWS configuration of a program pointed at the emulator at `endpoint`: its region, its
/// endpoint and its test credentials (never the metadata service, which this sandbox refuses).
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(store::aws::http_client())
        .region(aws_config::Region::new(crate::kinesis::REGION))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    crate::kinesis::ACCESS_KEY_ID,
                    crate::kinesis::SECRET_ACCESS_KEY,
                    None,
                    None,
                    "xtask",
                ),
            ),
        )
        .build()
}
