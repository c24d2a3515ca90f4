//! Deploy options from S3 object metadata: `aws s3 cp flow.tgz s3://B/flows/ --metadata
//! dropflow-max-workers=8,dropflow-branch=staging` overrides the package's `dropflow.toml`
//! without repacking it. The uploader's name comes from the `user` key.

use std::collections::BTreeMap;

use dropflow_compiler::compile::{OptionsError, OptionsLayer};

/// Prefix of every metadata key read as a deploy option.
pub const METADATA_PREFIX: &str = "dropflow-";

/// The metadata key naming the uploader (Metaflow's user name).
pub const USER_KEY: &str = "user";

/// The option keys, without [`METADATA_PREFIX`].
pub const KEYS: &[&str] = &[
    "max-workers",
    "workflow-timeout",
    "tags",
    "namespace",
    "branch",
    "production",
    "name",
    "image",
    "job-queue",
    "with-retry",
    "distributed-map",
    "aws-tags",
    "takeover",
    "platform",
    "assign-public-ip",
    "notify-on-error",
    "notify-on-success",
    "environment",
];

/// The metadata key (without [`METADATA_PREFIX`]) that lets an upload take over a state
/// machine owned by another upload key, or one dropflow did not create.
pub const TAKEOVER_KEY: &str = "takeover";

/// Reads the deploy options in `metadata` (keys as S3 returns them: lower-case, with or
/// without `x-amz-meta-`). Unknown `dropflow-*` keys are refused, so a typo is not ignored.
pub fn options_from_metadata(
    metadata: &BTreeMap<String, String>,
) -> Result<OptionsLayer, OptionsError> {
    let mut layer = OptionsLayer::default();
    for (raw_key, raw_value) in metadata {
        let lower = raw_key.to_ascii_lowercase();
        let key = lower.strip_prefix("x-amz-meta-").unwrap_or(&lower);
        let value = raw_value.trim();
        if key == USER_KEY {
            if !value.is_empty() {
                layer.user = Some(value.to_string());
            }
            continue;
        }
        let Some(option) = key.strip_prefix(METADATA_PREFIX) else {
            continue;
        };
        let error = |message: String| OptionsError {
            file: format!("S3 object metadata x-amz-meta-{key}"),
            message,
        };
        let text = || Some(value.to_string()).filter(|v| !v.is_empty());
        match option {
            "max-workers" => layer.max_workers = Some(number(value).map_err(error)?),
            "workflow-timeout" => layer.workflow_timeout = Some(number(value).map_err(error)?),
            "tags" => {
                layer.tags = Some(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect(),
                )
            }
            "notify-on-error" => layer.notify_on_error = Some(targets(value)),
            "notify-on-success" => layer.notify_on_success = Some(targets(value)),
            "namespace" => layer.namespace = text(),
            "branch" => layer.branch = text(),
            "production" => layer.production = Some(boolean(value).map_err(error)?),
            "name" => layer.name = text(),
            "image" => layer.image = text(),
            "job-queue" => layer.job_queue = text(),
            "with-retry" => layer.retry_by_default = Some(boolean(value).map_err(error)?),
            "distributed-map" => layer.distributed_map = Some(boolean(value).map_err(error)?),
            "aws-tags" => layer.aws_tags = Some(pairs(value).map_err(error)?),
            // Not a compile option: read by `takeover_from_metadata`.
            TAKEOVER_KEY => boolean(value).map(drop).map_err(error)?,
            "platform" => layer.platform = Some(value.parse().map_err(error)?),
            "assign-public-ip" => layer.assign_public_ip = Some(boolean(value).map_err(error)?),
            "environment" => layer.environment = Some(value.parse().map_err(error)?),
            other => {
                return Err(error(format!(
                    "unknown deploy option `{other}`; valid metadata keys: {}",
                    KEYS.iter()
                        .map(|k| format!("{METADATA_PREFIX}{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(layer)
}

/// Whether the upload asks to take over a state machine it does not own
/// (`dropflow-takeover=true`); `false` when absent.
pub fn takeover_from_metadata(metadata: &BTreeMap<String, String>) -> Result<bool, OptionsError> {
    for (raw_key, raw_value) in metadata {
        let lower = raw_key.to_ascii_lowercase();
        let key = lower.strip_prefix("x-amz-meta-").unwrap_or(&lower);
        if key.strip_prefix(METADATA_PREFIX) == Some(TAKEOVER_KEY) {
            return boolean(raw_value.trim()).map_err(|message| OptionsError {
                file: format!("S3 object metadata x-amz-meta-{key}"),
                message,
            });
        }
    }
    Ok(false)
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("`{value}` is not a whole number"))
}

fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("`{value}` is not true or false")),
    }
}

fn pairs(value: &str) -> Result<BTreeMap<String, String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!("`{pair}` is not key=value (write k1=v1,k2=v2)")),
        })
        .collect()
}

