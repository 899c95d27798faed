//! `cargo xtask test`'s test run: the workspace's test binaries side by side instead of one
//! after another as `cargo test` runs them. Much of the suite waits on emulators, `wrangler
//! dev`, a Spark cluster or a browser, so on 2 cores three binaries at a time finish in less
//! than two thirds of the time of one after another (11.5 instead of 18.5 minutes, the Spark
//! test the longest chain; the cores are then busy throughout). Each binary's output is kept
//! in a log and printed whole when it ends, so the output reads as `cargo test`'s does, one
//! binary at a time; the longest binaries (by the last run's times, kept in the target
//! folder) start first, each once the [`Gate`]s it [`needs`] are settled (the tools and builds
//! `cargo xtask test` makes beside the suite).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Binaries that ran longest in CI (2026-12-05: Spark 337 s, the aggregator 129 s, the
/// licences 78 s, the worker's guards 76 s, the analyzer's concurrency 57 s), started first
/// when the target folder has no times of its own yet (a fresh clone).
const SLOW_FIRST: [&str; 5] = [
    "xtask/tests/spark.rs",
    "xtask/tests/aggregator.rs",
    "xtask/tests/licenses.rs",
    "xtask/tests/edge_guards.rs",
    "analyzer/tests/concurrency.rs",
];

/// Binaries run at once unless `PAGEHIT_TEST_JOBS` says otherwise: one more than the cores
/// (three on 2 cores; more would only take turns on them).
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) + 1
}

/// One test binary of the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// Its source, relative to the workspace (`xtask/tests/spark.rs`): its name in the output.
    pub name: String,
    /// The executable cargo built.
    pub exe: PathBuf,
    /// Its package's folder, where `cargo test` would run it.
    pub dir: PathBuf,
    /// Its package's name.
    pub package: String,
}

/// The test binaries named by `cargo test --no-run --message-format=json` output `lines`
/// (other messages ignored), each once, in the order cargo reported them.
pub fn binaries(lines: &str, root: &Path) -> Result<Vec<Binary>> {
    let mut out: Vec<Binary> = Vec::new();
    for line in lines.lines().filter(|l| l.starts_with('{')) {
        let msg: Value = serde_json::from_str(line).context("a cargo message that is not JSON")?;
        if msg["reason"] != "compiler-artifact" || msg["profile"]["test"] != true {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let src = Path::new(msg["target"]["src_path"].as_str().unwrap_or_default());
        let manifest = Path::new(msg["manifest_path"].as_str().unwrap_or_default());
        let package = msg["package_id"]
            .as_str()
            .map(package_name)
            .unwrap_or_default();
        let binary = Binary {
            name: src
                .strip_prefix(root)
                .unwrap_or(src)
                .to_string_lossy()
                .into_owned(),
            exe: PathBuf::from(exe),
            dir: manifest.parent().unwrap_or(root).to_path_buf(),
            package,
        };
        if !out.iter().any(|b| b.exe == binary.exe) {
            out.push(binary);
        }
    }
    Ok(out)
}

/// A package's name from its cargo package id: `path+file:///w/xtask#0.1.0` (a workspace
/// member, named by its folder) or `registry+...#name@1.0`.
fn package_name(id: &str) -> String {
    let (url, fragment) = id.rsplit_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => url.rsplit('/').next().unwrap_or(url).to_string(),
    }
}

/// `names` longest first: by `times` (seconds of an earlier run), the names it lacks first
/// ([`SLOW_FIRST`] among them first), ties in the given order.
pub fn longest_first(names: &[String], times: &HashMap<String, f64>) -> Vec<usize> {
    let key = |i: usize| {
        let name = names[i].as_str();
        match times.get(name) {
            Some(&t) => (1, -t),
            None => match SLOW_FIRST.iter().position(|&s| s == name) {
                Some(p) => (0, p as f64 - SLOW_FIRST.len() as f64),
                None => (0, 0.0),
            },
        }
    };
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).expect("no NaN"));
    order
}

