//! The request flow: route, answer the client, then record the page view in the background.
//!
//! Analytics never breaks the site: missing settings, a bad beacon or a Kinesis outage change
//! what is logged, never what the visitor gets. Hits Kinesis does not take go to the fallback
//! queue when one is bound (`HITS_FALLBACK`), else to the log.

use crate::config::{names, Collector, Config};
use crate::route::{route, Route, Target};
use crate::sink::kinesis::batcher::{Batcher, Next, LINGER};
use crate::sink::kinesis::config::KinesisConfig;
use crate::sink::kinesis::record::Entry;
use crate::sink::kinesis::service::{now_ms, FetchTransport};
use crate::sink::kinesis::sink::{lost_record_line, put_records, Failure, RetryPolicy};
use crate::sink::queue::producer;
use crate::sink::race::{first_of, First};
use crate::source::beacon::{
    self, BeaconError, LimitedBody, OriginCheck, PerMinute, LIMITER_TIMEOUT,
};
use crate::source::{cookie_value, demo, proxy};
use crate::transform::day::{utc_day, IntlDay, MinuteCache};
use crate::transform::hit::{build_hit, client_key, derived_salt, random_bytes, RequestFacts};
use crate::transform::salt::{next_day, salt_key, DaySalts, KV_TIMEOUT, SALT_TTL_SECONDS};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use worker::js_sys::{Function, Object, Promise, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_error, Context, Delay, Env, Headers, Queue, Request, Response, Result};

/// Handles one request end to end.
pub async fn handle(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let received_ms = now_ms();
    let cfg = Config::from_env(&env);
    warn_once(&cfg);
    let href = req.inner().url();
    let url = Target::parse(&href)
        .ok_or_else(|| worker::Error::RustError(format!("not an absolute URL: {href}")))?;
    let method = req.method().to_string();
    match route(&method, url.path) {
        Route::Health => Response::ok("ok"),
        Route::CollectPreflight => preflight(&req, &url, &cfg),
        Route::CollectMethodNotAllowed => {
            let mut resp = Response::error("POST a JSON beacon here", 405)?;
            resp.headers_mut().set("allow", "POST, OPTIONS")?;
            Ok(resp)
        }
        Route::Collect => {
            let facts = request_facts(&req, &url, received_ms);
            let (response, accepted) = collect(&mut req, &url, facts, &cfg, &env).await?;
            if let Some(facts) = accepted {
                record(&ctx, &env, cfg, facts, None);
            }
            Ok(response)
        }
        Route::Page {
            record: should_record,
        } => {
            let mut facts = request_facts(&req, &url, received_ms);
            // Asked now, answered while the page is made; awaited after the response.
            let verdict = match &cfg.collector {
                Collector::On { visitor_salt, .. } if should_record => limit(
                    &env,
                    names::PAGEVIEW_LIMITER,
                    &client_key(visitor_salt, &facts.client_ip),
                ),
                _ => None,
            };
            let response = match &cfg.origin_url {
                Some(origin) => match proxy::forward(&req, &url, origin).await {
                    Ok(p) => {
                        facts.status = p.status;
                        facts.user = p.user;
                        facts.origin_ms = p.origin_ms;
                        p.response
                    }
                    Err(e) => {
                        console_error!(
                            "{}",
                            log_line("origin_unreachable", &format!("{origin}: {e}"))
                        );
                        facts.status = 502;
                        Response::error("Bad gateway: the origin did not answer", 502)?
                    }
                },
                None => {
                    facts.user = demo_user(&req);
                    let page = demo::serve(url.path, &facts.user);
                    facts.status = page.status;
                    let headers = Headers::new();
                    headers.set("content-type", page.content_type)?;
                    headers.set("cache-control", "no-store")?;
                    Response::from_bytes(page.body.into_bytes())?
                        .with_status(page.status)
                        .with_headers(headers)
                }
            };
            if should_record {
                record(&ctx, &env, cfg, facts, verdict);
            }
            Ok(response)
        }
    }
}

