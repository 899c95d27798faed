//! `cargo tree` of this workspace for x86_64 Linux, offline and locked: what a build resolves;
//! and the one download the offline readers of the graph need.

use crate::paths;
use crate::process::run;
use anyhow::{ensure, Context, Result};
use std::process::Command;

/// Downloads every crate of `Cargo.lock`, for every platform (`cargo fetch --locked`): the
/// offline readers of the graph (cargo-deny, cargo-about, `cargo tree --offline`) need them all,
/// and a fresh machine has only those its builds used. A no-op once they are there.
pub fn fetch_all() -> Result<()> {
    run(
        "cargo fetch",
        Command::new("cargo")
            .args(["fetch", "--locked"])
            .current_dir(paths::root()),
    )
}

/// The lines `cargo tree ARGS --format FORMAT` prints, without indentation.
pub fn lines(args: &[&str], format: &str) -> Result<String> {
    let out = Command::new("cargo")
        .arg("tree")
        .args(args)
        .args(["--target", "x86_64-unknown-linux-gnu", "--prefix", "none"])
        .args(["--format", format, "--locked", "--offline"])
        .current_dir(paths::root())
        .output()
        .context("running cargo tree")?;
    ensure!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}
