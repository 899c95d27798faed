//! The HTTP server of `dashboard serve`, laid out as crates.io's: every route in
//! [`router`], one file per resource in [`controllers`], one concern per file in
//! [`middleware`], and the credentials in [`auth`].

pub mod auth;
pub mod controllers;
pub mod middleware;
pub mod router;

use crate::history::History;
use crate::source::Feed;
use crate::view::publish::Published;
use std::sync::Arc;
use tokio::sync::watch;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState {
    /// The live window (`None` without `--stream`).
    pub feed: Option<Arc<Feed>>,
    /// The latest published snapshot and its renderings (with the live window).
    pub published: Option<watch::Receiver<Arc<Published>>>,
    /// The history (`None` without `--source`).
    pub history: Option<Arc<History>>,
    /// The token's checks; `None` when the server needs none (loopback without a token).
    pub auth: Option<Arc<auth::Auth>>,
}

/// Serves `state` on `listener` until `shutdown` resolves (then open event streams end when
/// the publisher stops).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router::build(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
