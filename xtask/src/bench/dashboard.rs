//! `cargo xtask bench dashboard`: how fast the history answers a click. A month of generated
//! days (gen_day's `site` shape: realistic visits with campaigns, two hosts and nine agents),
//! each compacted; a release `dashboard serve --source` on them; the whole period asked once
//! (cold), then under 20 different filters derived from that first answer (its top pages,
//! sources, campaigns, countries, browsers, devices, hosts). Every answer is checked against
//! `analyzer report --format json` with the same arguments, byte for byte.

use super::analyzer::{build, load_average, Bins};
use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use xtask::{paths, process::run as run_cmd};

/// Options of `cargo xtask bench dashboard`.
#[derive(clap::Args)]
pub struct Args {
    /// Days in the period (the last one is 2026-11-25).
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Hits in each generated day.
    #[arg(long, default_value_t = 1_000_000)]
    hits: u64,
    /// Where the days are kept (reused when they were made with the same --hits); needs about
    /// 0.3 GB a million hits.
    #[arg(long, default_value = "target/bench-dashboard")]
    data: String,
    /// The dashboard's --cache-memory.
    #[arg(long, default_value = "3GiB")]
    cache_memory: String,
    /// Skip checking every answer against `analyzer report` (each check reads the period).
    #[arg(long)]
    no_check: bool,
}

/// The last day of the period.
const LAST: &str = "2026-11-25";

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    let bins = build()?;
    let root = paths::root();
    let data = root.join(&args.data);
    let dates = dates(args.days)?;
    generate(&bins, &data, &dates, args.hits)?;
    let (from, to) = (dates[0].as_str(), dates[dates.len() - 1].as_str());

    let mut server = Server::start(&bins.dashboard, &data, &args.cache_memory)?;
    let rt = tokio::runtime::Runtime::new()?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()?;
    let ask = |params: &[(&str, String)]| rt.block_on(ask(&client, &server.url, params));
    let load = load_average();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let period = vec![("from", from.to_string()), ("to", to.to_string())];
    let (cold, status, first) = ask(&period)?;
    eprintln!("bench: the whole period, cold: {cold:.2} s ({status})");
    let whole: Value = serde_json::from_slice(&first)?;
    let asks = filters(&whole)?;
    let mut answers = vec![(period.clone(), first)];
    let mut times = Vec::new();
    for filters in &asks {
        let mut params = period.clone();
        params.extend(filters.iter().map(|f| ("filter", f.clone())));
        let (seconds, status, body) = ask(&params)?;
        eprintln!("bench: {:.3} s ({status}) {}", seconds, filters.join(" & "));
        times.push(seconds);
        answers.push((params, body));
    }
    let rss_mib = server.peak_rss_kib()? as f64 / 1024.0;
    server.stop();

    let checked = if args.no_check {
        None
    } else {
        let mut same = 0;
        for (i, (params, body)) in answers.iter().enumerate() {
            eprintln!(
                "bench: checking answer {} of {} against analyzer report",
                i + 1,
                answers.len()
            );
            if cli(&bins.analyzer, &data, params)? == *body {
                same += 1;
            } else {
                eprintln!("bench: answer {} differs from the CLI's: {params:?}", i + 1);
            }
        }
        Some(same)
    };

    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let at =
        |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
    let hits = whole["summary"]["hits"].as_u64().unwrap_or(0);
    println!(
        "dashboard history, {} days of {} hits (site shape, compacted; {hits} counted), release, {} (load average {load:.2})",
        args.days,
        args.hits,
        pagehit::time::format_ts(started)
    );
    println!("| measure | figure | goal |");
    println!("|---|---|---|");
    println!(
        "| first query of the period (cold: read, decode, prepare, count) | {cold:.2} s | ≤ 10 s |"
    );
    println!(
        "| {} filtered queries after it: median | {:.0} ms | ≤ 300 ms |",
        times.len(),
        at(0.5) * 1000.0
    );
    println!("| p95 | {:.0} ms | ≤ 1 s |", at(0.95) * 1000.0);
    println!("| slowest | {:.0} ms | |", at(1.0) * 1000.0);
    println!("| peak RSS of the server | {rss_mib:.0} MiB | ≤ 4 GB |");
    match checked {
        Some(same) => println!(
            "| answers equal to `analyzer report`, byte for byte | {same} of {} | all |",
            answers.len()
        ),
        None => println!("| answers equal to `analyzer report` | not checked (--no-check) | all |"),
    }
    if let Some(same) = checked {
        ensure!(
            same == answers.len(),
            "{} answers differ from the CLI's",
            answers.len() - same
        );
    }
    Ok(())
}

/// The `days` dates that end on [`LAST`].
fn dates(days: u32) -> Result<Vec<String>> {
    ensure!((1..=366).contains(&days), "--days takes 1 to 366");
    let last = pagehit::time::parse_date(LAST).context("LAST is a date")?;
    Ok((0..i64::from(days))
        .rev()
        .map(|back| pagehit::time::format_date(last - back))
        .collect())
}

