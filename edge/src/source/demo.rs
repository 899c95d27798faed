//! The built-in demo site: the eight pages of the original app, served when no `ORIGIN_URL` is
//! set, so the pipeline can be tried without an origin. The signed-in user comes from a `user`
//! cookie, standing in for a real origin's `x-analytics-user` header.

/// The demo's pages: path, title, one line of text.
pub const PAGES: [(&str, &str, &str); 8] = [
    (
        "/",
        "Home",
        "Welcome to the demo shop. Every page view here is recorded at the edge.",
    ),
    (
        "/about",
        "About",
        "We are a small team that sells useful things.",
    ),
    ("/contact", "Contact", "Write to us at hello@shop.example."),
    ("/products", "Products", "Widgets, gadgets and gizmos."),
    ("/services", "Services", "Repairs, installation and advice."),
    ("/blog", "Blog", "Notes from the workshop."),
    ("/faq", "FAQ", "Answers to the questions we hear most."),
    (
        "/portfolio",
        "Portfolio",
        "Things we have built for customers.",
    ),
];

/// The demo's stylesheet (an asset: served, never recorded).
pub const STYLESHEET_PATH: &str = "/static/site.css";
const STYLESHEET: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}nav a{margin-right:.8rem}";

/// The demo's icon (an asset).
pub const FAVICON_PATH: &str = "/favicon.ico";
const FAVICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#2a6\"/></svg>";

/// A demo answer: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoResponse {
    /// HTTP status.
    pub status: u16,
    /// `content-type` header.
    pub content_type: &'static str,
    /// Body text.
    pub body: String,
}

/// Serves `path` for `user` (empty when anonymous).
pub fn serve(path: &str, user: &str) -> DemoResponse {
    if path == STYLESHEET_PATH {
        return DemoResponse {
            status: 200,
            content_type: "text/css; charset=utf-8",
            body: STYLESHEET.to_string(),
        };
    }
    if path == FAVICON_PATH {
        return DemoResponse {
            status: 200,
            content_type: "image/svg+xml",
            body: FAVICON.to_string(),
        };
    }
    let page = PAGES
        .iter()
        .find(|(p, _, _)| *p == path || (p.len() > 1 && path.strip_suffix('/') == Some(p)));
    let (status, title, text) = match page {
        Some((_, title, text)) => (200, *title, *text),
        None => (404, "Not found", "There is no such page here."),
    };
    DemoResponse {
        status,
        content_type: "text/html; charset=utf-8",
        body: page_html(title, text, user),
    }
}

fn page_html(title: &str, text: &str, user: &str) -> String {
    let nav: String = PAGES
        .iter()
        .map(|(p, t, _)| format!("<a href=\"{p}\">{t}</a>"))
        .collect();
    let who = if user.is_empty() {
        "Not signed in (set a <code>user</code> cookie to sign in).".to_string()
    } else {
        format!("Signed in as <b>{}</b>.", escape_html(user))
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · demo shop</title>\
         <link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\"></head><body><nav>{nav}</nav>\
         <h1>{title}</h1><p>{text}</p><p>{who}</p></body></html>"
    )
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_pages_then_404() {
        for (path, title, _) in PAGES {
            let r = serve(path, "");
            assert_eq!(r.status, 200, "{path}");
            assert!(r.body.contains(&format!("<h1>{title}</h1>")));
        }
        assert_eq!(serve("/about/", "").status, 200);
        assert_eq!(serve("/nope", "").status, 404);
        assert_eq!(
            serve(STYLESHEET_PATH, "").content_type,
            "text/css; charset=utf-8"
        );
    }

    #[test]
    fn user_is_shown_escaped() {
        let r = serve("/", "<script>");
        assert!(r.body.contains("Signed in as <b>&lt;script&gt;</b>"));
        assert!(!r.body.contains("<script>"));
    }
}
