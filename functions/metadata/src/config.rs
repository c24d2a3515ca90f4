//! The metadata function's settings, read once at cold start from `DROPFLOW_METADATA_*`.

use std::fmt;

use dropflow::metadata::ServiceConfig;

/// Where API Gateway mounts the service when no prefix is configured: beside the
/// trigger API's `/flows/…` routes on the same HTTP API.
pub const DEFAULT_PATH_PREFIX: &str = "/metadata";

/// Settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataConfig {
    /// `DROPFLOW_METADATA_TABLE`: the DynamoDB table (pk/sk strings).
    pub table: String,
    /// The service's own settings: `DROPFLOW_METADATA_PATH_PREFIX` (default
    /// [`DEFAULT_PATH_PREFIX`]; `/` for none) and `DROPFLOW_METADATA_API_KEY_SHA256`
    /// (hex SHA-256 of the key clients send as `x-api-key`; unset: no key).
    pub service: ServiceConfig,
}

/// Every problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `VARIABLE: what is wrong`.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the metadata service is misconfigured:")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Stable error type (as the other Lambdas').
    pub fn code(&self) -> &'static str {
        "config.invalid"
    }
}

impl MetadataConfig {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings from `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let table = get("DROPFLOW_METADATA_TABLE").unwrap_or_else(|| {
            problems.push("DROPFLOW_METADATA_TABLE: not set (the DynamoDB table name)".into());
            String::new()
        });
        let prefix =
            get("DROPFLOW_METADATA_PATH_PREFIX").unwrap_or_else(|| DEFAULT_PATH_PREFIX.into());
        let path_prefix = match prefix.trim_end_matches('/') {
            "" => None,
            p if p.starts_with('/') => Some(p.to_string()),
            p => {
                problems.push(format!(
                    "DROPFLOW_METADATA_PATH_PREFIX: {p:?} must start with '/' (or be '/' for none)"
                ));
                None
            }
        };
        let api_key_sha256 = match get("DROPFLOW_METADATA_API_KEY_SHA256") {
            None => None,
            Some(hex) => match data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()) {
                Ok(bytes) if bytes.len() == 32 => {
                    let mut digest = [0u8; 32];
                    digest.copy_from_slice(&bytes);
                    Some(digest)
                }
                _ => {
                    problems.push(
                        "DROPFLOW_METADATA_API_KEY_SHA256: not 64 hex digits (printf %s KEY | sha256sum)"
                            .into(),
                    );
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Self {
            table,
            service: ServiceConfig {
                path_prefix,
                api_key_sha256,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<MetadataConfig, ConfigError> {
        MetadataConfig::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_and_overrides() {
        let config = read(&[("DROPFLOW_METADATA_TABLE", "t")]).unwrap();
        assert_eq!(config.table, "t");
        assert_eq!(config.service.path_prefix.as_deref(), Some("/metadata"));
        assert_eq!(config.service.api_key_sha256, None);
        let config = read(&[
            ("DROPFLOW_METADATA_TABLE", "t"),
            ("DROPFLOW_METADATA_PATH_PREFIX", "/"),
            (
                "DROPFLOW_METADATA_API_KEY_SHA256",
                // sha256("s3cret")
                "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0",
            ),
        ])
        .unwrap();
        assert_eq!(config.service.path_prefix, None);
        assert_eq!(config.service.api_key_sha256.unwrap()[0], 0x1e);
    }

    #[test]
    fn every_problem_is_listed() {
        let error = read(&[
            ("DROPFLOW_METADATA_PATH_PREFIX", "metadata"),
            ("DROPFLOW_METADATA_API_KEY_SHA256", "abc"),
        ])
        .unwrap_err();
        assert_eq!(error.problems.len(), 3, "{error}");
        assert_eq!(error.code(), "config.invalid");
    }
}
