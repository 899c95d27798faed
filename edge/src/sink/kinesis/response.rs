//! Reading a `PutRecords` answer: which entries landed, which must be sent again.
//!
//! HTTP 200 does not mean every record landed: `FailedRecordCount > 0` marks entries that failed
//! (throttling, internal errors) and must be resent on their own.

use serde::Deserialize;

/// What one `PutRecords` attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every entry landed.
    Done,
    /// Only these entries (indexes into the request) failed, each with its error.
    Partial(Vec<(usize, String)>),
    /// The whole call failed; `retriable` when sending it again may succeed.
    Failed { retriable: bool, error: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    failed_record_count: Option<u64>,
    records: Vec<AnswerRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerRecord {
    error_code: Option<String>,
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type")]
    kind: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

/// Error types on a whole call that go away by themselves (throttling, limits).
const RETRIABLE_TYPES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "KMSThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// Classifies the answer to a call that sent `sent` entries.
pub fn classify(status: u16, body: &[u8], sent: usize) -> Outcome {
    if status == 200 {
        let answer: Answer = match serde_json::from_slice(body) {
            Ok(a) => a,
            Err(e) => {
                return Outcome::Failed {
                    retriable: true,
                    error: format!("unreadable PutRecords answer: {e}"),
                }
            }
        };
        if answer.records.len() != sent {
            return Outcome::Failed {
                retriable: true,
                error: format!(
                    "PutRecords answered {} records for {sent} sent",
                    answer.records.len()
                ),
            };
        }
        let failed: Vec<(usize, String)> = answer
            .records
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.error_code.map(|code| {
                    let msg = r.error_message.unwrap_or_default();
                    (
                        i,
                        format!("{code}: {msg}").trim_end_matches(": ").to_string(),
                    )
                })
            })
            .collect();
        if failed.is_empty() {
            if answer.failed_record_count.unwrap_or(0) > 0 {
                return Outcome::Failed {
                    retriable: true,
                    error: "FailedRecordCount > 0 but no record carries an error".into(),
                };
            }
            return Outcome::Done;
        }
        return Outcome::Partial(failed);
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let kind = parsed
        .as_ref()
        .and_then(|b| b.kind.as_deref())
        .map(|k| k.rsplit('#').next().unwrap_or(k).to_string())
        .unwrap_or_default();
    let message = parsed
        .and_then(|b| b.message)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let retriable = status >= 500 || status == 429 || RETRIABLE_TYPES.contains(&kind.as_str());
    let error = if kind.is_empty() {
        format!("HTTP {status}: {message}")
    } else {
        format!("HTTP {status} {kind}: {message}")
    };
    Outcome::Failed { retriable, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_landed() {
        let body = br#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"SequenceNumber":"2","ShardId":"shardId-000000000001"}]}"#;
        assert_eq!(classify(200, body, 2), Outcome::Done);
    }

    #[test]
    fn http_200_with_failed_entries_is_partial() {
        let body = br#"{"FailedRecordCount":2,"Records":[
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard"},
            {"SequenceNumber":"2","ShardId":"shardId-000000000001"},
            {"ErrorCode":"InternalFailure"}]}"#;
        assert_eq!(
            classify(200, body, 3),
            Outcome::Partial(vec![
                (
                    0,
                    "ProvisionedThroughputExceededException: Rate exceeded for shard".into()
                ),
                (2, "InternalFailure".into()),
            ])
        );
    }

    #[test]
    fn whole_call_errors() {
        let throttled =
            br#"{"__type":"com.amazonaws.kinesis#LimitExceededException","message":"slow down"}"#;
        assert_eq!(
            classify(400, throttled, 1),
            Outcome::Failed {
                retriable: true,
                error: "HTTP 400 LimitExceededException: slow down".into()
            }
        );
        let missing =
            br#"{"__type":"ResourceNotFoundException","message":"Stream hits not found"}"#;
        assert_eq!(
            classify(400, missing, 1),
            Outcome::Failed {
                retriable: false,
                error: "HTTP 400 ResourceNotFoundException: Stream hits not found".into()
            }
        );
        assert!(
            matches!(classify(503, b"<html>busy</html>", 1), Outcome::Failed { retriable: true, error } if error.contains("busy"))
        );
        assert!(
            matches!(classify(403, b"{\"__type\":\"UnrecognizedClientException\",\"Message\":\"bad key\"}", 1), Outcome::Failed { retriable: false, error } if error.contains("bad key"))
        );
        assert!(matches!(
            classify(200, b"not json", 1),
            Outcome::Failed {
                retriable: true,
                ..
            }
        ));
        assert!(matches!(
            classify(200, br#"{"FailedRecordCount":0,"Records":[]}"#, 1),
            Outcome::Failed {
                retriable: true,
                ..
            }
        ));
    }
}
