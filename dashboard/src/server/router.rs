//! Every route of the server, in one place.

use super::controllers::{health, live, report, session};
use super::middleware::{auth, security_headers};
use super::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The application: the routes, the token check on all but `/healthz` and the login form,
/// and the security headers on every response.
pub fn build(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(live::page))
        .route("/api/live", get(live::snapshot))
        .route("/api/live/events", get(live::events))
        .route("/history", get(report::history_page))
        .route("/api/report", get(report::json))
        .route("/api/report/pages.csv", get(report::pages_csv))
        .route("/api/report/users.csv", get(report::users_csv))
        .route("/logout", post(session::logout))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ));
    Router::new()
        .route("/healthz", get(health::check))
        .route("/login", get(session::form).post(session::login))
        .merge(protected)
        .fallback(health::not_found)
        .layer(axum::middleware::from_fn(security_headers::add))
        .with_state(state)
}
