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
use crate::source::beacon::{self, BeaconError, LimitedBody, OriginCheck, PerMinute};
use crate::source::{cookie_value, demo, proxy};
use crate::transform::day::{utc_day, IntlDay, MinuteCache};
use crate::transform::hit::{build_hit, random_bytes, RequestFacts};
use pagehit::PageHit;
use serde_json::Value;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use worker::wasm_bindgen::JsCast;
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
            collect(&mut req, &url, facts, &cfg, &env, &ctx).await
        }
        Route::Page {
            record: should_record,
        } => {
            let mut facts = request_facts(&req, &url, received_ms);
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
                if let Some((kinesis, hit)) = make_hit(&cfg, &facts) {
                    record(&ctx, &env, kinesis, &hit);
                }
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

/// `POST /collect`: a page view or custom event reported by the browser.
async fn collect(
    req: &mut Request,
    url: &Target<'_>,
    facts: RequestFacts,
    cfg: &Config,
    env: &Env,
    ctx: &Context,
) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    let own = format!("{}://{}", url.scheme, url.host);
    let check = beacon::check_origin(&cfg.collect_origins, &own, origin.as_deref());
    let outcome = match &check {
        OriginCheck::Refused(origin) => Err(BeaconError::OriginRefused(origin.clone())),
        _ => accept_beacon(req, facts, cfg, env, ctx).await?,
    };
    let response = match outcome {
        Ok(()) => Response::empty()?.with_status(204),
        Err(e) => Response::error(e.to_string(), e.status())?,
    };
    with_cors(response, &check)
}

/// Reads, checks and records a beacon from an origin that may send one.
async fn accept_beacon(
    req: &mut Request,
    mut facts: RequestFacts,
    cfg: &Config,
    env: &Env,
    ctx: &Context,
) -> Result<std::result::Result<(), BeaconError>> {
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
    let Some((kinesis, hit)) = make_hit(cfg, &facts) else {
        return Ok(Ok(()));
    };
    let under_cap = BEACON_CAP.with(|c| {
        c.borrow_mut()
            .allow(&hit.visitor, facts.received_ms, cfg.beacons_per_minute)
    });
    if !under_cap || !rate_limiter_allows(env, &hit.visitor).await {
        return Ok(Err(BeaconError::TooMany));
    }
    record(ctx, env, kinesis, &hit);
    Ok(Ok(()))
}

/// Reads the request body as a stream, keeping at most `limit + 1` bytes whatever
/// `Content-Length` says: a chunked body has none, and a large one must not fill the isolate's
/// memory (and with it every hit waiting in its batch).
async fn read_limited(
    req: &Request,
    limit: usize,
) -> Result<std::result::Result<Vec<u8>, BeaconError>> {
    use worker::js_sys::{Reflect, Uint8Array};
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

/// The Workers Rate Limiting binding's verdict for this visitor, when one is bound; allows when
/// none is, or when the binding fails (analytics never blocks on its own limiter).
async fn rate_limiter_allows(env: &Env, visitor: &str) -> bool {
    use worker::js_sys::{Function, Object, Promise, Reflect};
    // `limit({key})` called directly: worker's RateLimiter decodes the answer with
    // serde-wasm-bindgen, which costs the Wasm more than these lines.
    let call = || -> Option<Promise> {
        let limiter = Reflect::get(env, &names::BEACON_LIMITER.into()).ok()?;
        if limiter.is_undefined() {
            return None;
        }
        let limit: Function = Reflect::get(&limiter, &"limit".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let options = Object::new();
        Reflect::set(&options, &"key".into(), &visitor.into()).ok()?;
        limit.call1(&limiter, &options).ok()?.dyn_into().ok()
    };
    let Some(promise) = call() else {
        return true;
    };
    match JsFuture::from(promise).await {
        Ok(outcome) => Reflect::get(&outcome, &"success".into())
            .ok()
            .and_then(|s| s.as_bool())
            .unwrap_or(true),
        Err(_) => true,
    }
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
    // Beacons per visitor this minute, in this isolate.
    static BEACON_CAP: RefCell<PerMinute> = RefCell::new(PerMinute::default());
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

/// The hit for `facts` and where it goes, when the collector is on.
fn make_hit<'c>(cfg: &'c Config, facts: &RequestFacts) -> Option<(&'c KinesisConfig, PageHit)> {
    let Collector::On {
        kinesis,
        visitor_salt,
    } = &cfg.collector
    else {
        return None;
    };
    let day = salt_day(cfg.visitor_tz.as_deref(), facts.received_ms);
    let hit = build_hit(facts, &cfg.actions, visitor_salt, &day, random_bytes());
    Some((kinesis, hit))
}

/// Queues the hit for the next `PutRecords`; it is sent after the response, in a
/// `ctx.wait_until`.
fn record(ctx: &Context, env: &Env, kinesis: &KinesisConfig, hit: &PageHit) {
    let next = BATCH.with(|b| b.borrow_mut().push(Entry::from_hit(hit)));
    let kinesis = kinesis.clone();
    // Looked up only when this request sends; without the binding, lost hits are only logged.
    let fallback = || env.queue(names::FALLBACK_QUEUE).ok();
    match next {
        Next::Buffered => {}
        Next::ScheduleFlush => {
            let fallback = fallback();
            ctx.wait_until(async move {
                Delay::from(LINGER).await;
                let entries = BATCH.with(|b| b.borrow_mut().take());
                send(&kinesis, fallback.as_ref(), &entries).await;
            })
        }
        Next::FlushNow(entries) => {
            let fallback = fallback();
            ctx.wait_until(async move { send(&kinesis, fallback.as_ref(), &entries).await })
        }
    }
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
