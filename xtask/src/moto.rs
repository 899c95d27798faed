//! moto in server mode: Kinesis and S3 on 127.0.0.1, in memory.

use crate::paths;
use crate::process::{free_port, wait_ready, Service};
use anyhow::{ensure, Result};
use std::process::Command;
use std::time::Duration;

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
        let bin = paths::venv().join("bin/moto_server");
        ensure!(
            bin.exists(),
            "{} is missing: run `cargo xtask setup`",
            bin.display()
        );
        let port = free_port();
        let dir = paths::scratch("moto");
        let mut service = Service::spawn(
            "moto",
            Command::new(bin).args(["-H", "127.0.0.1", "-p", &port.to_string()]),
            &dir.join("moto.log"),
        )?;
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_ready(
            &mut service,
            &format!("{endpoint}/moto-api/"),
            Duration::from_secs(60),
        )
        .await?;
        Ok(Moto { endpoint, service })
    }
}
