//! Where and as whom to put records.

use std::fmt;

/// A Kinesis stream and the credentials allowed to put records on it.
#[derive(Clone, PartialEq, Eq)]
pub struct KinesisConfig {
    /// Stream name.
    pub stream: String,
    /// AWS region, part of the signature scope.
    pub region: String,
    /// Base URL without a trailing slash, e.g. `https://kinesis.eu-west-1.amazonaws.com`.
    pub endpoint: String,
    /// Access key id of an identity that may only `kinesis:PutRecords` on the stream.
    pub access_key_id: String,
    /// Its secret key.
    pub secret_access_key: String,
    /// Session token for temporary credentials.
    pub session_token: Option<String>,
}

// Secrets never reach a log line through `{:?}`.
impl fmt::Debug for KinesisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KinesisConfig")
            .field("stream", &self.stream)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let cfg = KinesisConfig {
            stream: "s".into(),
            region: "r".into(),
            endpoint: "e".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "topsecret".into(),
            session_token: Some("tokentoken".into()),
        };
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("tokentoken"),
            "{shown}"
        );
        assert!(shown.contains("AKID"));
    }
}
