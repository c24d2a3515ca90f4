//! What a deployment can be told: the user's deploy options (`dropflow.toml`, S3 object
//! metadata, CLI flags) and the platform the operator configured (bucket, roles, queue).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Options a flow's owner chooses per deployment (Metaflow's `step-functions create` flags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeployOptions {
    /// Concurrent tasks per foreach (`--max-workers`, default 100): the Map's
    /// `MaxConcurrency`.
    pub max_workers: u32,
    /// `max_workers` for single foreach steps (`[deploy.max_workers_per_step]`, step → N).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub max_workers_per_step: BTreeMap<String, u32>,
    /// Execution timeout in seconds (`--workflow-timeout`).
    pub workflow_timeout: Option<u64>,
    /// Tags added to every run (`--tag`).
    pub tags: Vec<String>,
    /// Namespace tasks run in (`--namespace`).
    pub namespace: Option<String>,
    /// `@project` branch (`--branch`).
    pub branch: Option<String>,
    /// `@project` production branch (`--production`).
    pub production: bool,
    /// Explicit state machine name (`--name`); not allowed with `@project`.
    pub name: Option<String>,
    /// Container image for steps without `@batch(image=...)`.
    pub image: Option<String>,
    /// Batch job queue for steps without `@batch(queue=...)`.
    pub job_queue: Option<String>,
    /// Add `@retry` to every step without one (Metaflow's `--with retry`).
    pub retry_by_default: bool,
    /// Run every foreach as a Distributed Map (the default: child executions, items read
    /// from S3, any width); `false` runs them as inline Maps, for narrow foreaches only.
    pub distributed_map: bool,
    /// Tags put on the AWS resources dropflow creates.
    pub aws_tags: BTreeMap<String, String>,
    /// Who deploys (Metaflow's user name; `user.<name>` project branches).
    pub user: String,
    /// Run every step on Fargate (`fargate`) or let each step's queue decide (`ec2`, the
    /// default: EC2 unless the queue is one of the platform's Fargate queues).
    #[serde(skip_serializing_if = "ComputePlatform::is_ec2")]
    pub platform: ComputePlatform,
    /// Fargate tasks get a public IP (Metaflow's choice, the default): needed to pull
    /// images in a public subnet without a NAT gateway.
    #[serde(skip_serializing_if = "is_true")]
    pub assign_public_ip: bool,
    /// SNS topic ARNs and webhook URLs told when a run fails
    /// ([`crate::notify::NotifyTarget`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify_on_error: Vec<String>,
    /// SNS topic ARNs and webhook URLs told when a run succeeds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify_on_success: Vec<String>,
    /// The Python environment every task runs in (Metaflow's `--environment`): the image's
    /// own (`local`, the default) or the package's `uv.lock` (`uv`).
    #[serde(skip_serializing_if = "TaskEnvironment::is_local")]
    pub environment: TaskEnvironment,
}

/// Metaflow's `--environment` for the tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskEnvironment {
    /// The image's Python and packages (Metaflow's `local`).
    #[default]
    Local,
    /// The project of the package's `pyproject.toml` and `uv.lock`, synced by each task
    /// (`uv sync --frozen`) and run with `uv run` (Metaflow's `uv`).
    Uv,
}

impl TaskEnvironment {
    /// `true` for `local` (the default, left out of serialised options so that versions
    /// compiled before the option existed keep their ids).
    pub fn is_local(&self) -> bool {
        *self == TaskEnvironment::Local
    }
}

impl std::str::FromStr for TaskEnvironment {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(TaskEnvironment::Local),
            "uv" => Ok(TaskEnvironment::Uv),
            "pypi" | "conda" => Err(format!(
                "`{text}` environments are not supported yet: use uv (a uv.lock and pyproject.toml in the package) or bake the packages into the image"
            )),
            _ => Err(format!("`{text}` is not an environment: write local or uv")),
        }
    }
}

/// Where a step's Batch job runs (`platformCapabilities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputePlatform {
    /// EC2 (or Spot) compute environments.
    #[default]
    Ec2,
    /// Fargate (or Fargate Spot) compute environments.
    Fargate,
}

impl ComputePlatform {
    /// `true` for EC2 (the default, left out of serialised options so that versions
    /// compiled before the option existed keep their ids).
    pub fn is_ec2(&self) -> bool {
        *self == ComputePlatform::Ec2
    }
}

impl std::str::FromStr for ComputePlatform {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ec2" => Ok(ComputePlatform::Ec2),
            "fargate" => Ok(ComputePlatform::Fargate),
            _ => Err(format!("`{text}` is not a platform: write ec2 or fargate")),
        }
    }
}

