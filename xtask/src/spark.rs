//! Apache Spark for the report past one machine (`jobs/spark/report.py`): pyspark pinned in a
//! project venv, and a real standalone cluster on 127.0.0.1 (a master and workers, each a
//! process group of its own, stopped by PID) to submit the job to.
//!
//! No Maven repository is reachable here, so nothing may download jars at run time: the job
//! uses only what the pyspark wheel ships (Parquet, local and Hadoop file systems).

use crate::paths;
use crate::process::{run, Service};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The pyspark release (Spark itself, with `spark-submit` and `spark-class`) the job is tested on.
pub const PYSPARK: &str = "4.0.1";
/// The oldest Java Spark 4 runs on.
pub const MIN_JAVA: u32 = 17;

/// The project-local venv holding pyspark (apart from `.venv`: 450 MB that only this needs).
pub fn venv() -> PathBuf {
    paths::root().join(".venv-spark")
}

/// A program of the venv (`python`, `spark-submit`, `spark-class`).
pub fn bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

/// The Java major version in `java -version` output: `openjdk version "17.0.15"` -> 17,
/// `java version "1.8.0_392"` -> 8.
pub fn java_major(version_output: &str) -> Option<u32> {
    let quoted = version_output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// The `java` Spark's scripts start: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else PATH's.
fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join("bin/java"),
        _ => PathBuf::from("java"),
    }
}

/// Fails with what to do unless Spark's Java is at least [`MIN_JAVA`].
pub fn check_java() -> Result<()> {
    let java = java();
    let out = Command::new(&java)
        .arg("-version")
        .output()
        .with_context(|| {
            format!(
                "Spark needs Java {MIN_JAVA} or later and `{}` did not start: install a JRE \
             (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
                java.display()
            )
        })?;
    // `java -version` writes to stderr.
    let text = String::from_utf8_lossy(&out.stderr);
    match java_major(&text) {
        Some(v) if v >= MIN_JAVA => Ok(()),
        found => bail!(
            "Spark {PYSPARK} needs Java {MIN_JAVA} or later; `{} -version` says {:?} \
             (major {found:?}): install openjdk-17-jre-headless or point JAVA_HOME at a newer JRE",
            java.display(),
            text.lines().next().unwrap_or("")
        ),
    }
}

/// Checks Java, then installs pyspark [`PYSPARK`] into [`venv`] when it is not there (a few
/// minutes and ~450 MB the first time; a no-op after).
pub fn ensure() -> Result<()> {
    check_java()?;
    let installed = Command::new(bin("pip"))
        .args(["show", "pyspark"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("Version: {PYSPARK}\n")))
        .unwrap_or(false);
    if installed && bin("spark-submit").exists() {
        return Ok(());
    }
    eprintln!("setup: python3 -m venv .venv-spark && pip install pyspark=={PYSPARK} (~450 MB)");
    let started = Instant::now();
    // Output on stderr: stdout is kept for what the command that called setup prints.
    run(
        "creating .venv-spark",
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv())
            .stdout(std::io::stderr()),
    )?;
    run(
        "installing pyspark",
        Command::new(bin("pip"))
            .args(["install", "--quiet", &format!("pyspark=={PYSPARK}")])
            .stdout(std::io::stderr()),
    )?;
    eprintln!(
        "setup: pyspark {PYSPARK} installed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Sets what every Spark process here needs: the venv first on PATH (Spark's scripts find
/// pyspark through `python3`), loopback only, and scratch folders under `dir`.
pub fn env<'c>(cmd: &'c mut Command, dir: &Path) -> &'c mut Command {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv().join("bin")];
    paths.extend(std::env::split_paths(&path));
    cmd.env(
        "PATH",
        std::env::join_paths(paths).expect("PATH entries have no ':'"),
    )
    // Spark binds its RPC, block manager and web UI sockets to this address.
    .env("SPARK_LOCAL_IP", "127.0.0.1")
    .env("SPARK_LOCAL_DIRS", dir.join("local"))
    .env("SPARK_LOG_DIR", dir.join("logs"))
    .env("SPARK_CONF_DIR", dir.join("conf"))
    .env("PYSPARK_PYTHON", bin("python"))
    .env("PYSPARK_DRIVER_PYTHON", bin("python"))
}

