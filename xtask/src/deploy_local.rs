//! `cargo xtask deploy-local`: the AWS template (`infra/template.yaml`) deployed into moto's
//! CloudFormation as `sam deploy` deploys it to AWS, for the command and for
//! `xtask/tests/deploy_local.rs`, which runs the pipeline against the stack.
//!
//! The work with AWS's Python tools is in `xtask/py/deploy_local.py` (aws-sam-translator for the
//! SAM transform, boto3 for CloudFormation and for reading the stack's resources back); this
//! module runs it in the project venv and hands its JSON on.

use crate::moto::{self, Moto};
use crate::{lambda_package, paths, setup};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::process::Command;

/// Stack name `cargo xtask deploy-local` uses unless told otherwise.
pub const DEFAULT_STACK: &str = "pagehit";

/// The image the nightly report's task definition names: never pulled here (no Docker); the
/// test runs the task's commands with the `analyzer` binary in the image's place.
pub const LOCAL_ANALYZER_IMAGE: &str = "pagehit-analyzer:local";

/// The SAM template.
pub fn template() -> std::path::PathBuf {
    paths::root().join("infra/template.yaml")
}

/// Runs `deploy_local.py SUBCOMMAND --endpoint E --region R ARGS...` and parses its JSON.
fn helper(endpoint: &str, region: &str, subcommand: &str, args: &[String]) -> Result<Value> {
    let python = paths::venv().join("bin/python");
    let script = paths::root().join("xtask/py/deploy_local.py");
    let mut cmd = Command::new(&python);
    moto::client_env(&mut cmd, endpoint)
        .env("AWS_REGION", region)
        .arg(&script)
        .args([subcommand, "--endpoint", endpoint, "--region", region])
        .args(args);
    let out = cmd
        .output()
        .with_context(|| format!("starting {} (run `cargo xtask setup`)", python.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "deploy_local.py {subcommand} failed ({}):\n{stderr}",
            out.status
        );
    }
    // Progress lines ("deploy-local: ...") go on to our stderr.
    eprint!("{stderr}");
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("deploy_local.py {subcommand} printed no JSON"))
}

/// The image the live dashboard's task definition names (never pulled, as the analyzer's).
pub const LOCAL_DASHBOARD_IMAGE: &str = "pagehit-dashboard:local";

/// The name of the dashboard's token secret in the emulator.
pub const DASHBOARD_TOKEN_SECRET: &str = "pagehit-dashboard-token";

/// The dashboard's token secret in the emulator, made on first use: (ARN, token).
pub fn dashboard_token(endpoint: &str, region: &str) -> Result<(String, String)> {
    let secret = helper(
        endpoint,
        region,
        "dashboard-token",
        &["--name".to_string(), DASHBOARD_TOKEN_SECRET.to_string()],
    )?;
    let field = |name: &str| {
        secret[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("{name} in {secret}"))
    };
    Ok((field("ARN")?, field("SecretString")?))
}

/// Values for the parameters a local deploy must set because their defaults leave a part out:
/// the analyzer image (without it the stack has no nightly report), the dashboard's image and
/// token secret (without them no live dashboard; its port open to the default VPC's CIDR) and
/// the network of the Fargate tasks (moto's default VPC and its subnets in `region`).
pub fn local_parameters(endpoint: &str, region: &str) -> Result<Vec<(String, String)>> {
    let net = helper(endpoint, region, "network", &[])?;
    let subnets: Vec<&str> = net["SubnetIds"]
        .as_array()
        .context("SubnetIds")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let (token_arn, _) = dashboard_token(endpoint, region)?;
    Ok(vec![
        ("AnalyzerImageUri".into(), LOCAL_ANALYZER_IMAGE.into()),
        ("DashboardImageUri".into(), LOCAL_DASHBOARD_IMAGE.into()),
        ("DashboardTokenSecretArn".into(), token_arn),
        (
            "DashboardIngressCidr".into(),
            net["CidrBlock"].as_str().context("CidrBlock")?.to_string(),
        ),
        (
            "VpcId".into(),
            net["VpcId"].as_str().context("VpcId")?.to_string(),
        ),
        ("SubnetIds".into(), subnets.join(",")),
    ])
}

