//! The transport: signed `PutRecords` over the Workers runtime's `fetch`.

use super::config::KinesisConfig;
use super::request_builder;
use super::sink::Transport;
use std::time::{Duration, UNIX_EPOCH};
use worker::{js_sys, AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit};

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
        // `put_records` drops this future when a try times out: the guard then aborts the
        // fetch, so a hanging connection does not live on beside the next try.
        let abort = AbortOnDrop(Some(AbortController::default()));
        let signal = abort.0.as_ref().expect("set above").signal();
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
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

/// Aborts its controller's fetch when dropped (after a finished fetch, aborting does nothing).
struct AbortOnDrop(Option<AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.0.take() {
            controller.abort();
        }
    }
}

/// Milliseconds since the epoch from the runtime clock.
pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}
