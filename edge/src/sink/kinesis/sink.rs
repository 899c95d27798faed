//! Putting hits on the stream: resend only the entries that failed, with exponential backoff
//! and jitter, a bounded number of times; report what never landed so it can be logged whole.

use super::record::{put_records_body, Entry, MAX_RECORDS_PER_CALL};
use super::response::{classify, Outcome};
use std::time::Duration;

/// How a [`put_records`] call sends and waits: the worker's fetch in production, a script in tests.
#[allow(async_fn_in_trait)] // single-threaded Wasm: no Send bound wanted
pub trait Transport {
    /// Sends one `PutRecords` body; returns the HTTP status and body, or a network error.
    async fn send(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), String>;
    /// Waits before the next try.
    async fn sleep(&self, delay: Duration);
    /// A uniform random number in [0, 1) for jitter.
    fn random(&self) -> f64;
}

/// How many times and how patiently to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub max_tries: u32,
    /// Delay scale before the second try; doubles each try.
    pub base: Duration,
    /// Upper bound of one delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // A worker may keep running after its response for ~30 s; 3 tries fit well inside.
        RetryPolicy {
            max_tries: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Delay before try `next_try` (2, 3, ...): half of the exponential step is fixed, half is
    /// random ("equal jitter"), so delays grow and concurrent workers spread out.
    pub fn delay(&self, next_try: u32, random01: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (next_try.saturating_sub(2)).min(16))
            .min(self.cap);
        exp / 2 + exp.mul_f64(random01.clamp(0.0, 1.0) / 2.0)
    }
}

/// An entry that never landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Index into the entries given to [`put_records`].
    pub index: usize,
    /// The last error seen for it.
    pub error: String,
    /// How many times it was sent.
    pub tries: u32,
}

/// Puts `entries` on `stream`; returns the entries that did not land after the policy's tries.
pub async fn put_records<T: Transport>(
    transport: &T,
    stream: &str,
    entries: &[Entry],
    policy: &RetryPolicy,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (chunk_no, chunk) in entries.chunks(MAX_RECORDS_PER_CALL).enumerate() {
        let offset = chunk_no * MAX_RECORDS_PER_CALL;
        failures.extend(
            put_chunk(transport, stream, chunk, policy)
                .await
                .into_iter()
                .map(|f| Failure {
                    index: f.index + offset,
                    ..f
                }),
        );
    }
    failures
}

async fn put_chunk<T: Transport>(
    transport: &T,
    stream: &str,
    entries: &[Entry],
    policy: &RetryPolicy,
) -> Vec<Failure> {
    // Indexes of entries still to land, with the last error of each.
    let mut pending: Vec<(usize, String)> =
        (0..entries.len()).map(|i| (i, String::new())).collect();
    let mut tries = 0;
    while !pending.is_empty() && tries < policy.max_tries {
        if tries > 0 {
            transport
                .sleep(policy.delay(tries + 1, transport.random()))
                .await;
        }
        tries += 1;
        let body = put_records_body(stream, pending.iter().map(|(i, _)| &entries[*i]));
        let outcome = match transport.send(body).await {
            Ok((status, answer)) => classify(status, &answer, pending.len()),
            Err(e) => Outcome::Failed {
                retriable: true,
                error: format!("network: {e}"),
            },
        };
        match outcome {
            Outcome::Done => pending.clear(),
            Outcome::Partial(failed) => {
                pending = failed
                    .into_iter()
                    .map(|(pos, err)| (pending[pos].0, err))
                    .collect();
            }
            Outcome::Failed { retriable, error } => {
                for entry in &mut pending {
                    entry.1 = error.clone();
                }
                if !retriable {
                    break;
                }
            }
        }
    }
    pending
        .into_iter()
        .map(|(index, error)| Failure {
            index,
            error,
            tries,
        })
        .collect()
}

