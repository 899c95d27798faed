//! Child services: each in its own process group, logging to a file, stopped by PID.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running child process group; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Service {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Service {
    /// Spawns `cmd` in a new process group with stdout and stderr going to `log`.
    pub fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Service> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Service {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// Where the service logs.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the service has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Errors (with the log's tail) if the service has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            Some(status) => Err(self.exited(status)),
            None => Ok(()),
        }
    }

    /// The error of a service that exited with `status`, with its log's tail.
    fn exited(&self, status: std::process::ExitStatus) -> anyhow::Error {
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        anyhow::anyhow!(
            "{} exited ({status}); log {}:\n{}",
            self.name,
            self.log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// Waits until the log holds `needle` and returns the log; errors with the log after
    /// `timeout`, or as soon as the service has exited without writing it (the log is read
    /// once more after the exit, so a line written just before exiting still counts).
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let exited = self.child.try_wait()?;
            let log = self.log();
            if log.contains(needle) {
                return Ok(log);
            }
            if let Some(status) = exited {
                return Err(self
                    .exited(status)
                    .context(format!("{} exited before logging {needle:?}", self.name)));
            }
            if Instant::now() > deadline {
                bail!(
                    "{needle:?} not in the log of {} ({}) after {timeout:?}:\n{log}",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` to the whole process group.
    pub fn signal(&self, signal: i32) {
        // Negative pid: the group, so children (workerd under wrangler) go too.
        unsafe {
            libc::kill(-(self.child.id() as i32), signal);
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the group: SIGTERM, up to 5 s grace, then SIGKILL.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            self.signal(libc::SIGKILL); // stray grandchildren
            return;
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Ports [`free_port`] has handed out in this process: never the same one twice, so tests
/// running side by side do not pick each other's.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// The kernel's range of ephemeral ports (what `bind` to port 0 and outgoing connections get):
/// `/proc/sys/net/ipv4/ip_local_port_range`, or Linux's default.
fn ephemeral_ports() -> (u16, u16) {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => (lo, hi),
        _ => (32768, 60999),
    }
}

/// Where [`free_port`] picks: below the ephemeral range when there is room, else above it;
/// `None` when the range leaves neither (the kernel's own pick is then all there is).
fn free_port_range() -> Option<std::ops::Range<u32>> {
    outside(ephemeral_ports())
}

/// [`free_port_range`] for the ephemeral range `lo..=hi`.
fn outside((lo, hi): (u16, u16)) -> Option<std::ops::Range<u32>> {
    let range = if lo >= 1024 + 8192 {
        u32::from(lo).saturating_sub(16384).max(1024)..u32::from(lo)
    } else {
        u32::from(hi) + 1..65536
    };
    (range.len() >= 1024).then_some(range)
}

/// A TCP port on 127.0.0.1 that was free a moment ago, outside the kernel's ephemeral range:
/// a port the OS handed out for `bind(0)` could go meanwhile to any socket of any process (a
/// JVM's local server got one once, and a client polling the port killed it with a request it
/// read as a 1 GB length). Another starter may still take it before the service binds it:
/// starters retry when [`lost_port_race`] says so.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let range = free_port_range();
    loop {
        let port = match &range {
            Some(range) => {
                let mut random = std::collections::hash_map::RandomState::new().build_hasher();
                random.write_u32(std::process::id());
                let width = u64::from(range.end - range.start);
                u16::try_from(range.start + (random.finish() % width) as u32)
                    .expect("the range lies within the ports")
            }
            None => 0,
        };
        let Ok(bound) = TcpListener::bind(("127.0.0.1", port)).and_then(|l| l.local_addr()) else {
            continue;
        };
        if HANDED_OUT
            .lock()
            .expect("not poisoned")
            .insert(bound.port())
        {
            return bound.port();
        }
    }
}

/// Whether a service failed to start because a port from [`free_port`] was taken meanwhile
/// (its log, which the error carries, says so).
pub fn lost_port_race(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("Address already in use") || text.contains("EADDRINUSE")
}

/// How many times a starter tries fresh ports before giving up.
pub const START_TRIES: u32 = 3;

/// Runs `start` (which picks its ports with [`free_port`]) again, up to [`START_TRIES`] times
/// in all, while it fails only because one of those ports was taken meanwhile.
pub async fn start_on_free_ports<T, F, Fut>(what: &str, mut start: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match start().await {
            Err(e) if tries < START_TRIES && lost_port_race(&e) => {
                eprintln!("{what}: a port was taken meanwhile; trying fresh ones");
                tries += 1;
            }
            started => return started,
        }
    }
}

/// Polls `url` until it answers `200`, the service dies, or `timeout` passes.
pub async fn wait_ready(service: &mut Service, url: &str, timeout: Duration) -> Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        service.check_alive()?;
        if let Ok(resp) = client.get(url).timeout(Duration::from_secs(5)).send().await {
            if resp.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{} not ready at {url} after {timeout:?}; log: {}",
                service.name,
                service.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a scoped thread returned, with `what` as the error's context; a panic in it is an
/// error too (the demo and the tests run builds and installs side by side).
pub fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>, what: &str) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("it panicked")))
        .with_context(|| what.to_string())
}

/// Runs a command to completion, failing with its output when it fails.
pub fn run(what: &str, cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("{what}: could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{what} failed ({status}): {cmd:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_never_hands_out_a_port_twice() {
        let ports: Vec<u16> = (0..300).map(|_| free_port()).collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        // None is one the kernel may give any socket meanwhile (where its range leaves room).
        let (lo, hi) = ephemeral_ports();
        if free_port_range().is_some() {
            assert!(
                ports.iter().all(|p| !(lo..=hi).contains(p) && *p >= 1024),
                "{ports:?} against {lo}-{hi}"
            );
        }
        assert!(TcpListener::bind(("127.0.0.1", ports[0])).is_ok());
    }

    #[test]
    fn ports_are_picked_below_the_ephemeral_range_else_above_else_by_the_kernel() {
        assert_eq!(outside((32768, 60999)), Some(16384..32768));
        assert_eq!(outside((10000, 60999)), Some(1024..10000));
        assert_eq!(outside((2000, 50000)), Some(50001..65536));
        assert_eq!(outside((1024, 65535)), None);
        assert_eq!(outside((1500, 64999)), None, "fewer than 1024 ports above");
    }

    #[tokio::test]
    async fn starts_are_retried_only_for_taken_ports_and_only_so_often() {
        use std::cell::Cell;
        let taken = || anyhow::anyhow!("bind: Address already in use");
        let calls = Cell::new(0);
        let twice_taken = start_on_free_ports("svc", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(taken())
                } else {
                    Ok(n)
                }
            }
        });
        assert_eq!(twice_taken.await.unwrap(), 3);

        calls.set(0);
        let always_taken: Result<()> = start_on_free_ports("svc", || {
            calls.set(calls.get() + 1);
            async { Err(taken()) }
        })
        .await;
        assert!(always_taken.is_err());
        assert_eq!(calls.get(), START_TRIES);

        calls.set(0);
        let other: Result<()> = start_on_free_ports("svc", || {
            calls.set(calls.get() + 1);
            async { Err(anyhow::anyhow!("No module named moto")) }
        })
        .await;
        assert!(other.is_err());
        assert_eq!(calls.get(), 1, "other failures are not retried");
    }

    #[test]
    fn a_taken_port_is_told_apart_from_other_start_failures() {
        // workerd under wrangler dev, and moto's werkzeug, as they report it.
        let workerd = anyhow::anyhow!("*** Fatal uncaught kj::Exception: kj/async-io-unix.c++:945: failed: ::bind(sockfd, &addr.generic, addrlen): Address already in use; toString() = 127.0.0.1:44273")
            .context("wrangler dev (flaky) exited (exit status: 1)");
        let werkzeug =
            anyhow::anyhow!("Address already in use\nPort 5000 is in use by another program.");
        let node =
            anyhow::anyhow!("Error: listen EADDRINUSE: address already in use 127.0.0.1:8787");
        assert!(lost_port_race(&workerd));
        assert!(lost_port_race(&werkzeug));
        assert!(lost_port_race(&node));
        assert!(!lost_port_race(&anyhow::anyhow!(
            "moto exited (exit status: 1): No module named moto"
        )));
    }

    #[tokio::test]
    async fn waiting_for_a_log_line_ends_when_the_service_exits() {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo listening; exit 3"]);
        let mut svc = Service::spawn("sh", &mut cmd, &dir.path().join("sh.log")).unwrap();
        // The line written just before exiting still counts.
        let log = svc
            .wait_for_log("listening", Duration::from_secs(30))
            .await
            .unwrap();
        assert!(log.contains("listening"));
        // A line it never writes: an error as soon as it has exited, not after the timeout.
        let started = Instant::now();
        let err = svc
            .wait_for_log("never written", Duration::from_secs(60))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exited"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    }
}
