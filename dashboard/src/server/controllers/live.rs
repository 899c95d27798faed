//! The live view: `GET /` (the page), `GET /api/live` (the snapshot's JSON) and
//! `GET /api/live/events` (Server-Sent Events: a new snapshot at most once a second, only when
//! its numbers changed; `?format=html` sends the page's panels instead of the JSON).

use crate::server::AppState;
use crate::view::page;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::convert::Infallible;

/// Routes that take no parameter refuse any (a token in a URL among them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The answer of a live route on a server without `--stream`.
fn no_stream() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no live view here: start the server with --stream\n",
    )
        .into_response()
}

/// `GET /`: the live page, showing the latest snapshot until the first push (the history when
/// the server has no stream).
pub async fn page(State(state): State<AppState>, _: Query<NoParams>) -> Response {
    let Some(published) = &state.published else {
        return Redirect::to("/history").into_response();
    };
    let published = published.borrow().clone();
    Html(page::document(&published.snapshot, state.history.is_some())).into_response()
}

/// `GET /api/live`: the snapshot at this instant.
pub async fn snapshot(State(state): State<AppState>, _: Query<NoParams>) -> Response {
    let Some(feed) = &state.feed else {
        return no_stream();
    };
    let snapshot = feed.snapshot(crate::now_ms());
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&snapshot).expect("a snapshot always serialises"),
    )
        .into_response()
}

/// What the event stream carries.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `event: snapshot`, the JSON of `/api/live`.
    #[default]
    Json,
    /// `event: html`, the page's panels.
    Html,
}

/// The event stream's parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// `json` (default) or `html`.
    #[serde(default)]
    pub format: Format,
}

/// `GET /api/live/events`: the current snapshot at once, then each new one.
pub async fn events(State(state): State<AppState>, Query(params): Query<EventsParams>) -> Response {
    let Some(published) = &state.published else {
        return no_stream();
    };
    let mut rx = published.clone();
    rx.mark_changed();
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        // Ends when the publisher stops (shutdown), which lets the server close.
        rx.changed().await.ok()?;
        let published = rx.borrow_and_update().clone();
        let event = match params.format {
            Format::Json => Event::default().event("snapshot").data(&published.json),
            Format::Html => Event::default().event("html").data(&published.html),
        };
        Some((Ok::<_, Infallible>(event), rx))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
