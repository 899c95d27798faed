//! Installs the tools a command uses, when they are missing, and only those: the demo gets the
//! wasm32 target, the npm packages (wrangler, esbuild, wasm-opt) and moto; Chromium, tmux, pyspark, aws-sam-translator,
//! libfaketime, cargo-deny and cargo-about come with the commands and tests that use them. [`Task::Setup`]
//! (`cargo xtask setup`, which CI runs) installs every [`Tool`].
//! Every step is a no-op when its tool is already there, so commands run it every time; a step
//! that does work prints one `setup:` line first.

use crate::paths;
use crate::process::run;
use anyhow::Result;
use std::process::Command;

/// moto version for the Kinesis and S3 emulator.
pub const MOTO: &str = "5.2.5";
/// cargo-deny version for `cargo xtask deny` (advisories, bans, licenses, sources).
pub const CARGO_DENY: &str = "0.20.2";
/// cargo-about version for `cargo xtask licenses` (the third-party licences the binaries ship);
/// the Dockerfiles install the same.
pub const CARGO_ABOUT: &str = "0.9.3";
/// aws-sam-translator version: the SAM transform for `cargo xtask deploy-local` (moto's
/// CloudFormation does not run it). The one aws-sam-cli 1.170.0 (`infra/lint.sh`) bundles.
pub const SAM_TRANSLATOR: &str = "1.115.0";
/// libfaketime (PyPI, ships a built `libfaketime.so.1`): the deploy-local test runs the nightly
/// `--date yesterday` command with the clock of the night after the hits were sent.
pub const LIBFAKETIME: &str = "3.0.1";

/// A tool some command needs, installed by [`ensure`] when missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// rustup's `wasm32-unknown-unknown` target: the worker's build.
    WasmTarget,
    /// `npm ci`: wrangler (and its esbuild), binaryen's wasm-opt, playwright-core.
    NpmPackages,
    /// moto [`MOTO`] in `.venv`: Kinesis and S3 on 127.0.0.1.
    Moto,
    /// aws-sam-translator [`SAM_TRANSLATOR`] in `.venv`: `cargo xtask deploy-local`.
    SamTranslator,
    /// libfaketime [`LIBFAKETIME`] in `.venv`: the deploy-local test's nightly clock.
    Libfaketime,
    /// Debian's chromium: the browser tests (the report's dashboard, the live page).
    Chromium,
    /// Debian's tmux: the terminal view's test (`dashboard live` in a real terminal).
    Tmux,
    /// pyspark in `.venv-spark` (and a Java check): the Spark job's cluster test.
    Spark,
    /// cargo-deny [`CARGO_DENY`] in `$CARGO_HOME/bin`: `cargo xtask deny` and its test.
    CargoDeny,
    /// cargo-about [`CARGO_ABOUT`] in `$CARGO_HOME/bin`: `cargo xtask licenses`, the Lambda zip.
    CargoAbout,
}

impl Tool {
    /// Every tool, in the order they are installed (moto's step creates `.venv`, which the other
    /// `.venv` packages go into).
    pub const ALL: [Tool; 10] = [
        Tool::WasmTarget,
        Tool::NpmPackages,
        Tool::Moto,
        Tool::SamTranslator,
        Tool::Libfaketime,
        Tool::Chromium,
        Tool::Tmux,
        Tool::Spark,
        Tool::CargoDeny,
        Tool::CargoAbout,
    ];

    /// Installs this tool when it is missing (or another version); a no-op otherwise.
    fn ensure(self) -> Result<()> {
        match self {
            Tool::WasmTarget => ensure_wasm_target(),
            Tool::NpmPackages => ensure_npm_packages(),
            Tool::Moto => ensure_moto(),
            Tool::SamTranslator => {
                ensure_venv_package("aws-sam-translator", SAM_TRANSLATOR, "deploy-local")
            }
            Tool::Libfaketime => {
                ensure_venv_package("libfaketime", LIBFAKETIME, "the deploy-local test")
            }
            Tool::Chromium => crate::chromium::ensure(),
            Tool::Tmux => crate::debian::ensure("/usr/bin/tmux", "tmux"),
            Tool::Spark => crate::spark::ensure(),
            Tool::CargoDeny => ensure_cargo_deny(),
            Tool::CargoAbout => ensure_cargo_about(),
        }
    }
}

