//! `cargo xtask first-run-time`: what a newcomer waits for, measured from nothing.
//!
//! A fresh clone of this commit in a folder of its own, with a throwaway `CARGO_HOME` (the
//! machine's rustup proxies and cargo config, none of its installed binaries, and no crate
//! cache unless asked), an empty `CARGO_TARGET_DIR`, and empty npm and pip caches, runs
//! `cargo xtask demo`, the demo again, then `cargo xtask test`. Every progress line the runs
//! print (`setup:`, `demo:`, `test:`, `e2e:`, `lambda:`) is timed as it arrives; a step lasts
//! until the next one, and the time before the first is cargo compiling and starting xtask.
//! The machine's own `CARGO_HOME`, target folder, `node_modules` and venvs are not touched.
//! What stays the machine's: rustup's toolchains and targets, and system packages (Java,
//! Chromium from apt when already there).

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xtask::{paths, process::run};

/// `cargo xtask first-run-time` options.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the clone, the throwaway CARGO_HOME, target folder and caches (default: a new
    /// one in the temp dir). Needs several GB free; it must not exist yet, or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Stop after the two demos (`cargo xtask test` adds 15 minutes or more).
    #[arg(long)]
    skip_test: bool,
    /// Copy the machine's downloaded crates (cargo's registry cache and index) into the
    /// throwaway CARGO_HOME, so that no crate is downloaded: for a slow or metered network.
    #[arg(long)]
    with_registry: bool,
    /// Keep the folder afterwards (by default it is removed when every run passed).
    #[arg(long)]
    keep: bool,
    /// Prepare the clone and the throwaway homes, print the environment and the commands to run
    /// by hand, and stop (the folder is kept).
    #[arg(long)]
    prepare_only: bool,
}

/// The words that start a progress line of the commands timed here.
const MARKS: [&str; 5] = ["setup:", "demo:", "test:", "e2e:", "lambda:"];

