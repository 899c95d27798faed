//! `dashboard live`: the live view in the terminal, one JSON line per change when stdout is
//! not a terminal, or one snapshot with `--once`.

use crate::cli::{Format, LiveArgs};
use crate::source::kinesis::{self, Until};
use crate::source::Feed;
use crate::view::publish::Published;
use crate::view::{table, tui};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// Runs `dashboard live`.
pub fn run(args: LiveArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        kinesis::warm_up();
        let client = kinesis::client().await;
        let stream = args.stream.clone();
        kinesis::check_stream(&client, &stream).await?;
        let feed = Feed::new(args.window.options());
        let stop = Arc::new(AtomicBool::new(false));
        if args.once {
            kinesis::read(client, stream, feed.clone(), stop, Until::CaughtUp).await?;
            let snapshot = feed.snapshot(crate::now_ms());
            match args.format {
                Format::Json => println!("{}", serde_json::to_string(&snapshot)?),
                Format::Table => print!("{}", table::render(&snapshot)),
            }
            return Ok(());
        }
        let running = super::run_window(client, stream, feed, stop.clone());
        let (rx, reader) = (running.published, running.reader);
        let view = async {
            if std::io::stdout().is_terminal() {
                tokio::task::spawn_blocking(move || tui::run(rx)).await?
            } else {
                json_lines(rx).await
            }
        };
        let result = tokio::select! {
            r = view => r,
            r = reader => r.context("the stream's reader")?.context("reading the stream"),
            _ = crate::cmd::serve::stop_signal() => Ok(()),
        };
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// One JSON snapshot per line, each time the numbers change.
async fn json_lines(mut rx: watch::Receiver<Arc<Published>>) -> Result<()> {
    rx.mark_changed();
    while rx.changed().await.is_ok() {
        let json = rx.borrow_and_update().json.clone();
        println!("{json}");
    }
    Ok(())
}
