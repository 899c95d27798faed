//! Fault injection for end-to-end tests: real traffic to the real emulator, with failures put
//! in between.
//!
//! - [`KinesisFaults`]: an HTTP proxy in front of moto's Kinesis that answers a share of
//!   `PutRecords` calls with a whole-call `ProvisionedThroughputExceededException`, and fails a
//!   share of the entries of the others (HTTP 200, `FailedRecordCount > 0`). Each hit meets at
//!   most one injected fault, so a client that resends failed entries loses nothing.
//! - [`TcpSwitch`]: a TCP proxy that can be switched off (refusing and cutting connections),
//!   e.g. S3 unreachable for a while.

use anyhow::{Context, Result};
use base64::Engine;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Counts of what the Kinesis proxy injected.
#[derive(Debug, Default)]
pub struct Injected {
    /// Whole `PutRecords` calls answered with a throttling error.
    pub throttled_calls: AtomicU64,
    /// Entries answered with a per-entry `ProvisionedThroughputExceededException`.
    pub failed_entries: AtomicU64,
    /// Entries passed on to moto.
    pub forwarded_entries: AtomicU64,
}

/// A fault-injecting proxy in front of a Kinesis endpoint.
pub struct KinesisFaults {
    /// `http://127.0.0.1:PORT`: give this to the client instead of the emulator's address.
    pub endpoint: String,
    /// What was injected so far.
    pub injected: Arc<Injected>,
}

/// One parsed HTTP/1.1 request.
struct HttpRequest {
    head: Vec<(String, String)>,
    method: String,
    target: String,
    body: Vec<u8>,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut head = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        if h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            head.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = head
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await.ok()?;
    Some(HttpRequest {
        head,
        method,
        target,
        body,
    })
}

async fn write_response(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await
}

impl KinesisFaults {
    /// Proxies to `upstream` (e.g. moto). Of the `PutRecords` calls, every `throttle_every`-th
    /// is refused whole; of the entries of the others, every `fail_every`-th hit seen for the
    /// first time fails. Everything else is passed through unchanged.
    pub async fn start(
        upstream: &str,
        throttle_every: u64,
        fail_every: u64,
    ) -> Result<KinesisFaults> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let injected = Arc::new(Injected::default());
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            seen: Mutex::new(HashSet::new()),
            calls: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            throttle_every,
            fail_every,
            injected: injected.clone(),
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    while let Some(req) = read_request(&mut reader).await {
                        let (status, body) = state.handle(req).await;
                        if write_response(reader.get_mut(), status, &body)
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Ok(KinesisFaults { endpoint, injected })
    }
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    seen: Mutex<HashSet<String>>,
    calls: AtomicU64,
    entries: AtomicU64,
    throttle_every: u64,
    fail_every: u64,
    injected: Arc<Injected>,
}

const THROTTLED: &str = "ProvisionedThroughputExceededException";

