//! One `consume` per stream and sink: a lease object beside the checkpoints
//! (`pagehit::layout::lease`), taken and renewed with conditional puts.
//!
//! Two consumers of one stream into one sink lose nothing (objects are create-only) but land
//! every batch twice under other names, move each other's checkpoints backwards and double the
//! stream's read load. So a consumer first takes the lease: it writes the lease object only
//! if there is none, or over the version it read (`If-Match`). The holder renews it every
//! third of its time to live; a second consumer waits (or, with `--if-held exit`, exits naming
//! the holder). A lease is free when its holder released it (on SIGTERM), when it was not
//! renewed for its time to live plus as much again for clock differences (by the holder's
//! clock in it), or when the waiting consumer itself saw the same version unchanged for the
//! time to live (by its own clock: a crashed holder is replaced without trusting any clock).
//! A holder that cannot renew stops writing once its lease may have run out, and one that
//! finds its lease taken stops at once.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::{Store, Swap, Version};

/// The lease object's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// Who holds it: host, process id and a random part.
    pub holder: String,
    /// When the holder last wrote it, ms since the epoch (the holder's clock).
    pub renewed_ms: i64,
    /// How long it lives without a renewal, ms.
    pub ttl_ms: u64,
    /// The holder let it go (it stopped): anyone may take it at once.
    pub released: bool,
}

/// What to do when another consumer holds the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IfHeld {
    /// Wait until it is released or expires, then take it.
    Wait,
    /// Exit with an error naming the holder.
    Exit,
}

/// Another consumer holds the lease (`--if-held exit`).
#[derive(Debug)]
pub struct Held {
    /// The lease's key, for the message.
    pub lease: String,
    /// Its holder.
    pub holder: String,
    /// How long ago it was renewed, by this host's clock.
    pub renewed_ago_ms: i64,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "another consumer holds {}: {} (renewed {:.1}s ago); one consumer per stream and sink",
            self.lease,
            self.holder,
            self.renewed_ago_ms as f64 / 1000.0
        )
    }
}

impl std::error::Error for Held {}

/// A held lease, renewed in the background until dropped or released.
pub struct Lease {
    shared: Arc<Shared>,
    renewer: tokio::task::JoinHandle<()>,
}

struct Shared {
    store: Store,
    key: String,
    holder: String,
    ttl: Duration,
    /// The version last written by this holder.
    version: Mutex<Version>,
    /// Writing is safe until then (a renewal's start plus two thirds of the time to live).
    valid_until: Mutex<Instant>,
    /// Who took the lease from this holder, once one did.
    lost_to: Mutex<Option<String>>,
    stop: Arc<AtomicBool>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A name for this consumer: host, process id and a random part (a restarted container may
/// reuse both of the others).
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let noise =
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), now_ms());
    format!("{host}:{}:{:06x}", std::process::id(), noise & 0xff_ffff)
}

