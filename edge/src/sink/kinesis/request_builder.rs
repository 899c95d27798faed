//! A signed `PutRecords` HTTP request, built without touching the network or the clock.

use super::config::KinesisConfig;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// `x-amz-target` of the call.
pub const TARGET: &str = "Kinesis_20131202.PutRecords";
/// Content type of the AWS JSON 1.1 protocol.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// SigV4 service name of Kinesis.
pub const SERVICE: &str = "kinesis";

/// Everything `fetch` needs: URL, headers (signature included) and body. `Debug` hides the
/// session token a request of temporary credentials carries.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// Where to POST.
    pub url: String,
    /// Headers to send, `authorization` and `x-amz-date` included (`host` is set by fetch).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// The header that carries a session token: a credential, never shown.
const TOKEN_HEADER: &str = "x-amz-security-token";

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let shown = if k.eq_ignore_ascii_case(TOKEN_HEADER) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("SignedRequest")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The `host` header value of a URL: its authority, port included when present.
pub fn authority(url: &str) -> Result<&str, String> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("endpoint {url:?} has no scheme"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("endpoint {url:?} has no host"));
    }
    Ok(host)
}

/// SigV4-signs a request and returns the headers to add (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` for temporary credentials). `headers` must include `host`.
#[allow(clippy::too_many_arguments)]
pub fn sign_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = Credentials::new(
        access_key_id,
        secret_access_key,
        session_token.map(str::to_string),
        None,
        "edge-worker-secrets",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing parameters: {e}"))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("request cannot be signed: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("signing failed: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Builds the signed `PutRecords` request for `body` at `time`.
pub fn build(
    cfg: &KinesisConfig,
    body: Vec<u8>,
    time: SystemTime,
) -> Result<SignedRequest, String> {
    let url = format!("{}/", cfg.endpoint);
    let host = authority(&url)?;
    let base = [
        ("host", host),
        ("content-type", CONTENT_TYPE),
        ("x-amz-target", TARGET),
    ];
    let signed = sign_headers(
        "POST",
        &url,
        &base,
        &body,
        &cfg.access_key_id,
        &cfg.secret_access_key,
        cfg.session_token.as_deref(),
        &cfg.region,
        SERVICE,
        time,
    )?;
    let mut headers: Vec<(String, String)> = base[1..]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    headers.extend(signed);
    Ok(SignedRequest { url, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};
    use std::time::{Duration, UNIX_EPOCH};

    // AWS's published SigV4 test suite credentials and clock (2015-08-30T12:36:00Z).
    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
    }

    #[test]
    fn published_get_vanilla_vector() {
        // aws-sig-v4-test-suite/get-vanilla: GET / with Host and X-Amz-Date only.
        let signed = sign_headers(
            "GET",
            "https://example.amazonaws.com/",
            &[("host", "example.amazonaws.com")],
            b"",
            AKID,
            SECRET,
            None,
            "us-east-1",
            "service",
            suite_time(),
        )
        .unwrap();
        assert_eq!(header(&signed, "x-amz-date"), "20150830T123600Z");
        assert_eq!(
            header(&signed, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// SigV4 written out from the specification, to check the request we build end to end.
    fn independent_signature(host: &str, body: &[u8], token: Option<&str>) -> String {
        let date = "20150830T123600Z";
        let mut canon_headers = vec![
            ("content-type", CONTENT_TYPE.to_string()),
            ("host", host.to_string()),
            ("x-amz-date", date.to_string()),
        ];
        if let Some(t) = token {
            canon_headers.push(("x-amz-security-token", t.to_string()));
        }
        canon_headers.push(("x-amz-target", TARGET.to_string()));
        let signed_names: Vec<&str> = canon_headers.iter().map(|(k, _)| *k).collect();
        let canonical = format!(
            "POST\n/\n\n{}\n{}\n{}",
            canon_headers
                .iter()
                .map(|(k, v)| format!("{k}:{v}\n"))
                .collect::<String>(),
            signed_names.join(";"),
            hex(&Sha256::digest(body))
        );
        let scope = "20150830/eu-west-1/kinesis/aws4_request";
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let k = hmac(format!("AWS4{SECRET}").as_bytes(), b"20150830");
        let k = hmac(&k, b"eu-west-1");
        let k = hmac(&k, b"kinesis");
        let k = hmac(&k, b"aws4_request");
        format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={}, Signature={}",
            signed_names.join(";"),
            hex(&hmac(&k, to_sign.as_bytes()))
        )
    }

    fn cfg(endpoint: &str, token: Option<&str>) -> KinesisConfig {
        KinesisConfig {
            stream: "hits".into(),
            region: "eu-west-1".into(),
            endpoint: endpoint.into(),
            access_key_id: AKID.into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(str::to_string),
        }
    }

    #[test]
    fn put_records_signature_matches_an_independent_computation() {
        let body = br#"{"StreamName":"hits","Records":[]}"#.to_vec();
        for (endpoint, host, token) in [
            (
                "https://kinesis.eu-west-1.amazonaws.com",
                "kinesis.eu-west-1.amazonaws.com",
                None,
            ),
            (
                "http://127.0.0.1:4567",
                "127.0.0.1:4567",
                Some("session/token+="),
            ),
        ] {
            let req = build(&cfg(endpoint, token), body.clone(), suite_time()).unwrap();
            assert_eq!(req.url, format!("{endpoint}/"));
            assert_eq!(req.body, body);
            assert_eq!(header(&req.headers, "x-amz-target"), TARGET);
            assert_eq!(header(&req.headers, "content-type"), CONTENT_TYPE);
            assert_eq!(
                header(&req.headers, "authorization"),
                independent_signature(host, &body, token)
            );
            match token {
                Some(t) => assert_eq!(header(&req.headers, "x-amz-security-token"), t),
                None => assert!(!req.headers.iter().any(|(k, _)| k == "x-amz-security-token")),
            }
            assert!(
                !req.headers.iter().any(|(k, _)| k == "host"),
                "fetch sets host"
            );
        }
    }

    #[test]
    fn debug_hides_the_session_token() {
        let req = build(
            &cfg("http://127.0.0.1:4567", Some("FwoGZXIvYXdzEXAMPLEtoken")),
            b"{}".to_vec(),
            suite_time(),
        )
        .unwrap();
        let shown = format!("{req:?}");
        assert!(!shown.contains("FwoGZXIvYXdzEXAMPLEtoken"), "{shown}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("x-amz-target"), "{shown}");
    }

    #[test]
    fn authority_of_urls() {
        assert_eq!(
            authority("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            authority("https://kinesis.us-east-1.amazonaws.com").unwrap(),
            "kinesis.us-east-1.amazonaws.com"
        );
        assert!(authority("kinesis.example").is_err());
        assert!(authority("http:///x").is_err());
    }
}
