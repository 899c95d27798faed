//! What the edge's integration tests share: user agents, the worker's settings, decoding what
//! reached Kinesis, a small origin for proxy mode, beacons, the visitor id from its definition.
#![allow(dead_code)]

use pagehit::PageHit;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use xtask::kinesis;
use xtask::wrangler;

pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
pub const GOOGLEBOT: &str =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
/// The address `wrangler dev` reports as `cf-connecting-ip` for these local clients.
pub const CLIENT_IP: &str = "127.0.0.1";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Worker settings for these tests: the collector on, beacons from app.example, one action name.
pub fn collector_vars(kinesis_endpoint: &str, stream: &str) -> Vec<(&'static str, String)> {
    let mut vars = wrangler::collector_vars(stream, kinesis_endpoint, "integration-test-salt");
    vars.push(("COLLECT_ORIGINS", "https://app.example".to_string()));
    vars.push(("ACTION_MAP", r#"{"/about": "about-us"}"#.to_string()));
    vars
}

/// Decodes and validates every record; checks the fields a test cannot predict exactly.
pub fn decode_all(
    records: &[kinesis::StreamRecord],
    host: &str,
    from_ms: i64,
    to_ms: i64,
) -> Vec<PageHit> {
    let hits: Vec<PageHit> = records
        .iter()
        .map(|r| {
            PageHit::from_json(&r.data).unwrap_or_else(|e| {
                panic!("invalid record {:?}: {e}", String::from_utf8_lossy(&r.data))
            })
        })
        .collect();
    let ids: HashSet<&str> = hits.iter().map(|h| h.event_id.as_str()).collect();
    assert_eq!(ids.len(), hits.len(), "event ids are unique");
    for (hit, rec) in hits.iter().zip(records) {
        assert_eq!(hit.host, host);
        assert_eq!(
            rec.partition_key, hit.visitor,
            "partition key is the visitor"
        );
        assert_eq!(&hit.event_id[14..15], "7", "UUIDv7");
        let ts = pagehit::time::parse_ts(&hit.ts).unwrap();
        assert!(
            (from_ms - 1000..=to_ms + 1000).contains(&ts),
            "ts {} outside the test window",
            hit.ts
        );
    }
    hits
}

/// A tiny origin for proxy mode: names the user in `x-analytics-user` when a `session` cookie is
/// sent, echoes POST bodies, redirects `/old`, fails `/broken` with 500, and answers `/echo`
/// with every request header it received, one `name: value` line each, in order.
pub fn start_origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, target) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                let mut headers = BTreeMap::new();
                let mut received = String::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        received.push_str(&format!("{}: {}\n", k.trim(), v.trim()));
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let user = headers.get("cookie").and_then(|c| {
                    c.split(';')
                        .find_map(|p| p.trim().strip_prefix("session=").map(str::to_string))
                });
                let (status, extra, text) = match target.as_str() {
                    "/echo" => ("200 OK", String::new(), received),
                    "/old" => ("302 Found", "location: /new\r\n".to_string(), String::new()),
                    "/broken" => (
                        "500 Internal Server Error",
                        String::new(),
                        "boom".to_string(),
                    ),
                    _ => (
                        "200 OK",
                        String::new(),
                        format!(
                            "origin saw {method} {target} host={} xff={} user={} body={}",
                            headers.get("x-forwarded-host").cloned().unwrap_or_default(),
                            headers.get("x-forwarded-for").map_or("-", String::as_str),
                            headers.get("x-analytics-user").map_or("-", String::as_str),
                            String::from_utf8_lossy(&body)
                        ),
                    ),
                };
                let user_header = user
                    .map(|u| format!("x-analytics-user: {u}\r\n"))
                    .unwrap_or_default();
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\nset-cookie: seen=1\r\n{extra}{user_header}content-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let mut stream = reader.into_inner();
                let _ = stream.write_all(resp.as_bytes());
            });
        }
    });
    port
}

/// The visitor id as the edge computes it, written out here from the definition: HMAC-SHA256
/// keyed by HMAC(secret, "visitor-salt:" + day), of "ip\nua\nhost", first 8 bytes in hex.
pub fn expected_visitor(secret: &str, day: &str, ip: &str, ua: &str, host: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    type H = Hmac<sha2::Sha256>;
    let mut mac = H::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("visitor-salt:{day}").as_bytes());
    let daily = mac.finalize().into_bytes();
    let mut mac = H::new_from_slice(&daily).unwrap();
    mac.update(format!("{ip}\n{ua}\n{host}").as_bytes());
    mac.finalize().into_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits until at least `margin` is left before the next minute starts, so that per-minute
/// caps counted from now see one window.
pub async fn clear_of_minute_end(margin: Duration) {
    let into = now_ms().rem_euclid(60_000) as u64;
    if 60_000 - into < margin.as_millis() as u64 {
        tokio::time::sleep(Duration::from_millis(60_000 - into + 200)).await;
    }
}

/// One beacon from `ua` to `/collect` with `origin` (when given); returns status and text.
pub async fn beacon(
    http: &reqwest::Client,
    base: &str,
    ua: &str,
    origin: Option<&str>,
    body: &str,
) -> (u16, String, Option<String>) {
    let mut req = http
        .post(format!("{base}/collect"))
        .header("content-type", "text/plain;charset=UTF-8")
        .header("user-agent", ua)
        .body(body.to_string());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let cors = resp
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.text().await.unwrap(), cors)
}
