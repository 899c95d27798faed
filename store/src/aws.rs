//! The AWS SDK configuration every program of the workspace loads: the SDK's default chain
//! (region, endpoint, credentials), with an HTTPS client on rustls and ring.
//!
//! Why not the SDK's default client: it runs rustls on aws-lc, a C build of a second crypto
//! library, while ring is compiled anyway for object_store's S3 client (reqwest). One TLS stack
//! for S3 and Kinesis, and one C crypto build less in every first build. `deny.toml` bans
//! aws-lc-sys so that a default feature cannot bring it back.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client of the workspace's AWS SDK clients and credential providers: rustls on
/// ring, trusting the platform's root certificates.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The AWS configuration from the SDK's default chain (environment, profiles, SSO, web
/// identity, ECS and EC2 roles), with [`http_client`] for the clients and the providers.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_loaded_config_carries_the_ring_client() {
        let config = load_config().await;
        assert!(
            config.http_client().is_some(),
            "no HTTP client in the config"
        );
    }
}
