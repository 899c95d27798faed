//! The AWS template deployed into moto's CloudFormation, and the pipeline run against the stack
//! with every name taken from the stack (its outputs, its resources, the Lambda's configuration,
//! the schedule and its task definition), never from constants:
//!
//! 1. `deploy_local::deploy`: the SAM template translated, the Lambda zip uploaded, the stack
//!    created (CREATE_COMPLETE), then read back through each service's API.
//! 2. Page views through the real worker under `wrangler dev`, configured with the stack's stream,
//!    region and an access key of the stack's edge user.
//! 3. The aggregator as the Lambda: the real binary run as `bootstrap` (no arguments) under
//!    cargo-lambda's Runtime API emulator, with exactly the environment moto's Lambda API holds
//!    for the function, invoked with Kinesis events built from the stream's records as the
//!    stack's event source mapping would (its starting position and batch size); it lands in the
//!    stack's bucket.
//! 4. The nightly task as the schedule states it: its task definition's containers in their
//!    `DependsOn` order, each container's `Command` and `Environment` run with the `analyzer`
//!    binary in place of the image's entrypoint, with the clock of the schedule's firing the
//!    night after the hits (libfaketime), so `--date yesterday` is the day the hits were sent.
//!    The report it writes to the stack's `ReportsLocation` holds exactly the page views sent.
//! 5. The live dashboard as its task definition states it (command, environment, the token from
//!    the stack's secret), reading the stack's stream: the page views of step 2, token required.
//! 6. An update (PROVISIONED stream with 2 shards, longer retention): UPDATE_COMPLETE, the stream
//!    resharded, the objects landed before still there, and steps 2-4 again, with the report
//!    holding both rounds.
//!
//! Why not `aggregator::cmd::lambda::handle` in-process: the test must catch a variable the
//! handler needs that the template does not set, and the bootstrap path (no arguments,
//! `AWS_LAMBDA_RUNTIME_API` set) that Lambda runs; only a separate process with a cleared
//! environment shows both. The zip itself is arm64 and cannot run here; the binary is the same
//! source built for this machine.
//!
//! Run with `cargo xtask test` (it builds the Lambda zip, the binaries and the worker first).

use base64::Engine;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::deploy_local;
use xtask::moto::Moto;
use xtask::paths;
use xtask::process::{free_port, Service};
use xtask::setup::{self, Tool};
use xtask::traffic::{self, Visit};
use xtask::wrangler::{self, WranglerDev};

/// Where the test deploys: not `kinesis::REGION`, the harness's default, so that a region taken
/// from a constant instead of from the stack shows up as a stream or bucket not found.
const DEPLOY_REGION: &str = "eu-west-3";
/// The stack's name (the template's names derive from it).
const STACK: &str = "pagehit-it";

// ------------------------------------------------------------------ the stack as moto has it

/// `deploy_local::describe`'s answer, with accessors that fail naming what is missing.
struct Stack {
    d: Value,
}

impl Stack {
    fn read(endpoint: &str) -> Stack {
        Stack {
            d: deploy_local::describe(endpoint, DEPLOY_REGION, STACK).expect("describe the stack"),
        }
    }

