//! The compile Lambda's settings, read once from environment variables at cold start and
//! validated together, so a misconfigured function says everything that is wrong at once.

use dropflow_compiler::compile::Platform;
use dropflow_contract::{ConfigError, Environment, layout};

/// Where deployments go and which roles they use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DROPFLOW_BUCKET`: uploads, manifests, deployment state and reports.
    pub bucket: String,
    /// `DROPFLOW_FLOWS_PREFIX` (default `flows/`): uploads under it deploy.
    pub flows_prefix: String,
    /// `DROPFLOW_STEP_FUNCTION_ARN`: the step Lambda the state machines invoke.
    pub step_function_arn: String,
    /// `DROPFLOW_STATE_MACHINE_ROLE_ARN`: the state machines' execution role.
    pub state_machine_role_arn: String,
    /// `DROPFLOW_SCHEDULER_ROLE_ARN`: the role EventBridge Scheduler starts executions with.
    pub scheduler_role_arn: String,
    /// `DROPFLOW_JOB_QUEUE`: default Batch job queue (name or ARN).
    pub job_queue: String,
    /// `DROPFLOW_DEFAULT_IMAGE`: default container image.
    pub default_image: String,
    /// `DROPFLOW_DATASTORE_ROOT` (default `s3://<bucket>/metaflow`).
    pub datastore_root: String,
    /// `DROPFLOW_JOB_ROLE_ARN` (optional): the role Batch containers run as.
    pub job_role_arn: Option<String>,
    /// `DROPFLOW_METADATA_AUTH_SECRET_ARN` (optional, with
    /// `DROPFLOW_JOB_EXECUTION_ROLE_ARN`): the metadata API key's secret, given to every
    /// task as `METAFLOW_SERVICE_AUTH_KEY` through its job definition's `secrets`.
    pub metadata_auth_secret_arn: Option<String>,
    /// `DROPFLOW_MANAGED_BY` (default `dropflow`): the `dropflow:managed-by` tag on every
    /// state machine, which the stack's IAM policies require (the stack's name on AWS).
    pub managed_by: String,
    /// `DROPFLOW_JOB_EXECUTION_ROLE_ARN` (optional): the role ECS starts tasks with; it
    /// resolves the metadata key's secret, and Fargate tasks need it.
    pub execution_role_arn: Option<String>,
    /// `DROPFLOW_FARGATE_QUEUES` (optional, comma-separated): job queues on Fargate.
    pub fargate_queues: Vec<String>,
    /// `DROPFLOW_JOB_SECRETS_PREFIX` (optional; set, even empty, it is enforced): the
    /// secret names the job role may read; `@secrets` sources outside it are refused.
    pub job_secrets_prefix: Option<String>,
    /// `DROPFLOW_LOCAL_WEBHOOKS=allow`: see [`Platform::local_webhooks`].
    pub local_webhooks: bool,
    /// `DROPFLOW_ALERT_TOPIC_PREFIX` (optional; set, even empty, it is enforced): the SNS
    /// topic names alerts may publish to.
    pub alert_topic_prefix: Option<String>,
}

impl Config {
    /// Reads and validates the `DROPFLOW_*` environment variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and validates settings from `lookup` (an environment); an empty value counts
    /// as unset, except `DROPFLOW_JOB_SECRETS_PREFIX`'s (no secrets at all).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let env = Environment::new(lookup);

