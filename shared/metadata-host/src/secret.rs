//! The metadata API key, kept in Secrets Manager (the template's `MetadataApiKeySecret`,
//! the local stack's `dropflow-local/metadata-api-key`): read once at cold start, only its
//! SHA-256 kept in memory.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use sha2::{Digest, Sha256};

use crate::config::MetadataConfig;

/// Why the API key could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// GetSecretValue failed (no such secret, access denied, throttled, ...).
    #[error(
        "reading the metadata API key from secret {secret} failed ({code}: {message}): check \
         DROPFLOW_METADATA_API_KEY_SECRET names the stack's secret and that the function's \
         role may call secretsmanager:GetSecretValue on it"
    )]
    Unreadable {
        /// The secret's ARN or name.
        secret: String,
        /// The AWS error code.
        code: String,
        /// The AWS error message.
        message: String,
    },
    /// The secret holds binary data or nothing.
    #[error(
        "secret {secret} has no SecretString: store the metadata API key as a non-empty \
         string (the template's GenerateSecretString does)"
    )]
    NotAString {
        /// The secret's ARN or name.
        secret: String,
    },
    /// CreateSecret failed (the local stack).
    #[error("creating secret {name} failed ({code}: {message})")]
    NotCreated {
        /// The secret's name.
        name: String,
        /// The AWS error code.
        code: String,
        /// The AWS error message.
        message: String,
    },
}

impl SecretError {
    /// Stable error type (logged as `error_type`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "config.secret_unreadable",
            Self::NotAString { .. } => "config.secret_not_a_string",
            Self::NotCreated { .. } => "config.secret_not_created",
        }
    }
}

/// When `config` names a secret (`DROPFLOW_METADATA_API_KEY_SECRET`), reads it and keeps
/// the key's SHA-256 as the key every request must carry; otherwise leaves `config` as it is.
pub async fn resolve_api_key(
    config: &mut MetadataConfig,
    sdk: &aws_config::SdkConfig,
) -> Result<(), SecretError> {
    let Some(secret) = &config.api_key_secret else {
        return Ok(());
    };
    let key = read_secret_string(&Client::new(sdk), secret).await?;
    config.service.api_key_sha256 = Some(Sha256::digest(key.as_bytes()).into());
    Ok(())
}

async fn read_secret_string(client: &Client, secret: &str) -> Result<String, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|error| {
            let (code, message) = code_and_message(&error);
            SecretError::Unreadable {
                secret: secret.to_string(),
                code,
                message,
            }
        })?;
    match output.secret_string() {
        Some(key) if !key.is_empty() => Ok(key.to_string()),
        _ => Err(SecretError::NotAString {
            secret: secret.to_string(),
        }),
    }
}

/// Stores `key` as a new secret `name` and returns its ARN: the local stack's stand-in for
/// the template's generated secret.
pub async fn create_api_key_secret(
    sdk: &aws_config::SdkConfig,
    name: &str,
    key: &str,
) -> Result<String, SecretError> {
    let output = Client::new(sdk)
        .create_secret()
        .name(name)
        .description("dropflow metadata API key (METAFLOW_SERVICE_AUTH_KEY)")
        .secret_string(key)
        .send()
        .await
        .map_err(|error| {
            let (code, message) = code_and_message(&error);
            SecretError::NotCreated {
                name: name.to_string(),
                code,
                message,
            }
        })?;
    Ok(output.arn().unwrap_or(name).to_string())
}

/// A Secrets Manager error's code (`unknown` when it has none) and message.
fn code_and_message(error: &(impl ProvideErrorMetadata + std::fmt::Display)) -> (String, String) {
    (
        error.code().unwrap_or("unknown").to_string(),
        error
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string()),
    )
}

/// A new random API key: 64 hex digits (two version-4 UUIDs, 244 random bits).
pub fn generate_api_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
