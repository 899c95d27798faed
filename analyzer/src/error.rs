//! Errors that schedulers must tell apart, and the exit codes they map to.
//!
//! 0 done, 2 usage error (clap exits with it on its own), 3 no data for the day, 1 anything else.

use std::fmt;

/// Exit code when the day has no partition files at all.
pub const EXIT_NO_DATA: u8 = 3;
/// Exit code for every other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage error (clap uses the same number).
pub const EXIT_USAGE: u8 = 2;

/// No hit files were found for what was asked: a scheduler may retry later rather than page
/// someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoData {
    /// What was asked for (`2026-11-25 (UTC)`, a period, a UTC date to compact).
    pub what: String,
    /// Every partition location that was looked at.
    pub looked_at: Vec<String>,
}

impl fmt::Display for NoData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no data for {}: no hit files under {}",
            self.what,
            self.looked_at.join(" or ")
        )
    }
}

impl std::error::Error for NoData {}

/// A usage problem found after parsing (e.g. an option that makes no sense with another).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The process exit code for an error: 3 for [`NoData`], 2 for [`Usage`], else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<NoData>()) {
        EXIT_NO_DATA
    } else if err.chain().any(|e| e.is::<Usage>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_survive_context() {
        let no_data: anyhow::Error = NoData {
            what: "2026-11-25 (UTC)".into(),
            looked_at: vec!["/d/hits/dt=2026-11-25/".into()],
        }
        .into();
        let wrapped = Err::<(), _>(no_data).context("report").unwrap_err();
        assert_eq!(exit_code(&wrapped), 3);
        assert!(wrapped
            .root_cause()
            .to_string()
            .contains("/d/hits/dt=2026-11-25/"));
        assert_eq!(exit_code(&anyhow::Error::new(Usage("x".into()))), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), 1);
    }
}
