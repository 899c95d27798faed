//! `cargo xtask bench analyzer`: the analyzer against DuckDB (and pandas) on a generated day,
//! from the landed CSVs and from the compacted Parquet day (`analyzer/bench/bench.py` runs and
//! measures those), and the small-file cost on moto S3 (`--objects`, here).

use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use xtask::moto::{client_env, Moto};
use xtask::{paths, process::run as run_cmd};

/// The shape of the generated day (gen_day's `--shape`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Shape {
    /// Few visitors with many hits each, 2,000 Zipf pages, 50,000 users.
    Realistic,
    /// Every hit a new visitor, ~40% of hits a distinct long path, 300,000 users, long
    /// referrers, custom events and campaigns.
    Hostile,
    /// Sessions as in the realistic day, but every page view its own path, referrer host and
    /// campaign (so its own source too); a million users.
    Cardinality,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Realistic => "realistic",
            Shape::Hostile => "hostile",
            Shape::Cardinality => "cardinality",
        }
    }
}

/// Options of `cargo xtask bench analyzer`.
#[derive(clap::Args)]
pub struct Args {
    /// Hits in the generated day [default: 1000000; 202000 with --objects]. The README
    /// reports 1M, 10M and (with --compacted) 100M.
    #[arg(long)]
    hits: Option<u64>,
    /// What the day looks like. pandas runs on the realistic shape only (up to 10M hits).
    #[arg(long, value_enum, default_value = "realistic")]
    shape: Shape,
    /// Also compact the day (`analyzer compact`) and run both reports from its Parquet files.
    #[arg(long, conflicts_with = "objects")]
    compacted: bool,
    /// The small-file cost instead: the day on moto S3 as this many objects and as 8, each
    /// reported, then the many-object day compacted and reported again.
    #[arg(long)]
    objects: Option<usize>,
    /// Where the generated day is kept (reused when it already holds that many hits of that
    /// shape); needs about 2.2x the day's CSV size free with --compacted (checked before
    /// generating). --objects works in `<DATA>-objects`.
    #[arg(long, default_value = "target/bench-day")]
    data: String,
    /// Skip DuckDB on the CSVs (its temporary files need up to 0.8x the CSVs' size on disk);
    /// DuckDB still runs on the compacted day.
    #[arg(long)]
    no_duckdb_csv: bool,
    /// Where `analyzer compact` spills (default: inside --data); e.g. /dev/shm when the disk
    /// cannot hold a 100M day's CSVs and its spill files at once.
    #[arg(long)]
    tmp: Option<String>,
    /// Remove the generated day when done.
    #[arg(long)]
    clean: bool,
}

/// DuckDB and pandas versions the analyzer is compared against.
const BENCH_PYTHON_PACKAGES: [&str; 2] = ["duckdb==2.0.1", "pandas==3.1.1"];

/// The UTC day every benchmark generates.
const DATE: &str = "2026-11-25";

/// Runs the benchmark `args` asks for.
pub fn run(args: Args) -> Result<()> {
    let bins = build()?;
    match args.objects {
        Some(objects) => objects_bench(&bins, objects, args.hits.unwrap_or(202_000), &args),
        None => peers_bench(&bins, args.hits.unwrap_or(1_000_000), &args),
    }
}

/// The release binaries the benchmarks run.
pub(super) struct Bins {
    pub(super) analyzer: PathBuf,
    pub(super) dashboard: PathBuf,
    pub(super) gen_day: PathBuf,
}

/// Builds the release analyzer, dashboard and day generator (in one build, so that both
/// benchmarks share its features and its output).
pub(super) fn build() -> Result<Bins> {
    let root = paths::root();
    eprintln!(
        "bench: cargo build --release -p analyzer -p dashboard --bin analyzer --bin dashboard --example gen_day (~15 min cold)"
    );
    run_cmd(
        "building the release analyzer",
        Command::new("cargo")
            .args(["build", "--release", "-p", "analyzer", "-p", "dashboard"])
            .args([
                "--bin",
                "analyzer",
                "--bin",
                "dashboard",
                "--example",
                "gen_day",
            ])
            .current_dir(&root),
    )?;
    let target = paths::target_dir();
    Ok(Bins {
        analyzer: target.join("release/analyzer"),
        dashboard: target.join("release/dashboard"),
        gen_day: target.join("release/examples/gen_day"),
    })
}

