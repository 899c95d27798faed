//! Proxy mode: forward the request to `ORIGIN_URL`, stream the answer back, and take the
//! signed-in user from the origin's `x-analytics-user` header, which never reaches the client.

use crate::route::Target;
use wasm_bindgen::JsValue;
use worker::{
    Date, Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response, Result,
};

/// Response header in which the origin names the signed-in user.
pub const USER_HEADER: &str = "x-analytics-user";

/// The origin's answer and what the hit needs from it.
pub struct Proxied {
    /// The response for the client, `x-analytics-user` removed, body streamed.
    pub response: Response,
    /// Status the client gets.
    pub status: u16,
    /// The signed-in user the origin reported, empty when none.
    pub user: String,
    /// How long the origin took to send its headers.
    pub origin_ms: u32,
}

/// The origin URL for a request to `path` and `query` on the edge.
pub fn target_url(origin: &str, path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{origin}{path}?{q}"),
        None => format!("{origin}{path}"),
    }
}

/// Forwards `req` (method, headers, body) to `origin`; redirects are passed back, not followed.
pub async fn forward(req: &Request, url: &Target<'_>, origin: &str) -> Result<Proxied> {
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if name != "host" {
            headers.append(&name, &value)?;
        }
    }
    headers.set("x-forwarded-host", url.host)?;
    headers.set("x-forwarded-proto", url.scheme)?;
    let method = req.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !matches!(method, Method::Get | Method::Head) {
        init.with_body(req.inner().body().map(JsValue::from));
    }
    let outbound = Request::new_with_init(&target_url(origin, url.path, url.query), &init)?;
    let started = Date::now().as_millis();
    let response = Fetch::Request(outbound).send().await?;
    let origin_ms = Date::now()
        .as_millis()
        .saturating_sub(started)
        .min(u64::from(u32::MAX)) as u32;
    let status = response.status_code();
    let user = response.headers().get(USER_HEADER)?.unwrap_or_default();
    // A fetched response's headers are immutable: copy all but the user header.
    let client_headers = Headers::new();
    for (name, value) in response.headers().entries() {
        if !name.eq_ignore_ascii_case(USER_HEADER) {
            client_headers.append(&name, &value)?;
        }
    }
    let (builder, body) = response.into_parts();
    Ok(Proxied {
        response: builder.with_headers(client_headers).body(body),
        status,
        user,
        origin_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_keeps_path_and_query() {
        assert_eq!(
            target_url("https://o.example", "/a/b", Some("x=1&y=2")),
            "https://o.example/a/b?x=1&y=2"
        );
        assert_eq!(
            target_url("http://127.0.0.1:9000", "/", None),
            "http://127.0.0.1:9000/"
        );
    }
}
