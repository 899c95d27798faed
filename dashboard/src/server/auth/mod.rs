//! Who may see the dashboard when it is not on loopback: holders of `DASHBOARD_TOKEN`, as an
//! `Authorization: Bearer` header ([`token`]) or as the session cookie the login form sets
//! ([`cookie`]). Failed attempts are answered one at a time, a second each ([`Auth::failed`]),
//! so the token cannot be guessed quickly; the token is never taken from a URL, never logged.

pub mod cookie;
pub mod token;

use std::time::Duration;

/// How long a failed attempt takes to answer; failures are answered one at a time.
pub const FAILURE_DELAY: Duration = Duration::from_secs(1);

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// The server's credentials.
pub struct Auth {
    /// The token.
    pub token: token::Token,
    /// The session cookies' key (derived from the token: a new token ends every session).
    pub cookies: cookie::Sessions,
    failures: tokio::sync::Mutex<()>,
}

/// Shows nothing of the token.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { .. }")
    }
}

impl Auth {
    /// Credentials from the token's text; a usage error when it is too short to be a secret.
    pub fn new(token: &str) -> Result<Auth, analyzer::error::Usage> {
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(analyzer::error::Usage(format!(
                "DASHBOARD_TOKEN must be at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
            )));
        }
        Ok(Auth {
            token: token::Token::new(token),
            cookies: cookie::Sessions::new(token),
            failures: tokio::sync::Mutex::new(()),
        })
    }

    /// Waits out a failed attempt: one at a time, [`FAILURE_DELAY`] each, whatever the
    /// number of clients trying.
    pub async fn failed(&self) {
        let _one_at_a_time = self.failures.lock().await;
        tokio::time::sleep(FAILURE_DELAY).await;
    }
}
