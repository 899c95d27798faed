//! `dashboard`: the live view of the page-hit stream. See `dashboard --help`.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    dashboard::alloc::keep_freed_memory();
    // clap prints usage errors itself and exits 2 (`--help`/`--version` exit 0).
    let cli = dashboard::cli::Cli::parse();
    match dashboard::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dashboard: error: {err:#}");
            ExitCode::from(analyzer::error::exit_code(&err))
        }
    }
}
