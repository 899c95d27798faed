//! The request flow: route, answer the client, then record the page view in the background.
//!
//! Analytics never breaks the site: missing settings, a bad beacon or a Kinesis outage change
//! what is logged, never what the visitor gets.

use crate::config::{Collector, Config};
use crate::route::{route, Route, Target};
use crate::sink::kinesis::batcher::{Batcher, Next, LINGER};
use crate::sink::kinesis::config::KinesisConfig;
use crate::sink::kinesis::record::Entry;
use crate::sink::kinesis::service::{now_ms, FetchTransport};
use crate::sink::kinesis::sink::{lost_record_line, put_records, RetryPolicy};
use crate::source::{beacon, cookie_value, demo, proxy};
use crate::transform::hit::{build_hit, random_bytes, RequestFacts};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use worker::{console_error, Context, Delay, Env, Headers, Request, Response, Result};

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
        Route::CollectPreflight => preflight(&req, &cfg),
        Route::CollectMethodNotAllowed => {
            let mut resp = Response::error("POST a JSON beacon here", 405)?;
            resp.headers_mut().set("allow", "POST, OPTIONS")?;
            Ok(resp)
        }
        Route::Collect => {
            let facts = request_facts(&req, &url, received_ms);
            collect(&mut req, facts, &cfg, &ctx).await
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
                record(&ctx, &cfg, facts);
            }
            Ok(response)
        }
    }
}

/// The facts of a request before anyone answered it.
fn request_facts(req: &Request, url: &Target, received_ms: i64) -> RequestFacts {
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    RequestFacts {
        received_ms,
        host: url.host.to_string(),
        path: url.path.to_string(),
        method: req.method().to_string(),
        status: 200,
        user: String::new(),
        referrer: header("referer"),
        country: req.cf().and_then(|cf| cf.country()).unwrap_or_default(),
        user_agent: header("user-agent"),
        client_ip: header("cf-connecting-ip"),
        origin_ms: 0,
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

/// `POST /collect`: a page view reported by the browser.
async fn collect(
    req: &mut Request,
    mut facts: RequestFacts,
    cfg: &Config,
    ctx: &Context,
) -> Result<Response> {
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let parsed = if declared > beacon::MAX_BODY {
        Err(beacon::BeaconError::TooLarge(declared))
    } else {
        beacon::parse(&req.bytes().await?)
    };
    let response = match parsed {
        Ok(b) => {
            facts.path = b.path;
            facts.referrer = b.referrer;
            facts.method = "GET".into();
            if cfg.origin_url.is_none() {
                facts.user = demo_user(req);
            }
            record(ctx, cfg, facts);
            Response::empty()?.with_status(204)
        }
        Err(e) => Response::error(e.to_string(), e.status())?,
    };
    with_cors(response, req, cfg)
}

fn preflight(req: &Request, cfg: &Config) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    match beacon::allowed_origin(&cfg.collect_origins, origin.as_deref()) {
        Some(_) => {
            let resp = Response::empty()?.with_status(204);
            resp.headers()
                .set("access-control-allow-methods", "POST, OPTIONS")?;
            resp.headers()
                .set("access-control-allow-headers", "content-type")?;
            resp.headers().set("access-control-max-age", "86400")?;
            with_cors(resp, req, cfg)
        }
        None => Response::error("origin not allowed", 403),
    }
}

fn with_cors(mut resp: Response, req: &Request, cfg: &Config) -> Result<Response> {
    let origin = req.headers().get("origin")?;
    if let Some(allow) = beacon::allowed_origin(&cfg.collect_origins, origin.as_deref()) {
        resp.headers_mut()
            .set("access-control-allow-origin", &allow)?;
        resp.headers_mut().set("vary", "Origin")?;
    }
    Ok(resp)
}

thread_local! {
    // One isolate runs one thread: hits of concurrent requests meet here.
    static BATCH: RefCell<Batcher> = RefCell::new(Batcher::default());
}

/// Builds the hit and queues it; it is sent after the response, in a `ctx.wait_until`.
fn record(ctx: &Context, cfg: &Config, facts: RequestFacts) {
    let Collector::On {
        kinesis,
        visitor_salt,
    } = &cfg.collector
    else {
        return;
    };
    let hit = build_hit(&facts, &cfg.actions, visitor_salt, random_bytes());
    let next = BATCH.with(|b| b.borrow_mut().push(Entry::from_hit(&hit)));
    let kinesis = kinesis.clone();
    match next {
        Next::Buffered => {}
        Next::ScheduleFlush => ctx.wait_until(async move {
            Delay::from(LINGER).await;
            let entries = BATCH.with(|b| b.borrow_mut().take());
            send(&kinesis, &entries).await;
        }),
        Next::FlushNow(entries) => ctx.wait_until(async move { send(&kinesis, &entries).await }),
    }
}

/// Puts `entries`; logs each one that never lands, whole.
async fn send(kinesis: &KinesisConfig, entries: &[Entry]) {
    let transport = FetchTransport::new(kinesis);
    let failures = put_records(
        &transport,
        &kinesis.stream,
        entries,
        &RetryPolicy::default(),
    )
    .await;
    for failure in failures {
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
    serde_json::json!({"level": "error", "event": event, "message": message}).to_string()
}
