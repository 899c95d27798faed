//! The transport: signed `PutRecords` over the Workers runtime's `fetch`.

use super::config::KinesisConfig;
use super::request_builder;
use super::sink::Transport;
use std::time::{Duration, UNIX_EPOCH};
use worker::{js_sys, Date, Delay, Fetch, Headers, Method, Request, RequestInit};

/// Sends `PutRecords` calls for one stream from inside a worker.
pub struct FetchTransport<'a> {
    cfg: &'a KinesisConfig,
}

impl<'a> FetchTransport<'a> {
    /// A transport for the stream in `cfg`.
    pub fn new(cfg: &'a KinesisConfig) -> Self {
        FetchTransport { cfg }
    }
}

impl Transport for FetchTransport<'_> {
    async fn send(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
        // SystemTime::now() panics on wasm32-unknown-unknown: the clock is JS Date.now().
        let now = UNIX_EPOCH + Duration::from_millis(Date::now().as_millis());
        let signed = request_builder::build(self.cfg, body, now)?;
        let headers = Headers::new();
        for (name, value) in &signed.headers {
            headers.set(name, value).map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(
                js_sys::Uint8Array::from(signed.body.as_slice()).into(),
            ));
        let request = Request::new_with_init(&signed.url, &init).map_err(|e| e.to_string())?;
        let mut response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status_code();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, bytes))
    }

    async fn sleep(&self, delay: Duration) {
        Delay::from(delay).await;
    }

    fn random(&self) -> f64 {
        crate::transform::hit::random_unit()
    }
}

/// Milliseconds since the epoch from the runtime clock.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}