/// The facts of a request before anyone answered it.
fn request_facts(req: &Request, url: &Target, received_ms: i64) -> RequestFacts {
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let path = match url.query {
        // The query goes along for its utm_* parameters; build_hit keeps nothing else of it.
        Some(query) => format!("{}?{query}", url.path),
        None => url.path.to_string(),
    };
    RequestFacts {
        host: url.host.to_string(),
        path,
        method: req.method().to_string(),
        referrer: header("referer"),
        country: req.cf().and_then(|cf| cf.country()).unwrap_or_default(),
        user_agent: header("user-agent"),
        client_ip: header("cf-connecting-ip"),
        ..RequestFacts::page_view(received_ms)
    }
}

fn demo_user(req: &Request) -> String {
    let cookies = req
        .headers()
        .get("cookie")
        .ok()
        .flatten()
        .unwrap_or_default();
    cookie_value(&cookies, "user").unwrap_or_default()
}

/// `POST /collect`: a page view or custom event reported by the browser. Returns the answer
/// and, when the beacon is to be recorded, its facts.
async fn collect(
    req: &mut Request,
    url: &Target<'_>,
    facts: RequestFacts,
    cfg: &Config,
    env: &Env,
) -> Result<(Response, Option<RequestFacts>)> {
    let origin = req.headers().get("origin")?;
    let own = format!("{}://{}", url.scheme, url.host);
    let check = beacon::check_origin(&cfg.collect_origins, &own, origin.as_deref());
    let outcome = match &check {
        OriginCheck::Refused(origin) => Err(BeaconError::OriginRefused(origin.clone())),
        _ => accept_beacon(req, facts, cfg, env).await?,
    };
    let (response, accepted) = match outcome {
        Ok(accepted) => (Response::empty()?.with_status(204), accepted),
        Err(e) => (Response::error(e.to_string(), e.status())?, None),
    };
    Ok((with_cors(response, &check)?, accepted))
}

/// Reads and checks a beacon from an origin that may send one; its facts when it is to be
/// recorded (none when the collector is off).
async fn accept_beacon(
    req: &mut Request,
    mut facts: RequestFacts,
    cfg: &Config,
    env: &Env,
) -> Result<std::result::Result<Option<RequestFacts>, BeaconError>> {
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > beacon::MAX_BODY) {
        return Ok(Err(BeaconError::TooLarge(n)));
    }
    let body = match read_limited(req, beacon::MAX_BODY).await? {
        Ok(body) => body,
        Err(e) => return Ok(Err(e)),
    };
    let b = match beacon::parse(&body) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    facts.path = b.path;
    facts.referrer = b.referrer;
    facts.method = "GET".into();
    if let Some(event) = b.event {
        facts.event = event;
    }
    if cfg.origin_url.is_none() {
        facts.user = demo_user(req);
    }
    let Collector::On { visitor_salt, .. } = &cfg.collector else {
        return Ok(Ok(None));
    };
    // Counted by address, not by visitor: a new User-Agent is a new visitor, not a new client.
    let key = client_key(visitor_salt, &facts.client_ip);
    let under_cap = BEACON_CAP.with(|c| {
        c.borrow_mut()
            .allow(&key, facts.received_ms, cfg.beacons_per_minute)
    });
    if !under_cap || !allowed(limit(env, names::BEACON_LIMITER, &key)).await {
        return Ok(Err(BeaconError::TooMany));
    }
    Ok(Ok(Some(facts)))
}

/// Reads the request body as a stream, keeping at most `limit + 1` bytes whatever
/// `Content-Length` says: a chunked body has none, and a large one must not fill the isolate's
/// memory (and with it every hit waiting in its batch).
async fn read_limited(
    req: &Request,
    limit: usize,
) -> Result<std::result::Result<Vec<u8>, BeaconError>> {
    use worker::js_sys::Uint8Array;
    use worker::web_sys::ReadableStreamDefaultReader;
    let Some(stream) = req.inner().body() else {
        return Ok(Ok(Vec::new()));
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut body = LimitedBody::new(limit);
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok(Ok(body.into_bytes()));
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into())?.unchecked_into();
        // Copy only what can still count: one byte past the limit tells it is too large.
        let take = (bytes.length() as usize).min(body.room()) as u32;
        if let Err(e) = body.push(&bytes.subarray(0, take).to_vec()) {
            // Nothing more of the upload is read: the lock is released, not the stream
            // cancelled, and the runtime drops the unread rest with the request. (Cancelling
            // made wrangler dev's local proxy fail the next request with 503.)
            reader.release_lock();
            return Ok(Err(e));
        }
    }
}

