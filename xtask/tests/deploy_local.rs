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

mod deploy_local_support;

use deploy_local_support::dashboard::*;
use deploy_local_support::lambda::*;
use deploy_local_support::nightly::*;
use deploy_local_support::*;
use std::time::{Duration, Instant};
use xtask::deploy_local;
use xtask::moto::Moto;
use xtask::setup::{self, Tool};
use xtask::traffic::{self, Visit};
use xtask::wrangler::{self, WranglerDev};

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
