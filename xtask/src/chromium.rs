//! Debian's headless Chromium, for the browser tests (`analyzer/tests/dashboard.rs`, the live
//! page in `xtask/tests/live.rs`): installed with apt-get when missing.

use anyhow::Result;

/// Where Debian's `chromium` package puts the browser; the tests run it from there.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Debian's `chromium` when it is not there (a no-op otherwise).
pub fn ensure() -> Result<()> {
    crate::debian::ensure(CHROMIUM, "chromium")
}
