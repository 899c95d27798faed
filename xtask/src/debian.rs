//! Debian packages some tests need (Chromium for the browser tests, tmux for the terminal
//! view's), installed with apt-get when missing. The project's machines and CI run as root.

use crate::process::run;
use anyhow::Result;
use std::path::Path;
use std::process::Command;

/// Installs Debian's `package` when `binary` is not there (a no-op otherwise).
pub fn ensure(binary: &str, package: &str) -> Result<()> {
    if Path::new(binary).exists() {
        return Ok(());
    }
    eprintln!("setup: apt-get install {package}");
    // A fresh machine has no package lists yet: without them the install finds nothing.
    apt(&["update"])?;
    apt(&["install", "-y", package])
}

fn apt(args: &[&str]) -> Result<()> {
    run(
        &format!("apt-get {}", args.join(" ")),
        Command::new("apt-get")
            .args(args)
            // Never stop to ask (CI has no standard input).
            .env("DEBIAN_FRONTEND", "noninteractive")
            // Installation output on stderr, like the other setup steps: stdout is the caller's.
            .stdout(std::io::stderr()),
    )
}