impl Lease {
    /// Takes the lease of `stream` in `store` as `holder`, waiting for it as `if_held` says;
    /// errors when asked to stop before it was taken. The returned lease renews itself.
    pub async fn take(
        store: &Store,
        stream: &str,
        holder: &str,
        ttl: Duration,
        if_held: IfHeld,
        stop: Arc<AtomicBool>,
    ) -> Result<Lease> {
        let key = pagehit::layout::lease(stream);
        let ttl_ms = ttl.as_millis() as u64;
        // The version seen and since when (this host's monotonic clock).
        let mut seen: Option<(Version, Instant)> = None;
        let mut said = false;
        let mut backoff = Duration::from_millis(500);
        loop {
            if stop.load(Ordering::Relaxed) {
                bail!(
                    "stopped while waiting for the lease {}",
                    store.display(&key)
                );
            }
            // An outage pauses the taking, as it pauses the reading (stream::persist).
            let found = match store.get_versioned(&key).await {
                Ok(found) => found,
                Err(e) => {
                    outage(&mut backoff, &key, store, e).await;
                    continue;
                }
            };
            let body = Body {
                holder: holder.to_string(),
                renewed_ms: now_ms(),
                ttl_ms,
                released: false,
            };
            let json = serde_json::to_vec(&body).expect("a lease serialises");
            let started = Instant::now();
            let (expected, previous) = match &found {
                None => (None, None),
                Some((bytes, version)) => {
                    let other: Option<Body> = serde_json::from_slice(bytes).ok();
                    let unchanged_for = match &seen {
                        Some((v, since)) if v == version => since.elapsed(),
                        _ => {
                            seen = Some((version.clone(), Instant::now()));
                            Duration::ZERO
                        }
                    };
                    let free = match &other {
                        Some(o) if o.released => true,
                        // By the holder's own clock, with its time to live again as margin.
                        Some(o) => {
                            o.renewed_ms.saturating_add(2 * o.ttl_ms as i64) < now_ms()
                                || unchanged_for >= Duration::from_millis(o.ttl_ms.max(ttl_ms))
                        }
                        // Not a lease this program wrote: free once it stays as it is.
                        None => unchanged_for >= ttl,
                    };
                    if !free {
                        let held = Held {
                            lease: store.display(&key),
                            holder: other
                                .as_ref()
                                .map_or_else(|| "an unreadable lease".into(), |o| o.holder.clone()),
                            renewed_ago_ms: other.as_ref().map_or(0, |o| now_ms() - o.renewed_ms),
                        };
                        let wait_ms = other.as_ref().map_or(ttl_ms, |o| o.ttl_ms.max(ttl_ms));
                        if if_held == IfHeld::Exit {
                            return Err(held.into());
                        }
                        if !said {
                            eprintln!(
                                "aggregator: {held}; waiting until it is released or not renewed for {:.0}s",
                                wait_ms as f64 / 1000.0
                            );
                            said = true;
                        }
                        tokio::time::sleep(
                            (ttl / 6).clamp(Duration::from_millis(100), Duration::from_secs(5)),
                        )
                        .await;
                        continue;
                    }
                    (Some(version.clone()), other)
                }
            };
            match store
                .put_if(&key, json, expected.as_ref(), "application/json")
                .await
            {
                Err(e) => {
                    outage(&mut backoff, &key, store, e).await;
                    continue;
                }
                Ok(Swap::Lost) => continue,
                Ok(Swap::Done(version)) => {
                    if let Some(o) = previous.filter(|o| !o.released) {
                        eprintln!(
                            "aggregator: took over {} from {} (not renewed for {:.1}s)",
                            store.display(&key),
                            o.holder,
                            (now_ms() - o.renewed_ms) as f64 / 1000.0
                        );
                    }
                    let shared = Arc::new(Shared {
                        store: store.clone(),
                        key,
                        holder: holder.to_string(),
                        ttl,
                        version: Mutex::new(version),
                        valid_until: Mutex::new(started + ttl * 2 / 3),
                        lost_to: Mutex::new(None),
                        stop,
                    });
                    let renewer = tokio::spawn(renew_until_lost(shared.clone()));
                    return Ok(Lease { shared, renewer });
                }
            }
        }
    }