fn is_true(value: &bool) -> bool {
    *value
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            max_workers: 100,
            max_workers_per_step: BTreeMap::new(),
            workflow_timeout: None,
            tags: Vec::new(),
            namespace: None,
            branch: None,
            production: false,
            name: None,
            image: None,
            job_queue: None,
            retry_by_default: false,
            distributed_map: true,
            aws_tags: BTreeMap::new(),
            user: "dropflow".to_string(),
            platform: ComputePlatform::Ec2,
            assign_public_ip: true,
            notify_on_error: Vec::new(),
            notify_on_success: Vec::new(),
            environment: TaskEnvironment::Local,
        }
    }
}

impl DeployOptions {
    /// The concurrency of `step`'s foreach: its `max_workers_per_step` entry, or
    /// `max_workers`.
    pub fn max_workers_for(&self, step: &str) -> u32 {
        self.max_workers_per_step
            .get(step)
            .copied()
            .unwrap_or(self.max_workers)
    }
}

/// Where a deployment lives: set once by the operator for the whole installation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Platform {
    /// ARN of the step Lambda that the state machine invokes around each task.
    pub step_function_arn: String,
    /// Bucket holding uploads, deployment manifests and reports.
    pub bucket: String,
    /// Key prefix of deployment manifests (`deployments/`).
    pub deployments_prefix: String,
    /// Metaflow datastore root (`s3://bucket/metaflow`).
    pub datastore_root: String,
    /// Default job queue.
    pub job_queue: String,
    /// Default image (Python with Metaflow installed).
    pub image: String,
    /// IAM role the Batch containers run as.
    pub job_role_arn: Option<String>,
    /// The metadata API key's secret: every job definition maps it to
    /// `METAFLOW_SERVICE_AUTH_KEY` (Batch `secrets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_auth_secret_arn: Option<String>,
    /// AWS partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// The stack's job execution role (`DROPFLOW_JOB_EXECUTION_ROLE_ARN`): resolves job
    /// definition secrets (the metadata API key) and starts Fargate tasks (Metaflow's
    /// `METAFLOW_ECS_FARGATE_EXECUTION_ROLE`), unless a step's `@batch(execution_role=)`
    /// names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// Job queues whose compute environments are Fargate (`DROPFLOW_FARGATE_QUEUES`):
    /// steps on them get Fargate job definitions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fargate_queues: Vec<String>,
    /// `DROPFLOW_JOB_SECRETS_PREFIX`: the secret names the job role may read (the
    /// template's `JobSecretsPrefix`); every `@secrets` source must be under it (empty:
    /// no secrets). `None` (no stack, e.g. `dropflow compile`): not checked. Not part of
    /// the version id: it decides what is accepted, not what is deployed.
    #[serde(skip)]
    pub job_secrets_prefix: Option<String>,
    /// `DROPFLOW_LOCAL_WEBHOOKS=allow` (the local stack only): `notify_on_*` may name
    /// plain-HTTP loopback webhooks. Not part of the version id.
    #[serde(skip)]
    pub local_webhooks: bool,
    /// `DROPFLOW_ALERT_TOPIC_PREFIX`: the SNS topic names the step function may publish
    /// to (the template's `AlertTopicPrefix`); every `notify_on_*` topic must be named
    /// with it (empty: no topics). `None` (no stack): not checked. Not part of the
    /// version id.
    #[serde(skip)]
    pub alert_topic_prefix: Option<String>,
}

impl Platform {
    /// Where a step on `queue` runs under `options`.
    pub fn compute_platform(&self, options: &DeployOptions, queue: &str) -> ComputePlatform {
        if options.platform == ComputePlatform::Fargate
            || self.fargate_queues.iter().any(|q| q == queue)
        {
            ComputePlatform::Fargate
        } else {
            ComputePlatform::Ec2
        }
    }
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            step_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:dropflow-step"
                .to_string(),
            bucket: "dropflow-bucket".to_string(),
            deployments_prefix: crate::layout::DEPLOYMENTS_PREFIX.to_string(),
            datastore_root: "s3://dropflow-bucket/metaflow".to_string(),
            job_queue: "dropflow".to_string(),
            image: "python:3.12".to_string(),
            job_role_arn: None,
            metadata_auth_secret_arn: None,
            partition: "aws".to_string(),
            execution_role_arn: None,
            fargate_queues: Vec::new(),
            job_secrets_prefix: None,
            local_webhooks: false,
            alert_topic_prefix: None,
        }
    }
}