/// `.venv-bench` with the peers, installed when missing; returns its python.
fn bench_python() -> Result<PathBuf> {
    let venv = paths::root().join(".venv-bench");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import duckdb, pandas"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ready {
        eprintln!(
            "bench: installing {} into .venv-bench",
            BENCH_PYTHON_PACKAGES.join(", ")
        );
        run_cmd(
            "creating .venv-bench",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        )?;
        run_cmd(
            "installing duckdb and pandas",
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet"])
                .args(BENCH_PYTHON_PACKAGES),
        )?;
    }
    Ok(python)
}

/// The analyzer vs its peers on one local day: `analyzer/bench/bench.py` generates the day,
/// runs and measures each program and prints the tables.
fn peers_bench(bins: &Bins, hits: u64, args: &Args) -> Result<()> {
    let root = paths::root();
    let python = bench_python()?;
    let mut cmd = Command::new(&python);
    cmd.arg(root.join("analyzer/bench/bench.py"))
        .arg("--analyzer")
        .arg(&bins.analyzer)
        .arg("--gen")
        .arg(&bins.gen_day)
        .arg("--python")
        .arg(&python)
        .args(["--data", &args.data, "--hits", &hits.to_string()])
        .args(["--date", DATE, "--shape", args.shape.name()])
        .current_dir(&root);
    if args.compacted {
        cmd.arg("--compacted");
    }
    if args.no_duckdb_csv {
        cmd.args(["--duckdb-csv", "no"]);
    }
    if let Some(tmp) = &args.tmp {
        cmd.args(["--tmp", tmp]);
    }
    if args.clean {
        cmd.arg("--clean");
    }
    run_cmd("analyzer/bench/bench.py", &mut cmd)
}

/// Wall time, peak RSS and the load when one program ran.
struct Measured {
    seconds: f64,
    rss_mib: f64,
    load: f64,
}

/// The 1-minute load average.
pub(super) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Options of the hidden `cargo xtask bench measure`.
#[derive(clap::Args)]
pub struct MeasureArgs {
    /// Where the program's stdout goes.
    #[arg(long)]
    stdout: PathBuf,
    /// Where the program's stderr goes.
    #[arg(long)]
    stderr: PathBuf,
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    cmd: Vec<String>,
}

/// Runs `cmd` with its stdout and stderr to files and measures it; fails with its stderr
/// when it fails.
///
/// `cmd` runs under [`measure_child`], in a fresh process of this binary, so that its peak RSS
/// is its own: Linux counts the memory of the process that started a program in the program's
/// peak RSS (the high-water mark survives vfork and exec), and this benchmark held the day in
/// memory while uploading it.
fn measure(cmd: &Command, stdout: &Path, stderr: &Path) -> Result<Measured> {
    let mut launcher = Command::new(std::env::current_exe()?);
    launcher
        .args(["bench", "measure", "--stdout"])
        .arg(stdout)
        .arg("--stderr")
        .arg(stderr)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => launcher.env(key, v),
            None => launcher.env_remove(key),
        };
    }
    let load = load_average();
    let out = launcher
        .output()
        .context("starting the measuring process")?;
    if !out.status.success() {
        let text = std::fs::read_to_string(stderr).unwrap_or_default();
        bail!("{cmd:?} failed:\n{text}");
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let mut fields = line.split_whitespace().map(str::parse::<f64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(seconds)), Some(Ok(rss_kib))) => Ok(Measured {
            seconds,
            rss_mib: rss_kib / 1024.0,
            load,
        }),
        _ => bail!("the measuring process printed {line:?}"),
    }
}

/// `cargo xtask bench measure`: runs the program, waits for it with `wait4` and prints its wall
/// seconds and peak RSS in KiB; exits 1 when the program fails.
pub fn measure_child(args: MeasureArgs) -> Result<()> {
    let out = std::fs::File::create(&args.stdout)?;
    let err = std::fs::File::create(&args.stderr)?;
    let start = Instant::now();
    let child = Command::new(&args.cmd[0])
        .args(&args.cmd[1..])
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {:?}", args.cmd))?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 only writes into the two
    // out-parameters, which live until it returns.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    ensure!(pid > 0, "waiting: {}", std::io::Error::last_os_error());
    // Linux reports ru_maxrss in KiB.
    println!("{seconds:.6} {}", usage.ru_maxrss);
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        std::process::exit(1);
    }
    Ok(())
}

/// A report's JSON without what depends on how the day was stored (`summary.files`).
fn comparable(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: serde_json::Value = serde_json::from_slice(&text)?;
    if let Some(summary) = v.get_mut("summary").and_then(|s| s.as_object_mut()) {
        summary.remove("files");
    }
    Ok(v)
}

