//! Builds the aggregator's AWS Lambda package (`bootstrap.zip`, arm64) with cargo-lambda,
//! which comes from PyPI in its own venv (it brings zig, its cross linker), and puts the
//! aggregator's third-party licences (`cargo xtask licenses`) in it beside `bootstrap`.

use crate::licenses::{self, Binary};
use crate::paths;
use crate::process::run;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// cargo-lambda version.
pub const CARGO_LAMBDA: &str = "1.9.2";

/// Where the zip lands.
pub fn output_dir() -> PathBuf {
    paths::root().join("target-lambda/arm64")
}

/// How the arm64 `bootstrap` is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// The package that is deployed: the release profile (opt-level 3).
    Release,
    /// For `cargo xtask test` alone: the release profile at opt-level 0, in a target folder of
    /// its own. The arm64 binary cannot run here, so the tests upload it and never execute it
    /// (they run the native aggregator as `bootstrap`): what they use is the package (the cross
    /// build, the zip), and opt-level 0 compiles it with half the CPU (193 against 384 s from
    /// nothing, 2026-12-06), on the path to a newcomer's first test run. The tests' zip goes
    /// without the licences (cargo-about's minutes stay off the deploy test's path); CI builds
    /// the deployed package, licences checked, after the tests (`cargo xtask package-lambda`).
    ForTests,
}

/// Installs cargo-lambda (venv `.venv-lambda`) and the arm64 target when missing, then builds
/// the zip with the aggregator's licences in it.
pub fn build() -> Result<PathBuf> {
    finish(&compile(Build::Release)?)
}

/// The build without the licences: cargo-lambda's zip of the arm64 `bootstrap`. Needs no
/// cargo-about, so `cargo xtask test` runs it while cargo-about is still being installed.
pub fn compile(how: Build) -> Result<PathBuf> {
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
    let (target, opt_level) = match how {
        Build::Release => ("lambda-arm64", "3"),
        Build::ForTests => ("lambda-arm64-tests", "0"),
    };
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
            // A target folder of its own (an arm64 release build shares nothing with the
            // native ones), so that cargo's lock lets it run beside them (`cargo xtask test`).
            .env("CARGO_TARGET_DIR", paths::target_dir().join(target))
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt_level)
            .env("PATH", path),
    )?;
    Ok(out.join("aggregator/bootstrap.zip"))
}

/// Puts the aggregator's licences (`cargo xtask licenses`, installing cargo-about when missing)
/// into the zip [`compile`] made, checks it and says where it is.
pub fn finish(zip: &Path) -> Result<PathBuf> {
    let notices = licenses::write(Binary::Aggregator, &licenses::default_dir())?;
    add_to_zip(zip, &notices, licenses::FILE_NAME)?;
    checked(zip)
}

/// Checks that `zip` holds `bootstrap` and says where it is and its size.
pub fn checked(zip: &Path) -> Result<PathBuf> {
    let entries = zip_entries(zip)?;
    if !entries.iter().any(|e| e == "bootstrap") {
        bail!("{} holds no bootstrap: {entries:?}", zip.display());
    }
    let size = std::fs::metadata(zip)
        .with_context(|| format!("{} was not built", zip.display()))?
        .len();
    println!(
        "lambda package: {} ({:.1} MB, arm64)",
        zip.display(),
        size as f64 / 1e6
    );
    Ok(zip.to_path_buf())
}

/// Puts `file` in `zip` at its root as `name` (replacing an entry of that name), keeping the
/// other entries as they are (`bootstrap` stays executable). Python's zipfile does it: the
/// package's build needs python3 already.
pub fn add_to_zip(zip: &Path, file: &Path, name: &str) -> Result<()> {
    const ADD: &str = r#"
import os, sys, zipfile
path, file, name = sys.argv[1:4]
tmp = path + ".tmp"
with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        if info.filename != name:
            dst.writestr(info, src.read(info.filename))
    dst.write(file, name)
os.replace(tmp, path)
"#;
    run(
        &format!("adding {name} to {}", zip.display()),
        Command::new("python3")
            .args(["-c", ADD])
            .arg(zip)
            .arg(file)
            .arg(name),
    )
}

/// The names of the entries in `zip`, in order.
pub fn zip_entries(zip: &Path) -> Result<Vec<String>> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print(\"\\n\".join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(zip)
        .output()
        .context("running python3")?;
    if !out.status.success() {
        bail!(
            "listing {}: {}",
            zip.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip as cargo-lambda makes it: one executable `bootstrap`.
    fn lambda_like_zip(dir: &Path) -> PathBuf {
        let zip = dir.join("bootstrap.zip");
        let script = r#"
import sys, zipfile
info = zipfile.ZipInfo("bootstrap")
info.external_attr = 0o100755 << 16
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr(info, b"\x7fELF...")
"#;
        let status = Command::new("python3")
            .args(["-c", script])
            .arg(&zip)
            .status()
            .unwrap();
        assert!(status.success());
        zip
    }

    #[test]
    fn the_licences_go_beside_bootstrap_once_and_bootstrap_stays_executable() {
        let dir = tempfile::tempdir().unwrap();
        let zip = lambda_like_zip(dir.path());
        let notices = dir.path().join("notices");
        std::fs::write(&notices, "MIT License, used by: itoa 1.0.0\n").unwrap();
        add_to_zip(&zip, &notices, licenses::FILE_NAME).unwrap();
        // Built twice into the same zip: still one entry.
        add_to_zip(&zip, &notices, licenses::FILE_NAME).unwrap();
        assert_eq!(
            zip_entries(&zip).unwrap(),
            ["bootstrap", licenses::FILE_NAME]
        );
        let check = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert (z.getinfo("bootstrap").external_attr >> 16) & 0o111, "bootstrap lost its x bit"
assert z.read("bootstrap") == b"\x7fELF...", "bootstrap changed"
print(z.read(sys.argv[2]).decode(), end="")
"#;
        let out = Command::new("python3")
            .args(["-c", check])
            .arg(&zip)
            .arg(licenses::FILE_NAME)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "MIT License, used by: itoa 1.0.0\n"
        );
    }

    #[test]
    fn a_missing_zip_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let notices = dir.path().join("notices");
        std::fs::write(&notices, "x").unwrap();
        assert!(add_to_zip(&dir.path().join("none.zip"), &notices, "N").is_err());
        assert!(zip_entries(&dir.path().join("none.zip")).is_err());
    }
}