/// A partial set of deploy options: one layer of `dropflow.toml`, S3 object metadata or
/// command-line flags. Later layers override earlier ones field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct OptionsLayer {
    /// See [`DeployOptions::max_workers`].
    pub max_workers: Option<u32>,
    /// See [`DeployOptions::max_workers_per_step`].
    pub max_workers_per_step: Option<BTreeMap<String, u32>>,
    /// See [`DeployOptions::workflow_timeout`].
    pub workflow_timeout: Option<u64>,
    /// See [`DeployOptions::tags`].
    pub tags: Option<Vec<String>>,
    /// See [`DeployOptions::namespace`].
    pub namespace: Option<String>,
    /// See [`DeployOptions::branch`].
    pub branch: Option<String>,
    /// See [`DeployOptions::production`].
    pub production: Option<bool>,
    /// See [`DeployOptions::name`].
    pub name: Option<String>,
    /// See [`DeployOptions::image`].
    pub image: Option<String>,
    /// See [`DeployOptions::job_queue`].
    pub job_queue: Option<String>,
    /// See [`DeployOptions::retry_by_default`].
    pub retry_by_default: Option<bool>,
    /// See [`DeployOptions::distributed_map`].
    pub distributed_map: Option<bool>,
    /// See [`DeployOptions::aws_tags`].
    pub aws_tags: Option<BTreeMap<String, String>>,
    /// See [`DeployOptions::user`].
    pub user: Option<String>,
    /// See [`DeployOptions::platform`].
    pub platform: Option<ComputePlatform>,
    /// See [`DeployOptions::assign_public_ip`].
    pub assign_public_ip: Option<bool>,
    /// See [`DeployOptions::notify_on_error`].
    pub notify_on_error: Option<Vec<String>>,
    /// See [`DeployOptions::notify_on_success`].
    pub notify_on_success: Option<Vec<String>>,
    /// See [`DeployOptions::environment`].
    pub environment: Option<TaskEnvironment>,
}

/// `dropflow.toml` could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{file}: {message}. Valid keys: max_workers, max_workers_per_step, workflow_timeout, tags, namespace, branch, production, name, image, job_queue, retry_by_default, distributed_map, aws_tags, user, platform, assign_public_ip, notify_on_error, notify_on_success, environment"
)]
pub struct OptionsError {
    /// The file (or metadata source) that was read.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

impl OptionsLayer {
    /// Reads a `dropflow.toml` (a `[deploy]` table, or the keys at top level).
    pub fn from_toml(file: &str, text: &str) -> Result<Self, OptionsError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wrapped {
            deploy: OptionsLayer,
        }
        let error = |e: toml::de::Error| OptionsError {
            file: file.to_string(),
            message: e.message().to_string(),
        };
        if text
            .lines()
            .any(|l| l.trim() == "[deploy]" || l.trim().starts_with("[deploy."))
        {
            toml::from_str::<Wrapped>(text)
                .map(|w| w.deploy)
                .map_err(error)
        } else {
            toml::from_str(text).map_err(error)
        }
    }

    /// Applies this layer over `options`.
    pub fn apply(self, options: &mut DeployOptions) {
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { options.$field = v; })* };
        }
        macro_rules! set_some {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { options.$field = Some(v); })* };
        }
        set!(
            max_workers,
            max_workers_per_step,
            tags,
            production,
            retry_by_default,
            distributed_map,
            aws_tags,
            user,
            platform,
            assign_public_ip,
            notify_on_error,
            notify_on_success,
            environment
        );
        set_some!(workflow_timeout, namespace, branch, name, image, job_queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_field_by_field() {
        let mut options = DeployOptions::default();
        OptionsLayer::from_toml("dropflow.toml", "[deploy]\nmax_workers = 8\ntags = ['a']\n")
            .unwrap()
            .apply(&mut options);
        OptionsLayer {
            max_workers: Some(16),
            ..Default::default()
        }
        .apply(&mut options);
        assert_eq!(options.max_workers, 16);
        assert_eq!(options.tags, ["a"]);
    }

    #[test]
    fn max_workers_per_step_is_a_table_of_the_deploy_section() {
        let text = "[deploy]\nmax_workers = 8\n\n[deploy.max_workers_per_step]\ntrain = 500\n";
        let mut options = DeployOptions::default();
        OptionsLayer::from_toml("dropflow.toml", text)
            .unwrap()
            .apply(&mut options);
        assert_eq!(options.max_workers_for("train"), 500);
        assert_eq!(options.max_workers_for("score"), 8);
        assert!(options.distributed_map, "Distributed Map is the default");
    }

    #[test]
    fn alert_targets_are_lists_of_the_deploy_table() {
        let text = "[deploy]\nnotify_on_error = ['arn:aws:sns:us-east-1:123456789012:dropflow-alerts', 'https://hooks.example/x']\nnotify_on_success = []\n";
        let mut options = DeployOptions::default();
        OptionsLayer::from_toml("dropflow.toml", text)
            .unwrap()
            .apply(&mut options);
        assert_eq!(options.notify_on_error.len(), 2);
        assert!(options.notify_on_success.is_empty());
        let json = serde_json::to_value(DeployOptions::default()).unwrap();
        assert!(
            json.get("notify_on_error").is_none(),
            "no targets: serialised options (and version ids) unchanged"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = OptionsLayer::from_toml("dropflow.toml", "max_worker = 3\n").unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("dropflow.toml: unknown field `max_worker`"),
            "{text}"
        );
        assert!(text.contains("Valid keys: max_workers"), "{text}");
    }
}
