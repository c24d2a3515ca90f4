//! The trigger API's settings, read once at cold start.

use dropflow_contract::{ConfigError, Environment};

/// Settings, from `DROPFLOW_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerConfig {
    /// `DROPFLOW_BUCKET`: deployments, reports and run records.
    pub bucket: String,
}

impl TriggerConfig {
    /// Settings for `bucket`, with the defaults.
    pub fn new(bucket: &str) -> Self {
        Self {
            bucket: bucket.to_string(),
        }
    }

    /// Reads the `DROPFLOW_*` environment variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings from `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(lookup);
        let mut problems = Vec::new();
        let bucket = env.required(
            "DROPFLOW_BUCKET",
            "the deployment bucket's name",
            &mut problems,
        );
        if bucket.starts_with("s3://") || bucket.contains('/') {
            problems.push(format!(
                "DROPFLOW_BUCKET={bucket:?} is not a bucket name (no s3:// and no path)"
            ));
        }
        ConfigError::check("trigger Lambda", problems, || Self { bucket })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_environment() {
        let config = TriggerConfig::from_lookup(|name| match name {
            "DROPFLOW_BUCKET" => Some(" bucket ".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.bucket, "bucket");
        let plain = TriggerConfig::from_lookup(|name| {
            (name == "DROPFLOW_BUCKET").then(|| "bucket".to_string())
        })
        .unwrap();
        assert_eq!(plain, TriggerConfig::new("bucket"));
    }

    #[test]
    fn lists_every_problem() {
        let error = TriggerConfig::from_lookup(|name| match name {
            "DROPFLOW_BUCKET" => Some("s3://bucket/path".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(error.problems[0].contains("not a bucket name"), "{error}");
        assert_eq!(error.code(), "config.invalid");
    }
}