/// The commands that install tools, each named by what it is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// `cargo xtask setup`: everything, as CI wants it before its checks.
    Setup,
    /// Building the worker (`build-edge`, `size`, wrangler's build step).
    BuildEdge,
    /// `cargo xtask demo`: the worker under wrangler dev, moto, the native binaries.
    Demo,
    /// `cargo xtask e2e`: the same stack as the demo, under faults.
    E2e,
    /// `cargo xtask test`: every test, the browser, Spark and deploy-local ones included.
    Test,
    /// `cargo xtask deploy-local`: moto and the SAM transform (cargo-lambda comes with the
    /// Lambda package's own step).
    DeployLocal,
    /// `cargo xtask bench edge` and `bench live`: the worker under wrangler dev and moto.
    Bench,
    /// `cargo xtask licenses` and the Lambda package (which carries the aggregator's).
    Licenses,
}

impl Task {
    /// [`Task::needs`] without `later`: what a task installs first when it installs `later`
    /// on its own, beside other work.
    pub fn needs_but(self, later: &[Tool]) -> Vec<Tool> {
        self.needs()
            .iter()
            .copied()
            .filter(|t| !later.contains(t))
            .collect()
    }

    /// The tools this task uses: [`ensure_for`] installs these and nothing else.
    pub fn needs(self) -> &'static [Tool] {
        use Tool::*;
        const EDGE: &[Tool] = &[WasmTarget, NpmPackages];
        const STACK: &[Tool] = &[WasmTarget, NpmPackages, Moto];
        match self {
            Task::Setup => &Tool::ALL,
            Task::BuildEdge => EDGE,
            Task::Demo | Task::E2e | Task::Bench => STACK,
            Task::Test => &[
                WasmTarget,
                NpmPackages,
                Moto,
                SamTranslator,
                Libfaketime,
                Chromium,
                Tmux,
                Spark,
                CargoDeny,
                CargoAbout,
            ],
            Task::DeployLocal => &[Moto, SamTranslator],
            Task::Licenses => &[CargoAbout],
        }
    }
}

/// Installs what `task` uses and is missing.
pub fn ensure_for(task: Task) -> Result<()> {
    ensure(task.needs())
}

/// Installs the missing tools among `tools`, in [`Tool::ALL`]'s order, each once.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    for tool in Tool::ALL.into_iter().filter(|t| tools.contains(t)) {
        tool.ensure()?;
    }
    Ok(())
}

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

fn ensure_wasm_target() -> Result<()> {
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
    Ok(())
}

/// wrangler, its esbuild and wasm-opt build and run the worker; playwright-core drives Chromium in the live
/// page's browser test. One `npm ci` brings them all (a few seconds, no browser download).
fn ensure_npm_packages() -> Result<()> {
    if ["wrangler", "esbuild", "wasm-opt", "playwright-core"]
        .iter()
        .any(|bin| !paths::node_bin(bin).exists())
    {
        eprintln!("setup: npm ci");
        install(
            "npm ci",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(paths::root()),
        )?;
    }
    Ok(())
}