    fn output(&self, name: &str) -> String {
        self.d["outputs"][name]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "the stack has no output {name}; it has {}",
                    self.d["outputs"]
                )
            })
            .to_string()
    }

    fn parameter(&self, name: &str) -> String {
        self.d["parameters"][name]
            .as_str()
            .unwrap_or_else(|| panic!("the stack has no parameter {name}"))
            .to_string()
    }

    /// The one resource of `kind` (e.g. "functions") as its service describes it.
    fn only(&self, kind: &str) -> &Value {
        let all = self.d[kind]
            .as_object()
            .unwrap_or_else(|| panic!("no {kind}"));
        assert_eq!(
            all.len(),
            1,
            "expected one of {kind}, found {:?}",
            all.keys()
        );
        all.values().next().unwrap()
    }

    /// Physical ids of the stack's resources of CloudFormation `type`.
    fn physical_ids(&self, rtype: &str) -> Vec<String> {
        self.d["resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["type"] == rtype)
            .map(|r| r["physical_id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn function(&self) -> &Value {
        self.only("functions")
    }

    fn mapping(&self) -> &Value {
        self.only("event_source_mappings")
    }

    fn stream(&self) -> &Value {
        self.only("streams")
    }

    fn schedule(&self) -> &Value {
        self.only("schedules")
    }

    /// The task definition the schedule runs, looked up by the ARN in the schedule's target.
    fn scheduled_task(&self) -> &Value {
        let arn = &self.schedule()["Target"]["EcsParameters"]["TaskDefinitionArn"];
        self.d["task_definitions"]
            .as_object()
            .unwrap()
            .values()
            .find(|td| &td["taskDefinitionArn"] == arn)
            .unwrap_or_else(|| {
                panic!("the schedule runs {arn}, not a task definition of the stack")
            })
    }

    /// The live dashboard's task definition, by the stack's output.
    fn dashboard_task(&self) -> &Value {
        let arn = self.output("DashboardTaskDefinitionArn");
        self.d["task_definitions"]
            .as_object()
            .unwrap()
            .values()
            .find(|td| td["taskDefinitionArn"] == arn.as_str())
            .unwrap_or_else(|| panic!("{arn} is not a task definition of the stack"))
    }

    /// The Lambda function's environment variables as the template set them.
    fn function_env(&self) -> BTreeMap<String, String> {
        self.function()["Environment"]["Variables"]
            .as_object()
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The region part of an ARN.
fn arn_region(arn: &str) -> String {
    arn.split(':')
        .nth(3)
        .unwrap_or_else(|| panic!("{arn} is not an ARN"))
        .to_string()
}

/// Checks that the stack's parts point at each other: what a broken `!Ref`/`!GetAtt`/`!Sub`
/// or a renamed output would break. (The runs below check the same again by using them.)
fn check_wiring(stack: &Stack) {
    let stream_arn = stack.output("StreamArn");
    assert_eq!(stack.stream()["StreamARN"], stream_arn.as_str());
    assert_eq!(
        stack.stream()["StreamName"],
        stack.output("StreamName").as_str()
    );
    assert_eq!(arn_region(&stream_arn), DEPLOY_REGION);
    let bucket = stack.output("BucketName");
    assert_eq!(stack.physical_ids("AWS::S3::Bucket"), vec![bucket.clone()]);
    let data = stack.output("DataLocation");
    assert!(
        data.starts_with(&format!("s3://{bucket}/")),
        "DataLocation {data} is not in the bucket {bucket}"
    );
    assert_eq!(stack.output("ReportsLocation"), format!("{data}/reports"));

    let f = stack.function();
    assert_eq!(
        f["FunctionName"],
        stack.output("AggregatorFunctionName").as_str()
    );
    assert_eq!(
        stack.function_env().get("AGGREGATOR_SINK"),
        Some(&data),
        "the Lambda lands where DataLocation says"
    );
    let m = stack.mapping();
    assert_eq!(m["EventSourceArn"], stream_arn.as_str());
    assert_eq!(m["FunctionArn"], f["FunctionArn"]);
    let queue = stack.only("queues");
    assert_eq!(
        queue["QueueUrl"],
        stack.output("FailedBatchQueueUrl").as_str()
    );
    assert_eq!(
        m["DestinationConfig"]["OnFailure"]["Destination"],
        queue["Attributes"]["QueueArn"]
    );

    // The alarm watches the failed-batch queue and tells the stack's topic.
    let alarms = stack.d["alarms"].as_object().expect("alarms");
    assert_eq!(alarms.len(), 2, "{:?}", alarms.keys());
    let alarm = &alarms["FailedBatchAlarm"];
    assert_eq!(
        alarm["AlarmName"],
        stack.output("FailedBatchAlarmName").as_str()
    );
    // The iterator-age alarm watches the function, an hour (the default) behind the stream.
    let age = &alarms["IteratorAgeAlarm"];
    assert_eq!(
        age["AlarmName"],
        stack.output("IteratorAgeAlarmName").as_str()
    );
    assert_eq!(age["Namespace"], "AWS/Lambda");
    assert_eq!(age["MetricName"], "IteratorAge");
    assert_eq!(
        age["Dimensions"],
        json!([{"Name": "FunctionName", "Value": f["FunctionName"]}])
    );
    assert_eq!(age["Threshold"].as_f64(), Some(3_600_000.0));
    assert_eq!(age["AlarmActions"], json!([stack.output("AlarmTopicArn")]));
    let queue_name = queue["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": queue_name}])
    );
    assert_eq!(
        alarm["AlarmActions"],
        json!([stack.output("AlarmTopicArn")])
    );

    // The schedule runs the stack's report task on the stack's cluster.
    let target = &stack.schedule()["Target"];
    let cluster = stack.output("ClusterName");
    assert!(
        target["Arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{cluster}")),
        "the schedule targets {}, not the cluster {cluster}",
        target["Arn"]
    );
    assert_eq!(
        target["EcsParameters"]["TaskDefinitionArn"],
        stack.output("ReportTaskDefinitionArn").as_str()
    );
    assert_eq!(
        target["EcsParameters"]["NetworkConfiguration"]["awsvpcConfiguration"]["SecurityGroups"],
        json!([stack.output("TaskSecurityGroupId")])
    );

    // The live dashboard reads the stack's stream; its service runs its task definition.
    let dashboard = &stack.dashboard_task()["containerDefinitions"][0];
    let command = dashboard["command"].as_array().unwrap();
    let stream = command.iter().position(|a| a == "--stream").unwrap() + 1;
    assert_eq!(command[stream], stack.output("StreamName").as_str());
    assert!(!stack.output("DashboardServiceName").is_empty());
    assert!(!stack.output("DashboardSecurityGroupId").is_empty());
}

