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
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", crate::kinesis::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", crate::kinesis::SECRET_ACCESS_KEY)
        .env("AWS_REGION", crate::kinesis::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}
