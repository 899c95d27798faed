//! The Lambda handler with events shaped like AWS's sample Kinesis event, landing in a folder.

use aggregator::cmd::lambda::handle;
use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use lambda_runtime::{Context, LambdaEvent};
use pagehit::PageHit;
use store::{Location, Store};

fn hit(n: u32, ts: &str) -> String {
    PageHit {
        event_id: format!("01936b2e-1f00-7abc-8def-{n:012}"),
        ts: ts.into(),
        host: "shop.example".into(),
        path: format!("/p{n}"),
        action: "p".into(),
        method: "GET".into(),
        status: 200,
        user: if n.is_multiple_of(2) {
            "alice".into()
        } else {
            String::new()
        },
        visitor: "0123456789abcdef".into(),
        referrer: String::new(),
        country: "US".into(),
        user_agent: "Mozilla/5.0".into(),
        bot: false,
        origin_ms: 0,
        ..PageHit::default()
    }
    .to_json()
}

/// An event in the shape of AWS's sample (`sam local generate-event kinesis get-records`).
fn event(payloads: &[&str]) -> KinesisEvent {
    let records: Vec<serde_json::Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let seq = format!(
                "4959033827149025660855969253836157109592157598913658{:04}",
                8898 + i
            );
            serde_json::json!({
                "kinesis": {
                    "partitionKey": "partitionKey-03",
                    "kinesisSchemaVersion": "1.0",
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "sequenceNumber": seq,
                    "approximateArrivalTimestamp": 1795737601.123,
                    "encryptionType": "NONE"
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000006:{seq}"),
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
                "eventVersion": "1.0",
                "eventName": "aws:kinesis:record",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/page-hits",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn lands_a_batch_and_a_redelivery_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Location::Dir(dir.path().to_path_buf()))
        .await
        .unwrap();
    let (a, b, c) = (
        hit(1, "2026-11-26T23:59:59.900Z"),
        hit(2, "2026-11-27T00:00:00.100Z"),
        hit(3, "2026-11-27T00:00:01.000Z"),
    );
    let payloads = [a.as_str(), b.as_str(), "{\"broken\": ", c.as_str()];
    let resp = handle(
        &store,
        LambdaEvent::new(event(&payloads), Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        serde_json::json!({"batchItemFailures": []})
    );

    let first = "shardId-000000000006-49590338271490256608559692538361571095921575989136588898-49590338271490256608559692538361571095921575989136588901";
    // Each day with hits gets its shard's "last landed" marker (readers' coverage check).
    let expected = vec![
        "_landed/dt=2026-11-26/shardId-000000000006".to_string(),
        "_landed/dt=2026-11-27/shardId-000000000006".to_string(),
        format!("hits/dt=2026-11-26/{first}.csv"),
        format!("hits/dt=2026-11-27/{first}.csv"),
        format!("rejected/dt=2026-11-27/{first}.jsonl"),
    ];
    assert_eq!(files_under(dir.path()), expected);
    let day27 = std::fs::read_to_string(dir.path().join(&expected[3])).unwrap();
    let read = pagehit::csv::read_all(day27.as_bytes()).unwrap();
    assert_eq!(read.hits.len(), 2);
    assert_eq!(read.hits[0].path, "/p2");
    let marker = std::fs::read_to_string(dir.path().join(&expected[1])).unwrap();
    let rejected = std::fs::read_to_string(dir.path().join(&expected[4])).unwrap();
    let line: serde_json::Value = serde_json::from_str(rejected.trim()).unwrap();
    assert_eq!(line["data"], "{\"broken\": ");
    assert_eq!(line["arrival"], "2026-11-27T00:00:01.123Z");

    // Lambda delivers the same batch again (a retry): same keys, nothing duplicated.
    let resp = handle(
        &store,
        LambdaEvent::new(event(&payloads), Context::default()),
    )
    .await
    .unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(files_under(dir.path()), expected);
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&expected[3])).unwrap(),
        day27
    );
    assert_ne!(
        std::fs::read_to_string(dir.path().join(&expected[1])).unwrap(),
        marker,
        "a batch whose objects were already there still moves the marker (it may be the retry \
         of one that crashed before its marker)"
    );
}

#[tokio::test]
async fn a_day_that_cannot_be_written_is_reported_from_its_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Location::Dir(dir.path().to_path_buf()))
        .await
        .unwrap();
    // A file where the 27th's folder must go: every write for that day fails.
    std::fs::create_dir_all(dir.path().join("hits")).unwrap();
    std::fs::write(dir.path().join("hits/dt=2026-11-27"), "in the way").unwrap();
    let (a, b, c) = (
        hit(1, "2026-11-26T23:59:59.900Z"),
        hit(2, "2026-11-27T00:00:00.100Z"),
        hit(3, "2026-11-26T23:59:59.950Z"),
    );
    let resp = handle(
        &store,
        LambdaEvent::new(event(&[&a, &b, &c]), Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "49590338271490256608559692538361571095921575989136588899"}
        ]}),
        "the first record not landed is the 27th's first; Lambda retries from there"
    );
    let landed = files_under(dir.path());
    assert!(
        landed.iter().any(|f| f.starts_with("hits/dt=2026-11-26/")),
        "{landed:?}"
    );
    assert!(
        landed.contains(&"_landed/dt=2026-11-26/shardId-000000000006".to_string())
            && !landed
                .iter()
                .any(|f| f.starts_with("_landed/dt=2026-11-27/")),
        "the day that landed moves its marker (the retry may not hold its records again), the \
         day that did not does not: {landed:?}"
    );
}