// ------------------------------------------------------------------ the worker

/// Sends a burst through the worker configured from the stack; returns the visits.
async fn send_page_views(stack: &Stack, moto: &Moto, round: u64) -> Vec<Visit> {
    let stream_arn = stack.output("StreamArn");
    let (key_id, secret) = deploy_local::create_access_key(
        &moto.endpoint,
        DEPLOY_REGION,
        &stack.output("EdgeUserName"),
    )
    .expect("an access key for the edge user");
    let mut vars = wrangler::collector_vars(&stack.output("StreamName"), &moto.endpoint, "deploy");
    for (name, value) in vars.iter_mut() {
        match *name {
            "AWS_REGION" => *value = arn_region(&stream_arn),
            "AWS_ACCESS_KEY_ID" => *value = key_id.clone(),
            "AWS_SECRET_ACCESS_KEY" => *value = secret.clone(),
            _ => {}
        }
    }
    let dev = WranglerDev::start(&format!("deploy-{round}"), &vars)
        .await
        .expect("wrangler dev");
    let visits = traffic::burst(120, 1400 + round);
    let answers = traffic::send(&dev.url, &visits, 8).await.unwrap();
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "the worker answered every request"
    );
    // The worker sends after answering: wait until it logged nothing more for a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !dev.service.log().contains("hit_not_delivered"),
        "hits were lost: {}",
        dev.service.log_path().display()
    );
    visits
}

// ------------------------------------------------------------------ the live dashboard

