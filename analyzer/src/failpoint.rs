//! Test hooks of the concurrency tests (compactions and reports at the same time). Inert
//! unless `ANALYZER_PAUSE` is set.

use std::path::Path;
use std::time::Duration;

/// Test hook for the concurrency tests: with `ANALYZER_PAUSE=<point>:<gate file>` the process
/// creates `<gate file>.waiting` when it reaches `point` and waits there until the gate file
/// exists. Points: `before-commit` (compact: files written, `_current.json` not yet), and
/// `after-plan` (report: the day's run chosen, nothing read yet). Inert otherwise.
pub fn pause_at(point: &str) {
    let Ok(spec) = std::env::var("ANALYZER_PAUSE") else {
        return;
    };
    let Some((at, gate)) = spec.split_once(':') else {
        return;
    };
    if at != point {
        return;
    }
    let _ = std::fs::write(format!("{gate}.waiting"), std::process::id().to_string());
    while !Path::new(gate).exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
}
