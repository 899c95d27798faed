//! `cargo tree` of this workspace for x86_64 Linux, offline and locked: what a build resolves.

use crate::paths;
use anyhow::{ensure, Context, Result};
use std::process::Command;

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