/// Runs the dashboard's container as ECS would: the `dashboard` binary as the image's
/// entrypoint, the container's `Command` (its `--listen` moved to a free 127.0.0.1 port: tests
/// listen on loopback only), its `Environment`, its secret from the emulator's Secrets Manager
/// by the ARN the task definition names, and the emulator's credentials for the task role's.
/// Checks that it serves the page views just sent, live and in the history of the landed
/// `days`, with the token and only with it.
async fn check_dashboard(stack: &Stack, moto: &Moto, visits: &[Visit], days: &BTreeSet<String>) {
    let task = stack.dashboard_task();
    let c = &task["containerDefinitions"][0];
    assert_eq!(c["image"], stack.parameter("DashboardImageUri").as_str());
    let (arn, token) = deploy_local::dashboard_token(&moto.endpoint, DEPLOY_REGION).unwrap();
    assert_eq!(
        c["secrets"],
        json!([{"name": "DASHBOARD_TOKEN", "valueFrom": arn}]),
        "the token comes from the stack's secret"
    );
    assert_eq!(stack.parameter("DashboardTokenSecretArn"), arn);
    let port = free_port();
    let mut command: Vec<String> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let listen = command.iter().position(|a| a == "--listen").unwrap() + 1;
    assert_eq!(
        command[listen], "0.0.0.0:8080",
        "the task listens on its port mapping"
    );
    assert_eq!(c["portMappings"][0]["containerPort"], 8080);
    command[listen] = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(paths::workspace_bin("dashboard"));
    cmd.env_clear()
        .args(&command)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("DASHBOARD_TOKEN", &token)
        .env("AWS_ACCESS_KEY_ID", xtask::kinesis::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", xtask::kinesis::SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", "emulated-task-role-session")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let scratch = paths::scratch("deploy-dashboard").join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    for e in c["environment"].as_array().into_iter().flatten() {
        let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
        // The task's /scratch volume is a local folder here.
        if value == "/scratch" {
            cmd.env(name, &scratch);
        } else {
            cmd.env(name, value);
        }
    }
    assert_eq!(
        c["mountPoints"][0]["containerPath"], "/scratch",
        "the spill folder is a volume: the root filesystem is read-only"
    );
    let source = command.iter().position(|a| a == "--source").unwrap() + 1;
    assert_eq!(command[source], stack.output("DataLocation").as_str());
    let mut service = Service::spawn(
        "dashboard (task definition)",
        &mut cmd,
        &paths::scratch("deploy-dashboard").join("dashboard.log"),
    )
    .unwrap();
    wait_listening(&mut service, port);
    let url = format!("http://127.0.0.1:{port}/api/live");
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        401,
        "no token, no data"
    );
    let want: u64 = human_page_views(visits).values().sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let s: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        if s["caught_up"] == true && s["hits"] == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard shows {s}, not the {want} page views sent: {}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The history reads the landed days with the task role's grants.
    let mut history = 0;
    for day in days {
        let url = format!("http://127.0.0.1:{port}/api/report?date={day}");
        assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
        let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", service.log());
        let r: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        history += r["summary"]["hits"].as_u64().unwrap();
    }
    assert_eq!(history, want, "the history's page views are the ones sent");
    eprintln!("deploy test: the dashboard as its task definition states it shows the {want} page views sent, live and in its history");
}

// ------------------------------------------------------------------ the Lambda

/// Where the emulated event source mapping is in each shard: the last sequence number
/// delivered, as Lambda keeps it between invocations.
type Positions = HashMap<String, String>;