/// Asks the Workers Rate Limiting binding `binding` about one more request from the client
/// `key`; `None` when no such binding is bound (or it cannot be called).
fn limit(env: &Env, binding: &str, key: &str) -> Option<Promise> {
    // `limit({key})` called directly: worker's RateLimiter decodes the answer with
    // serde-wasm-bindgen, which costs the Wasm more than these lines.
    let limiter = Reflect::get(env, &binding.into()).ok()?;
    if limiter.is_undefined() {
        return None;
    }
    let options = Object::new();
    Reflect::set(&options, &"key".into(), &key.into()).ok()?;
    call(&limiter, "limit", &[options.into()])
}

/// The limiter's verdict: allows when there is none, or when the binding fails or does not
/// answer within [`LIMITER_TIMEOUT`] (analytics never blocks on its own limiter).
async fn allowed(verdict: Option<Promise>) -> bool {
    let Some(promise) = verdict else {
        return true;
    };
    match settle(promise, LIMITER_TIMEOUT).await {
        Ok(outcome) => Reflect::get(&outcome, &"success".into())
            .ok()
            .and_then(|s| s.as_bool())
            .unwrap_or(true),
        Err(_) => true,
    }
}

/// What `promise` settles to, or an error when it takes longer than `limit`.
async fn settle(
    promise: Promise,
    limit: std::time::Duration,
) -> std::result::Result<JsValue, JsValue> {
    match first_of(JsFuture::from(promise), Delay::from(limit)).await {
        First::Left(x) => x,
        First::Right(()) => Err("no answer in time".into()),
    }
}

/// Calls `target.method(args...)` when it returns a promise.
fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Option<Promise> {
    let f: Function = Reflect::get(target, &method.into()).ok()?.dyn_into().ok()?;
    let args: worker::js_sys::Array = args.iter().collect();
    f.apply(target, &args).ok()?.dyn_into().ok()
}

fn preflight(req: &Request, url: &Target, cfg: &Config) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    let own = format!("{}://{}", url.scheme, url.host);
    match beacon::check_origin(&cfg.collect_origins, &own, origin.as_deref()) {
        check @ OriginCheck::Allowed(_) => {
            let resp = Response::empty()?.with_status(204);
            resp.headers()
                .set("access-control-allow-methods", "POST, OPTIONS")?;
            resp.headers()
                .set("access-control-allow-headers", "content-type")?;
            resp.headers().set("access-control-max-age", "86400")?;
            with_cors(resp, &check)
        }
        _ => Response::error("origin not allowed", 403),
    }
}

fn with_cors(mut resp: Response, check: &OriginCheck) -> Result<Response> {
    if let OriginCheck::Allowed(allow) = check {
        resp.headers_mut()
            .set("access-control-allow-origin", allow)?;
        resp.headers_mut().set("vary", "Origin")?;
    }
    Ok(resp)
}

thread_local! {
    // One isolate runs one thread: hits of concurrent requests meet here.
    static BATCH: RefCell<Batcher> = RefCell::new(Batcher::default());
    // Beacons per client address this minute, in this isolate.
    static BEACON_CAP: RefCell<PerMinute> = RefCell::new(PerMinute::default());
    // The random daily salts read from (or written to) VISITOR_SALTS.
    static SALTS: RefCell<DaySalts> = RefCell::new(DaySalts::default());
    // The minute page views over PAGEVIEW_LIMITER were last logged.
    static LIMITED_LOGGED: Cell<i64> = const { Cell::new(i64::MIN) };
    // The VISITOR_TZ formatter and the day of the last minute asked for.
    static ZONE: RefCell<Zone> = RefCell::new(Zone::default());
}