/// Generates and compacts every day not already there with `hits` hits.
fn generate(bins: &Bins, data: &Path, dates: &[String], hits: u64) -> Result<()> {
    std::fs::create_dir_all(data)?;
    for (i, date) in dates.iter().enumerate() {
        let stamp = data.join(format!("made-{date}"));
        let made = format!("{hits} site\n");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(made.as_str()) {
            continue;
        }
        let _ = std::fs::remove_dir_all(data.join(format!("hits/dt={date}")));
        let _ = std::fs::remove_dir_all(data.join(format!("compacted/dt={date}")));
        eprintln!(
            "bench: generating and compacting {date} ({} of {})",
            i + 1,
            dates.len()
        );
        run_cmd(
            "gen_day",
            Command::new(&bins.gen_day)
                .args([
                    "--hits",
                    &hits.to_string(),
                    "--date",
                    date,
                    "--shape",
                    "site",
                ])
                .args(["--seed", &(i + 1).to_string(), "--out"])
                .arg(data)
                .stdout(Stdio::null()),
        )?;
        run_cmd(
            "analyzer compact",
            Command::new(&bins.analyzer)
                .args(["compact", "--date", date, "--source"])
                .arg(data)
                .arg("--tmp")
                .arg(data.join("compact-tmp"))
                .stdout(Stdio::null()),
        )?;
        std::fs::write(&stamp, made)?;
    }
    Ok(())
}

/// Twenty filter sets a person might click, from the whole period's answer.
fn filters(whole: &Value) -> Result<Vec<Vec<String>>> {
    let names = |list: &Value, key: &str| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| row[key].as_str().map(str::to_string))
            .collect()
    };
    let pages = names(&whole["pages"], "path");
    let sources = names(&whole["sources"], "source");
    let campaigns = names(&whole["campaigns"], "utm_campaign");
    let utm_sources = names(&whole["campaigns"], "utm_source");
    let countries = names(&whole["summary"]["countries"], "country");
    let referrers = names(&whole["summary"]["referrers"], "host");
    let browsers = names(&whole["browsers"], "browser");
    let os = names(&whole["os"], "os");
    let devices = names(&whole["devices"], "device");
    let hosts = names(&whole["hosts"], "host");
    for (what, list, need) in [
        ("pages", &pages, 11),
        ("sources", &sources, 3),
        ("campaigns", &campaigns, 1),
        ("countries", &countries, 2),
        ("referrers", &referrers, 1),
        ("browsers", &browsers, 1),
        ("os", &os, 2),
        ("devices", &devices, 2),
        ("hosts", &hosts, 1),
    ] {
        if list.len() < need {
            bail!(
                "the whole period's answer lists {} {what}; the bench needs {need}",
                list.len()
            );
        }
    }
    // A word inside the second page's path, for `contains`.
    let word = pages[1]
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or(&pages[1])
        .to_string();
    let one = |f: String| vec![f];
    Ok(vec![
        one(format!("page={}", pages[0])),
        one(format!("page={}", pages[10])),
        one(format!("page~{word}")),
        one(format!("page!~{word}")),
        one(format!("entry_page={}", pages[0])),
        one(format!("exit_page={}", pages[2])),
        one(format!("source={}", sources[0])),
        one(format!("source={}|{}", sources[1], sources[2])),
        one(format!("referrer={}", referrers[0])),
        one(format!("utm_source={}", utm_sources[0])),
        one(format!("utm_campaign={}", campaigns[0])),
        one(format!("country={}", countries[0])),
        one(format!("country!={}", countries[0])),
        one(format!("browser={}", browsers[0])),
        one(format!("os={}", os[1])),
        one(format!("device={}", devices[1])),
        one(format!("device!={}", devices[0])),
        one(format!("host={}", hosts[hosts.len() - 1])),
        vec![
            format!("page={}", pages[0]),
            format!("country={}", countries[1]),
        ],
        vec![
            format!("source={}", sources[0]),
            format!("device={}", devices[0]),
        ],
    ])
}

/// `GET /api/report` with `params`: seconds, `Cache-Status`, body.
async fn ask(
    client: &reqwest::Client,
    url: &str,
    params: &[(&str, String)],
) -> Result<(f64, String, Vec<u8>)> {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let start = Instant::now();
    let response = client
        .get(format!("{url}/api/report?{query}"))
        .send()
        .await?;
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.bytes().await?.to_vec();
    let seconds = start.elapsed().as_secs_f64();
    ensure!(
        status.is_success(),
        "{params:?}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok((seconds, cache, body))
}

/// `analyzer report --format json` with the same arguments as `params`.
fn cli(analyzer: &Path, data: &Path, params: &[(&str, String)]) -> Result<Vec<u8>> {
    let mut cmd = Command::new(analyzer);
    cmd.args(["report", "--format", "json", "--source"])
        .arg(data);
    for (name, value) in params {
        cmd.arg(format!("--{name}")).arg(value);
    }
    let out = cmd.output().context("running analyzer report")?;
    ensure!(
        out.status.success(),
        "analyzer report {params:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// The release dashboard serving the history of `data`, stopped by PID.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(bin: &PathBuf, data: &Path, cache_memory: &str) -> Result<Server> {
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--cache-memory",
                cache_memory,
            ])
            .arg("--source")
            .arg(data)
            .env_remove("DASHBOARD_TOKEN")
            .env_remove("DASHBOARD_STREAM")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the dashboard")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let Some(addr) = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
        else {
            let _ = child.kill();
            bail!("the dashboard said {line:?}");
        };
        Ok(Server {
            url: format!("http://{addr}"),
            child,
        })
    }

    /// The server's peak resident memory so far (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/PID/status")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
