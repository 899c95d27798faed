//! Which part of the worker answers a request, and whether it is a page view.

use pagehit::rules::is_asset;

/// Path of the beacon endpoint for single-page apps.
pub const COLLECT_PATH: &str = "/collect";
/// Path of the health check.
pub const HEALTH_PATH: &str = "/healthz";

/// Who answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`: liveness, never recorded.
    Health,
    /// `POST /collect`: a beacon; records the page it names.
    Collect,
    /// `OPTIONS /collect`: CORS preflight.
    CollectPreflight,
    /// Any other method on `/collect`.
    CollectMethodNotAllowed,
    /// The site (proxied origin or demo); `record` tells whether it is a page view.
    Page { record: bool },
}

/// Routes by method and path. Assets, `HEAD` and `OPTIONS` are served but are not page views.
pub fn route(method: &str, path: &str) -> Route {
    match path {
        HEALTH_PATH => Route::Health,
        COLLECT_PATH => match method {
            "POST" => Route::Collect,
            "OPTIONS" => Route::CollectPreflight,
            _ => Route::CollectMethodNotAllowed,
        },
        _ => Route::Page {
            record: !is_asset(path) && !matches!(method, "HEAD" | "OPTIONS"),
        },
    }
}

/// The parts of an absolute request URL the worker needs.
///
/// The runtime hands over an already normalised URL string; splitting it here instead of with
/// the `url` crate keeps its Unicode (IDNA) tables out of the Wasm, a third of its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Host, with `:port` when the URL has one.
    pub host: &'a str,
    /// Path, percent-encoded, starting with `/`.
    pub path: &'a str,
    /// Query string without `?`, when present.
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Splits an absolute URL; `None` when it has no `scheme://`.
    pub fn parse(url: &'a str) -> Option<Target<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = rest.split('#').next().unwrap_or(rest);
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, rest) = rest.split_at(host_end);
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        Some(Target {
            scheme,
            host,
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("https://shop.example/a/b%20c?x=1&y#frag"),
            Some(Target {
                scheme: "https",
                host: "shop.example",
                path: "/a/b%20c",
                query: Some("x=1&y")
            })
        );
        assert_eq!(
            Target::parse("http://127.0.0.1:8787"),
            Some(Target {
                scheme: "http",
                host: "127.0.0.1:8787",
                path: "/",
                query: None
            })
        );
        assert_eq!(
            Target::parse("http://h?q"),
            Some(Target {
                scheme: "http",
                host: "h",
                path: "/",
                query: Some("q")
            })
        );
        assert_eq!(Target::parse("/relative"), None);
    }

    #[test]
    fn endpoints_and_pages() {
        assert_eq!(route("GET", "/healthz"), Route::Health);
        assert_eq!(route("POST", "/collect"), Route::Collect);
        assert_eq!(route("OPTIONS", "/collect"), Route::CollectPreflight);
        assert_eq!(route("GET", "/collect"), Route::CollectMethodNotAllowed);
        assert_eq!(route("GET", "/"), Route::Page { record: true });
        assert_eq!(route("POST", "/contact"), Route::Page { record: true });
        assert_eq!(
            route("GET", "/static/site.css"),
            Route::Page { record: false }
        );
        assert_eq!(route("HEAD", "/about"), Route::Page { record: false });
        assert_eq!(route("GET", "/favicon.ico"), Route::Page { record: false });
    }
}
