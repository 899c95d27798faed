//! Builds the edge worker to Wasm with worker-build, offline: wasm-bindgen, wasm-opt and
//! esbuild come from the local installs instead of GitHub downloads.

use crate::paths;
use crate::process::run;
use anyhow::Result;
use std::process::Command;

/// The built worker module that `wrangler.toml`'s `main` points at.
pub fn worker_module() -> std::path::PathBuf {
    paths::root().join("edge/build/index.js")
}

/// Runs `worker-build --release edge` with the size profile.
pub fn build() -> Result<()> {
    let mut cmd = Command::new(paths::cargo_bin("worker-build"));
    cmd.args(["--release", "edge"])
        .current_dir(paths::root())
        .env("WASM_BINDGEN_BIN", paths::cargo_bin("wasm-bindgen"))
        .env("WASM_OPT_BIN", paths::node_bin("wasm-opt"))
        .env("ESBUILD_BIN", paths::node_bin("esbuild"))
        // Size over speed for the Wasm only; native release builds keep the workspace profile.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    run("worker-build", &mut cmd)
}
