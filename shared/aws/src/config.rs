//! The SDK configuration every dropflow Lambda uses: one rustls (ring) HTTPS client
//! shared by all service clients, credentials and region from the usual chain, and
//! `AWS_ENDPOINT_URL` honoured so a local emulator can stand in for AWS.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

fn http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Loads the SDK configuration from the environment (the Lambda's role, `AWS_REGION`,
/// `AWS_ENDPOINT_URL` for a local stack).
pub async fn load_sdk_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// A configuration with fixed credentials and endpoint, for local emulators (tests and
/// benchmarks), which accept any credentials.
pub fn static_sdk_config(endpoint_url: &str, region: &str) -> SdkConfig {
    credentials_sdk_config(endpoint_url, region, "testing", "testing", None)
}

/// A configuration for `endpoint_url` with the given credentials (an IAM user's key, or
/// temporary credentials with their session token): what a test uses to act as one
/// role on an emulator that enforces IAM.
pub fn credentials_sdk_config(
    endpoint_url: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint_url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_string),
            None,
            "static",
        )))
        .build()
}
