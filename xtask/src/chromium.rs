//! Debian's headless Chromium, for the dashboard's browser test (`analyzer/tests/dashboard.rs`):
//! installed with apt-get when missing. The project's machines and CI run as root.

use crate::process::run;
use anyhow::Result;
use std::path::Path;
use std::process::Command;

/// Where Debian's `chromium` package puts the browser; the test runs it from there.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Debian's `chromium` when it is not there (a no-op otherwise).
pub fn ensure() -> Result<()> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    eprintln!("setup: apt-get install chromium (a minute or two)");
    // A fresh machine has no package lists yet: without them the install finds nothing.
    apt(&["update"])?;
    apt(&["install", "-y", "chromium"])
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
