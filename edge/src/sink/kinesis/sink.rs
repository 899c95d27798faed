//! Putting hits on the stream: resend only the entries that failed, with exponential backoff
//! and jitter, a bounded number of times; report what never landed so it can be logged whole.

use super::record::{plan_calls, put_records_body, Entry};
use super::response::{classify, Outcome};
use crate::sink::race::{first_of, First};
use std::time::Duration;

/// How a [`put_records`] call sends and waits: the worker's fetch in production, a script in tests.
#[allow(async_fn_in_trait)] // single-threaded Wasm: no Send bound wanted
pub trait Transport {
    /// Sends one `PutRecords` body; returns the HTTP status and body, or a network error.
    /// Dropping the future gives up on the call (the worker's transport aborts the fetch).
    async fn send(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), String>;
    /// Waits before the next try, or until a try times out.
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
    /// How long one try may take, answer body included, before it counts as failed. A hanging
    /// endpoint must not eat the time in which a lost hit still has to be logged.
    pub per_try: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // `ctx.wait_until` keeps a worker alive ~30 s after its response: the worst case of
        // these tries (`worst_case`, 15.3 s) leaves room for the queue fallback and the log.
        RetryPolicy {
            max_tries: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            per_try: Duration::from_secs(5),
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

    /// The longest one call can take under this policy: every try timing out, every delay at
    /// its longest.
    pub fn worst_case(&self) -> Duration {
        let delays: Duration = (2..=self.max_tries).map(|t| self.delay(t, 1.0)).sum();
        self.per_try * self.max_tries + delays
    }
}

/// An entry that never landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Index into the entries given to [`put_records`].
    pub index: usize,
    /// The last error seen for it.
    pub error: String,
    /// How many times it was sent (0 when it never could be).
    pub tries: u32,
    /// Kinesis can never take this record (too large, bad partition key): it was not sent, and
    /// a queue would not help it either.
    pub unfit: bool,
}

/// Puts `entries` on `stream`; returns the entries that did not land after the policy's tries,
/// by index (in no particular order). Calls are cut by count and by bytes ([`plan_calls`]); a record Kinesis can never
/// take is reported at once and never sent, so it cannot fail the records beside it.
pub async fn put_records<T: Transport>(
    transport: &T,
    stream: &str,
    entries: &[Entry],
    policy: &RetryPolicy,
) -> Vec<Failure> {
    let (calls, unfit) = plan_calls(stream, entries);
    let mut failures: Vec<Failure> = unfit
        .into_iter()
        .map(|(index, error)| Failure {
            index,
            error,
            tries: 0,
            unfit: true,
        })
        .collect();
    for call in calls {
        failures.extend(put_call(transport, stream, entries, call, policy).await);
    }
    failures
}