/// Something test binaries wait for: what `cargo xtask test` installs or builds beside the
/// test build. A binary starts once every gate it [`needs`] is settled, so the suite runs while
/// the slow tools still compile instead of after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// The tools the integration tests start (moto, the SAM translator, libfaketime, Chromium,
    /// tmux, pyspark): a few minutes of downloads at most.
    Tools,
    /// The worker's Wasm, which `wrangler dev` serves.
    Edge,
    /// cargo-deny (compiled by `cargo install`): `xtask/tests/deny.rs`.
    CargoDeny,
    /// cargo-about (compiled by `cargo install`), and every crate of the lockfile downloaded (it
    /// reads them offline): `xtask/tests/licenses.rs`, the Lambda zip.
    CargoAbout,
    /// The aggregator's arm64 Lambda zip: `xtask/tests/deploy_local.rs` deploys it.
    LambdaZip,
}

/// The gates the test binary `name` waits for: every one the tools and the worker, and the
/// three that use a compiled tool or the Lambda zip that as well.
pub fn needs(name: &str) -> Vec<Gate> {
    let mut gates = vec![Gate::Tools, Gate::Edge];
    match name {
        "xtask/tests/deny.rs" => gates.push(Gate::CargoDeny),
        "xtask/tests/licenses.rs" => gates.push(Gate::CargoAbout),
        "xtask/tests/deploy_local.rs" => gates.push(Gate::LambdaZip),
        _ => {}
    }
    gates
}

/// The gates' states, settled by the threads that install and build: `Ok` when ready, the
/// error's text when that step failed (the binaries that need it fail with it, unrun).
#[derive(Default)]
pub struct Gates {
    settled: Mutex<HashMap<Gate, Result<(), String>>>,
    changed: std::sync::Condvar,
}

impl Gates {
    /// Records how the step behind `gate` ended and returns its result.
    pub fn settle<T>(&self, gate: Gate, result: Result<T>) -> Result<T> {
        let state = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{e:#}")),
        };
        self.settled
            .lock()
            .expect("not poisoned")
            .insert(gate, state);
        self.changed.notify_all();
        result
    }

    /// Waits until `gate` is settled: `Ok` when ready, else why not.
    pub fn wait(&self, gate: Gate) -> Result<()> {
        let mut settled = self.settled.lock().expect("not poisoned");
        loop {
            if let Some(state) = settled.get(&gate) {
                return state
                    .clone()
                    .map_err(|e| anyhow::anyhow!("{gate:?} is not there: {e}"));
            }
            settled = self.changed.wait(settled).expect("not poisoned");
        }
    }

    /// `None` while one of `gates` is unsettled; then `Ok`, or the first failure's text.
    pub fn state(&self, gates: &[Gate]) -> Option<Result<(), String>> {
        let settled = self.settled.lock().expect("not poisoned");
        let mut states = Vec::with_capacity(gates.len());
        for gate in gates {
            states.push(
                settled
                    .get(gate)?
                    .clone()
                    .map_err(|e| format!("{gate:?}: {e}")),
            );
        }
        Some(states.into_iter().collect())
    }

    /// A guard that settles those of `which` still unsettled as failed when it is dropped: a
    /// step that panics must not leave the binaries and builds waiting on it waiting for ever.
    pub fn failed_unless_settled(&self, which: &[Gate]) -> Unsettled<'_> {
        Unsettled {
            gates: self,
            which: which.to_vec(),
        }
    }
}

/// See [`Gates::failed_unless_settled`].
pub struct Unsettled<'a> {
    gates: &'a Gates,
    which: Vec<Gate>,
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        let mut settled = self
            .gates
            .settled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for gate in &self.which {
            settled
                .entry(*gate)
                .or_insert_with(|| Err("the step that makes it stopped".to_string()));
        }
        self.gates.changed.notify_all();
    }
}

/// What one job did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether it passed.
    pub passed: bool,
    /// Its wall time.
    pub took: Duration,
}

/// How often an idle lane looks again for a job whose gates have settled.
const GATE_POLL: Duration = Duration::from_millis(250);

