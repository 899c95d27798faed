//! `cargo xtask demo`: the pipeline on the local stack, end to end, one progress line a stage.

use anyhow::{Context, Result};
use pagehit::PageHit;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use xtask::kinesis;
use xtask::moto::Moto;
use xtask::traffic;
use xtask::wrangler::WranglerDev;
use xtask::{edge_build, paths, process::run as run_cmd, setup};

const STREAM: &str = "page-hits";

/// Runs the demo; every service it starts is stopped when it returns, on success or failure.
pub fn run() -> Result<()> {
    stage("installing missing tools", setup::ensure_tools)?;
    stage("building the edge worker (Rust -> Wasm)", edge_build::build)?;
    stage("building the aggregator", || {
        run_cmd(
            "cargo build -p aggregator",
            std::process::Command::new("cargo")
                .args(["build", "--quiet", "-p", "aggregator"])
                .current_dir(paths::root()),
        )
    })?;
    tokio::runtime::Runtime::new()?.block_on(pipeline())
}

fn stage<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    eprintln!("demo: {what} ...");
    let out = f().with_context(|| format!("demo stage failed: {what}"))?;
    eprintln!("demo: {what}: done in {:.1}s", t.elapsed().as_secs_f64());
    Ok(out)
}

async fn pipeline() -> Result<()> {
    let moto = Moto::start()
        .await
        .context("demo stage failed: starting moto")?;
    eprintln!(
        "demo: moto (Kinesis + S3) at {}, log {}",
        moto.endpoint,
        moto.service.log_path().display()
    );
    let kin = kinesis::client(&moto.endpoint);
    kinesis::create_stream(&kin, STREAM, 2)
        .await
        .context("demo stage failed: creating the stream")?;
    eprintln!("demo: Kinesis stream {STREAM} (2 shards) is active");

    let vars = vec![
        ("KINESIS_STREAM", STREAM.to_string()),
        ("KINESIS_ENDPOINT", moto.endpoint.clone()),
        ("AWS_REGION", kinesis::REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", kinesis::ACCESS_KEY_ID.to_string()),
        (
            "AWS_SECRET_ACCESS_KEY",
            kinesis::SECRET_ACCESS_KEY.to_string(),
        ),
        ("VISITOR_SALT", "demo-salt".to_string()),
    ];
    let dev = WranglerDev::start("demo", &vars)
        .await
        .context("demo stage failed: starting wrangler dev")?;
    eprintln!(
        "demo: edge worker under wrangler dev at {}, log {}",
        dev.url,
        dev.service.log_path().display()
    );

    let visits = traffic::burst(300, 2026);
    let t = Instant::now();
    let answers = traffic::send(&dev.url, &visits, 8)
        .await
        .context("demo stage failed: sending page views")?;
    let views = visits.iter().filter(|v| v.page_view).count();
    eprintln!(
        "demo: sent {} requests ({views} page views, {} assets) in {:.1}s; all answered: {}",
        visits.len(),
        visits.len() - views,
        t.elapsed().as_secs_f64(),
        answers.iter().all(|(s, _)| *s == 200 || *s == 404)
    );

    let records = kinesis::wait_for_records(&kin, STREAM, views, Duration::from_secs(30))
        .await
        .with_context(|| {
            format!(
                "demo stage failed: reading Kinesis (worker log {})",
                dev.service.log_path().display()
            )
        })?;
    let hits: Vec<PageHit> = records
        .iter()
        .filter_map(|r| PageHit::from_json(&r.data).ok())
        .collect();
    eprintln!(
        "demo: {} of {views} page views arrived in Kinesis",
        hits.len()
    );

    let mut per_page: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for h in &hits {
        let e = per_page.entry(h.path.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(!h.user.is_empty());
        e.2 += usize::from(h.bot);
    }
    let mut rows: Vec<_> = per_page.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    println!("\nHits in Kinesis by page (bots included; the analyzer leaves them out):");
    println!(
        "{:<12} {:>6} {:>10} {:>6}",
        "path", "hits", "signed-in", "bots"
    );
    for (path, (n, signed, bots)) in rows {
        println!("{path:<12} {n:>6} {signed:>10} {bots:>6}");
    }
    if let Some(h) = hits.first() {
        println!(
            "\nOne hit as the worker put it on the stream:\n{}",
            h.to_json()
        );
    }
    // The aggregator drains the stream into S3 (moto) as daily CSV objects.
    let bucket_url = format!("{}/{BUCKET}", moto.endpoint);
    let made = reqwest::Client::new().put(&bucket_url).send().await?;
    anyhow::ensure!(
        made.status().is_success(),
        "demo stage failed: creating bucket {BUCKET}: {}",
        made.status()
    );
    let sink = format!("s3://{BUCKET}/analytics");
    let t = Instant::now();
    let out = xtask::aggregator::command(&moto.endpoint)
        .args(["consume", "--stream", STREAM, "--sink", &sink, "--once"])
        .output()
        .context("demo stage failed: running the aggregator")?;
    anyhow::ensure!(
        out.status.success(),
        "demo stage failed: aggregator consume: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "demo: aggregator drained the stream in {:.1}s: {}",
        t.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let store = aggregator::sink::store::Store::open_s3_at(
        &sink,
        &moto.endpoint,
        kinesis::REGION,
        kinesis::ACCESS_KEY_ID,
        kinesis::SECRET_ACCESS_KEY,
    )?;
    println!("\nObjects in {sink}:");
    for key in store.list("").await? {
        let body = store.get(&key).await?.unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        if key.contains("/_checkpoints/") {
            println!("  {key}  checkpoint {text}");
            continue;
        }
        let records = match pagehit::csv::parse(&text) {
            Ok(rows) if key.ends_with(".csv") => rows.len().saturating_sub(1),
            _ => text.lines().count(),
        };
        println!("  {key}  ({records} records)");
    }
    Ok(())
}

const BUCKET: &str = "demo-analytics";