        let bucket = env.required(
            "DROPFLOW_BUCKET",
            "the deployment bucket's name",
            &mut problems,
        );
        if !bucket.is_empty() && !valid_bucket(&bucket) {
            problems.push(format!(
                "DROPFLOW_BUCKET={bucket:?} is not a bucket name (3-63 lower-case letters, digits, '.' and '-'; not an s3:// URI)"
            ));
        }
        let mut flows_prefix = env
            .get("DROPFLOW_FLOWS_PREFIX")
            .unwrap_or_else(|| layout::FLOWS_PREFIX.into());
        if flows_prefix.starts_with('/') {
            problems.push(format!(
                "DROPFLOW_FLOWS_PREFIX={flows_prefix:?} must not start with '/' (S3 keys have no leading slash)"
            ));
        }
        if !flows_prefix.ends_with('/') {
            flows_prefix.push('/');
        }
        let step_function_arn = env.required(
            "DROPFLOW_STEP_FUNCTION_ARN",
            "ARN of the step Lambda the state machines invoke",
            &mut problems,
        );
        check_arn(
            &mut problems,
            "DROPFLOW_STEP_FUNCTION_ARN",
            &step_function_arn,
            "lambda",
        );
        let state_machine_role_arn = env.required(
            "DROPFLOW_STATE_MACHINE_ROLE_ARN",
            "IAM role the state machines run as",
            &mut problems,
        );
        check_arn(
            &mut problems,
            "DROPFLOW_STATE_MACHINE_ROLE_ARN",
            &state_machine_role_arn,
            "iam",
        );
        let scheduler_role_arn = env.required(
            "DROPFLOW_SCHEDULER_ROLE_ARN",
            "IAM role EventBridge Scheduler starts executions with",
            &mut problems,
        );
        check_arn(
            &mut problems,
            "DROPFLOW_SCHEDULER_ROLE_ARN",
            &scheduler_role_arn,
            "iam",
        );
        let job_queue = env.required(
            "DROPFLOW_JOB_QUEUE",
            "the default Batch job queue",
            &mut problems,
        );
        let default_image = env.required(
            "DROPFLOW_DEFAULT_IMAGE",
            "the default container image, with Python and Metaflow",
            &mut problems,
        );
        let datastore_root = env
            .get("DROPFLOW_DATASTORE_ROOT")
            .unwrap_or_else(|| format!("s3://{bucket}/metaflow"))
            .trim_end_matches('/')
            .to_string();
        let bad_root =
            !datastore_root.starts_with("s3://") || datastore_root.len() <= "s3://".len();
        if bad_root && (!bucket.is_empty() || env.get("DROPFLOW_DATASTORE_ROOT").is_some()) {
            problems.push(format!(
                "DROPFLOW_DATASTORE_ROOT={datastore_root:?} must be an s3:// URI"
            ));
        }
        let job_role_arn = env.get("DROPFLOW_JOB_ROLE_ARN");
        if let Some(arn) = &job_role_arn {
            check_arn(&mut problems, "DROPFLOW_JOB_ROLE_ARN", arn, "iam");
        }
        let metadata_auth_secret_arn = env.get("DROPFLOW_METADATA_AUTH_SECRET_ARN");
        let execution_role_arn = env.get("DROPFLOW_JOB_EXECUTION_ROLE_ARN");
        if let Some(arn) = &metadata_auth_secret_arn {
            check_arn(
                &mut problems,
                "DROPFLOW_METADATA_AUTH_SECRET_ARN",
                arn,
                "secretsmanager",
            );
            if execution_role_arn.is_none() {
                problems.push(
                    "DROPFLOW_METADATA_AUTH_SECRET_ARN needs DROPFLOW_JOB_EXECUTION_ROLE_ARN \
                     (the role Batch resolves job definition secrets with)"
                        .into(),
                );
            }
        }
        if let Some(arn) = &execution_role_arn {
            check_arn(&mut problems, "DROPFLOW_JOB_EXECUTION_ROLE_ARN", arn, "iam");
        }
        let managed_by = env
            .get("DROPFLOW_MANAGED_BY")
            .unwrap_or_else(|| "dropflow".into());
        let fargate_queues = env
            .get("DROPFLOW_FARGATE_QUEUES")
            .map(|queues| {
                queues
                    .split(',')
                    .map(str::trim)
                    .filter(|q| !q.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        // Not `get`: an empty value is meaningful here (no secrets at all).
        let job_secrets_prefix = env.get_even_empty("DROPFLOW_JOB_SECRETS_PREFIX");
        // Only the local stack sets it: plain-HTTP loopback alert webhooks.
        let local_webhooks = env
            .get("DROPFLOW_LOCAL_WEBHOOKS")
            .is_some_and(|v| v == "allow");
        let alert_topic_prefix = env.get_even_empty("DROPFLOW_ALERT_TOPIC_PREFIX");
        ConfigError::check("compile Lambda", problems, || Self {
            local_webhooks,
            alert_topic_prefix,
            bucket,
            flows_prefix,
            step_function_arn,
            state_machine_role_arn,
            scheduler_role_arn,
            job_queue,
            default_image,
            datastore_root,
            job_role_arn,
            metadata_auth_secret_arn,
            managed_by,
            execution_role_arn,
            fargate_queues,
            job_secrets_prefix,
        })
    }

    /// The AWS partition, from the step Lambda's ARN.
    pub fn partition(&self) -> &str {
        self.step_function_arn.split(':').nth(1).unwrap_or("aws")
    }

    /// The compiler's view of these settings.
    pub fn platform(&self) -> Platform {
        Platform {
            step_function_arn: self.step_function_arn.clone(),
            bucket: self.bucket.clone(),
            deployments_prefix: super::state::DEPLOYMENTS_PREFIX.to_string(),
            datastore_root: self.datastore_root.clone(),
            job_queue: self.job_queue.clone(),
            image: self.default_image.clone(),
            job_role_arn: self.job_role_arn.clone(),
            metadata_auth_secret_arn: self.metadata_auth_secret_arn.clone(),
            partition: self.partition().to_string(),
            execution_role_arn: self.execution_role_arn.clone(),
            fargate_queues: self.fargate_queues.clone(),
            job_secrets_prefix: self.job_secrets_prefix.clone(),
            local_webhooks: self.local_webhooks,
            alert_topic_prefix: self.alert_topic_prefix.clone(),
        }
    }

    /// The key relative to the flows prefix, when `key` is an upload that deploys: under
    /// the prefix and not a folder placeholder.
    pub fn flow_key<'k>(&self, key: &'k str) -> Option<&'k str> {
        key.strip_prefix(self.flows_prefix.as_str())
            .filter(|rest| !rest.is_empty() && !rest.ends_with('/'))
    }
}

fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn check_arn(problems: &mut Vec<String>, name: &str, value: &str, service: &str) {
    if value.is_empty() {
        return;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != service || parts[5].is_empty() {
        problems.push(format!(
            "{name}={value:?} is not an {service} ARN (arn:aws:{service}:...)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const VALID: &[(&str, &str)] = &[
        ("DROPFLOW_BUCKET", "my-bucket"),
        (
            "DROPFLOW_STEP_FUNCTION_ARN",
            "arn:aws:lambda:eu-west-1:123456789012:function:dropflow-step",
        ),
        (
            "DROPFLOW_STATE_MACHINE_ROLE_ARN",
            "arn:aws:iam::123456789012:role/sfn",
        ),
        (
            "DROPFLOW_SCHEDULER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/scheduler",
        ),
        ("DROPFLOW_JOB_QUEUE", "dropflow"),
        ("DROPFLOW_DEFAULT_IMAGE", "python:3.12"),
    ];

    #[test]
    fn defaults_fill_prefix_and_datastore() {
        let config = Config::from_lookup(env(VALID)).unwrap();
        assert_eq!(config.flows_prefix, "flows/");
        assert_eq!(config.datastore_root, "s3://my-bucket/metaflow");
        assert_eq!(config.job_role_arn, None);
        assert_eq!(config.partition(), "aws");
        assert_eq!(config.flow_key("flows/a/b.tgz"), Some("a/b.tgz"));
        assert_eq!(config.flow_key("flows/a/"), None);
        assert_eq!(config.flow_key("other/a.tgz"), None);
    }

    #[test]
    fn the_secrets_prefix_is_unchecked_when_unset_and_empty_means_none() {
        let with = |value: Option<&str>| {
            let mut pairs = VALID.to_vec();
            if let Some(value) = value {
                pairs.push(("DROPFLOW_JOB_SECRETS_PREFIX", value));
            }
            let config = Config::from_lookup(env(&pairs)).unwrap();
            assert_eq!(
                config.platform().job_secrets_prefix,
                config.job_secrets_prefix
            );
            config.job_secrets_prefix
        };
        assert_eq!(with(None), None);
        assert_eq!(with(Some("")), Some(String::new()));
        assert_eq!(
            with(Some(" dropflow/flows/\n")),
            Some("dropflow/flows/".to_string())
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let error = Config::from_lookup(env(&[
            ("DROPFLOW_BUCKET", "s3://Bad"),
            ("DROPFLOW_STEP_FUNCTION_ARN", "dropflow-step"),
            ("DROPFLOW_JOB_ROLE_ARN", "arn:aws:s3:::x"),
        ]))
        .unwrap_err();
        let text = error.to_string();
        for variable in [
            "DROPFLOW_BUCKET=",
            "DROPFLOW_STEP_FUNCTION_ARN=",
            "DROPFLOW_STATE_MACHINE_ROLE_ARN is not set",
            "DROPFLOW_SCHEDULER_ROLE_ARN is not set",
            "DROPFLOW_JOB_QUEUE is not set",
            "DROPFLOW_DEFAULT_IMAGE is not set",
            "DROPFLOW_JOB_ROLE_ARN=",
        ] {
            assert!(text.contains(variable), "{variable} missing from:\n{text}");
        }
        assert_eq!(error.problems.len(), 7, "{text}");
    }
}
