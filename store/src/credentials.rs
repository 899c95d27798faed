//! S3 credentials for object_store from the AWS SDK's credential chain, cached until shortly
//! before they expire (the chain itself does not cache: the SDK clients do that).

use anyhow::{anyhow, Result};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::AwsCredential;
use object_store::CredentialProvider;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How to provide credentials, for the error when none are found.
const HOW: &str = "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
or AWS_PROFILE for a profile or an SSO login (`aws sso login`), or run with a role \
(ECS task role, EC2 instance profile, web identity)";

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// object_store's credential provider over the SDK's chain.
pub struct SdkCredentials {
    chain: SharedCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl std::fmt::Debug for SdkCredentials {
    // Never prints a key: only that this is the SDK's chain.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SdkCredentials(default chain)")
    }
}

impl SdkCredentials {
    /// The chain of `config`; an error when it has none at all.
    pub fn new(config: &aws_config::SdkConfig) -> Result<SdkCredentials> {
        let chain = config.credentials_provider().ok_or_else(|| anyhow!(HOW))?;
        Ok(SdkCredentials {
            chain,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// Fetches credentials once, so that a run without any stops before its first request
    /// with a message saying how to provide them.
    pub async fn check(&self) -> Result<()> {
        self.fetch()
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("{HOW} ({e})"))
    }

    async fn fetch(&self) -> Result<Arc<AwsCredential>, String> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE);
            if fresh {
                return Ok(credential.clone());
            }
        }
        let got =
            self.chain.provide_credentials().await.map_err(
                |e| match std::error::Error::source(&e) {
                    Some(source) => format!("{e}: {source}"),
                    None => e.to_string(),
                },
            )?;
        let credential = Arc::new(AwsCredential {
            key_id: got.access_key_id().to_string(),
            secret_key: got.secret_access_key().to_string(),
            token: got.session_token().map(str::to_string),
        });
        *cached = Some((credential.clone(), got.expiry()));
        Ok(credential)
    }
}

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.fetch()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: format!("{HOW} ({e})").into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    fn config(creds: Option<Credentials>) -> aws_config::SdkConfig {
        let mut b = aws_config::SdkConfig::builder();
        if let Some(c) = creds {
            b = b.credentials_provider(SharedCredentialsProvider::new(c));
        }
        b.build()
    }

    #[tokio::test]
    async fn credentials_come_from_the_chain_and_debug_hides_them() {
        let c = SdkCredentials::new(&config(Some(Credentials::new(
            "AKIDEXAMPLE",
            "very-secret",
            Some("token".into()),
            None,
            "test",
        ))))
        .unwrap();
        let got = c.get_credential().await.unwrap();
        assert_eq!(
            (
                got.key_id.as_str(),
                got.secret_key.as_str(),
                got.token.as_deref()
            ),
            ("AKIDEXAMPLE", "very-secret", Some("token"))
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("AKID"),
            "{shown}"
        );
    }

    #[test]
    fn no_chain_at_all_says_how_to_provide_credentials() {
        let err = SdkCredentials::new(&config(None)).unwrap_err().to_string();
        assert!(
            err.contains("AWS_PROFILE") && err.contains("AWS_ACCESS_KEY_ID"),
            "{err}"
        );
    }
}
