//! `cargo xtask <command>`: the project's automation. See `cargo xtask --help`.

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::Command;
use xtask::{edge_build, paths, process::run, setup, wrangler};

mod bench;
mod demo;

#[derive(Parser)]
#[command(
    about = "Project automation for the page-hit pipeline",
    after_help = "\
Examples:
  cargo xtask demo        # the whole local stack, end to end
  cargo xtask test        # every unit and integration test (installs what is missing)
  cargo xtask bench edge  # worker throughput with the collector on vs off"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install missing tools: wasm target, worker-build, wasm-bindgen-cli, npm packages, moto.
    Setup,
    /// Build the edge worker to Wasm (edge/build/), as wrangler's build step does.
    BuildEdge,
    /// Run every test: unit tests, then integration tests against moto and `wrangler dev`.
    Test,
    /// Report the worker's upload size from `wrangler deploy --dry-run`.
    Size,
    /// Build the aggregator's AWS Lambda package (arm64 bootstrap.zip) with cargo-lambda.
    PackageLambda,
    /// Benchmarks (not tests): `edge` compares throughput with the collector on and off.
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
    /// Run the local stack end to end: moto, wrangler dev, a burst of page views, the hits.
    Demo,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Setup => setup::ensure_tools(),
        Cmd::BuildEdge => edge_build::build(),
        Cmd::Test => test(),
        Cmd::Size => {
            edge_build::build()?;
            let (total, gzip) = wrangler::deploy_dry_run()?;
            println!("worker upload: {total:.2} KiB, gzip {gzip:.2} KiB (goal <= 250 KiB gzip)");
            Ok(())
        }
        Cmd::PackageLambda => xtask::lambda_package::build().map(|_| ()),
        Cmd::Bench { which } => bench::run(which),
        Cmd::Demo => demo::run(),
    }
}

/// The README's test command: everything CI runs after fmt and clippy.
fn test() -> Result<()> {
    setup::ensure_tools()?;
    eprintln!("test: building the edge worker (wasm32, release)");
    edge_build::build()?;
    eprintln!("test: cargo test --workspace (integration tests included)");
    run(
        "cargo test",
        Command::new("cargo")
            .args(["test", "--workspace", "--", "--include-ignored"])
            .current_dir(paths::root()),
    )?;
    eprintln!("test: wrangler deploy --dry-run");
    let (total, gzip) = wrangler::deploy_dry_run()?;
    println!("worker upload: {total:.2} KiB, gzip {gzip:.2} KiB (goal <= 250 KiB gzip)");
    Ok(())
}
