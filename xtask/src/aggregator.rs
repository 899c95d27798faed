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
    crate::moto::client_env(&mut cmd, endpoint);
    cmd
}

/// Every hit in every CSV object under `dir/hits` (a folder sink), with the UTC day of the
/// partition it landed in (`dt=` stripped); none when nothing has landed. An object without
/// the header or with a malformed row is an error: the aggregator writes neither.
pub fn landed_hits(dir: &std::path::Path) -> anyhow::Result<Vec<(String, pagehit::PageHit)>> {
    use anyhow::{ensure, Context};
    let mut out = Vec::new();
    let hits = dir.join(pagehit::layout::HITS);
    if !hits.exists() {
        return Ok(out);
    }
    for day in std::fs::read_dir(&hits).with_context(|| format!("listing {}", hits.display()))? {
        let day = day?.path();
        let date = day
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .trim_start_matches("dt=")
            .to_string();
        for file in std::fs::read_dir(&day)? {
            let path = file?.path();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            ensure!(
                text.starts_with(&pagehit::csv_header()),
                "{} does not start with the header",
                path.display()
            );
            let read = pagehit::csv::read_all(text.as_bytes())
                .with_context(|| format!("parsing {}", path.display()))?;
            ensure!(
                read.malformed == 0,
                "{} holds {} malformed rows",
                path.display(),
                read.malformed
            );
            out.extend(read.hits.into_iter().map(|hit| (date.clone(), hit)));
        }
    }
    Ok(out)
}
