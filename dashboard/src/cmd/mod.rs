//! One module per subcommand, and the running live window both of them start.

pub mod live;
pub mod serve;

use crate::source::kinesis::{self, Until};
use crate::source::Feed;
use crate::view::publish::{self, Published};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The live window being filled from the stream and published to the views.
pub struct Running {
    /// The window.
    pub feed: Arc<Feed>,
    /// Its latest published snapshot.
    pub published: watch::Receiver<Arc<Published>>,
    /// The stream's reader: ends on an error, or when `stop` is set.
    pub reader: JoinHandle<anyhow::Result<()>>,
    /// The publisher: ends when `stop` is set.
    pub publisher: JoinHandle<()>,
}

/// Starts reading `stream` into `feed` until `stop`, and publishing its snapshots.
pub fn run_window(
    client: aws_sdk_kinesis::Client,
    stream: String,
    feed: Arc<Feed>,
    stop: Arc<AtomicBool>,
) -> Running {
    let reader = tokio::spawn(kinesis::read(
        client,
        stream,
        feed.clone(),
        stop.clone(),
        Until::Stopped,
    ));
    let (tx, published) = watch::channel(Arc::new(Published::new(feed.snapshot(crate::now_ms()))));
    let publisher = tokio::spawn(publish::run(feed.clone(), tx, stop));
    Running {
        feed,
        published,
        reader,
        publisher,
    }
}