/// The runtime formatter for the configured zone, made once per isolate (making one is slow).
#[derive(Default)]
struct Zone {
    name: Option<String>,
    format: Option<IntlDay>,
    days: MinuteCache,
}

/// The day whose salt keys the visitor id of a hit at `ms`: local to `VISITOR_TZ`, else UTC.
fn salt_day(zone: Option<&str>, ms: i64) -> String {
    let Some(name) = zone else {
        return utc_day(ms);
    };
    ZONE.with(|z| {
        let z = &mut *z.borrow_mut();
        if z.name.as_deref() != Some(name) {
            z.name = Some(name.to_string());
            z.days = MinuteCache::default();
            z.format = match IntlDay::new(name) {
                Ok(f) => Some(f),
                Err(e) => {
                    console_error!(
                        "{}",
                        log_line(
                            "config",
                            &format!("VISITOR_TZ {name:?} is not a time zone the runtime knows ({e}); visitor days follow UTC")
                        )
                    );
                    None
                }
            };
        }
        match &z.format {
            Some(f) => z.days.day(f, ms),
            None => utc_day(ms),
        }
    })
}

/// Records the page view of `facts`, when the collector is on, after the response: in a
/// `ctx.wait_until`, the limiter's `verdict` is awaited, the day's salt found, the hit built and
/// queued for the next `PutRecords` (which the first hit of a batch sends after `LINGER`).
fn record(ctx: &Context, env: &Env, cfg: Config, facts: RequestFacts, verdict: Option<Promise>) {
    if !matches!(cfg.collector, Collector::On { .. }) {
        return;
    }
    let env = env.clone();
    ctx.wait_until(async move {
        let Collector::On {
            kinesis,
            visitor_salt,
        } = &cfg.collector
        else {
            return;
        };
        if !allowed(verdict).await {
            // Served, not recorded: logged once a minute per isolate, not per page view.
            let minute = facts.received_ms.div_euclid(60_000);
            if LIMITED_LOGGED.with(|m| m.replace(minute)) != minute {
                console_error!(
                    r#"{{"level":"warn","event":"page_views_limited","message":"page views of one address over PAGEVIEW_LIMITER's limit are served, not recorded"}}"#
                );
            }
            return;
        }
        let day = salt_day(cfg.visitor_tz.as_deref(), facts.received_ms);
        let salt = day_salt(&env, visitor_salt, &day, facts.received_ms).await;
        let hit = build_hit(&facts, &cfg.actions, &salt, random_bytes());
        // Looked up only when this request sends; without the binding, lost hits are only logged.
        let fallback = || env.queue(names::FALLBACK_QUEUE).ok();
        match BATCH.with(|b| b.borrow_mut().push(Entry::from_hit(&hit))) {
            Next::Buffered => {}
            Next::ScheduleFlush => {
                let fallback = fallback();
                Delay::from(LINGER).await;
                let entries = BATCH.with(|b| b.borrow_mut().take());
                send(kinesis, fallback.as_ref(), &entries).await;
            }
            Next::FlushNow(entries) => send(kinesis, fallback().as_ref(), &entries).await,
        }
        // Tomorrow's salt is made today, so that isolates racing to make it agree long before
        // it is used (transform::salt).
        if let Some(tomorrow) = next_day(&day) {
            day_salt(&env, visitor_salt, &tomorrow, facts.received_ms).await;
        }
    });
}