/// "yes", or the top-level keys where two reports differ.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> String {
    if a == b {
        return "yes".into();
    }
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "no".into();
    };
    let keys: Vec<&str> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| k.as_str())
        .collect();
    format!("no: {}", keys.join(", "))
}

/// An object to upload: its key and body.
type Upload = (String, Vec<u8>);

/// A generated day's files, as read back.
struct Day {
    /// The header line (with its line end).
    header: String,
    /// Every row (with its line end), in file (key) order.
    rows: Vec<Vec<u8>>,
    /// Each file's name and bytes.
    files: Vec<Upload>,
}

/// Reads the day's CSV files under `day_dir`.
fn read_day(day_dir: &Path) -> Result<Day> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(day_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    let mut header = String::new();
    let mut rows = Vec::new();
    let mut files = Vec::new();
    for path in names {
        let bytes = std::fs::read(&path)?;
        let mut lines = bytes.split_inclusive(|&b| b == b'\n');
        if let Some(first) = lines.next() {
            header = String::from_utf8_lossy(first).into_owned();
        }
        // gen_day writes no line breaks inside fields, so a line is a row.
        rows.extend(lines.map(<[u8]>::to_vec));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.push((name, bytes));
    }
    Ok(Day {
        header,
        rows,
        files,
    })
}

