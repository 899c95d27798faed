//! The edge collector: a Cloudflare Worker (Rust -> Wasm) that serves or proxies a site and
//! sends one [`pagehit::PageHit`] per page view to Kinesis, after the response has gone out.
//!
//! Flow: [`route`] -> [`source`] (proxy, demo or beacon) -> [`transform`] (facts -> hit) ->
//! [`sink`] (signed `PutRecords`; the fallback queue for what Kinesis did not take),
//! orchestrated by [`app`]. The queue's consumer ([`source::queue`]) runs in this worker too.

pub mod app;
pub mod config;
pub mod route;
pub mod sink;
pub mod source;
pub mod transform;

use worker::{event, Context, Env, MessageBatch, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    app::handle(req, env, ctx).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    source::queue::consume(batch, &env).await;
    Ok(())
}
