//! `GET /healthz` (for load balancers: no token needed, tells nothing) and the answer to
//! unknown routes.

use axum::http::StatusCode;

/// `ok`.
pub async fn check() -> &'static str {
    "ok"
}

/// 404 for any other route.
pub async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}