/// Waits until something listens on 127.0.0.1:`port`.
fn wait_listening(service: &mut Service, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        service.check_alive().unwrap();
        assert!(
            Instant::now() < deadline,
            "nothing on port {port}: {}",
            service.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The Lambda's process environment: the function's variables from moto's Lambda API, the
/// variables Lambda itself sets for a custom runtime, and credentials and the endpoint of the
/// emulator in place of the execution role's. Nothing else from this process.
fn lambda_env(stack: &Stack, endpoint: &str, runtime_api: &str) -> BTreeMap<String, String> {
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
fn event_record(stack: &Stack, shard: &str, r: &aws_sdk_kinesis::types::Record) -> Value {
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
async fn run_lambda(stack: &Stack, moto: &Moto, positions: &mut Positions) -> BTreeSet<String> {
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

// ------------------------------------------------------------------ S3, read directly

/// (bucket, key prefix) of `s3://bucket/prefix`.
fn split_s3(location: &str) -> (String, String) {
    let rest = location.strip_prefix("s3://").expect("an s3:// location");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_string(), prefix.to_string())
}

/// Keys under `location` (signed requests: moto refuses anonymous ones to this bucket).
async fn list(moto: &Moto, location: &str) -> Vec<String> {
    let (bucket, prefix) = split_s3(location);
    let store = moto.store(&format!("s3://{bucket}")).await.unwrap();
    let objects = store.list(&prefix).await.unwrap();
    objects.into_iter().map(|o| o.key).collect()
}

async fn get(moto: &Moto, location: &str) -> String {
    let (bucket, key) = split_s3(location);
    let store = moto.store(&format!("s3://{bucket}")).await.unwrap();
    let body = store.get(&key).await.unwrap();
    String::from_utf8(
        body.unwrap_or_else(|| panic!("{location} does not exist"))
            .to_vec(),
    )
    .unwrap()
}

// ------------------------------------------------------------------ the nightly task

/// When the schedule fires the night after `day` (YYYY-MM-DD): "YYYY-MM-DD HH:MM:SS" in UTC.
/// Handles the daily `cron(M H * * ? *)` in UTC that the template's defaults give.
fn firing_after(schedule: &Value, day: &str) -> String {
    let expr = schedule["ScheduleExpression"].as_str().unwrap();
    let zone = schedule["ScheduleExpressionTimezone"]
        .as_str()
        .unwrap_or("UTC");
    assert_eq!(
        zone, "UTC",
        "the test computes firing times of UTC schedules only"
    );
    let fields: Vec<&str> = expr
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{expr}: not a cron() expression"))
        .split_whitespace()
        .collect();
    let [minute, hour, "*", "*", "?", "*"] = fields.as_slice() else {
        panic!("{expr}: not a daily schedule");
    };
    let (minute, hour): (u32, u32) = (minute.parse().unwrap(), hour.parse().unwrap());
    let next_day = pagehit::time::format_date(pagehit::time::parse_date(day).expect("a date") + 1);
    format!("{next_day} {hour:02}:{minute:02}:00")
}

/// The image's entrypoint, from Dockerfile.analyzer: the test runs the `analyzer` binary in its
/// place, so it must be the analyzer and nothing else (no shell wrapper, no extra arguments).
fn check_entrypoint() {
    let dockerfile = std::fs::read_to_string(paths::root().join("Dockerfile.analyzer")).unwrap();
    let line = dockerfile
        .lines()
        .rfind(|l| l.starts_with("ENTRYPOINT"))
        .expect("Dockerfile.analyzer has an ENTRYPOINT");
    let entry: Vec<String> =
        serde_json::from_str(line.trim_start_matches("ENTRYPOINT").trim()).unwrap();
    assert!(
        entry.len() == 1 && entry[0].ends_with("/analyzer"),
        "the analyzer image's entrypoint changed to {entry:?}: the test runs the analyzer binary \
         in its place"
    );
}

/// libfaketime's library in the project venv ([`Tool::Libfaketime`]).
fn libfaketime() -> PathBuf {
    let lib = paths::venv().join("lib");
    std::fs::read_dir(&lib)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            e.path()
                .join("site-packages/libfaketime/vendor/libfaketime/src/libfaketime.so.1")
        })
        .find(|p| p.exists())
        .expect("libfaketime in .venv: run `cargo xtask setup`")
}

/// Runs the scheduled task's containers as ECS would (in `DependsOn` order, a container started
/// only when its conditions hold), each with the `analyzer` binary as the image's entrypoint,
/// the container's `Command` and `Environment`, the task's volumes as folders, the emulator's
/// credentials in place of the task role's, and the clock at `now` (UTC).
fn run_nightly(stack: &Stack, moto: &Moto, now: &str) {
    let task = stack.scheduled_task();
    let containers = task["containerDefinitions"].as_array().unwrap();
    let analyzer = paths::workspace_bin("analyzer");
    assert!(
        analyzer.exists(),
        "{} is missing: cargo build -p analyzer",
        analyzer.display()
    );
    let image = stack.parameter("AnalyzerImageUri");
    let scratch = paths::scratch("deploy-task");
    let volumes: BTreeMap<String, PathBuf> = task["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let name = v["name"].as_str().unwrap().to_string();
            let dir = scratch.join(&name);
            std::fs::create_dir_all(&dir).unwrap();
            (name, dir)
        })
        .collect();

    let mut exits: BTreeMap<String, Option<i32>> = BTreeMap::new();
    let mut pending: Vec<&Value> = containers.iter().collect();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|c| {
                c["dependsOn"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|d| exits.contains_key(d["containerName"].as_str().unwrap()))
            })
            .expect("the containers' DependsOn has no cycle and names only containers of the task");
        let c = pending.remove(ready);
        let name = c["name"].as_str().unwrap().to_string();
        assert_eq!(c["image"], image.as_str(), "{name} runs another image");
        for d in c["dependsOn"].as_array().into_iter().flatten() {
            let dep = &exits[d["containerName"].as_str().unwrap()];
            let holds = match d["condition"].as_str().unwrap() {
                "SUCCESS" => *dep == Some(0),
                "COMPLETE" | "START" => true,
                other => panic!("{name}: DependsOn condition {other} is not emulated"),
            };
            assert!(
                holds,
                "{name} would not start: {d} (exits so far {exits:?})"
            );
        }
        let command: Vec<String> = c["command"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Command"))
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();

        let mounts: Vec<(String, PathBuf)> = c["mountPoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["containerPath"].as_str().unwrap().to_string(),
                    volumes[m["sourceVolume"].as_str().unwrap()].clone(),
                )
            })
            .collect();
        // Paths inside a mounted volume, as the container sees them, point into its folder here.
        let local_path = |value: &str| {
            for (inside, dir) in &mounts {
                if value == inside || value.starts_with(&format!("{inside}/")) {
                    return format!("{}{}", dir.display(), &value[inside.len()..]);
                }
            }
            value.to_string()
        };
        let mut cmd = Command::new(&analyzer);
        cmd.env_clear()
            .args(&command)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", scratch.join("home"))
            .env("TZ", "UTC")
            .env("LD_PRELOAD", libfaketime())
            .env("FAKETIME", format!("@{now}"))
            .env("DONT_FAKE_MONOTONIC", "1")
            .env("AWS_ACCESS_KEY_ID", xtask::kinesis::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", xtask::kinesis::SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", "emulated-task-role-session")
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for e in c["environment"].as_array().into_iter().flatten() {
            cmd.env(
                e["name"].as_str().unwrap(),
                local_path(e["value"].as_str().unwrap()),
            );
        }
        let out = cmd.output().unwrap();
        let code = out.status.code();
        eprintln!(
            "deploy test: container {name} at {now}: analyzer {} -> {code:?}",
            command.join(" ")
        );
        assert_eq!(
            code,
            Some(0),
            "container {name}: `analyzer {}` ended with {} (exit 2: the template's command does \
             not match the analyzer's CLI):\n{}",
            command.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        exits.insert(name, code);
    }
}

