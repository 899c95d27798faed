//! `cargo xtask <command>`: the project's automation. See `cargo xtask --help`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::Command;
use xtask::process::{joined, run};
use xtask::setup::{self, Task, Tool};
use xtask::{cargo_tree, edge_build, paths, test_pool, wrangler};

mod bench;
mod demo;
mod first_run;

#[derive(Parser)]
#[command(
    about = "Project automation for the page-hit pipeline",
    after_help = "\
Examples:
  cargo xtask demo        # the whole local stack, end to end
  cargo xtask test        # every unit, integration and end-to-end test (installs what is missing)
  cargo xtask e2e         # only the end-to-end test: the whole pipeline under faults
  cargo xtask deploy-local  # infra/template.yaml deployed into moto, outputs printed
  cargo xtask first-run-time --skip-test  # a newcomer's first demo, from nothing, timed
  cargo xtask bench edge  # worker throughput with the collector on vs off"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install every missing tool (what CI needs): wasm target, npm packages, moto,
    /// aws-sam-translator, libfaketime, chromium, tmux, pyspark, cargo-deny, cargo-about. The
    /// other commands install only what they use.
    Setup,
    /// Build the edge worker to Wasm (edge/build/), as wrangler's build step does.
    BuildEdge,
    /// Run every test: unit tests, integration tests against moto and `wrangler dev` (the
    /// template deployed into moto and e2e among them), three test binaries at a time.
    Test,
    /// Run the end-to-end test: worker -> faulty Kinesis -> crashing aggregator -> S3 -> analyzer.
    E2e,
    /// Report the worker's upload size from `wrangler deploy --dry-run`.
    Size,
    /// Check the dependency graph with cargo-deny: advisories, bans, licenses, sources.
    Deny,
    /// Write the third-party licences each shipped binary carries (every crate linked into it,
    /// with its licence text, by cargo-about; and the analyzer's uap-core regexes) to
    /// <target>/licenses/<binary>/THIRD-PARTY-LICENSES. The images and the Lambda zip ship them.
    Licenses(xtask::licenses::Args),
    /// Build the aggregator's AWS Lambda package (arm64 bootstrap.zip) with cargo-lambda.
    PackageLambda,
    /// Deploy infra/template.yaml into moto's CloudFormation (SAM transform, the Lambda zip
    /// uploaded) and print the stack's outputs.
    DeployLocal(xtask::deploy_local::Args),
    /// Benchmarks (not tests): `edge` compares throughput with the collector on and off.
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
    /// Run the local stack end to end: moto, wrangler dev, a burst of page views, the
    /// aggregator, the analyzer's report on the burst and the hit-to-S3 latency, then two weeks
    /// of labelled synthetic history through the same stream, compacted, as a dashboard.
    Demo(demo::Args),
    /// Time a newcomer's first run from nothing: a fresh clone of HEAD with a throwaway
    /// CARGO_HOME (no installed binaries, no crate cache), target folder and npm/pip caches runs
    /// `cargo xtask demo`, the demo again and `cargo xtask test`; prints each stage's seconds.
    /// Takes the machine's cores for 20+ minutes: run it on an otherwise idle machine.
    FirstRunTime(first_run::Args),
}

fn main() -> Result<()> {
    forget_cargo_run_env();
    match Cli::parse().command {
        Cmd::Setup => setup::ensure_for(Task::Setup),
        Cmd::Deny => xtask::deny::run_checks(),
        Cmd::BuildEdge => {
            setup::ensure_for(Task::BuildEdge)?;
            edge_build::build()
        }
        Cmd::Test => test(),
        Cmd::E2e => {
            setup::ensure_for(Task::E2e)?;
            edge_build::build()?;
            e2e()
        }
        Cmd::Size => {
            setup::ensure_for(Task::BuildEdge)?;
            edge_build::build()?;
            let (total, gzip) = wrangler::deploy_dry_run()?;
            println!("worker upload: {total:.2} KiB, gzip {gzip:.2} KiB (goal <= 250 KiB gzip)");
            Ok(())
        }
        Cmd::Licenses(args) => xtask::licenses::generate(args),
        Cmd::PackageLambda => xtask::lambda_package::build().map(|_| ()),
        Cmd::DeployLocal(args) => {
            tokio::runtime::Runtime::new()?.block_on(xtask::deploy_local::run(args))
        }
        Cmd::Bench { which } => bench::run(which),
        Cmd::Demo(args) => demo::run(args),
        Cmd::FirstRunTime(args) => first_run::measure(args),
    }
}

/// `cargo xtask` runs under `cargo run`, which describes xtask's package in the environment
/// (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, ...). The cargo builds started from here would inherit
/// that, and ring's build script watches those variables: every build from xtask would redo ring
/// and all that depends on it (polars, the AWS SDKs), and the next plain `cargo build` would
/// redo them again. Nothing here reads them at run time (`paths::root` takes the manifest dir at
/// compile time), and no other thread runs yet.
fn forget_cargo_run_env() {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            std::env::remove_var(name);
        }
    }
}

