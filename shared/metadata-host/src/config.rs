//! The metadata function's settings, read once at cold start from `DROPFLOW_METADATA_*`.

use dropflow_contract::{ConfigError, Environment};
use dropflow_metadata_service::ServiceConfig;

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
    /// (hex SHA-256 of the key clients send as `x-api-key`), or the key read from
    /// [`Self::api_key_secret`] at cold start ([`crate::resolve_api_key`]).
    pub service: ServiceConfig,
    /// `DROPFLOW_METADATA_API_KEY_SECRET`: the Secrets Manager secret (ARN or name) holding
    /// the API key, as the template configures it.
    pub api_key_secret: Option<String>,
}

/// `DROPFLOW_METADATA_ALLOW_ANONYMOUS=true`: the only way to serve without an API key.
pub const ALLOW_ANONYMOUS: &str = "DROPFLOW_METADATA_ALLOW_ANONYMOUS";

impl MetadataConfig {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings from `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(lookup);
        let mut problems = Vec::new();
        let table = env.required(
            "DROPFLOW_METADATA_TABLE",
            "the DynamoDB table name",
            &mut problems,
        );
        let prefix = env
            .get("DROPFLOW_METADATA_PATH_PREFIX")
            .unwrap_or_else(|| DEFAULT_PATH_PREFIX.into());
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
        let api_key_sha256 = match env.get("DROPFLOW_METADATA_API_KEY_SHA256") {
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
        let api_key_secret = env.get("DROPFLOW_METADATA_API_KEY_SECRET");
        let allow_anonymous = match env.get(ALLOW_ANONYMOUS).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                problems.push(format!("{ALLOW_ANONYMOUS}: {other:?} is not true or false"));
                false
            }
        };
        let sha256_given = env.get("DROPFLOW_METADATA_API_KEY_SHA256").is_some();
        match (api_key_secret.is_some(), sha256_given, allow_anonymous) {
            (true, true, _) => problems.push(
                "DROPFLOW_METADATA_API_KEY_SECRET and DROPFLOW_METADATA_API_KEY_SHA256 are both \
                 set: keep one (the secret, as the template does)"
                    .into(),
            ),
            (true, _, true) | (_, true, true) => problems.push(format!(
                "{ALLOW_ANONYMOUS}=true and an API key are both set: remove one"
            )),
            (false, false, false) => problems.push(format!(
                "no API key: set DROPFLOW_METADATA_API_KEY_SECRET (the secret holding the key \
                 clients send as x-api-key), or {ALLOW_ANONYMOUS}=true to serve anyone"
            )),
            _ => {}
        }
        ConfigError::check("metadata service", problems, || Self {
            table,
            service: ServiceConfig {
                path_prefix,
                api_key_sha256,
            },
            api_key_secret,
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
        let config = read(&[
            ("DROPFLOW_METADATA_TABLE", "t"),
            (
                "DROPFLOW_METADATA_API_KEY_SECRET",
                "arn:aws:secretsmanager:r:1:secret:k",
            ),
        ])
        .unwrap();
        assert_eq!(config.table, "t");
        assert_eq!(config.service.path_prefix.as_deref(), Some("/metadata"));
        assert_eq!(config.service.api_key_sha256, None);
        assert_eq!(
            config.api_key_secret.as_deref(),
            Some("arn:aws:secretsmanager:r:1:secret:k")
        );
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

    #[test]
    fn no_key_is_refused_unless_anonymous_access_is_asked_for() {
        let error = read(&[("DROPFLOW_METADATA_TABLE", "t")]).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(error.problems[0].starts_with("no API key"), "{error}");
        let open = read(&[("DROPFLOW_METADATA_TABLE", "t"), (ALLOW_ANONYMOUS, "true")]).unwrap();
        assert_eq!(open.service.api_key_sha256, None);
        assert_eq!(open.api_key_secret, None);
        let both = read(&[
            ("DROPFLOW_METADATA_TABLE", "t"),
            ("DROPFLOW_METADATA_API_KEY_SECRET", "k"),
            (ALLOW_ANONYMOUS, "true"),
        ])
        .unwrap_err();
        assert!(both.problems[0].contains("remove one"), "{both}");
        let typo = read(&[
            ("DROPFLOW_METADATA_TABLE", "t"),
            ("DROPFLOW_METADATA_API_KEY_SECRET", "k"),
            (ALLOW_ANONYMOUS, "yes"),
        ])
        .unwrap_err();
        assert!(typo.problems[0].contains("not true or false"), "{typo}");
    }
}