/// Page views per path in the report of `day` under the stack's ReportsLocation.
async fn report_pages(stack: &Stack, moto: &Moto, day: &str) -> BTreeMap<String, u64> {
    let base = format!("{}/dt={day}", stack.output("ReportsLocation"));
    let summary: Value =
        serde_json::from_str(&get(moto, &format!("{base}/summary.json")).await).unwrap();
    let csv = get(moto, &format!("{base}/pages.csv")).await;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (path, hits) = (col("path"), col("hits"));
    let pages: BTreeMap<String, u64> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[path].to_string(), cells[hits].parse().unwrap())
        })
        .collect();
    assert_eq!(
        summary["date"], day,
        "the report is of the day the hits were sent"
    );
    assert_eq!(
        summary["summary"]["hits"].as_u64(),
        Some(pages.values().sum::<u64>()),
        "summary.json and pages.csv agree: {summary}"
    );
    pages
}

/// Runs the nightly task for each day in `days` and returns the reports' page views per path.
async fn nightly_reports(
    stack: &Stack,
    moto: &Moto,
    days: &BTreeSet<String>,
) -> BTreeMap<String, u64> {
    let mut pages = BTreeMap::new();
    for day in days {
        run_nightly(stack, moto, &firing_after(stack.schedule(), day));
        // The compact container published the day where the report looks for it.
        let compacted = format!("{}/compacted/dt={day}/", stack.output("DataLocation"));
        assert!(
            list(moto, &compacted)
                .await
                .iter()
                .any(|k| k.ends_with("/_current.json")),
            "no compaction run published under {compacted}"
        );
        for (p, n) in report_pages(stack, moto, day).await {
            *pages.entry(p).or_default() += n;
        }
    }
    pages
}