/// `.venv` with moto: created here when missing, so the other `.venv` packages go after it.
fn ensure_moto() -> Result<()> {
    let moto = paths::venv().join("bin/moto_server");
    let pip = paths::venv().join("bin/pip");
    if !moto.exists() || !pip_has(&pip, "moto", MOTO) {
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
    Ok(())
}

/// One pinned PyPI package in `.venv` (which [`Tool::Moto`] creates), for `user`.
fn ensure_venv_package(package: &str, version: &str, user: &str) -> Result<()> {
    let pip = paths::venv().join("bin/pip");
    if !pip_has(&pip, package, version) {
        eprintln!("setup: pip install {package}=={version} into .venv (for {user})");
        install(
            &format!("installing {package}"),
            Command::new(&pip).args(["install", "--quiet", &format!("{package}=={version}")]),
        )?;
    }
    Ok(())
}

/// Installs cargo-deny when it is missing or another version: only the dependency check and
/// its test want it, and it takes minutes to build cold.
fn ensure_cargo_deny() -> Result<()> {
    let installed = installed_version(&paths::cargo_bin("cargo-deny"), "--version");
    if !installed.as_deref().is_some_and(|v| v.contains(CARGO_DENY)) {
        eprintln!("setup: cargo install cargo-deny {CARGO_DENY} --locked (~1 min cold)");
        install(
            "installing cargo-deny",
            // opt-level 0: a third of the CPU to build, and a check still takes seconds
            // (measured 2026-12-06: 84 s of CPU to build at 0, 173 at 1, 243 at 3; a check of
            // this workspace 3.3 s at 0, 1.7 s at 1).
            Command::new("cargo").args([
                "install",
                "cargo-deny",
                "--version",
                CARGO_DENY,
                "--locked",
                "--force",
                "--config",
                "profile.release.opt-level=0",
            ]),
        )?;
    }
    Ok(())
}

/// Installs cargo-about when it is missing or another version (its output names the version
/// exactly, so `0.9.30` is not taken for `0.9.3`).
fn ensure_cargo_about() -> Result<()> {
    let installed = installed_version(&paths::cargo_bin("cargo-about"), "--version");
    if installed.as_deref() != Some(&format!("cargo-about {CARGO_ABOUT}")) {
        eprintln!(
            "setup: cargo install cargo-about {CARGO_ABOUT} --features cli --locked (~2 min cold)"
        );
        install(
            "installing cargo-about",
            Command::new("cargo").args([
                "install",
                "cargo-about",
                "--version",
                CARGO_ABOUT,
                // The binary needs its `cli` feature: without it cargo installs nothing and
                // still exits 0.
                "--features",
                "cli",
                "--locked",
                "--force",
                // opt-level 1 but for spdx, whose licence-text matching is three quarters of a
                // run: 153 s of CPU to build instead of 244, and the analyzer's file in the same
                // 96-98 s of CPU, the same bytes (measured 2026-12-06; all at opt-level 0 with
                // spdx at 3 made a run 2.8x slower: the hashing it calls was compiled at 0).
                "--config",
                "profile.release.opt-level=1",
                "--config",
                "profile.release.package.spdx.opt-level=3",
            ]),
        )?;
        let now = installed_version(&paths::cargo_bin("cargo-about"), "--version");
        anyhow::ensure!(
            now.as_deref() == Some(&format!("cargo-about {CARGO_ABOUT}")),
            "cargo install cargo-about {CARGO_ABOUT} left no working cargo-about in {} ({now:?})",
            paths::cargo_bin("cargo-about").display()
        );
    }
    Ok(())
}

/// Runs one installation step with its output on stderr: stdout is kept for what the command
/// that called setup prints (the demo's report, the bench's table).
fn install(what: &str, cmd: &mut Command) -> Result<()> {
    run(what, cmd.stdout(std::io::stderr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What only some tests use, and the demo must not wait for.
    const NOT_FOR_THE_DEMO: [Tool; 7] = [
        Tool::Chromium,
        Tool::Tmux,
        Tool::Spark,
        Tool::SamTranslator,
        Tool::Libfaketime,
        Tool::CargoDeny,
        Tool::CargoAbout,
    ];

    #[test]
    fn the_demo_installs_only_what_it_runs() {
        for tool in NOT_FOR_THE_DEMO {
            assert!(
                !Task::Demo.needs().contains(&tool),
                "the demo would install {tool:?}"
            );
        }
        for tool in [Tool::WasmTarget, Tool::NpmPackages, Tool::Moto] {
            assert!(
                Task::Demo.needs().contains(&tool),
                "the demo lacks {tool:?}"
            );
        }
    }

    #[test]
    fn setup_installs_every_tool_and_test_every_one_a_test_uses() {
        assert_eq!(Task::Setup.needs(), Tool::ALL);
        // Every tool is used by some test (cargo-deny by tests/deny.rs).
        for tool in Tool::ALL {
            assert!(Task::Test.needs().contains(&tool), "test lacks {tool:?}");
        }
    }

    #[test]
    fn every_task_needs_a_subset_of_what_test_or_setup_installs() {
        let tasks = [
            Task::BuildEdge,
            Task::Demo,
            Task::E2e,
            Task::Test,
            Task::DeployLocal,
            Task::Bench,
            Task::Licenses,
        ];
        for task in tasks {
            for tool in task.needs() {
                assert!(
                    Task::Test.needs().contains(tool),
                    "{task:?} uses {tool:?}, which `cargo xtask test` does not install"
                );
            }
        }
        // The worker's build needs no emulator; deploy-local no worker.
        assert!(!Task::BuildEdge.needs().contains(&Tool::Moto));
        assert!(!Task::DeployLocal.needs().contains(&Tool::WasmTarget));
        assert!(Task::DeployLocal.needs().contains(&Tool::SamTranslator));
    }
}
