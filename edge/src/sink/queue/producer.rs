//! Putting the hits Kinesis did not take on the fallback queue, within the time a worker has
//! left after its response.

use super::message::{pack, MAX_MESSAGE_BYTES};
use crate::sink::kinesis::record::Entry;
use crate::sink::race::{first_of, First};
use std::time::Duration;
use worker::wasm_bindgen::JsValue;
use worker::{Delay, Queue, QueueContentType, RawMessageBuilder, SendMessage};

/// How long one `sendBatch` may take before its hits count as lost (and are logged whole).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Puts `entries` on `queue`; returns the ones that are not on it (indexes into `entries`, in
/// no particular order), each with the reason.
pub async fn offer(queue: &Queue, entries: &[&Entry]) -> Vec<(usize, String)> {
    let (batches, too_large) = pack(entries);
    let mut refused: Vec<(usize, String)> = too_large
        .into_iter()
        .map(|i| {
            (
                i,
                format!("queue: too large for a message ({MAX_MESSAGE_BYTES} bytes at most)"),
            )
        })
        .collect();
    for batch in batches {
        // Text, not JSON: the consumer gets the exact string back, and Queues bills the bytes
        // that were measured here.
        let messages: Vec<SendMessage<JsValue>> = batch
            .messages
            .iter()
            .map(|text| {
                RawMessageBuilder::new(JsValue::from_str(text))
                    .build_with_content_type(QueueContentType::Text)
            })
            .collect();
        let error = match first_of(queue.send_raw_batch(messages), Delay::from(SEND_TIMEOUT)).await
        {
            First::Left(Ok(())) => continue,
            First::Left(Err(e)) => format!("queue: {e}"),
            First::Right(()) => format!(
                "queue: no answer within {} ms",
                SEND_TIMEOUT.as_millis() as u64
            ),
        };
        refused.extend(batch.entries.iter().map(|&i| (i, error.clone())));
    }
    refused
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::kinesis::batcher::LINGER;
    use crate::sink::kinesis::sink::RetryPolicy;
    use crate::source::beacon::LIMITER_TIMEOUT;
    use crate::transform::salt::KV_TIMEOUT;

    #[test]
    fn a_failed_hit_is_queued_or_logged_inside_the_wait_until_budget() {
        // A worker runs ~30 s after its response; the page-view limiter is awaited, the day's
        // salt read from KV and written when missing, the hit waits for company, is tried,
        // then offered to the queue; leave a margin for the log lines and the runtime.
        let worst = LIMITER_TIMEOUT
            + 2 * KV_TIMEOUT
            + LINGER
            + RetryPolicy::default().worst_case()
            + SEND_TIMEOUT;
        assert!(worst <= Duration::from_secs(25), "{worst:?}");
    }
}