/// `notify-on-*` values: topic ARNs and webhook URLs separated by spaces (S3 metadata
/// values are one line; `aws s3 cp --metadata` splits its argument on commas, so spaces
/// are the separator that survives it; commas are accepted too).
fn targets(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_every_option() {
        let layer = options_from_metadata(&meta(&[
            ("dropflow-max-workers", "8"),
            ("dropflow-workflow-timeout", "3600"),
            ("dropflow-tags", "a, b,,c"),
            ("dropflow-namespace", "team"),
            ("x-amz-meta-dropflow-branch", "staging"),
            ("dropflow-production", "true"),
            ("dropflow-image", "img:1"),
            ("dropflow-job-queue", "q"),
            ("dropflow-with-retry", "yes"),
            ("dropflow-distributed-map", "0"),
            ("dropflow-aws-tags", "team=ml, cost=7"),
            ("user", "alice"),
            ("content-origin", "ignored"),
        ]))
        .unwrap();
        assert_eq!(layer.max_workers, Some(8));
        assert_eq!(layer.workflow_timeout, Some(3600));
        assert_eq!(
            layer.tags.as_deref(),
            Some(&["a".into(), "b".into(), "c".into()][..])
        );
        assert_eq!(layer.namespace.as_deref(), Some("team"));
        assert_eq!(layer.branch.as_deref(), Some("staging"));
        assert_eq!(layer.production, Some(true));
        assert_eq!(layer.image.as_deref(), Some("img:1"));
        assert_eq!(layer.job_queue.as_deref(), Some("q"));
        assert_eq!(layer.retry_by_default, Some(true));
        assert_eq!(layer.distributed_map, Some(false));
        assert_eq!(layer.aws_tags.unwrap()["cost"], "7");
        assert_eq!(layer.user.as_deref(), Some("alice"));
    }

    #[test]
    fn alert_targets_are_space_or_comma_separated() {
        let layer = options_from_metadata(&meta(&[
            (
                "dropflow-notify-on-error",
                "arn:aws:sns:us-east-1:123456789012:dropflow-alerts https://hooks.example/x",
            ),
            (
                "dropflow-notify-on-success",
                "https://a.example/1,https://b.example/2",
            ),
        ]))
        .unwrap();
        assert_eq!(
            layer.notify_on_error.unwrap(),
            [
                "arn:aws:sns:us-east-1:123456789012:dropflow-alerts",
                "https://hooks.example/x"
            ]
        );
        assert_eq!(layer.notify_on_success.unwrap().len(), 2);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_named() {
        let error = options_from_metadata(&meta(&[("dropflow-max-workers", "many")])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("x-amz-meta-dropflow-max-workers: `many` is not a whole number"),
            "{error}"
        );
        let error = options_from_metadata(&meta(&[("dropflow-max-worker", "3")])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown deploy option `max-worker`"),
            "{error}"
        );
    }
}
