//! The fallback queue's consumer: hits Kinesis did not take when they were made, put into
//! Kinesis again with the same signed `PutRecords` code.
//!
//! A message is acknowledged only after every record in it landed; otherwise it is retried
//! after a delay that doubles with its age, and after `max_retries` (wrangler config) Queues
//! moves it to the dead-letter queue. The consumer never drops a message it can read, and
//! logs whole (then acknowledges) one it cannot: retrying that would never succeed.

use crate::config::{Collector, Config};
use crate::sink::kinesis::service::{now_ms, FetchTransport};
use crate::sink::kinesis::sink::{put_records, RetryPolicy};
use crate::sink::queue::message::{retry_delay_s, unpack, verdicts, Verdict, MAX_RETRY_DELAY_S};
use serde_json::Value;
use worker::{console_error, console_log, Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

/// Handles one batch of fallback messages.
pub async fn consume(batch: MessageBatch<String>, env: &Env) {
    let cfg = Config::from_env(env);
    let Collector::On { kinesis, .. } = &cfg.collector else {
        // The settings can be fixed; until then the messages wait (and reach the dead-letter
        // queue if nobody does).
        console_error!(
            r#"{{"level":"error","event":"queue_not_consumed","message":"the collector is off or misconfigured; messages retried"}}"#
        );
        batch.retry_all_with_options(
            &QueueRetryOptionsBuilder::new()
                .with_delay_seconds(MAX_RETRY_DELAY_S)
                .build(),
        );
        return;
    };
    let messages: Vec<_> = batch.raw_iter().collect();
    let mut entries = Vec::new();
    let mut spans = Vec::new();
    let mut readable = Vec::new();
    for message in &messages {
        let text = message.body().as_string();
        match text.as_deref().map(unpack) {
            Some(Ok(records)) => {
                spans.push(entries.len()..entries.len() + records.len());
                entries.extend(records);
                readable.push(message);
            }
            Some(Err(e)) => unreadable(message, &e, text.as_deref()),
            None => unreadable(message, "the body is not text", None),
        }
    }
    let transport = FetchTransport::new(kinesis);
    let failures = put_records(
        &transport,
        &kinesis.stream,
        &entries,
        &RetryPolicy::default(),
    )
    .await;
    let now = now_ms();
    let (mut acked, mut retried, mut last_error) = (0, 0, String::new());
    for (message, verdict) in readable.into_iter().zip(verdicts(&spans, &failures)) {
        match verdict {
            Verdict::Ack => {
                message.ack();
                acked += 1;
            }
            Verdict::Retry(error) => {
                let age = now - message.timestamp().as_millis() as i64;
                message.retry_with_options(
                    &QueueRetryOptionsBuilder::new()
                        .with_delay_seconds(retry_delay_s(age))
                        .build(),
                );
                retried += 1;
                last_error = error;
            }
        }
    }
    // By hand, not json!: each json! call site costs the Wasm about a kilobyte.
    let line = format!(
        r#"{{"level":"{}","event":"queue_consumed","stream":{},"records":{},"records_failed":{},"messages_acked":{acked},"messages_retried":{retried},"error":{}}}"#,
        if retried > 0 { "warn" } else { "info" },
        Value::from(kinesis.stream.as_str()),
        entries.len(),
        failures.len(),
        Value::from(last_error),
    );
    if retried > 0 {
        console_error!("{line}");
    } else {
        console_log!("{line}");
    }
}

/// Logs a message that is not a hits message, whole, and acknowledges it.
fn unreadable(message: &worker::RawMessage, why: &str, text: Option<&str>) {
    console_error!(
        r#"{{"level":"error","event":"queue_message_unreadable","id":{},"error":{},"body":{}}}"#,
        Value::from(message.id()),
        Value::from(why),
        Value::from(text)
    );
    message.ack();
}