/// The one log line for a record that never landed: structured, holding the whole record, so
/// nothing vanishes silently and an operator can replay it from the logs.
pub fn lost_record_line(stream: &str, data: &str, failure: &Failure) -> String {
    let record = serde_json::from_str::<serde_json::Value>(data)
        .unwrap_or_else(|_| serde_json::Value::String(data.to_string()));
    serde_json::json!({
        "level": "error",
        "event": "hit_not_delivered",
        "stream": stream,
        "tries": failure.tries,
        "error": failure.error,
        "hit": record,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// Answers from a script and records what was sent and how long it was told to wait.
    struct Scripted {
        answers: RefCell<VecDeque<Result<(u16, String), String>>>,
        sent: RefCell<Vec<serde_json::Value>>,
        slept: RefCell<Vec<Duration>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<(u16, &str), &str>>) -> Self {
            Scripted {
                answers: RefCell::new(
                    answers
                        .into_iter()
                        .map(|a| a.map(|(s, b)| (s, b.to_string())).map_err(str::to_string))
                        .collect(),
                ),
                sent: RefCell::default(),
                slept: RefCell::default(),
            }
        }
        fn keys_sent(&self, call: usize) -> Vec<String> {
            self.sent.borrow()[call]["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["PartitionKey"].as_str().unwrap().to_string())
                .collect()
        }
    }

    impl Transport for Scripted {
        async fn send(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
            self.sent
                .borrow_mut()
                .push(serde_json::from_slice(&body).unwrap());
            self.answers
                .borrow_mut()
                .pop_front()
                .expect("more calls than scripted answers")
                .map(|(s, b)| (s, b.into_bytes()))
        }
        async fn sleep(&self, delay: Duration) {
            self.slept.borrow_mut().push(delay);
        }
        fn random(&self) -> f64 {
            0.5
        }
    }

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry {
                data: format!("{{\"n\":{i}}}"),
                partition_key: format!("k{i}"),
            })
            .collect()
    }

    const OK1: &str = r#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"9","ShardId":"shardId-000000000000"}]}"#;

    fn run(t: &Scripted, n: usize) -> Vec<Failure> {
        futures::executor::block_on(put_records(t, "hits", &entries(n), &RetryPolicy::default()))
    }

    #[test]
    fn resends_only_the_failed_entries() {
        let t = Scripted::new(vec![
            Ok((
                200,
                r#"{"FailedRecordCount":2,"Records":[{"SequenceNumber":"1","ShardId":"s"},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded"},{"ErrorCode":"InternalFailure"}]}"#,
            )),
            Ok((
                200,
                r#"{"FailedRecordCount":1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException"},{"SequenceNumber":"3","ShardId":"s"}]}"#,
            )),
            Ok((200, OK1)),
        ]);
        assert_eq!(run(&t, 3), vec![]);
        assert_eq!(t.keys_sent(0), ["k0", "k1", "k2"]);
        assert_eq!(t.keys_sent(1), ["k1", "k2"]);
        assert_eq!(t.keys_sent(2), ["k1"]);
        assert_eq!(
            *t.slept.borrow(),
            [Duration::from_millis(75), Duration::from_millis(150)]
        );
    }

    #[test]
    fn gives_up_after_three_tries_and_reports_each_lost_entry() {
        let throttled =
            r#"{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded"}"#;
        let t = Scripted::new(vec![
            Ok((400, throttled)),
            Err("connection refused"),
            Ok((400, throttled)),
        ]);
        let failures = run(&t, 2);
        assert_eq!(t.sent.borrow().len(), 3);
        assert_eq!(
            failures,
            vec![
                Failure {
                    index: 0,
                    error: "HTTP 400 ProvisionedThroughputExceededException: Rate exceeded".into(),
                    tries: 3
                },
                Failure {
                    index: 1,
                    error: "HTTP 400 ProvisionedThroughputExceededException: Rate exceeded".into(),
                    tries: 3
                },
            ]
        );
    }

    #[test]
    fn does_not_retry_what_cannot_succeed() {
        let t = Scripted::new(vec![Ok((
            400,
            r#"{"__type":"ResourceNotFoundException","message":"no stream"}"#,
        ))]);
        let failures = run(&t, 1);
        assert_eq!(t.sent.borrow().len(), 1);
        assert!(t.slept.borrow().is_empty());
        assert_eq!(failures[0].tries, 1);
        assert!(failures[0].error.contains("no stream"));
    }

    #[test]
    fn network_error_then_success() {
        let t = Scripted::new(vec![Err("reset"), Ok((200, OK1))]);
        assert_eq!(run(&t, 1), vec![]);
        assert_eq!(t.sent.borrow().len(), 2);
    }

    #[test]
    fn large_batches_are_split_at_the_api_limit() {
        let ok = |n: usize| {
            let recs = vec![r#"{"SequenceNumber":"1","ShardId":"s"}"#; n].join(",");
            format!(r#"{{"FailedRecordCount":0,"Records":[{recs}]}}"#)
        };
        let (a, b) = (ok(500), ok(1));
        let t = Scripted::new(vec![Ok((200, &a)), Ok((200, &b))]);
        assert_eq!(run(&t, 501), vec![]);
        assert_eq!(t.keys_sent(1), ["k500"]);
    }

    #[test]
    fn lost_record_line_holds_the_whole_record() {
        let f = Failure {
            index: 0,
            error: "HTTP 500: boom".into(),
            tries: 3,
        };
        let line = lost_record_line("hits", r#"{"event_id":"e","path":"/a,\"b"}"#, &f);
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "hit_not_delivered");
        assert_eq!(v["tries"], 3);
        assert_eq!(v["error"], "HTTP 500: boom");
        assert_eq!(v["hit"]["path"], "/a,\"b");
    }

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(2, 0.0), Duration::from_millis(50));
        assert_eq!(p.delay(2, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(3, 0.0), Duration::from_millis(100));
        assert_eq!(p.delay(30, 1.0), Duration::from_secs(2));
    }
}
