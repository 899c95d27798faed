//! Running the `aggregator` binary against the local stack.

use std::path::PathBuf;
use std::process::Command;

/// The `aggregator` binary of this build.
pub fn binary() -> PathBuf {
    crate::paths::workspace_bin("aggregator")
}

/// An `aggregator` command talking to the emulator at `endpoint` with test credentials.
pub fn command(endpoint: &str) -> Command {
    let mut cmd = Command::new(binary());
    crate::moto::client_env(&mut cmd, endpoint);
    cmd
}
