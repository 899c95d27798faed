//! One module per subcommand.

pub mod compact;
pub mod report;

/// The async runtime the subcommands use for S3 (the computing runs on plain threads).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