fn human_page_views(visits: &[Visit]) -> BTreeMap<String, u64> {
    let mut pages = BTreeMap::new();
    for v in visits.iter().filter(|v| v.page_view && !v.bot) {
        *pages.entry(v.path.clone()).or_default() += 1;
    }
    pages
}

// ------------------------------------------------------------------ the test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto, aws-sam-translator, cargo-lambda, libfaketime and wrangler dev: run `cargo xtask test`"]
async fn the_template_deploys_into_moto_and_the_pipeline_runs_against_its_stack() {
    let test_started = Instant::now();
    // What this test alone uses (a no-op under `cargo xtask test`, which installed them).
    setup::ensure(&[Tool::Moto, Tool::SamTranslator, Tool::Libfaketime]).unwrap();
    check_entrypoint();
    let moto = Moto::start().await.unwrap();

    // Deploy with the defaults, plus what a local stack needs to have every part (the report's
    // image and network) and the alarm's e-mail topic.
    let mut params = deploy_local::local_parameters(&moto.endpoint, DEPLOY_REGION).unwrap();
    params.push(("AlarmEmail".into(), "ops@example.com".into()));
    let created = deploy_local::deploy(&moto.endpoint, DEPLOY_REGION, STACK, &params).unwrap();
    assert_eq!(created["status"], "CREATE_COMPLETE");
    eprintln!("deploy test: stack created in {} s", created["seconds"]);
    let mut emulated: Vec<String> = created["emulated"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["type"].as_str().unwrap().to_string())
        .collect();
    emulated.sort();
    assert_eq!(
        emulated,
        [
            "AWS::CloudWatch::Alarm",
            "AWS::CloudWatch::Alarm",
            "AWS::IAM::Group",
            "AWS::S3::BucketPolicy",
            "AWS::SNS::Subscription",
            "AWS::SQS::QueuePolicy",
            "AWS::Scheduler::Schedule",
        ],
        "the resource types moto's CloudFormation lacks changed: update docs/deploy.md"
    );
    let stack = Stack::read(&moto.endpoint);
    check_wiring(&stack);

    // Round 1: page views -> stream -> Lambda -> bucket -> nightly report.
    let mut positions = Positions::new();
    let round1 = send_page_views(&stack, &moto, 1).await;
    let mut days = run_lambda(&stack, &moto, &mut positions).await;
    check_dashboard(&stack, &moto, &round1, &days).await;
    let hits_location = format!("{}/hits/", stack.output("DataLocation"));
    let landed = list(&moto, &hits_location).await;
    assert!(!landed.is_empty(), "nothing landed under {hits_location}");
    let mut want = human_page_views(&round1);
    assert_eq!(nightly_reports(&stack, &moto, &days).await, want);

    // The update: a provisioned stream of 2 shards, kept 96 hours.
    let mut changed = params.clone();
    changed.extend([
        ("StreamMode".into(), "PROVISIONED".into()),
        ("ShardCount".into(), "2".into()),
        ("StreamRetentionHours".into(), "96".into()),
    ]);
    let updated = deploy_local::deploy(&moto.endpoint, DEPLOY_REGION, STACK, &changed).unwrap();
    assert_eq!(updated["status"], "UPDATE_COMPLETE");
    eprintln!("deploy test: stack updated in {} s", updated["seconds"]);
    let stack = Stack::read(&moto.endpoint);
    check_wiring(&stack);
    assert_eq!(stack.stream()["RetentionPeriodHours"], 96);
    assert_eq!(stack.stream()["OpenShardCount"], 2);
    let after = list(&moto, &hits_location).await;
    for key in &landed {
        assert!(after.contains(key), "{key} is gone after the update");
    }

    // Round 2 on the updated stack; the report holds both rounds.
    let round2 = send_page_views(&stack, &moto, 2).await;
    days.extend(run_lambda(&stack, &moto, &mut positions).await);
    for (p, n) in human_page_views(&round2) {
        *want.entry(p).or_default() += n;
    }
    assert_eq!(nightly_reports(&stack, &moto, &days).await, want);
    eprintln!(
        "deploy test: done in {:.0} s",
        test_started.elapsed().as_secs_f64()
    );
}
