//! Builds the aggregator's AWS Lambda package (`bootstrap.zip`, arm64) with cargo-lambda,
//! which comes from PyPI in its own venv (it brings zig, its cross linker).

use crate::paths;
use crate::process::run;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// cargo-lambda version.
pub const CARGO_LAMBDA: &str = "1.9.2";

/// Where the zip lands.
pub fn output_dir() -> PathBuf {
    paths::root().join("target-lambda/arm64")
}

/// Installs cargo-lambda (venv `.venv-lambda`) and the arm64 target when missing, then builds.
pub fn build() -> Result<PathBuf> {
    let venv = paths::root().join(".venv-lambda");
    let bin = venv.join("bin/cargo-lambda");
    let version_ok = Command::new(&bin)
        .args(["lambda", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_LAMBDA))
        .unwrap_or(false);
    if !version_ok {
        eprintln!("lambda: pip install cargo-lambda=={CARGO_LAMBDA} into .venv-lambda");
        run(
            "creating .venv-lambda",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )?;
        run(
            "installing cargo-lambda",
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                &format!("cargo-lambda=={CARGO_LAMBDA}"),
            ]),
        )?;
    }
    run(
        "rustup target add aarch64-unknown-linux-gnu",
        Command::new("rustup").args(["target", "add", "aarch64-unknown-linux-gnu"]),
    )?;
    let out = output_dir();
    let path = std::env::join_paths(std::iter::once(venv.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    run(
        "cargo lambda build",
        Command::new(&bin)
            .args([
                "lambda",
                "build",
                "--release",
                "--arm64",
                "--bin",
                "aggregator",
                "--output-format",
                "zip",
                "--lambda-dir",
            ])
            .arg(&out)
            .current_dir(paths::root())
            .env("PATH", path),
    )?;
    let zip = out.join("aggregator/bootstrap.zip");
    let size = std::fs::metadata(&zip)
        .with_context(|| format!("{} was not built", zip.display()))?
        .len();
    println!(
        "lambda package: {} ({:.1} MB, arm64)",
        zip.display(),
        size as f64 / 1e6
    );
    Ok(zip)
}
