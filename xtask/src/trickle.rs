//! A trickle of synthetic page views through the worker, so that a demo left running
//! (`cargo xtask demo --serve`) has live numbers that move: a few visits every tick, each tick's
//! from its own seed (new paths and agents in the mix), until told to stop.

use crate::traffic;
use anyhow::Result;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the trickle runs.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Time between two ticks.
    pub every: Duration,
    /// Visits (page views, assets and the odd crawler) sent each tick.
    pub visits: usize,
}

impl Default for Pace {
    /// About two page views a second: a small site on a quiet afternoon.
    fn default() -> Pace {
        Pace {
            every: Duration::from_secs(1),
            visits: 3,
        }
    }
}

/// Sends visits to the worker at `url` at `pace` until `stop` is set; counts the page views
/// the worker answered 200 in `sent`. A request that fails is retried on the next tick's
/// visits, not counted: the worker being restarted must not end the demo.
pub async fn run(
    url: String,
    pace: Pace,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> Result<()> {
    let mut tick: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let next = tokio::time::Instant::now() + pace.every;
        let visits = traffic::burst(pace.visits, 0x7472_6963_6b6c_6500 + tick);
        if let Ok(answers) = traffic::send(&url, &visits, 2).await {
            let ok = visits
                .iter()
                .zip(&answers)
                .filter(|(v, (status, _))| v.page_view && !v.bot && *status == 200)
                .count();
            sent.fetch_add(ok as u64, Ordering::Relaxed);
        }
        tick += 1;
        tokio::time::sleep_until(next).await;
    }
    Ok(())
}
