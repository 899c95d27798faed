//! moto in server mode: Kinesis and S3 on 127.0.0.1, in memory, one request at a time.
//!
//! `moto_server` handles requests on concurrent threads, and its Kinesis backend then loses
//! records (two concurrent `PutRecords` can take the same sequence number, one replacing the
//! other, both answered as success). `xtask/py/moto_server.py` is moto's server with every
//! request under one lock; see its docstring for the measurement.

use crate::paths;
use crate::process::{free_port, lost_port_race, wait_ready, Service, START_TRIES};
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
        let mut tries = 1;
        loop {
            match Self::start_once().await {
                Err(e) if tries < START_TRIES && lost_port_race(&e) => {
                    eprintln!("moto: its port was taken meanwhile; trying another");
                    tries += 1;
                }
                started => return started,
            }
        }
    }

    async fn start_once() -> Result<Moto> {
        let python = paths::venv().join("bin/python");
        ensure!(
            paths::venv().join("bin/moto_server").exists(),
            "moto is missing from {}: run `cargo xtask setup`",
            paths::venv().display()
        );
        let script = paths::root().join("xtask/py/moto_server.py");
        let port = free_port();
        let dir = paths::scratch("moto");
        let mut service = Service::spawn(
            "moto",
            Command::new(python)
                .arg(script)
                .args(["127.0.0.1", &port.to_string()]),
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
