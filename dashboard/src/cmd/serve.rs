//! `dashboard serve`: the live page and the history over HTTP, loopback unless a token is set.

use crate::cli::ServeArgs;
use crate::history::History;
use crate::server::{self, auth::Auth, AppState};
use crate::source::kinesis;
use crate::source::Feed;
use analyzer::error::Usage;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use store::Store;

/// The environment variable holding the token.
pub const TOKEN_VAR: &str = "DASHBOARD_TOKEN";

/// The server's credentials for `listen` and the token's value (if any): none needed on
/// loopback without a token; anything else needs one.
pub fn auth_for(listen: SocketAddr, token: Option<&str>) -> Result<Option<Arc<Auth>>, Usage> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => Ok(Some(Arc::new(Auth::new(t)?))),
        None if listen.ip().is_loopback() => Ok(None),
        None => Err(Usage(format!(
            "refusing to listen on {listen} without {TOKEN_VAR}: anything but a loopback address \
             is reachable by others. Set {TOKEN_VAR} (e.g. `export {TOKEN_VAR}=$(openssl rand \
             -hex 32)`), or listen on 127.0.0.1 and reach it through a tunnel"
        ))),
    }
}

/// Runs `dashboard serve`.
pub fn run(args: ServeArgs) -> Result<()> {
    let token = std::env::var(TOKEN_VAR).ok();
    let auth = auth_for(args.listen, token.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let history = match &args.source {
            Some(location) => Some(History::new(
                Store::open(location).await?,
                args.tz,
                args.cache_memory,
                args.memory_budget,
            )),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let mut live = None;
        if let Some(stream) = &args.stream {
            kinesis::warm_up();
            let client = kinesis::client().await;
            kinesis::check_stream(&client, stream).await?;
            let feed = Feed::new(args.window.options());
            live = Some(super::run_window(
                client,
                stream.clone(),
                feed,
                stop.clone(),
            ));
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let state = AppState {
            feed: live.as_ref().map(|l| l.feed.clone()),
            published: live.as_ref().map(|l| l.published.clone()),
            history: history.clone(),
            auth,
        };
        if let Some(stream) = &args.stream {
            println!("dashboard: serving the live view of {stream} on http://{addr}/");
        }
        if let Some(h) = &history {
            println!(
                "dashboard: serving the history of {} on http://{addr}/history",
                h.location()
            );
        }
        let stopping = stop.clone();
        let shutdown = async move {
            stop_signal().await;
            stopping.store(true, Ordering::Relaxed);
        };
        match live {
            Some(running) => {
                let served = tokio::select! {
                    r = server::serve(listener, state, shutdown) => r,
                    r = running.reader => r.context("the stream's reader")?.context("reading the stream"),
                };
                stop.store(true, Ordering::Relaxed);
                running.publisher.abort();
                served
            }
            None => server::serve(listener, state, shutdown).await,
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_goes_without_a_token() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(auth_for(lo, None).unwrap().is_none());
        assert!(auth_for(lo6, None).unwrap().is_none());
        let err = auth_for(any, None).unwrap_err();
        assert!(err.0.contains("DASHBOARD_TOKEN"), "{err}");
        assert!(
            auth_for(any, Some("")).is_err(),
            "an empty token is no token"
        );
        assert!(
            auth_for(any, Some("short")).is_err(),
            "too short to be a secret"
        );
        assert!(auth_for(any, Some("0123456789abcdef")).unwrap().is_some());
        assert!(
            auth_for(lo, Some("0123456789abcdef")).unwrap().is_some(),
            "a token set is required on loopback too"
        );
    }
}