/// Creates `stack` from the template in the emulator at `endpoint` (or updates it when it
/// exists) with `params` (the rest keep their defaults), and waits for *_COMPLETE. The Lambda
/// zip must have been built (`lambda_package::build`). Returns the helper's summary: `status`,
/// `seconds`, `outputs`, `parameters`, `uploaded`, `emulated`.
pub fn deploy(
    endpoint: &str,
    region: &str,
    stack: &str,
    params: &[(String, String)],
) -> Result<Value> {
    let mut args = vec![
        "--stack".to_string(),
        stack.to_string(),
        "--template".to_string(),
        template().to_string_lossy().into_owned(),
    ];
    for (k, v) in params {
        args.push("--param".into());
        args.push(format!("{k}={v}"));
    }
    helper(endpoint, region, "deploy", &args)
}

/// The stack and what its resources look like through their service APIs (see
/// `deploy_local.py describe`).
pub fn describe(endpoint: &str, region: &str, stack: &str) -> Result<Value> {
    helper(
        endpoint,
        region,
        "describe",
        &["--stack".to_string(), stack.to_string()],
    )
}

/// A new access key of IAM user `user` (`aws iam create-access-key`), as docs/deploy.md makes
/// one for the edge: (key id, secret).
pub fn create_access_key(endpoint: &str, region: &str, user: &str) -> Result<(String, String)> {
    let key = helper(
        endpoint,
        region,
        "access-key",
        &["--user".to_string(), user.to_string()],
    )?;
    let field = |name: &str| {
        key[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("{name} missing"))
    };
    Ok((field("AccessKeyId")?, field("SecretAccessKey")?))
}

/// Options of `cargo xtask deploy-local`.
#[derive(clap::Args)]
pub struct Args {
    /// Deploy into the emulator at this URL instead of starting moto.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Region of the stack.
    #[arg(long, default_value = crate::kinesis::REGION)]
    pub region: String,
    /// Stack name.
    #[arg(long, default_value = DEFAULT_STACK)]
    pub stack: String,
    /// A template parameter, NAME=VALUE (repeatable); overrides the local values.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Stop the moto this command started once the outputs are printed, instead of keeping it
    /// running until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
}

/// `cargo xtask deploy-local`.
pub async fn run(args: Args) -> Result<()> {
    setup::ensure_for(setup::Task::DeployLocal)?;
    lambda_package::build()?;
    let started;
    let endpoint = match &args.endpoint {
        Some(e) => {
            started = None;
            e.clone()
        }
        None => {
            let m = Moto::start().await?;
            eprintln!(
                "deploy-local: moto at {} (log {})",
                m.endpoint,
                m.service.log_path().display()
            );
            let e = m.endpoint.clone();
            started = Some(m);
            e
        }
    };
    let mut params = local_parameters(&endpoint, &args.region)?;
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p}: expected NAME=VALUE"))?;
        params.retain(|(name, _)| name != k);
        params.push((k.to_string(), v.to_string()));
    }
    let out = deploy(&endpoint, &args.region, &args.stack, &params)?;
    println!(
        "stack {} in {} at {}: {} in {} s",
        args.stack,
        args.region,
        endpoint,
        out["status"].as_str().unwrap_or_default(),
        out["seconds"]
    );
    let outputs = out["outputs"].as_object().context("outputs")?;
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in outputs {
        println!("  {k:width$}  {}", v.as_str().unwrap_or_default());
    }
    if let Some(emulated) = out["emulated"].as_object().filter(|e| !e.is_empty()) {
        println!("created through moto's service APIs (its CloudFormation lacks the type):");
        for (k, v) in emulated {
            println!(
                "  {k:width$}  {} {}",
                v["type"].as_str().unwrap_or_default(),
                v["physical_id"].as_str().unwrap_or_default()
            );
        }
    }
    if let Some(mut moto) = started {
        if !args.exit {
            eprintln!(
                "deploy-local: the stack lives as long as this moto: try\n  \
                 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url {endpoint} \
                 --region {} cloudformation describe-stacks --stack-name {}\n\
                 deploy-local: Ctrl-C stops moto",
                args.region, args.stack
            );
            tokio::signal::ctrl_c().await?;
        }
        moto.service.stop();
    }
    Ok(())
}
