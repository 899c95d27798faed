//! The steps of `deploy_local.rs`, one role a file: the stack as moto has it (`stack.rs`), the
//! aggregator as the stack's Lambda (`lambda.rs`), the nightly task as its schedule states it
//! (`nightly.rs`), the live dashboard as its task definition states it (`dashboard.rs`); here,
//! what they share.

pub mod dashboard;
pub mod lambda;
pub mod nightly;
pub mod stack;

pub use stack::*;

use base64::Engine;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::deploy_local;
use xtask::moto::Moto;
use xtask::paths;
use xtask::process::{free_port, Service};
use xtask::traffic::Visit;

/// Waits until something listens on 127.0.0.1:`port`.
pub fn wait_listening(service: &mut Service, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        service.check_alive().unwrap();
        assert!(
            Instant::now() < deadline,
            "nothing on port {port}: {}",
            service.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ------------------------------------------------------------------ S3, read directly

/// (bucket, key prefix) of `s3://bucket/prefix`.
pub fn split_s3(location: &str) -> (String, String) {
    let rest = location.strip_prefix("s3://").expect("an s3:// location");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_string(), prefix.to_string())
}

/// Keys under `location` (signed requests: moto refuses anonymous ones to this bucket).
pub async fn list(moto: &Moto, location: &str) -> Vec<String> {
    let (bucket, prefix) = split_s3(location);
    let store = moto.store(&format!("s3://{bucket}")).await.unwrap();
    let objects = store.list(&prefix).await.unwrap();
    objects.into_iter().map(|o| o.key).collect()
}

pub async fn get(moto: &Moto, location: &str) -> String {
    let (bucket, key) = split_s3(location);
    let store = moto.store(&format!("s3://{bucket}")).await.unwrap();
    let body = store.get(&key).await.unwrap();
    String::from_utf8(
        body.unwrap_or_else(|| panic!("{location} does not exist"))
            .to_vec(),
    )
    .unwrap()
}

/// The human page views among `visits` (no bot's, no event), per path.
pub fn human_page_views(visits: &[Visit]) -> BTreeMap<String, u64> {
    let mut pages = BTreeMap::new();
    for v in visits.iter().filter(|v| v.page_view && !v.bot) {
        *pages.entry(v.path.clone()).or_default() += 1;
    }
    pages
}
