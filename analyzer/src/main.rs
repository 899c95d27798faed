//! `analyzer`: a day of page-hit CSVs in, page/user/summary reports out. See `analyzer --help`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2 (`--help`/`--version` exit 0).
    let cli = analyzer::cli::Cli::parse();
    match analyzer::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("analyzer: error: {err:#}");
            ExitCode::from(analyzer::error::exit_code(&err))
        }
    }
}
