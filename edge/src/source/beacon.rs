//! `POST /collect`: page views reported by single-page apps (`navigator.sendBeacon`).
//!
//! The body is JSON `{"path": "...", "referrer": "..."}` whatever the content type
//! (`sendBeacon` sends `text/plain` to avoid a preflight), at most [`MAX_BODY`] bytes.

use serde::Deserialize;
use std::fmt;

/// Largest accepted body; a page view needs far less.
pub const MAX_BODY: usize = 4096;

/// A decoded beacon.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Beacon {
    /// The page viewed: an absolute path, or a full URL whose path is taken.
    pub path: String,
    /// The page's referrer (`document.referrer`).
    #[serde(default)]
    pub referrer: String,
}

/// Why a beacon was refused; the status and text go back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeaconError {
    /// Over [`MAX_BODY`] bytes (413).
    TooLarge(usize),
    /// Not a JSON object with a string `path` (400).
    BadJson(String),
    /// `path` is not an absolute path or http(s) URL (400).
    BadPath,
}

impl BeaconError {
    /// HTTP status for the error.
    pub fn status(&self) -> u16 {
        match self {
            BeaconError::TooLarge(_) => 413,
            BeaconError::BadJson(_) | BeaconError::BadPath => 400,
        }
    }
}

impl fmt::Display for BeaconError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BeaconError::TooLarge(n) => write!(
                f,
                "beacon body is {n} bytes, over the {MAX_BODY}-byte limit"
            ),
            BeaconError::BadJson(e) => write!(
                f,
                "beacon body must be JSON {{\"path\": \"/...\", \"referrer\": \"...\"}}: {e}"
            ),
            BeaconError::BadPath => write!(f, "beacon path must start with / or be an http(s) URL"),
        }
    }
}

/// Decodes and checks a beacon body.
pub fn parse(body: &[u8]) -> Result<Beacon, BeaconError> {
    if body.len() > MAX_BODY {
        return Err(BeaconError::TooLarge(body.len()));
    }
    let mut beacon: Beacon =
        serde_json::from_slice(body).map_err(|e| BeaconError::BadJson(e.to_string()))?;
    if let Some(rest) = beacon
        .path
        .strip_prefix("https://")
        .or_else(|| beacon.path.strip_prefix("http://"))
    {
        beacon.path = match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        };
    }
    if !beacon.path.starts_with('/') {
        return Err(BeaconError::BadPath);
    }
    Ok(beacon)
}

/// The `access-control-allow-origin` value for a request from `origin`, when it is allowed.
pub fn allowed_origin(allowed: &[String], origin: Option<&str>) -> Option<String> {
    let origin = origin?;
    if allowed.iter().any(|a| a == "*") {
        return Some("*".to_string());
    }
    allowed
        .iter()
        .any(|a| a == origin)
        .then(|| origin.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_bodies() {
        assert_eq!(
            parse(br#"{"path":"/app/settings?tab=1","referrer":"https://a.example/"}"#).unwrap(),
            Beacon {
                path: "/app/settings?tab=1".into(),
                referrer: "https://a.example/".into()
            }
        );
        assert_eq!(
            parse(br#"{"path":"https://shop.example/x/y"}"#)
                .unwrap()
                .path,
            "/x/y"
        );
        assert_eq!(
            parse(br#"{"path":"https://shop.example"}"#).unwrap().path,
            "/"
        );
    }

    #[test]
    fn bad_bodies() {
        assert!(matches!(parse(b"path=/x"), Err(BeaconError::BadJson(_))));
        assert!(
            matches!(parse(br#"{"referrer":"x"}"#), Err(e @ BeaconError::BadJson(_)) if e.to_string().contains("path"))
        );
        assert!(matches!(
            parse(br#"{"path":42}"#),
            Err(BeaconError::BadJson(_))
        ));
        assert_eq!(parse(br#"{"path":"relative"}"#), Err(BeaconError::BadPath));
        let big = format!(r#"{{"path":"/{}"}}"#, "a".repeat(MAX_BODY));
        assert_eq!(parse(big.as_bytes()).unwrap_err().status(), 413);
        let exact = format!(r#"{{"path":"/{}"}}"#, "a".repeat(MAX_BODY - 12));
        assert_eq!(exact.len(), MAX_BODY);
        assert!(parse(exact.as_bytes()).is_ok());
    }

    #[test]
    fn cors() {
        let allowed = vec!["https://app.example".to_string()];
        assert_eq!(
            allowed_origin(&allowed, Some("https://app.example")).as_deref(),
            Some("https://app.example")
        );
        assert_eq!(allowed_origin(&allowed, Some("https://evil.example")), None);
        assert_eq!(allowed_origin(&allowed, None), None);
        assert_eq!(
            allowed_origin(&["*".into()], Some("https://x.example")).as_deref(),
            Some("*")
        );
    }
}
