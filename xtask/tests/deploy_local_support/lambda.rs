//! The aggregator run as the stack's Lambda, fed the stream's records as its event source
//! mapping would.

use super::*;

/// Where the emulated event source mapping is in each shard: the last sequence number
/// delivered, as Lambda keeps it between invocations.
pub type Positions = HashMap<String, String>;

/// The Lambda's process environment: the function's variables from moto's Lambda API, the
/// variables Lambda itself sets for a custom runtime, and credentials and the endpoint of the
/// emulator in place of the execution role's. Nothing else from this process.
pub fn lambda_env(stack: &Stack, endpoint: &str, runtime_api: &str) -> BTreeMap<String, String> {
    let f = stack.function();
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    let region = arn_region(f["FunctionArn"].as_str().unwrap());
    set("AWS_REGION", region.clone());
    set("AWS_DEFAULT_REGION", region);
    set(
        "AWS_LAMBDA_FUNCTION_NAME",
        f["FunctionName"].as_str().unwrap().into(),
    );
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        f["MemorySize"].to_string(),
    );
    set(
        "AWS_LAMBDA_FUNCTION_VERSION",
        f["Version"].as_str().unwrap().into(),
    );
    set("AWS_LAMBDA_RUNTIME_API", runtime_api.into());
    set("_HANDLER", f["Handler"].as_str().unwrap().into());
    set("TZ", ":UTC".into());
    set("LANG", "en_US.UTF-8".into());
    set("PATH", "/usr/local/bin:/usr/bin/:/bin".into());
    set("AWS_ACCESS_KEY_ID", xtask::kinesis::ACCESS_KEY_ID.into());
    set(
        "AWS_SECRET_ACCESS_KEY",
        xtask::kinesis::SECRET_ACCESS_KEY.into(),
    );
    set("AWS_SESSION_TOKEN", "emulated-role-session".into());
    set("AWS_ENDPOINT_URL", endpoint.into());
    set("AWS_EC2_METADATA_DISABLED", "true".into());
    for (k, v) in stack.function_env() {
        assert!(
            !env.contains_key(&k),
            "{k} is reserved by Lambda and cannot be set by the template"
        );
        env.insert(k, v);
    }
    env
}

/// One Kinesis record as the event source mapping hands it to the function.
pub fn event_record(stack: &Stack, shard: &str, r: &aws_sdk_kinesis::types::Record) -> Value {
    let arrival = r.approximate_arrival_timestamp().expect("arrival time");
    let seq = r.sequence_number();
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r.partition_key(),
            "sequenceNumber": seq,
            "data": base64::engine::general_purpose::STANDARD.encode(r.data().as_ref()),
            "approximateArrivalTimestamp":
                arrival.secs() as f64 + f64::from(arrival.subsec_nanos()) / 1e9,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("{shard}:{seq}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": stack.function()["Role"],
        "awsRegion": arn_region(stack.mapping()["EventSourceArn"].as_str().unwrap()),
        "eventSourceARN": stack.mapping()["EventSourceArn"],
    })
}

/// Delivers every record not yet delivered to the aggregator running as the stack's Lambda;
/// returns the UTC days of the hits delivered.
pub async fn run_lambda(stack: &Stack, moto: &Moto, positions: &mut Positions) -> BTreeSet<String> {
    use aws_sdk_kinesis::types::ShardIteratorType;
    let mapping = stack.mapping();
    let batch_size = mapping["BatchSize"].as_u64().unwrap() as usize;
    let start = match mapping["StartingPosition"].as_str().unwrap() {
        "TRIM_HORIZON" => ShardIteratorType::TrimHorizon,
        "LATEST" => ShardIteratorType::Latest,
        other => panic!("starting position {other} is not emulated"),
    };
    let stream_arn = mapping["EventSourceArn"].as_str().unwrap();
    // moto's ListShards takes no StreamARN: the name, from the ARN.
    let stream = stream_arn.rsplit_once(":stream/").unwrap().1;
    let kinesis = xtask::kinesis::client_in(&moto.endpoint, &arn_region(stream_arn));

    // cargo-lambda's Runtime API emulator (it reads the workspace's Cargo.toml), serving the
    // function started by hand under its default name `_`.
    let logs = paths::scratch("deploy-lambda");
    let port = free_port();
    let venv_bin = paths::root().join(".venv-lambda/bin");
    let path = std::env::join_paths(std::iter::once(venv_bin.clone()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut emulator = Service::spawn(
        "cargo lambda watch",
        Command::new(venv_bin.join("cargo-lambda"))
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .env("PATH", path)
            .current_dir(paths::root()),
        &logs.join("watch.log"),
    )
    .expect("cargo lambda watch (run `cargo xtask package-lambda` once)");
    wait_listening(&mut emulator, port);

    let binary = paths::workspace_bin("aggregator");
    assert!(
        binary.exists(),
        "{} is missing: cargo build -p aggregator",
        binary.display()
    );
    let mut cmd = Command::new(&binary);
    cmd.env_clear()
        .envs(lambda_env(
            stack,
            &moto.endpoint,
            // Lambda gives HOST:PORT; cargo-lambda's emulator serves the API under /.rt, which
            // the runtime client takes only as a URL.
            &format!("http://127.0.0.1:{port}/.rt"),
        ))
        .current_dir(binary.parent().unwrap());
    let mut function = Service::spawn("aggregator (Lambda)", &mut cmd, &logs.join("function.log"))
        .expect("start the aggregator as bootstrap");

    let client = reqwest::Client::new();
    let invoke = format!("http://127.0.0.1:{port}/2015-03-31/functions/_/invocations");
    let mut days = BTreeSet::new();
    let shards = kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    // Shard ids grow with resharding: parents come before their children, as Lambda reads them.
    for shard in shards.shards() {
        let id = shard.shard_id().to_string();
        let mut req = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(&id);
        req = match positions.get(&id) {
            Some(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            None => req.shard_iterator_type(start.clone()),
        };
        let mut iterator = req.send().await.unwrap().shard_iterator().map(String::from);
        let mut records = Vec::new();
        while let Some(it) = iterator.take() {
            let page = kinesis
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .unwrap();
            if !page.records().is_empty() {
                records.extend(page.records().iter().cloned());
                iterator = page.next_shard_iterator().map(String::from);
            }
        }
        for batch in records.chunks(batch_size) {
            let event = json!({
                "Records": batch.iter().map(|r| event_record(stack, &id, r)).collect::<Vec<_>>()
            });
            let request = client
                .post(&invoke)
                .header("content-type", "application/json")
                .body(event.to_string())
                .timeout(Duration::from_secs(120))
                .send();
            tokio::pin!(request);
            // Fail at once, with its log, if the function dies instead of answering.
            let response = loop {
                tokio::select! {
                    r = &mut request => break r.unwrap(),
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {
                        function.check_alive().unwrap();
                    }
                }
            };
            let answer = response.text().await.unwrap();
            let answer: Value = serde_json::from_str(&answer).unwrap_or_else(|e| {
                panic!(
                    "invoke answered {answer:?} ({e}); function log:\n{}",
                    function.log()
                )
            });
            function.check_alive().unwrap();
            assert_eq!(
                answer,
                json!({"batchItemFailures": []}),
                "the function did not land its batch; log:\n{}",
                function.log()
            );
            positions.insert(
                id.clone(),
                batch.last().unwrap().sequence_number().to_string(),
            );
            for r in batch {
                let hit = pagehit::PageHit::from_json(r.data().as_ref()).expect("a page hit");
                days.insert(hit.ts[..10].to_string());
            }
        }
    }
    function.stop();
    emulator.stop();
    days
}
