//! The token check in front of every route but `/healthz` and the login form, when the server
//! has a token: `Authorization: Bearer <token>`, or the session cookie. A wrong token is a
//! failed attempt (slowed down); no credentials at all is a plain 401, which a browser asking
//! for a page gets as the login form.

use crate::server::auth::{cookie, token, Auth};
use crate::server::controllers::session;
use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Lets the request through when the server has no token or the request holds it.
pub async fn require(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(auth) = state.auth.as_deref() else {
        return next.run(req).await;
    };
    let presented = Presented::of(&req);
    if presented.check(auth).await {
        next.run(req).await
    } else {
        unauthorized(&req)
    }
}

/// The credentials a request holds, taken out of it (the request is not held across awaits).
struct Presented {
    /// The `Authorization` header's value (`None` when absent; `Some("")` when unreadable).
    authorization: Option<String>,
    /// Values of the session cookie.
    sessions: Vec<String>,
}

impl Presented {
    fn of(req: &Request) -> Presented {
        let headers = req.headers();
        Presented {
            authorization: headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or_default().to_string()),
            sessions: headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| cookie::find(v, cookie::NAME))
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether they are good; a wrong token waits out a failed attempt first.
    async fn check(&self, auth: &Auth) -> bool {
        if let Some(value) = &self.authorization {
            if token::bearer(value).is_some_and(|t| auth.token.matches(t)) {
                return true;
            }
            auth.failed().await;
            return false;
        }
        let now = crate::now_ms() / 1000;
        self.sessions.iter().any(|v| auth.cookies.valid(v, now))
    }
}

/// 401: the login form for a browser asking for a page, else a line saying what to send.
fn unauthorized(req: &Request) -> Response {
    let wants_page = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_page && req.uri().path() == "/" {
        return session::form_response(StatusCode::UNAUTHORIZED, None);
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "401 unauthorized: send `Authorization: Bearer <DASHBOARD_TOKEN>`, or log in at /login\n",
    )
        .into_response()
}
