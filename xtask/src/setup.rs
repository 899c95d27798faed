//! Installs what the build and the tests need, when it is missing: the wasm target, pinned
//! worker-build and wasm-bindgen-cli, the npm packages, moto in a project-local venv (with
//! aws-sam-translator and libfaketime for `cargo xtask deploy-local` and its test), Debian's
//! chromium (the dashboard's browser test) and pyspark with a Java 17 check (the Spark job's
//! cluster test).
//! Every step is a no-op when its tool is already there, so it runs before every test.

use crate::paths;
use crate::process::run;
use anyhow::Result;
use std::process::Command;

/// worker-build version (matches the `worker` crate).
pub const WORKER_BUILD: &str = "0.8.7";
/// wasm-bindgen-cli version: must equal the `wasm-bindgen` pin in edge/Cargo.toml.
pub const WASM_BINDGEN: &str = "0.2.130";
/// moto version for the Kinesis and S3 emulator.
pub const MOTO: &str = "5.2.5";
/// cargo-deny version for `cargo xtask deny` (advisories, bans, licenses, sources).
pub const CARGO_DENY: &str = "0.20.2";
/// aws-sam-translator version: the SAM transform for `cargo xtask deploy-local` (moto's
/// CloudFormation does not run it). The one aws-sam-cli 1.170.0 (`infra/lint.sh`) bundles.
pub const SAM_TRANSLATOR: &str = "1.115.0";
/// libfaketime (PyPI, ships a built `libfaketime.so.1`): the deploy-local test runs the nightly
/// `--date yesterday` command with the clock of the night after the hits were sent.
pub const LIBFAKETIME: &str = "3.0.1";

/// Whether the venv's pip has `package` at exactly `version`.
fn pip_has(pip: &std::path::Path, package: &str, version: &str) -> bool {
    Command::new(pip)
        .args(["show", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {version}\n")))
        .unwrap_or(false)
}

fn installed_version(bin: &std::path::Path, arg: &str) -> Option<String> {
    let out = Command::new(bin).arg(arg).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Installs every missing tool; prints one line per step that does work.
pub fn ensure_tools() -> Result<()> {
    let root = paths::root();

    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()?;
    if !String::from_utf8_lossy(&targets.stdout).contains("wasm32-unknown-unknown") {
        eprintln!("setup: rustup target add wasm32-unknown-unknown");
        install(
            "rustup target add",
            Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        )?;
    }

    let wb = installed_version(&paths::cargo_bin("worker-build"), "--version");
    if !wb.as_deref().is_some_and(|v| v.contains(WORKER_BUILD)) {
        eprintln!("setup: cargo install worker-build {WORKER_BUILD} (~5 min cold)");
        install(
            "installing worker-build",
            Command::new("cargo").args([
                "install",
                "worker-build",
                "--version",
                WORKER_BUILD,
                "--force",
            ]),
        )?;
    }

    let bindgen = installed_version(&paths::cargo_bin("wasm-bindgen"), "--version");
    if !bindgen.as_deref().is_some_and(|v| v.contains(WASM_BINDGEN)) {
        eprintln!("setup: cargo install wasm-bindgen-cli {WASM_BINDGEN} (~4 min cold)");
        // Without --locked: the locked build of this version fails to compile.
        install(
            "installing wasm-bindgen-cli",
            Command::new("cargo").args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                WASM_BINDGEN,
                "--force",
            ]),
        )?;
    }

    // wrangler and wasm-opt build and run the worker; playwright-core drives Chromium in the
    // live page's browser test.
    if ["wrangler", "wasm-opt", "playwright-core"]
        .iter()
        .any(|bin| !paths::node_bin(bin).exists())
    {
        eprintln!("setup: npm ci");
        install(
            "npm ci",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&root),
        )?;
    }

    ensure_venv()?;
    crate::chromium::ensure()?;
    crate::spark::ensure()?;
    Ok(())
}

/// The project venv alone: moto, aws-sam-translator and libfaketime (all that
/// `cargo xtask deploy-local` needs from setup).
pub fn ensure_venv() -> Result<()> {
    let moto = paths::venv().join("bin/moto_server");
    let pip = paths::venv().join("bin/pip");
    let moto_ok = Command::new(&pip)
        .args(["show", "moto"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {MOTO}")))
        .unwrap_or(false);
    if !moto.exists() || !moto_ok {
        eprintln!("setup: python3 -m venv .venv && pip install moto[server]=={MOTO}");
        install(
            "creating .venv",
            Command::new("python3")
                .args(["-m", "venv"])
                .arg(paths::venv()),
        )?;
        install(
            "installing moto",
            Command::new(&pip).args(["install", "--quiet", &format!("moto[server]=={MOTO}")]),
        )?;
    }
    if !pip_has(&pip, "aws-sam-translator", SAM_TRANSLATOR)
        || !pip_has(&pip, "libfaketime", LIBFAKETIME)
    {
        eprintln!(
            "setup: pip install aws-sam-translator=={SAM_TRANSLATOR} libfaketime=={LIBFAKETIME} into .venv"
        );
        install(
            "installing aws-sam-translator and libfaketime",
            Command::new(&pip).args([
                "install",
                "--quiet",
                &format!("aws-sam-translator=={SAM_TRANSLATOR}"),
                &format!("libfaketime=={LIBFAKETIME}"),
            ]),
        )?;
    }
    Ok(())
}

/// Installs cargo-deny when it is missing or another version. Apart from [`ensure_tools`]:
/// only the dependency check needs it, and it takes minutes to build cold.
pub fn ensure_cargo_deny() -> Result<()> {
    let installed = installed_version(&paths::cargo_bin("cargo-deny"), "--version");
    if !installed.as_deref().is_some_and(|v| v.contains(CARGO_DENY)) {
        eprintln!("setup: cargo install cargo-deny {CARGO_DENY} --locked (~6 min cold)");
        install(
            "installing cargo-deny",
            Command::new("cargo").args([
                "install",
                "cargo-deny",
                "--version",
                CARGO_DENY,
                "--locked",
                "--force",
            ]),
        )?;
    }
    Ok(())
}

/// Runs one installation step with its output on stderr: stdout is kept for what the command
/// that called setup prints (the demo's report, the bench's table).
fn install(what: &str, cmd: &mut Command) -> Result<()> {
    run(what, cmd.stdout(std::io::stderr()))
}