    /// Waits until writing is safe: errors when the lease was taken by another consumer.
    /// While renewals fail (the store is down), it waits rather than write under a lease that
    /// may have run out.
    pub async fn check(&self) -> Result<()> {
        loop {
            if let Some(other) = self.shared.lost_to.lock().expect("lease state").clone() {
                bail!(
                    "lost the lease {} to {other}: another consumer took over; stopping",
                    self.shared.store.display(&self.shared.key)
                );
            }
            if Instant::now() < *self.shared.valid_until.lock().expect("lease state") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lets the lease go so that the next consumer starts at once (on a clean stop).
    pub async fn release(mut self) -> Result<()> {
        self.renewer.abort();
        // Until the renewer has stopped, a renewal may still be written.
        let _ = (&mut self.renewer).await;
        let s = &self.shared;
        let body = Body {
            holder: s.holder.clone(),
            renewed_ms: now_ms(),
            ttl_ms: s.ttl.as_millis() as u64,
            released: true,
        };
        let json = serde_json::to_vec(&body).expect("a lease serialises");
        let mut version = s.version.lock().expect("lease state").clone();
        // A renewal cut off by the abort may have been written without its version being
        // kept: when the lease is still this holder's, release it at the version found. When
        // someone else holds it, there is nothing to release.
        for _ in 0..3 {
            let swap = s
                .store
                .put_if(&s.key, json.clone(), Some(&version), "application/json")
                .await
                .with_context(|| format!("releasing {}", s.store.display(&s.key)))?;
            if let Swap::Done(_) = swap {
                return Ok(());
            }
            match s.store.get_versioned(&s.key).await? {
                Some((bytes, found))
                    if serde_json::from_slice::<Body>(&bytes)
                        .is_ok_and(|b| b.holder == s.holder && !b.released) =>
                {
                    version = found;
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Logs a failed store call while taking the lease and waits before the next try.
async fn outage(backoff: &mut Duration, key: &str, store: &Store, e: anyhow::Error) {
    eprintln!(
        "aggregator: taking the lease {} failed, retrying in {backoff:?}: {e:#}",
        store.display(key)
    );
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(Duration::from_secs(30));
}

/// Renews the lease every third of its time to live until another consumer takes it.
async fn renew_until_lost(s: Arc<Shared>) {
    loop {
        tokio::time::sleep(s.ttl / 3).await;
        let started = Instant::now();
        let body = Body {
            holder: s.holder.clone(),
            renewed_ms: now_ms(),
            ttl_ms: s.ttl.as_millis() as u64,
            released: false,
        };
        let json = serde_json::to_vec(&body).expect("a lease serialises");
        let version = s.version.lock().expect("lease state").clone();
        match s
            .store
            .put_if(&s.key, json, Some(&version), "application/json")
            .await
        {
            Ok(Swap::Done(v)) => {
                *s.version.lock().expect("lease state") = v;
                *s.valid_until.lock().expect("lease state") = started + s.ttl * 2 / 3;
            }
            Ok(Swap::Lost) => {
                let other = match s.store.get(&s.key).await {
                    Ok(Some(bytes)) => serde_json::from_slice::<Body>(&bytes)
                        .map(|b| b.holder)
                        .unwrap_or_else(|_| "an unknown writer".into()),
                    _ => "another consumer".into(),
                };
                eprintln!(
                    "aggregator: error: lost the lease {} to {other}; stopping",
                    s.store.display(&s.key)
                );
                *s.lost_to.lock().expect("lease state") = Some(other);
                s.stop.store(true, Ordering::Relaxed);
                return;
            }
            Err(e) => eprintln!(
                "aggregator: renewing {} failed, retrying: {e:#}",
                s.store.display(&s.key)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn folder() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&store::Location::Dir(dir.path().join("sink")))
            .await
            .unwrap();
        (dir, store)
    }

    fn stop() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_a_second_is_told_who_and_a_release_frees_it_at_once() {
        let (_dir, store) = folder().await;
        let ttl = Duration::from_secs(30);
        let a = Lease::take(&store, "s", "host-a:1:aa", ttl, IfHeld::Exit, stop())
            .await
            .unwrap();
        a.check().await.unwrap();
        let err = Lease::take(&store, "s", "host-b:2:bb", ttl, IfHeld::Exit, stop())
            .await
            .err()
            .unwrap();
        let held = err.downcast_ref::<Held>().expect("a Held error");
        assert_eq!(held.holder, "host-a:1:aa");
        assert!(
            err.to_string().contains("_checkpoints/s/_lease.json"),
            "{err}"
        );
        a.release().await.unwrap();
        let b = Lease::take(&store, "s", "host-b:2:bb", ttl, IfHeld::Exit, stop())
            .await
            .unwrap();
        b.check().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashed_holders_lease_expires_and_the_holder_that_lost_it_stops() {
        let (_dir, store) = folder().await;
        let ttl = Duration::from_millis(600);
        let stop_a = stop();
        let a = Lease::take(&store, "s", "a", ttl, IfHeld::Wait, stop_a.clone())
            .await
            .unwrap();
        // A "crash": renewals stop, the lease object stays.
        a.renewer.abort();
        let started = Instant::now();
        let b = Lease::take(&store, "s", "b", ttl, IfHeld::Wait, stop())
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "taken only after it was not renewed for its time to live"
        );
        b.check().await.unwrap();
        // A holder that comes back finds it taken at its next renewal and stops.
        let renewer = tokio::spawn(renew_until_lost(a.shared.clone()));
        tokio::time::timeout(Duration::from_secs(5), renewer)
            .await
            .unwrap()
            .unwrap();
        assert!(stop_a.load(Ordering::Relaxed));
        let err = a.check().await.unwrap_err();
        assert!(err.to_string().contains("lost the lease"), "{err}");
        assert!(err.to_string().contains(" to b"), "{err}");
    }
}