/// The README's test command: everything CI runs after fmt and clippy.
fn test() -> Result<()> {
    use xtask::lambda_package::Build;
    use xtask::test_pool::{Gate, Gates};
    setup::ensure_for(Task::BuildEdge)?;
    // The test build first, and beside it what the tests use, each step settling a gate: the
    // quick tools, then cargo-about and cargo-deny (minutes of compiling each); the worker's
    // Wasm; the Lambda zip (without its licences: see `Build::ForTests`). Each test
    // binary starts as soon as the gates it needs are settled, so the suite does not wait for
    // the compiled tools; those compile at a lower priority (but cargo-about, whose test ends
    // the run when it is compiled last), so the tests with deadlines keep the cores they had.
    // Builds have target folders of their own (cargo locks a folder).
    eprintln!(
        "test: building the tests, and beside them the edge worker (wasm32), the tests' tools \
         and the aggregator's Lambda package (arm64); each test binary starts once what it \
         needs is there"
    );
    let gates = Gates::default();
    let tools = Task::Test.needs_but(&[Tool::CargoDeny, Tool::CargoAbout]);
    std::thread::scope(|s| -> Result<()> {
        let installs = s.spawn(|| {
            let _guard = gates.failed_unless_settled(&[Gate::Tools, Gate::CargoAbout]);
            let quick = gates.settle(Gate::Tools, setup::ensure(&tools));
            // cargo-about at the tests' priority: at a lower one the running tests left it
            // almost nothing, and on a first run its compile was then the last ~4 minutes
            // (2026-12-06: the suite done after 12 min, cargo-about still on its first crates).
            let about = gates.settle(
                Gate::CargoAbout,
                setup::ensure(&[Tool::CargoAbout]).and_then(|()| cargo_tree::fetch_all()),
            );
            quick.and(about)
        });
        // cargo-deny beside cargo-about rather than after it: the last minute of each install
        // is one crate on one core (cargo-about's own), which the other fills.
        let deny = s.spawn(|| {
            let _guard = gates.failed_unless_settled(&[Gate::CargoDeny]);
            lower_priority();
            gates.settle(Gate::CargoDeny, setup::ensure(&[Tool::CargoDeny]))
        });
        let edge = s.spawn(|| {
            let _guard = gates.failed_unless_settled(&[Gate::Edge]);
            gates.settle(Gate::Edge, edge_build::build())
        });
        let lambda = s.spawn(|| {
            let _guard = gates.failed_unless_settled(&[Gate::LambdaZip]);
            lower_priority();
            let zip = xtask::lambda_package::compile(Build::ForTests)
                .and_then(|zip| xtask::lambda_package::checked(&zip));
            gates.settle(Gate::LambdaZip, zip)
        });
        // Every binary with its ignored tests (those that need the tools), e2e among them.
        let tested = test_pool::build(&paths::root()).and_then(|binaries| {
            test_pool::run(&paths::root(), &binaries, &["--include-ignored"], &gates)
        });
        joined(edge, "building the edge worker")?;
        joined(installs, "installing the tests' tools")?;
        joined(deny, "installing cargo-deny")?;
        joined(lambda, "building the Lambda package")?;
        tested
    })?;
    eprintln!("test: wrangler deploy --dry-run");
    let (total, gzip) = wrangler::deploy_dry_run()?;
    println!("worker upload: {total:.2} KiB, gzip {gzip:.2} KiB (goal <= 250 KiB gzip)");
    Ok(())
}

/// Lowers the calling thread's CPU priority (nice 10), and so that of the processes it starts
/// (a child takes its nice value from the thread that forks it): builds that run beside the
/// tests then take the cores the tests leave idle. Best effort.
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// The end-to-end test's name in `xtask/tests/e2e.rs`.
const E2E_TEST: &str = "every_accepted_page_view_is_counted_exactly_once_through_faults";

/// `cargo xtask e2e`: the end-to-end test, after building the binaries it drives.
fn e2e() -> Result<()> {
    eprintln!("e2e: building the aggregator and the analyzer");
    run(
        "cargo build",
        Command::new("cargo")
            .args(["build", "-p", "aggregator", "-p", "analyzer"])
            .current_dir(paths::root()),
    )?;
    eprintln!("e2e: cargo test -p xtask --test e2e");
    run(
        "the end-to-end test",
        Command::new("cargo")
            .args(["test", "-p", "xtask", "--test", "e2e", "--"])
            .args(["--include-ignored", "--exact", E2E_TEST])
            .current_dir(paths::root()),
    )
}
