//! The history: `GET /history` (the page), `GET /api/report` (what `analyzer report --format
//! json` prints for the same arguments), `GET /api/report/pages.csv` and `/users.csv` (the
//! period's whole lists). Parameters: `period` (a preset) or `date`, or `from` and `to`; `tz`,
//! `compare`, `filter` (repeated), `top`. Bad ones are a 400 with the reason.

use crate::history::params::Params;
use crate::history::{Answer, Failed, History};
use crate::server::AppState;
use crate::view::history as page;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

/// Rows per list on the page when the URL gives no `top`.
pub const PAGE_TOP: usize = 10;

/// The history, or why there is none (a server started without `--source`).
fn history(state: &AppState) -> Result<&Arc<History>, Failed> {
    state.history.as_ref().ok_or(Failed::NoHistory)
}

fn failed(f: Failed) -> Response {
    match f {
        Failed::BadRequest(why) => (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
        Failed::NoData(why) => (StatusCode::NOT_FOUND, format!("{why}\n")).into_response(),
        Failed::NoHistory => (
            StatusCode::NOT_FOUND,
            "no history here: start the server with --source\n",
        )
            .into_response(),
        Failed::Internal(e) => {
            eprintln!("dashboard: a report failed: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the report failed; the server's log says why\n",
            )
                .into_response()
        }
    }
}

async fn report(
    state: &AppState,
    query: Option<&str>,
    default_top: Option<usize>,
) -> Result<(Params, Answer), Failed> {
    let history = history(state)?;
    let params =
        Params::parse(query.unwrap_or(""), history.default_tz).map_err(Failed::BadRequest)?;
    let answer = history.report(&params, default_top).await?;
    Ok((params, answer))
}

fn body(
    content_type: &'static str,
    write: impl FnOnce(&mut Vec<u8>) -> anyhow::Result<()>,
) -> Response {
    let mut out = Vec::new();
    match write(&mut out) {
        Ok(()) => ([(header::CONTENT_TYPE, content_type)], out).into_response(),
        Err(e) => failed(Failed::Internal(e)),
    }
}

/// `GET /api/report`: the report's JSON, the CLI's bytes. `Cache-Status` (RFC 9211) says
/// whether the period was counted from memory (`hit`) or read (`fwd=miss`).
pub async fn json(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    match report(&state, q.as_deref(), None).await {
        Ok((_, a)) => {
            let mut response = body("application/json", |out| {
                analyzer::output::json::write(&a.report, out)
            });
            let status = if a.from_memory {
                "dashboard; hit"
            } else {
                "dashboard; fwd=miss"
            };
            response
                .headers_mut()
                .insert("cache-status", header::HeaderValue::from_static(status));
            response
        }
        Err(f) => failed(f),
    }
}

/// `GET /api/report/pages.csv`: every page of the period (`pages.csv` of `--out`).
pub async fn pages_csv(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    match report(&state, q.as_deref(), None).await {
        Ok((_, a)) => body("text/csv; charset=utf-8", |out| {
            analyzer::output::csv::write_pages(&a.report, true, out)
        }),
        Err(f) => failed(f),
    }
}

/// `GET /api/report/users.csv`: every signed-in user of the period (`users.csv` of `--out`).
pub async fn users_csv(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    match report(&state, q.as_deref(), None).await {
        Ok((_, a)) => body("text/csv; charset=utf-8", |out| {
            analyzer::output::csv::write_users(&a.report, true, out)
        }),
        Err(f) => failed(f),
    }
}

/// `GET /history`: the page, rendered here; works without JavaScript.
pub async fn history_page(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let live = state.feed.is_some();
    match report(&state, q.as_deref(), Some(PAGE_TOP)).await {
        Ok((params, a)) => Html(page::document(&params, &a.report, live)).into_response(),
        // A period without data still gets the page (to pick another one), saying so.
        Err(Failed::NoData(why)) => {
            let tz = state.history.as_ref().map(|h| h.default_tz);
            match tz.map(|tz| Params::parse(q.as_deref().unwrap_or(""), tz)) {
                Some(Ok(params)) => {
                    (StatusCode::NOT_FOUND, Html(page::missing(&params, live))).into_response()
                }
                _ => failed(Failed::NoData(why)),
            }
        }
        Err(f) => failed(f),
    }
}