async fn put_call<T: Transport>(
    transport: &T,
    stream: &str,
    entries: &[Entry],
    call: Vec<usize>,
    policy: &RetryPolicy,
) -> Vec<Failure> {
    // Indexes of entries still to land, with the last error of each.
    let mut pending: Vec<(usize, String)> = call.into_iter().map(|i| (i, String::new())).collect();
    let mut tries = 0;
    while !pending.is_empty() && tries < policy.max_tries {
        if tries > 0 {
            transport
                .sleep(policy.delay(tries + 1, transport.random()))
                .await;
        }
        tries += 1;
        let body = put_records_body(stream, pending.iter().map(|(i, _)| &entries[*i]));
        let outcome = match first_of(transport.send(body), transport.sleep(policy.per_try)).await {
            First::Left(Ok((status, answer))) => classify(status, &answer, pending.len()),
            First::Left(Err(e)) => Outcome::Failed {
                retriable: true,
                error: format!("network: {e}"),
            },
            // The call may still land; a resend can then repeat it, which event_id makes harmless.
            First::Right(()) => Outcome::Failed {
                retriable: true,
                // as u64: formatting a u128 would link its own formatter into the Wasm.
                error: format!(
                    "timeout: no answer within {} ms",
                    policy.per_try.as_millis() as u64
                ),
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
            unfit: false,
        })
        .collect()
}

/// The one log line for a record that never landed: structured, holding the whole record, so
/// nothing vanishes silently and an operator can replay it from the logs.
pub fn lost_record_line(stream: &str, data: &str, failure: &Failure) -> String {
    use serde_json::Value;
    let record = serde_json::from_str::<Value>(data).unwrap_or_else(|_| Value::from(data));
    // By hand, not json!: each json! call site costs the Wasm about a kilobyte. Value's
    // Display is compact JSON, so the line stays one line.
    format!(
        r#"{{"level":"error","event":"hit_not_delivered","stream":{},"tries":{},"error":{},"hit":{record}}}"#,
        Value::from(stream),
        failure.tries,
        Value::from(failure.error.as_str()),
    )
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

    /// A scripted answer that never comes: the endpoint hangs.
    const HANG: &str = "(hangs)";

    impl Transport for Scripted {
        async fn send(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
            self.sent
                .borrow_mut()
                .push(serde_json::from_slice(&body).unwrap());
            let answer = self
                .answers
                .borrow_mut()
                .pop_front()
                .expect("more calls than scripted answers");
            if answer.as_ref().err().is_some_and(|e| e == HANG) {
                std::future::pending::<()>().await;
            }
            answer.map(|(s, b)| (s, b.into_bytes()))
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
                    tries: 3,
                    unfit: false,
                },
                Failure {
                    index: 1,
                    error: "HTTP 400 ProvisionedThroughputExceededException: Rate exceeded".into(),
                    tries: 3,
                    unfit: false,
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
        let (a, b) = (ok(500), ok(1));
        let t = Scripted::new(vec![Ok((200, &a)), Ok((200, &b))]);
        assert_eq!(run(&t, 501), vec![]);
        assert_eq!(t.keys_sent(1), ["k500"]);
    }

    fn ok(n: usize) -> String {
        let recs = vec![r#"{"SequenceNumber":"1","ShardId":"s"}"#; n].join(",");
        format!(r#"{{"FailedRecordCount":0,"Records":[{recs}]}}"#)
    }

    #[test]
    fn a_hanging_call_times_out_and_is_tried_again() {
        let t = Scripted::new(vec![Err(HANG), Ok((200, OK1))]);
        assert_eq!(run(&t, 1), vec![]);
        assert_eq!(t.sent.borrow().len(), 2);
        let p = RetryPolicy::default();
        assert_eq!(
            *t.slept.borrow(),
            [p.per_try, Duration::from_millis(75)],
            "waited one per-try timeout, then backed off"
        );
    }

    #[test]
    fn an_endpoint_that_always_hangs_gives_up_with_a_timeout_error() {
        let t = Scripted::new(vec![Err(HANG), Err(HANG), Err(HANG)]);
        let failures = run(&t, 2);
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].tries, 3);
        assert_eq!(failures[0].error, "timeout: no answer within 5000 ms");
        assert!(!failures[0].unfit);
    }

    #[test]
    fn the_worst_case_fits_the_wait_until_budget() {
        // 3 tries of 5 s and backoffs of at most 100 ms and 200 ms.
        assert_eq!(
            RetryPolicy::default().worst_case(),
            Duration::from_millis(15_300)
        );
    }

    #[test]
    fn a_batch_over_the_byte_limit_goes_in_several_calls() {
        let entries: Vec<Entry> = (0..500)
            .map(|i| Entry {
                data: format!("{{\"n\":{i},\"path\":\"{}\"}}", "%22".repeat(4000)),
                partition_key: format!("k{i}"),
            })
            .collect();
        let (calls, _) = crate::sink::kinesis::record::plan_calls("hits", &entries);
        let answers: Vec<String> = calls.iter().map(|c| ok(c.len())).collect();
        let t = Scripted::new(answers.iter().map(|a| Ok((200, a.as_str()))).collect());
        let failures =
            futures::executor::block_on(put_records(&t, "hits", &entries, &RetryPolicy::default()));
        assert_eq!(failures, vec![]);
        assert!(
            t.sent.borrow().len() >= 2,
            "{} calls",
            t.sent.borrow().len()
        );
        let keys: usize = (0..t.sent.borrow().len())
            .map(|c| t.keys_sent(c).len())
            .sum();
        assert_eq!(keys, 500, "every entry sent once");
    }

    #[test]
    fn a_record_too_large_is_reported_unsent_and_does_not_fail_the_others() {
        let mut entries = entries(3);
        entries[1].data = "x".repeat(crate::sink::kinesis::record::MAX_RECORD_BYTES + 1);
        let answer = ok(2);
        let t = Scripted::new(vec![Ok((200, answer.as_str()))]);
        let failures =
            futures::executor::block_on(put_records(&t, "hits", &entries, &RetryPolicy::default()));
        assert_eq!(t.keys_sent(0), ["k0", "k2"]);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].index, 1);
        assert_eq!(failures[0].tries, 0);
        assert!(failures[0].unfit);
        assert!(failures[0].error.contains("bytes"), "{}", failures[0].error);
    }

    #[test]
    fn lost_record_line_holds_the_whole_record() {
        let f = Failure {
            index: 0,
            error: "HTTP 500: boom".into(),
            tries: 3,
            unfit: false,
        };
        let line = lost_record_line("hits", r#"{"event_id":"e","path":"/a,\"b"}"#, &f);
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["stream"], "hits");
        assert_eq!(v["event"], "hit_not_delivered");
        assert_eq!(v["tries"], 3);
        assert_eq!(v["error"], "HTTP 500: boom");
        assert_eq!(v["hit"]["path"], "/a,\"b");
    }

    #[test]
    fn a_lost_record_that_is_not_json_is_logged_as_a_string() {
        let f = Failure {
            index: 0,
            error: "a \"quoted\"\nerror".into(),
            tries: 0,
            unfit: true,
        };
        let line = lost_record_line("hits", "raw\ntext", &f);
        assert!(!line.contains('\n'), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["hit"], "raw\ntext");
        assert_eq!(v["error"], "a \"quoted\"\nerror");
        assert_eq!(v["tries"], 0);
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