/// Spark's logging for the processes started with [`env`] on `dir`: warnings and errors only,
/// except the master's and workers' own lines (the cluster waits for those), so a failing
/// job's output shows its error rather than pages of progress.
pub fn write_log_config(dir: &Path) -> Result<()> {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf)?;
    std::fs::write(
        conf.join("log4j2.properties"),
        "rootLogger.level = warn\n\
         rootLogger.appenderRef.stderr.ref = stderr\n\
         appender.stderr.type = Console\n\
         appender.stderr.name = stderr\n\
         appender.stderr.target = SYSTEM_ERR\n\
         appender.stderr.layout.type = PatternLayout\n\
         appender.stderr.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n%ex\n\
         logger.deploy.name = org.apache.spark.deploy\n\
         logger.deploy.level = info\n",
    )
    .with_context(|| format!("writing {}", conf.display()))
}

/// A Spark standalone cluster on 127.0.0.1: one master, `workers` workers of one core and
/// 1 GB each. Every port is the OS's pick (port 0), read back from the logs, so nothing races
/// for a port. Stopped (by PID, each process group) when dropped.
pub struct Cluster {
    /// `spark://127.0.0.1:PORT`.
    pub master_url: String,
    /// Scratch folder: logs, work and local dirs.
    pub dir: PathBuf,
    // Workers before the master: dropped (stopped) in field order.
    workers: Vec<Service>,
    master: Service,
}

impl Cluster {
    /// Starts the master, then the workers, and waits until every worker has registered.
    pub async fn start(workers: usize) -> Result<Cluster> {
        if !bin("spark-class").exists() {
            bail!(
                "pyspark is missing from {}: run `cargo xtask setup`",
                venv().display()
            );
        }
        let dir = paths::scratch("spark");
        write_log_config(&dir)?;
        let mut master = Service::spawn(
            "spark master",
            env(
                Command::new(bin("spark-class")).args([
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--webui-port",
                    "0",
                ]),
                &dir,
            ),
            &dir.join("master.log"),
        )?;
        let log = master
            .wait_for_log("I have been elected leader", Duration::from_secs(120))
            .await?;
        let master_url = log
            .split_whitespace()
            .find(|w| w.starts_with("spark://"))
            .context("the master's log names no spark:// URL")?
            .trim_end_matches([',', '.'])
            .to_string();
        let mut cluster = Cluster {
            master_url,
            dir,
            workers: Vec::new(),
            master,
        };
        for i in 0..workers {
            let work = cluster.dir.join(format!("work-{i}"));
            let worker = Service::spawn(
                &format!("spark worker {i}"),
                env(
                    Command::new(bin("spark-class"))
                        .args(["org.apache.spark.deploy.worker.Worker"])
                        .arg(&cluster.master_url)
                        .args(["--host", "127.0.0.1", "--port", "0", "--webui-port", "0"])
                        .args(["--cores", "1", "--memory", "1g", "--work-dir"])
                        .arg(&work),
                    &cluster.dir,
                ),
                &cluster.dir.join(format!("worker-{i}.log")),
            )?;
            cluster.workers.push(worker);
        }
        for worker in &mut cluster.workers {
            worker
                .wait_for_log(
                    "Successfully registered with master",
                    Duration::from_secs(120),
                )
                .await?;
        }
        Ok(cluster)
    }

    /// `spark-submit --master <this cluster>` of `script` with `args`, run to completion; the
    /// driver runs here (client mode), its UI off, on loopback.
    pub fn submit(&self, script: &Path, args: &[&str]) -> Result<Output> {
        let mut cmd = Command::new(bin("spark-submit"));
        env(&mut cmd, &self.dir)
            .args(["--master", &self.master_url])
            .args(["--conf", "spark.ui.enabled=false"])
            .args(["--conf", "spark.driver.host=127.0.0.1"])
            .args(["--conf", "spark.driver.bindAddress=127.0.0.1"])
            // Both workers' single cores, so the job really runs on two executors.
            .args([
                "--conf",
                "spark.executor.cores=1",
                "--conf",
                "spark.cores.max=2",
            ])
            .args(["--conf", "spark.executor.memory=768m"])
            .arg(script)
            .args(args);
        cmd.output()
            .with_context(|| format!("running spark-submit {}", script.display()))
    }

    /// Where the workers log (to name in failures).
    pub fn logs(&self) -> String {
        let mut logs = vec![self.master.log_path().display().to_string()];
        logs.extend(
            self.workers
                .iter()
                .map(|w| w.log_path().display().to_string()),
        );
        logs.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions_old_and_new_style() {
        let jdk17 = "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment";
        assert_eq!(java_major(jdk17), Some(17));
        assert_eq!(java_major("java version \"1.8.0_392\""), Some(8));
        assert_eq!(java_major("openjdk version \"25\" 2025-09-16"), Some(25));
        assert_eq!(java_major("openjdk version \"21-ea\""), Some(21));
        assert_eq!(java_major("bash: java: command not found"), None);
    }
}