impl ProxyState {
    async fn forward(&self, req: &HttpRequest, body: Vec<u8>) -> (u16, Vec<u8>) {
        let mut out = self.client.request(
            req.method.parse().unwrap_or(reqwest::Method::POST),
            format!("{}{}", self.upstream, req.target),
        );
        for (k, v) in &req.head {
            if !matches!(k.as_str(), "host" | "content-length" | "connection") {
                out = out.header(k, v);
            }
        }
        match out.body(body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (
                    status,
                    resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
                )
            }
            Err(e) => (502, format!("{{\"message\":\"proxy: {e}\"}}").into_bytes()),
        }
    }

    async fn handle(&self, req: HttpRequest) -> (u16, Vec<u8>) {
        let is_put_records = req
            .head
            .iter()
            .any(|(k, v)| k == "x-amz-target" && v.ends_with(".PutRecords"));
        if !is_put_records {
            let body = req.body.clone();
            return self.forward(&req, body).await;
        }
        let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
            let body = req.body.clone();
            return self.forward(&req, body).await;
        };
        let records = json["Records"].as_array().cloned().unwrap_or_default();
        // Each hit meets at most one injected fault, so a client that retries (3 tries) always
        // gets it through: a whole-call throttle only hits a call whose hits are all new, an
        // entry failure only a hit seen for the first time.
        let first_sighting: Vec<bool> = {
            let mut seen = self.seen.lock().expect("not poisoned");
            records
                .iter()
                .map(|r| {
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(r["Data"].as_str().unwrap_or_default())
                        .unwrap_or_default();
                    let id = serde_json::from_slice::<serde_json::Value>(&data)
                        .ok()
                        .and_then(|v| v["event_id"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    seen.insert(id)
                })
                .collect()
        };
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if self.throttle_every > 0
            && call.is_multiple_of(self.throttle_every)
            && first_sighting.iter().all(|f| *f)
        {
            self.injected
                .throttled_calls
                .fetch_add(1, Ordering::Relaxed);
            let body =
                format!("{{\"__type\":\"{THROTTLED}\",\"message\":\"Rate exceeded (injected)\"}}");
            return (400, body.into_bytes());
        }
        let fail: Vec<bool> = first_sighting
            .iter()
            .map(|first| {
                let n = self.entries.fetch_add(1, Ordering::Relaxed) + 1;
                *first && self.fail_every > 0 && n.is_multiple_of(self.fail_every)
            })
            .collect();
        let forwarded: Vec<serde_json::Value> = records
            .iter()
            .zip(&fail)
            .filter(|(_, f)| !**f)
            .map(|(r, _)| r.clone())
            .collect();
        let failed_here = fail.iter().filter(|f| **f).count() as u64;
        let mut upstream_answers: Vec<serde_json::Value> = Vec::new();
        let mut upstream_failed = 0;
        if !forwarded.is_empty() {
            let count = forwarded.len() as u64;
            json["Records"] = serde_json::Value::Array(forwarded);
            let (status, body) = self.forward(&req, json.to_string().into_bytes()).await;
            if status != 200 {
                return (status, body);
            }
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            upstream_answers = answer["Records"].as_array().cloned().unwrap_or_default();
            upstream_failed = answer["FailedRecordCount"].as_u64().unwrap_or(0);
            self.injected
                .forwarded_entries
                .fetch_add(count, Ordering::Relaxed);
        }
        self.injected
            .failed_entries
            .fetch_add(failed_here, Ordering::Relaxed);
        let mut upstream = upstream_answers.into_iter();
        let merged: Vec<serde_json::Value> = fail
            .iter()
            .map(|f| {
                if *f {
                    serde_json::json!({"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard (injected)"})
                } else {
                    upstream.next().unwrap_or_default()
                }
            })
            .collect();
        let answer = serde_json::json!({
            "FailedRecordCount": failed_here + upstream_failed,
            "Records": merged,
        });
        (200, answer.to_string().into_bytes())
    }
}

/// A TCP proxy that can be switched off: while off it refuses new connections and cuts open
/// ones, as an unreachable service would.
pub struct TcpSwitch {
    /// `http://127.0.0.1:PORT`, to use instead of the upstream's address.
    pub endpoint: String,
    up: watch::Sender<bool>,
}

impl TcpSwitch {
    /// Starts forwarding to `upstream` (`http://host:port`), switched on.
    pub async fn start(upstream: &str) -> Result<TcpSwitch> {
        let target: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("{upstream} is not http://IP:PORT"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (up, rx) = watch::channel(true);
        let is_up = Arc::new(AtomicBool::new(true));
        let mut flag_rx = rx.clone();
        let flag = is_up.clone();
        tokio::spawn(async move {
            while flag_rx.changed().await.is_ok() {
                flag.store(*flag_rx.borrow(), Ordering::Relaxed);
            }
        });
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_up.load(Ordering::Relaxed) {
                    drop(client); // refused: closed before a byte is read
                    continue;
                }
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = async { while rx.changed().await.is_ok() { if !*rx.borrow() { break; } } } => {}
                    }
                });
            }
        });
        Ok(TcpSwitch { endpoint, up })
    }

    /// Switches the path on or off.
    pub fn set_up(&self, up: bool) {
        let _ = self.up.send(up);
    }
}