/// Puts every `(key, body)` into `store`, `parallel` at a time.
async fn upload(store: &store::Store, objects: Vec<Upload>, parallel: usize) -> Result<()> {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(objects));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel {
        let (queue, store) = (queue.clone(), store.clone());
        tasks.spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((key, body)) = next else {
                    return Ok::<(), anyhow::Error>(());
                };
                store.put(&key, body).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// The small-file cost: the same day on moto S3 as `objects` small objects and as 8, each
/// reported with `analyzer report --format json`; then the many-object day compacted and
/// reported again.
fn objects_bench(bins: &Bins, objects: usize, hits: u64, args: &Args) -> Result<()> {
    ensure!(objects > 0, "--objects must be at least 1");
    let dir = paths::root().join(format!("{}-objects", args.data));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "bench: generating {hits} {} hits in 8 files",
        args.shape.name()
    );
    run_cmd(
        "gen_day",
        Command::new(&bins.gen_day)
            .args(["--hits", &hits.to_string(), "--date", DATE, "--files", "8"])
            .args(["--shape", args.shape.name(), "--out"])
            .arg(&dir),
    )?;
    let Day {
        header,
        rows,
        files,
    } = read_day(&dir.join(format!("hits/dt={DATE}")))?;
    ensure!(
        rows.len() >= objects,
        "{objects} objects need at least as many rows; the day has {}",
        rows.len()
    );
    let csv_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    // The 8 files as they are, and the same rows as `objects` consecutive batches, named as
    // the aggregator names them (`<shard>-<first-seq>-<last-seq>.csv`).
    let eight: Vec<Upload> = files
        .into_iter()
        .map(|(name, bytes)| (format!("{}{name}", pagehit::layout::hits_dir(DATE)), bytes))
        .collect();
    let many: Vec<Upload> = (0..objects)
        .map(|k| {
            let (from, to) = (k * rows.len() / objects, (k + 1) * rows.len() / objects);
            let mut body = header.clone().into_bytes();
            for row in &rows[from..to] {
                body.extend_from_slice(row);
            }
            let key = pagehit::layout::batch_object(
                false,
                DATE,
                "shardId-000000000000",
                &format!("{from:020}"),
                &format!("{:020}", to - 1),
            );
            (key, body)
        })
        .collect();
    drop(rows);

    let rt = tokio::runtime::Runtime::new()?;
    let (moto, list_seconds) = rt.block_on(async {
        let moto = Moto::start().await?;
        moto.create_bucket("bench").await?;
        let started = Instant::now();
        upload(&moto.store("s3://bench/eight").await?, eight, 8).await?;
        let store = moto.store("s3://bench/many").await?;
        upload(&store, many, 32).await?;
        // As the aggregator does after each batch: the shard's "last landed" marker of the day
        // (what lets a report of the compacted day skip listing the objects).
        store
            .put(
                &pagehit::layout::landed_marker(DATE, "shardId-000000000000"),
                format!("{{\"last\":\"bench\",\"objects\":{objects}}}"),
            )
            .await?;
        eprintln!(
            "bench: {} + 8 objects uploaded to moto in {:.1} s",
            objects,
            started.elapsed().as_secs_f64()
        );
        // What any report of the day pays first, compacted or not: listing the landed objects
        // (S3 answers 1,000 keys a page, one page after the other).
        let started = Instant::now();
        let listed = store.list(&pagehit::layout::hits_dir(DATE)).await?;
        ensure!(listed.len() == objects, "listed {} objects", listed.len());
        anyhow::Ok((moto, started.elapsed().as_secs_f64()))
    })?;

    let report = |source: &str, name: &str| -> Result<Measured> {
        eprintln!("bench: analyzer report --source {source}");
        let mut cmd = Command::new(&bins.analyzer);
        cmd.args([
            "report", "--source", source, "--date", DATE, "--format", "json",
        ])
        .env("ANALYZER_TIMING", "1");
        client_env(&mut cmd, &moto.endpoint);
        measure(
            &cmd,
            &dir.join(format!("{name}.json")),
            &dir.join(format!("{name}.stderr")),
        )
    };
    let eight_run = report("s3://bench/eight", "eight")?;
    let many_run = report("s3://bench/many", "many")?;
    eprintln!("bench: analyzer compact --source s3://bench/many");
    let mut cmd = Command::new(&bins.analyzer);
    cmd.args(["compact", "--source", "s3://bench/many", "--date", DATE])
        .arg("--tmp")
        .arg(&dir)
        .env("ANALYZER_TIMING", "1");
    client_env(&mut cmd, &moto.endpoint);
    let compact_run = measure(&cmd, &dir.join("compact.out"), &dir.join("compact.stderr"))?;
    let compacted_run = report("s3://bench/many", "many-compacted")?;
    drop(moto);
    let stderr = std::fs::read_to_string(dir.join("many-compacted.stderr")).unwrap_or_default();
    ensure!(
        !stderr.contains("CSV objects"),
        "the report after compaction did not read the compacted day:\n{stderr}"
    );

    let base = comparable(&dir.join("eight.json"))?;
    let same_many = same(&base, &comparable(&dir.join("many.json"))?);
    let same_compacted = same(&base, &comparable(&dir.join("many-compacted.json"))?);

    println!(
        "{hits} hits ({} shape, {:.1} MB of CSV) on moto S3 (127.0.0.1, one request at a time), \
         {} cores, `analyzer report --format json`\n",
        args.shape.name(),
        csv_bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| day read | objects | wall s | peak RSS MiB | time / 8-object day | same report as 8 objects | load avg (1 min) |");
    println!("|---|---:|---:|---:|---:|---|---:|");
    let line = |what: &str, n: usize, m: &Measured, same: &str| {
        println!(
            "| {what} | {n} | {:.2} | {:.0} | {:.2} | {same} | {:.2} |",
            m.seconds,
            m.rss_mib,
            m.seconds / eight_run.seconds,
            m.load
        );
    };
    line("landed CSVs", objects, &many_run, &same_many);
    line("landed CSVs", 8, &eight_run, "");
    line(
        "compacted (after `analyzer compact`)",
        objects,
        &compacted_run,
        &same_compacted,
    );
    println!(
        "\n`analyzer compact` of the {objects}-object day: {:.2} s, peak RSS {:.0} MiB (load {:.2}).",
        compact_run.seconds, compact_run.rss_mib, compact_run.load
    );
    println!(
        "Listing the {objects} landed objects (one `Store::list`; a report of the compacted day \
         skips it while the day's markers are unmoved): {list_seconds:.2} s."
    );
    println!(
        "Goal (issues 11, 20): the compacted {objects}-object report <= 3x the 8-object day: here {:.2}x.",
        compacted_run.seconds / eight_run.seconds
    );
    let many_title = format!("{objects} objects");
    for (title, name) in [
        ("8 objects", "eight"),
        (many_title.as_str(), "many"),
        ("compacted", "many-compacted"),
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.stderr"))).unwrap_or_default();
        println!("\nanalyzer stages (ANALYZER_TIMING=1), {title}:\n```");
        for l in text.lines().filter(|l| l.starts_with("[timing]")) {
            println!("{l}");
        }
        println!("```");
    }
    if args.clean {
        std::fs::remove_dir_all(&dir)?;
    }
    if same_many != "yes" || same_compacted != "yes" {
        bail!("the reports differ (see the table)");
    }
    Ok(())
}
