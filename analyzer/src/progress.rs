//! A one-line progress indicator on stderr, shown only when stderr is a terminal so that cron
//! mail and log files stay clean.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Prints the current step, overwriting the previous one; silent when not on a terminal.
pub struct Progress {
    enabled: bool,
    started: Instant,
}

impl Progress {
    /// A progress line on stderr if stderr is a terminal.
    pub fn stderr() -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// No progress line at all (the analyzer used as a library).
    pub fn silent() -> Progress {
        Progress {
            enabled: false,
            started: Instant::now(),
        }
    }

    /// Shows `msg` as the current step.
    pub fn step(&self, msg: &str) {
        if self.enabled {
            let secs = self.started.elapsed().as_secs_f64();
            let mut err = std::io::stderr().lock();
            // \r and "erase line" so each step replaces the last one.
            let _ = write!(err, "\r\x1b[2K[{secs:6.1}s] {msg}");
            let _ = err.flush();
        }
    }

    /// Clears the line before another line is printed on stderr.
    pub fn clear(&self) {
        self.finish();
    }

    /// Clears the line so that the report (or an error) starts on a clean line.
    pub fn finish(&self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
