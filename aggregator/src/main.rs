//! `aggregator`: land page hits from Kinesis as daily CSV objects. See `aggregator --help`.

use aggregator::cmd;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Land page hits from Kinesis as daily CSV objects in S3 or a folder",
    after_help = "\
Objects: PREFIX/hits/dt=YYYY-MM-DD/<shard>-<first-seq>-<last-seq>.csv (one per batch and day),
         PREFIX/rejected/dt=YYYY-MM-DD/<shard>-<first-seq>-<last-seq>.jsonl (bad records, reasons),
         PREFIX/_landed/dt=YYYY-MM-DD/<shard> (rewritten after each batch: readers' coverage check),
         PREFIX/_checkpoints/<stream>/<shard> and _lease.json (consume only).

consume holds a lease: one consumer per stream and sink; a second one waits (or, with
--if-held exit, exits naming the holder). Records lost unread (a checkpoint past the stream's
retention, a parent shard gone before its end, a stream created again) stop it with an error
naming the shard and the range, unless --accept-gap. Every minute it logs {\"event\":\"lag\",...}
on stderr (infra/template.yaml alarms on it).

Examples:
  aggregator consume --stream page-hits --sink s3://my-bucket/analytics
  aggregator consume --stream page-hits --sink ./data --once      # drain, summarise, exit
  aggregator consume --stream page-hits --sink ./data --once --if-held exit   # cron: skip if running
  AGGREGATOR_SINK=s3://my-bucket/analytics aggregator lambda      # the Lambda handler
  (as a Lambda `bootstrap` with no arguments, it is the handler too)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll every shard (ECS/Fargate, cron, local), checkpointing per shard.
    Consume(cmd::consume::Args),
    /// Run as the AWS Lambda handler of a Kinesis event source mapping.
    Lambda,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // As the Lambda `bootstrap` the binary runs without arguments: the runtime API's
    // address in the environment means "be the handler".
    let command =
        if std::env::args_os().len() == 1 && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            Command::Lambda
        } else {
            Cli::parse().command
        };
    let result = match command {
        Command::Consume(args) => cmd::consume::run(args).await,
        Command::Lambda => cmd::lambda::run().await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aggregator: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
