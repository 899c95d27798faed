//! The emulator the integration tests count records with must not lose any itself.
//!
//! Plain `moto_server` does: concurrent `PutRecords` calls can take the same sequence number on
//! a shard, one record replacing the other, both answered as success. `Moto::start` runs it with
//! one request at a time (`xtask/py/moto_server.py`); this test fails if that is undone.
//!
//! Run with `cargo xtask test`.

use std::collections::HashSet;
use xtask::kinesis;
use xtask::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto: run `cargo xtask test`"]
async fn concurrent_put_records_keep_every_record() {
    let moto = Moto::start().await.unwrap();
    let client = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&client, "concurrent", 1)
        .await
        .unwrap();
    let (writers, calls, per_call) = (16, 12, 50);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let client = client.clone();
            tokio::spawn(async move {
                for c in 0..calls {
                    let junk: Vec<Vec<u8>> = (0..per_call)
                        .map(|r| format!("w{w}-c{c}-r{r}").into_bytes())
                        .collect();
                    kinesis::put_hits(&client, "concurrent", &[], &junk)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stored: HashSet<Vec<u8>> = kinesis::read_all(&client, "concurrent")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.data)
        .collect();
    assert_eq!(stored.len(), writers * calls * per_call);
}
