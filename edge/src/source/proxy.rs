//! Proxy mode: forward the request to `ORIGIN_URL`, stream the answer back, and take the
//! signed-in user from the origin's `x-analytics-user` header, which never reaches the client.
//!
//! The origin trusts what the worker tells it, so the worker never passes on a client's word
//! for what only the worker knows: a client-sent `x-analytics-user` is dropped (it could make
//! an origin that echoes it name any user), and so is every header in which a client could
//! name its own address ([`CLIENT_ADDRESS_HEADERS`], `X-Forwarded-*`): an origin that trusts
//! one of them (nginx `real_ip_header`, many frameworks' defaults) would see an address the
//! client chose. The worker then sets `X-Forwarded-For` and `Forwarded` to the address
//! Cloudflare saw (`cf-connecting-ip`), and the host and scheme the client addressed.

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

/// Request headers in which a client, or a proxy in front of it, names the client's address.
/// None of them is passed on from a client; `x-forwarded-*` are dropped by prefix.
pub const CLIENT_ADDRESS_HEADERS: &[&str] = &[
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "x-original-forwarded-for",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "fastly-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "cf-pseudo-ipv4",
];

/// Whether a client's request header `name` (any case) goes to the origin.
fn passes(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name != "host"
        && name != USER_HEADER
        && !name.starts_with("x-forwarded-")
        && !CLIENT_ADDRESS_HEADERS.contains(&name.as_str())
}

/// The headers the origin gets for a client request with `headers`: all of them except
/// `host`, a client's `x-analytics-user` and every client address header (`x-forwarded-*`,
/// [`CLIENT_ADDRESS_HEADERS`]), then `X-Forwarded-For` and `Forwarded` from `client_ip` (the
/// address Cloudflare saw; no address header at all when it is unknown) and the host and
/// scheme the client addressed.
pub fn forward_headers(
    headers: impl IntoIterator<Item = (String, String)>,
    client_ip: Option<&str>,
    url: &Target<'_>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(name, _)| passes(name))
        .collect();
    // RFC 7239: an IPv6 address is bracketed and quoted; the host is quoted for its port.
    let mut forwarded = String::new();
    if let Some(ip) = client_ip.map(str::trim).filter(|ip| !ip.is_empty()) {
        out.push(("x-forwarded-for".into(), ip.to_string()));
        forwarded = if ip.contains(':') {
            format!("for=\"[{ip}]\";")
        } else {
            format!("for={ip};")
        };
    }
    out.push(("x-forwarded-host".into(), url.host.to_string()));
    out.push(("x-forwarded-proto".into(), url.scheme.to_string()));
    forwarded.push_str(&format!("host=\"{}\";proto={}", url.host, url.scheme));
    out.push(("forwarded".into(), forwarded));
    out
}

/// Forwards `req` (method, headers, body) to `origin`; redirects are passed back, not followed.
pub async fn forward(req: &Request, url: &Target<'_>, origin: &str) -> Result<Proxied> {
    let headers = Headers::new();
    let client_ip = req.headers().get("cf-connecting-ip")?;
    for (name, value) in forward_headers(req.headers().entries(), client_ip.as_deref(), url) {
        headers.append(&name, &value)?;
    }
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

    fn names(h: &[(String, String)], name: &str) -> Vec<String> {
        h.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    #[test]
    fn client_claims_are_dropped_and_forwarded_for_is_the_edge_s() {
        let url = Target::parse("https://shop.example/a?b=1").unwrap();
        let client = [
            ("host", "shop.example"),
            ("cookie", "session=bob"),
            ("x-analytics-user", "admin"),
            ("X-Analytics-User", "root"),
            ("x-forwarded-for", "10.0.0.1"),
            ("X-Forwarded-Host", "evil.example"),
            ("accept", "text/html"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let out = forward_headers(client.clone(), Some("203.0.113.9"), &url);
        assert!(names(&out, "x-analytics-user").is_empty());
        assert!(names(&out, "host").is_empty());
        assert_eq!(names(&out, "x-forwarded-for"), ["203.0.113.9"]);
        assert_eq!(names(&out, "x-forwarded-host"), ["shop.example"]);
        assert_eq!(names(&out, "x-forwarded-proto"), ["https"]);
        assert_eq!(names(&out, "cookie"), ["session=bob"]);
        assert_eq!(names(&out, "accept"), ["text/html"]);

        let unknown = forward_headers(client, None, &url);
        assert!(
            names(&unknown, "x-forwarded-for").is_empty(),
            "no client value passes when the edge does not know the address"
        );
    }

    #[test]
    fn no_client_address_header_reaches_the_origin() {
        let url = Target::parse("https://shop.example/a").unwrap();
        let forged = [
            ("Forwarded", "for=6.6.6.6;proto=https"),
            ("X-Real-IP", "6.6.6.6"),
            ("True-Client-IP", "6.6.6.6"),
            ("X-Client-IP", "6.6.6.6"),
            ("CF-Connecting-IP", "6.6.6.6"),
            ("cf-connecting-ipv6", "2001:db8::6"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("x-forwarded-port", "6"),
            ("Client-IP", "6.6.6.6"),
            ("X-Cluster-Client-IP", "6.6.6.6"),
            ("Fastly-Client-IP", "6.6.6.6"),
            ("accept", "text/html"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let out = forward_headers(forged.clone(), Some("203.0.113.9"), &url);
        let values: Vec<&str> = out.iter().map(|(_, v)| v.as_str()).collect();
        assert!(
            !values
                .iter()
                .any(|v| v.contains("6.6.6.6") || v.contains("db8")),
            "{out:?}"
        );
        assert_eq!(names(&out, "x-forwarded-for"), ["203.0.113.9"]);
        assert_eq!(
            names(&out, "forwarded"),
            ["for=203.0.113.9;host=\"shop.example\";proto=https"]
        );
        assert_eq!(names(&out, "accept"), ["text/html"]);

        let v6 = forward_headers(forged.clone(), Some("2001:db8:1::9"), &url);
        assert_eq!(
            names(&v6, "forwarded"),
            ["for=\"[2001:db8:1::9]\";host=\"shop.example\";proto=https"]
        );
        let unknown = forward_headers(forged, None, &url);
        assert!(names(&unknown, "x-forwarded-for").is_empty());
        assert_eq!(
            names(&unknown, "forwarded"),
            ["host=\"shop.example\";proto=https"]
        );
    }

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