/// Runs the measurement and prints each run's steps with their seconds.
pub fn measure(args: Args) -> Result<()> {
    let root = paths::root();
    let commit = git_out(&root, &["rev-parse", "HEAD"])?;
    if !git_out(&root, &["status", "--porcelain", "--untracked-files=no"])?.is_empty() {
        eprintln!(
            "first-run-time: uncommitted changes in {} are not measured: the clone is of \
             commit {commit}",
            root.display()
        );
    }
    let dir = match args.dir {
        Some(d) => d,
        None => paths::scratch("first-run"),
    };
    let sandbox = Sandbox::prepare(&dir, &root, &commit, args.with_registry)?;
    if args.prepare_only {
        println!("{}", sandbox.recipe());
        return Ok(());
    }

    let mut runs = vec![
        (
            "demo, fresh clone, nothing installed",
            vec!["xtask", "demo"],
        ),
        ("demo, second run", vec!["xtask", "demo"]),
    ];
    if !args.skip_test {
        runs.push(("test, after the demos", vec!["xtask", "test"]));
    }
    let header = format!(
        "first-run-time: commit {}, {}, {} cores, load average {} at start",
        &commit[..commit.len().min(12)],
        utc_now(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    eprintln!("{header}; working in {}", dir.display());
    let mut report = vec![header];
    let mut all_ok = true;
    for (i, (what, args)) in runs.iter().enumerate() {
        eprintln!("first-run-time: cargo {} ({what})", args.join(" "));
        let mut cmd = sandbox.cargo(args);
        let log = dir.join(format!("run{}-{}", i + 1, args.join("-")));
        let timed = timed(&mut cmd, &log)?;
        report.push(format!(
            "{what}: cargo {} {:.1} s{} (log {}.err)",
            args.join(" "),
            timed.total.as_secs_f64(),
            if timed.ok { "" } else { ", FAILED" },
            log.display()
        ));
        report.extend(
            steps(&timed)
                .iter()
                .map(|(secs, step)| format!("  {secs:7.1} s  {step}")),
        );
        if !timed.ok {
            all_ok = false;
            break;
        }
    }
    report.push(format!(
        "first-run-time: {}, load average {} at the end",
        utc_now(),
        load_average()
    ));
    println!("{}", report.join("\n"));
    if !all_ok {
        bail!("a run failed; its logs are in {}", dir.display());
    }
    if args.keep {
        eprintln!("first-run-time: kept {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

/// The throwaway clone and homes.
struct Sandbox {
    clone: PathBuf,
    env: Vec<(&'static str, OsString)>,
}

impl Sandbox {
    /// Clones `commit` of `root` into `dir/pagehit` and makes the empty homes beside it.
    fn prepare(dir: &Path, root: &Path, commit: &str, with_registry: bool) -> Result<Self> {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            bail!(
                "{} is not empty: give a new folder with --dir",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let clone = dir.join("pagehit");
        run(
            "git clone",
            Command::new("git")
                .args(["clone", "--quiet", "--no-checkout"])
                .arg(root)
                .arg(&clone),
        )?;
        run(
            "git checkout",
            Command::new("git")
                .args(["checkout", "--quiet", "--detach", commit])
                .current_dir(&clone),
        )?;
        // The data the machines cannot fetch sits beside the checkout (`../shared/data`: the
        // advisory snapshot tests/deny.rs checks against); the clone sees the same.
        let shared = root.join("../shared");
        if shared.is_dir() {
            std::os::unix::fs::symlink(shared.canonicalize()?, dir.join("shared"))?;
        }
        let cargo_home = dir.join("cargo-home");
        copy_cargo_home(&machine_cargo_home(), &cargo_home, with_registry)?;
        for d in ["target", "npm-cache", "pip-cache"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        // The throwaway bin first, and the machine's cargo bin gone from PATH: nothing installed
        // there (cargo-deny, cargo-about) may be found.
        let machine_bin = machine_cargo_home().join("bin");
        let path = std::env::join_paths(
            std::iter::once(cargo_home.join("bin")).chain(
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                    .filter(|p| p != &machine_bin),
            ),
        )?;
        let env = vec![
            ("CARGO_HOME", cargo_home.into_os_string()),
            ("CARGO_TARGET_DIR", dir.join("target").into_os_string()),
            ("npm_config_cache", dir.join("npm-cache").into_os_string()),
            ("PIP_CACHE_DIR", dir.join("pip-cache").into_os_string()),
            ("PATH", path),
        ];
        Ok(Sandbox { clone, env })
    }

    /// `cargo <args>` in the clone, with the throwaway homes.
    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("cargo");
        cmd.args(args).current_dir(&self.clone);
        // `cargo run` names the cargo it ran (`CARGO`); the timed runs find their own on PATH.
        cmd.env_remove("CARGO");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The shell lines that run the same measurement by hand.
    fn recipe(&self) -> String {
        let mut lines = vec![format!("cd {}", self.clone.display())];
        for (k, v) in &self.env {
            lines.push(format!("export {k}='{}'", v.to_string_lossy()));
        }
        lines.push("unset CARGO".into());
        lines.push("time cargo xtask demo   # then again, then: time cargo xtask test".into());
        lines.join("\n")
    }
}

/// The machine's `CARGO_HOME` (`~/.cargo` unless set).
fn machine_cargo_home() -> PathBuf {
    paths::cargo_bin("x")
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Makes `to` a `CARGO_HOME` with `from`'s toolchain and nothing installed: rustup and its
/// proxies (`cargo`, `rustc`, ..., links to rustup) and cargo's config; no binary that
/// `cargo install` put there, no install records, no credentials. With `with_registry`, also
/// the downloaded crates (registry cache and index; sources are unpacked again).
fn copy_cargo_home(from: &Path, to: &Path, with_registry: bool) -> Result<()> {
    let bin = to.join("bin");
    std::fs::create_dir_all(&bin)?;
    let rustup = from.join("bin/rustup");
    let rustup_real = rustup
        .canonicalize()
        .with_context(|| format!("no rustup at {}", rustup.display()))?;
    let rustup_inode = inode(&rustup_real)?;
    for entry in std::fs::read_dir(from.join("bin"))? {
        let path = entry?.path();
        let is_rustup = path
            .canonicalize()
            .is_ok_and(|real| real == rustup_real || inode(&real).ok() == Some(rustup_inode));
        if is_rustup {
            // A proxy decides what to run from the name it is called by: a link keeps it.
            std::os::unix::fs::symlink(&rustup_real, bin.join(path.file_name().unwrap()))?;
        }
    }
    for config in ["config.toml", "config"] {
        if from.join(config).is_file() {
            std::fs::copy(from.join(config), to.join(config))?;
        }
    }
    if with_registry {
        for part in ["registry/cache", "registry/index"] {
            if from.join(part).exists() {
                std::fs::create_dir_all(to.join(part).parent().unwrap())?;
                run(
                    "copying the crate cache",
                    Command::new("cp")
                        .arg("-a")
                        .arg(from.join(part))
                        .arg(to.join(part)),
                )?;
            }
        }
    }
    Ok(())
}

fn inode(path: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// One timed run: its progress lines with the time each arrived.
struct Timed {
    marks: Vec<(Duration, String)>,
    total: Duration,
    ok: bool,
}

/// Runs `cmd` with stdout to `<log>.out` and stderr to `<log>.err`, echoing and timing the
/// progress lines of stderr.
fn timed(cmd: &mut Command, log: &Path) -> Result<Timed> {
    let out = std::fs::File::create(log.with_extension("out"))?;
    let mut err_log = std::fs::File::create(log.with_extension("err"))?;
    let started = Instant::now();
    let mut child = cmd
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cargo")?;
    let stderr = child.stderr.take().expect("piped");
    let mut marks = Vec::new();
    // Bytes, not `lines()`: a tool's output that is not UTF-8 must not end the measurement.
    for line in BufReader::new(stderr).split(b'\n') {
        let line = String::from_utf8_lossy(&line?).into_owned();
        let at = started.elapsed();
        writeln!(err_log, "{line}")?;
        if MARKS.iter().any(|m| line.starts_with(m)) {
            eprintln!("[{:7.1} s] {line}", at.as_secs_f64());
            marks.push((at, line));
        }
    }
    let status = child.wait()?;
    Ok(Timed {
        marks,
        total: started.elapsed(),
        ok: status.success(),
    })
}

/// The steps of a run with their seconds: until the first progress line, cargo building and
/// starting xtask; then each progress line until the next one (the last until the end).
fn steps(t: &Timed) -> Vec<(f64, String)> {
    let first = t.marks.first().map_or(t.total, |m| m.0);
    let mut steps = vec![(
        first.as_secs_f64(),
        "cargo builds and starts xtask".to_string(),
    )];
    for (i, (at, line)) in t.marks.iter().enumerate() {
        let end = t.marks.get(i + 1).map_or(t.total, |m| m.0);
        steps.push(((end - *at).as_secs_f64(), line.clone()));
    }
    steps
}

fn git_out(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git").args(args).current_dir(dir).output()?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copied_cargo_home_has_the_toolchain_and_nothing_installed() {
        let from = tempfile::tempdir().unwrap();
        let bin = from.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("rustup"), "rustup").unwrap();
        std::os::unix::fs::symlink("rustup", bin.join("cargo")).unwrap();
        std::fs::hard_link(bin.join("rustup"), bin.join("rustc")).unwrap();
        std::fs::write(bin.join("worker-build"), "installed").unwrap();
        std::fs::write(from.path().join(".crates.toml"), "records").unwrap();
        std::fs::write(from.path().join("credentials.toml"), "secret").unwrap();
        std::fs::write(from.path().join("config.toml"), "[net]").unwrap();
        std::fs::create_dir_all(from.path().join("registry/cache/x")).unwrap();
        std::fs::write(from.path().join("registry/cache/x/a.crate"), "crate").unwrap();

        let to = tempfile::tempdir().unwrap();
        let home = to.path().join("home");
        copy_cargo_home(from.path(), &home, false).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(home.join("bin"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["cargo", "rustc", "rustup"]);
        assert_eq!(
            std::fs::read_to_string(home.join("bin/cargo")).unwrap(),
            "rustup"
        );
        assert!(home.join("config.toml").exists());
        assert!(!home.join(".crates.toml").exists());
        assert!(!home.join("credentials.toml").exists());
        assert!(!home.join("registry").exists());

        let with = to.path().join("with");
        copy_cargo_home(from.path(), &with, true).unwrap();
        assert!(with.join("registry/cache/x/a.crate").exists());
    }

    #[test]
    fn a_run_is_split_at_its_progress_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(
            "echo '   Compiling xtask' >&2; sleep 0.3; echo 'demo: installing ...' >&2; \
             echo 'a report'; sleep 0.3; echo 'demo: building: done in 0.3s' >&2; exit 3",
        );
        let t = timed(&mut cmd, &dir.path().join("run")).unwrap();
        assert!(!t.ok);
        let steps = steps(&t);
        let names: Vec<&str> = steps.iter().map(|s| s.1.as_str()).collect();
        assert_eq!(
            names,
            [
                "cargo builds and starts xtask",
                "demo: installing ...",
                "demo: building: done in 0.3s"
            ]
        );
        // Lower bounds only: each step lasted at least its sleep.
        assert!(steps[0].0 >= 0.29 && steps[1].0 >= 0.29, "{steps:?}");
        let total: f64 = steps.iter().map(|s| s.0).sum();
        assert!((total - t.total.as_secs_f64()).abs() < 1e-6);
        let err = std::fs::read_to_string(dir.path().join("run.err")).unwrap();
        assert!(err.starts_with("   Compiling xtask\n"), "{err}");
        let out = std::fs::read_to_string(dir.path().join("run.out")).unwrap();
        assert_eq!(out, "a report\n");
    }
}
