//! Logging in with the token in a browser: `GET /login` (the form), `POST /login` (sets the
//! session cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS), `POST /logout`.

use crate::server::auth::cookie;
use crate::server::AppState;
use analyzer::output::html::{escape, CSS};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

/// The form's fields.
#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// `GET /login`.
pub async fn form(State(state): State<AppState>) -> Response {
    if state.auth.is_none() {
        return Redirect::to("/").into_response();
    }
    form_response(StatusCode::OK, None)
}

/// The login page with `status` and an optional message.
pub fn form_response(status: StatusCode, message: Option<&str>) -> Response {
    let message = message
        .map(|m| format!("<p class=\"warn\">{}</p>\n", escape(m)))
        .unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Log in \u{2014} page hits</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header><h1>Log in</h1><p class=\"sub\">This dashboard needs its token \
         (DASHBOARD_TOKEN).</p></header>\n<main>\n<form class=\"panel\" method=\"post\" \
         action=\"/login\">\n{message}<p><label for=\"token\">Token</label><br>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" \
         required></p>\n<p><button type=\"submit\">Log in</button></p>\n</form>\n</main>\n\
         </body>\n</html>\n"
    );
    (status, Html(page)).into_response()
}

/// `POST /login`: the cookie and back to the page, or the form again after the failure delay.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(login): Form<Login>,
) -> Response {
    let Some(auth) = state.auth.as_deref() else {
        return Redirect::to("/").into_response();
    };
    if !auth.token.matches(&login.token) {
        auth.failed().await;
        return form_response(StatusCode::UNAUTHORIZED, Some("That is not the token."));
    }
    let value = auth.cookies.issue(crate::now_ms() / 1000);
    let cookie = format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        cookie::NAME,
        cookie::LIFETIME_SECS,
        secure(&headers)
    );
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, "/".into())],
    )
        .into_response()
}

/// `POST /logout`: the cookie removed.
pub async fn logout(headers: HeaderMap) -> Response {
    let cookie = format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        cookie::NAME,
        secure(&headers)
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/login".into()),
        ],
    )
        .into_response()
}

/// `; Secure` when the request reached the proxy in front of us over HTTPS (the server
/// itself speaks plain HTTP: TLS ends at the load balancer or the port forward).
fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if https {
        "; Secure"
    } else {
        ""
    }
}