/// Runs `jobs` (indices `0..n` in `order`) on `lanes` threads, each job by `run`, until all
/// have run (a failure does not stop the others); each outcome in job order. A lane takes the
/// first job in order that is `ready`, and waits while none is.
pub fn pool(
    n: usize,
    order: &[usize],
    lanes: usize,
    ready: impl Fn(usize) -> bool + Sync,
    run: impl Fn(usize) -> bool + Sync,
) -> Vec<Outcome> {
    let queue = Mutex::new(order.iter().copied().collect::<VecDeque<usize>>());
    let outcomes = Mutex::new(vec![None; n]);
    let next = || -> Option<Option<usize>> {
        let mut queue = queue.lock().expect("not poisoned");
        if queue.is_empty() {
            return None;
        }
        let at = queue.iter().position(|&job| ready(job));
        Some(at.and_then(|at| queue.remove(at)))
    };
    std::thread::scope(|s| {
        for _ in 0..lanes.max(1) {
            s.spawn(|| loop {
                let job = match next() {
                    None => return,
                    Some(None) => {
                        std::thread::sleep(GATE_POLL);
                        continue;
                    }
                    Some(Some(job)) => job,
                };
                let start = Instant::now();
                let passed = run(job);
                outcomes.lock().expect("not poisoned")[job] = Some(Outcome {
                    passed,
                    took: start.elapsed(),
                });
            });
        }
    });
    outcomes
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

/// Builds the workspace's test binaries (`cargo test --no-run`, its diagnostics on stderr)
/// and names them.
pub fn build(root: &Path) -> Result<Vec<Binary>> {
    let out = Command::new("cargo")
        .args(["test", "--workspace", "--no-run", "--quiet"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("building the test binaries (cargo test --no-run)")?;
    if !out.status.success() {
        bail!("cargo test --no-run failed ({})", out.status);
    }
    binaries(&String::from_utf8_lossy(&out.stdout), root)
}

/// Runs `binaries` (from [`build`]) with `args`, [`default_jobs`] at a time
/// (`PAGEHIT_TEST_JOBS`), each once the [`Gate`]s it [`needs`] are settled, then the
/// workspace's doc tests; fails naming what failed.
pub fn run(root: &Path, binaries: &[Binary], args: &[&str], gates: &Gates) -> Result<()> {
    let lanes = match std::env::var("PAGEHIT_TEST_JOBS") {
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .with_context(|| format!("PAGEHIT_TEST_JOBS={v}: not a positive number"))?,
        Err(_) => default_jobs(),
    };
    let logs = crate::paths::target_dir().join("xtask-test-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let times_file = logs.join("times.tsv");
    let times = read_times(&times_file);
    let names: Vec<String> = binaries.iter().map(|b| b.name.clone()).collect();
    let order = longest_first(&names, &times);
    eprintln!(
        "test: {} test binaries, {lanes} at a time (PAGEHIT_TEST_JOBS), longest first; each \
         one's output when it ends",
        binaries.len()
    );
    let printing = Mutex::new(());
    let started = Instant::now();
    let needs: Vec<Vec<Gate>> = names.iter().map(|n| needs(n)).collect();
    let ready = |i: usize| gates.state(&needs[i]).is_some();
    let outcomes = pool(binaries.len(), &order, lanes, ready, |i| {
        let b = &binaries[i];
        let log = logs.join(format!("{i}.log"));
        let start = Instant::now();
        let passed = match gates.state(&needs[i]) {
            Some(Err(why)) => {
                let _ = std::fs::write(&log, format!("not run: {why}\n"));
                false
            }
            _ => run_binary(b, args, &log),
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _guard = printing.lock().expect("not poisoned");
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "     Running {} ({})", b.name, b.exe.display());
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
        // Not a `test:` progress line: `first-run-time` times those as steps.
        eprintln!(
            "  {} {} in {:.1} s ({:.0} s into the run)",
            if passed { "ok" } else { "FAILED" },
            b.name,
            start.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        passed
    });
    write_times(&times_file, &names, &outcomes);
    eprintln!("test: doc tests (cargo test --workspace --doc)");
    let doc = Command::new("cargo")
        .args(["test", "--workspace", "--doc", "--quiet"])
        .current_dir(root)
        .status()
        .context("cargo test --doc")?;
    let failed: Vec<&str> = names
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !o.passed)
        .map(|(n, _)| n.as_str())
        .chain((!doc.success()).then_some("the doc tests"))
        .collect();
    if !failed.is_empty() {
        bail!("failed: {} (their output is above)", failed.join(", "));
    }
    eprintln!(
        "test: every test binary passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one binary as `cargo test` would (in its package's folder, with its manifest folder
/// and package name in the environment), its output into `log`.
fn run_binary(b: &Binary, args: &[&str], log: &Path) -> bool {
    let Ok(file) = std::fs::File::create(log) else {
        eprintln!("test: cannot write {}", log.display());
        return false;
    };
    let Ok(err) = file.try_clone() else {
        return false;
    };
    let status = Command::new(&b.exe)
        .args(args)
        .current_dir(&b.dir)
        .env("CARGO_MANIFEST_DIR", &b.dir)
        .env("CARGO_PKG_NAME", &b.package)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status();
    match status {
        Ok(s) => s.success(),
        Err(e) => {
            let _ = std::fs::write(log, format!("could not start {}: {e}\n", b.exe.display()));
            false
        }
    }
}

/// Seconds per binary from an earlier run (none when the file is missing or unreadable).
fn read_times(file: &Path) -> HashMap<String, f64> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, secs) = l.rsplit_once('\t')?;
            Some((name.to_string(), secs.parse().ok()?))
        })
        .collect()
}

/// Keeps this run's seconds per binary for the next run's order (best effort).
fn write_times(file: &Path, names: &[String], outcomes: &[Outcome]) {
    let text: String = names
        .iter()
        .zip(outcomes)
        .map(|(n, o)| format!("{n}\t{:.1}\n", o.took.as_secs_f64()))
        .collect();
    let _ = std::fs::write(file, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn test_binaries_are_read_from_cargos_messages() {
        let root = Path::new("/w");
        let lines = r#"
   Compiling something
{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.1.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["test"],"name":"spark","src_path":"/w/xtask/tests/spark.rs"},"profile":{"test":true},"executable":"/t/debug/deps/spark-1"}
{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.1.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["lib"],"name":"xtask","src_path":"/w/xtask/src/lib.rs"},"profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","package_id":"path+file:///w/analyzer#analyzer@0.1.0","manifest_path":"/w/analyzer/Cargo.toml","target":{"kind":["bin"],"name":"analyzer","src_path":"/w/analyzer/src/main.rs"},"profile":{"test":false},"executable":"/t/debug/analyzer"}
{"reason":"compiler-artifact","package_id":"path+file:///w/analyzer#analyzer@0.1.0","manifest_path":"/w/analyzer/Cargo.toml","target":{"kind":["lib"],"name":"analyzer","src_path":"/w/analyzer/src/lib.rs"},"profile":{"test":true},"executable":"/t/debug/deps/analyzer-2"}
{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.1.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["test"],"name":"spark","src_path":"/w/xtask/tests/spark.rs"},"profile":{"test":true},"executable":"/t/debug/deps/spark-1"}
{"reason":"build-finished","success":true}
"#;
        let got = binaries(lines, root).unwrap();
        assert_eq!(
            got,
            [
                Binary {
                    name: "xtask/tests/spark.rs".into(),
                    exe: "/t/debug/deps/spark-1".into(),
                    dir: "/w/xtask".into(),
                    package: "xtask".into(),
                },
                Binary {
                    name: "analyzer/src/lib.rs".into(),
                    exe: "/t/debug/deps/analyzer-2".into(),
                    dir: "/w/analyzer".into(),
                    package: "analyzer".into(),
                },
            ]
        );
        assert!(binaries("{not json", root).is_err());
    }

    #[test]
    fn the_longest_start_first_and_unknown_ones_before_known_ones() {
        let names: Vec<String> = [
            "a",
            "xtask/tests/aggregator.rs",
            "b",
            "c",
            "xtask/tests/spark.rs",
        ]
        .map(String::from)
        .to_vec();
        // No times: the known slow ones first, in their order, then the rest as given.
        assert_eq!(longest_first(&names, &HashMap::new()), [4, 1, 0, 2, 3]);
        let times: HashMap<String, f64> = [("a", 3.0), ("b", 90.0), ("xtask/tests/spark.rs", 10.0)]
            .map(|(n, t)| (n.to_string(), t))
            .into();
        // Without a time (new binaries) first, then by time, longest first.
        assert_eq!(longest_first(&names, &times), [1, 3, 2, 4, 0]);
    }

    #[test]
    fn the_pool_runs_every_job_once_at_most_lanes_at_a_time_and_in_order() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let started = Mutex::new(Vec::new());
        let order = [5, 0, 3, 1, 4, 2, 6];
        let outcomes = pool(
            7,
            &order,
            3,
            |_| true,
            |i| {
                started.lock().unwrap().push(i);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                running.fetch_sub(1, Ordering::SeqCst);
                i != 3
            },
        );
        let mut started = started.into_inner().unwrap();
        // The first three given start first, side by side; then every other, once.
        started[..3].sort_unstable();
        assert_eq!(&started[..3], [0, 3, 5]);
        started.sort_unstable();
        assert_eq!(started, [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(most.load(Ordering::SeqCst), 3);
        let passed: Vec<bool> = outcomes.iter().map(|o| o.passed).collect();
        assert_eq!(passed, [true, true, true, false, true, true, true]);
        assert!(outcomes
            .iter()
            .all(|o| o.took >= Duration::from_millis(200)));
    }

    #[test]
    fn a_job_waits_for_its_gate_while_the_others_run() {
        // Job 0 comes first but needs the Lambda zip, settled only after job 1 has run.
        let gates = Gates::default();
        let started = Mutex::new(Vec::new());
        let needs = [vec![Gate::LambdaZip], vec![], vec![]];
        let outcomes = pool(
            3,
            &[0, 1, 2],
            1,
            |i| gates.state(&needs[i]).is_some(),
            |i| {
                started.lock().unwrap().push(i);
                if i == 1 {
                    let _ = gates.settle(Gate::LambdaZip, Ok(()));
                }
                true
            },
        );
        assert_eq!(started.into_inner().unwrap(), [1, 0, 2]);
        assert!(outcomes.iter().all(|o| o.passed));
    }

    #[test]
    fn gates_say_what_failed_and_wait_until_settled() {
        let gates = Gates::default();
        assert!(gates.state(&[Gate::Tools, Gate::CargoAbout]).is_none());
        gates.settle(Gate::Tools, Ok(())).unwrap();
        assert!(gates.state(&[Gate::Tools, Gate::CargoAbout]).is_none());
        assert_eq!(gates.state(&[Gate::Tools]), Some(Ok(())));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| gates.wait(Gate::CargoAbout));
            std::thread::sleep(Duration::from_millis(50));
            let failed: Result<()> = Err(anyhow::anyhow!("cargo install failed"));
            assert!(gates.settle(Gate::CargoAbout, failed).is_err());
            let waited = waiter.join().unwrap().unwrap_err().to_string();
            assert!(waited.contains("cargo install failed"), "{waited}");
        });
        let state = gates.state(&[Gate::Tools, Gate::CargoAbout]).unwrap();
        assert_eq!(state, Err("CargoAbout: cargo install failed".to_string()));
    }

    #[test]
    fn a_step_that_panics_fails_its_gates_instead_of_leaving_them_open_ended() {
        let gates = Gates::default();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| gates.wait(Gate::LambdaZip));
            let step = s.spawn(|| {
                let _guard = gates.failed_unless_settled(&[Gate::CargoDeny, Gate::LambdaZip]);
                gates.settle(Gate::CargoDeny, Ok(())).unwrap();
                panic!("a step that panics");
            });
            assert!(step.join().is_err());
            let why = waiter.join().unwrap().unwrap_err().to_string();
            assert!(why.contains("stopped"), "{why}");
        });
        // What was settled before the panic stays as it was.
        assert_eq!(gates.state(&[Gate::CargoDeny]), Some(Ok(())));
    }

    #[test]
    fn only_the_tests_of_compiled_tools_and_the_zip_wait_for_them() {
        let slow = [Gate::CargoDeny, Gate::CargoAbout, Gate::LambdaZip];
        for name in [
            "xtask/tests/spark.rs",
            "analyzer/tests/report.rs",
            "edge/src/lib.rs",
        ] {
            assert_eq!(needs(name), [Gate::Tools, Gate::Edge], "{name}");
        }
        for (name, gate) in [
            ("xtask/tests/deny.rs", Gate::CargoDeny),
            ("xtask/tests/licenses.rs", Gate::CargoAbout),
            ("xtask/tests/deploy_local.rs", Gate::LambdaZip),
        ] {
            let got = needs(name);
            assert_eq!(
                got.iter().filter(|g| slow.contains(g)).collect::<Vec<_>>(),
                [&gate]
            );
            // A renamed test file would silently lose its gate.
            assert!(crate::paths::root().join(name).is_file(), "{name}");
        }
    }
}