/// The salt of `day` at `now_ms`: the random one in `VISITOR_SALTS` when that KV namespace is
/// bound (made and stored when missing), else the one derived from the `VISITOR_SALT` secret.
async fn day_salt(env: &Env, secret: &str, day: &str, now_ms: i64) -> Vec<u8> {
    let kv = match Reflect::get(env, &names::VISITOR_SALTS.into()) {
        Ok(kv) if !kv.is_undefined() => kv,
        _ => return derived_salt(secret, day),
    };
    if let Some(salt) = SALTS.with(|s| s.borrow().cached(day, now_ms)) {
        return salt.into_bytes();
    }
    let key = salt_key(day);
    let stored = match call(&kv, "get", &[key.as_str().into()]) {
        Some(p) => settle(p, KV_TIMEOUT).await,
        None => Err(JsValue::UNDEFINED),
    };
    let (salt, write) = match stored {
        Ok(stored) => SALTS.with(|s| {
            s.borrow_mut()
                .read(day, stored.as_string().as_deref(), now_ms, random_bytes())
        }),
        Err(e) => {
            salt_error("reading", &key, &e);
            let salt = SALTS.with(|s| s.borrow_mut().unreadable(day, now_ms, random_bytes()));
            (salt, None)
        }
    };
    if let Some(value) = write {
        let options = Object::new();
        let _ = Reflect::set(
            &options,
            &"expirationTtl".into(),
            &(SALT_TTL_SECONDS as f64).into(),
        );
        let put = call(
            &kv,
            "put",
            &[key.as_str().into(), value.into(), options.into()],
        );
        let written = match put {
            Some(p) => settle(p, KV_TIMEOUT).await,
            None => Err(JsValue::UNDEFINED),
        };
        if let Err(e) = written {
            salt_error("writing", &key, &e);
        }
    }
    salt.into_bytes()
}

/// Logs a failed KV call of the salts (the hit is still recorded, with the isolate's salt).
fn salt_error(doing: &str, key: &str, e: &JsValue) {
    let why = e
        .as_string()
        .unwrap_or_else(|| String::from(worker::js_sys::Error::from(e.clone()).message()));
    console_error!(
        "{}",
        log_line("visitor_salts", &format!("{doing} {key}: {why}"))
    );
}

/// Puts `entries`; what does not land goes to the fallback queue when there is one; each hit
/// that lands nowhere is logged, whole.
async fn send(kinesis: &KinesisConfig, fallback: Option<&Queue>, entries: &[Entry]) {
    let transport = FetchTransport::new(kinesis);
    let failures = put_records(
        &transport,
        &kinesis.stream,
        entries,
        &RetryPolicy::default(),
    )
    .await;
    if failures.is_empty() {
        return;
    }
    // A record Kinesis can never take would fail from the queue as well.
    let (unfit, retriable): (Vec<Failure>, Vec<Failure>) =
        failures.into_iter().partition(|f| f.unfit);
    let mut lost = unfit;
    match fallback {
        Some(queue) if !retriable.is_empty() => {
            let offered: Vec<&Entry> = retriable.iter().map(|f| &entries[f.index]).collect();
            let refused = producer::offer(queue, &offered).await;
            let queued = retriable.len() - refused.len();
            if queued > 0 {
                // By hand, not json!: each json! call site costs the Wasm about a kilobyte.
                console_error!(
                    r#"{{"level":"warn","event":"hits_queued","stream":{},"count":{queued},"error":{}}}"#,
                    Value::from(kinesis.stream.as_str()),
                    Value::from(retriable[0].error.as_str())
                );
            }
            lost.extend(refused.into_iter().map(|(i, why)| Failure {
                error: format!("{}; {why}", retriable[i].error),
                ..retriable[i].clone()
            }));
        }
        _ => lost.extend(retriable),
    }
    for failure in lost {
        console_error!(
            "{}",
            lost_record_line(&kinesis.stream, &entries[failure.index].data, &failure)
        );
    }
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// Logs configuration problems once per isolate, not once per request.
fn warn_once(cfg: &Config) {
    let mut problems = cfg.warnings.clone();
    if let Collector::Misconfigured(why) = &cfg.collector {
        problems.push(why.clone());
    }
    if !problems.is_empty() && !WARNED.swap(true, Ordering::Relaxed) {
        for p in problems {
            console_error!("{}", log_line("config", &p));
        }
    }
}

fn log_line(event: &str, message: &str) -> String {
    format!(
        r#"{{"level":"error","event":{},"message":{}}}"#,
        Value::from(event),
        Value::from(message)
    )
}
