//! AWS Batch job definitions, one per step, named by content so that an unchanged step
//! reuses its registered definition and a running execution never sees a changed one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::steps::StepRuntime;
use crate::naming;

/// A `RegisterJobDefinition` request (Batch API field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDefinition {
    /// Name, ending in a hash of the content.
    pub job_definition_name: String,
    /// The step it runs.
    pub step: String,
    /// Always `container`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Image, resources, role, static environment.
    pub container_properties: ContainerProperties,
    /// Attempt timeout.
    pub timeout: JobTimeout,
    /// Batch-level retries stay at 1: Step Functions retries, so attempts are counted once.
    pub retry_strategy: JobRetryStrategy,
    /// `EC2` (the job queue's compute environment decides the rest).
    pub platform_capabilities: Vec<String>,
    /// Tags on the job definition.
    pub tags: BTreeMap<String, String>,
    /// Copy the tags to the ECS tasks.
    pub propagate_tags: bool,
}

/// `containerProperties`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties {
    /// Container image.
    pub image: String,
    /// Default command; the state machine always overrides it with the task's command.
    pub command: Vec<String>,
    /// vCPU, memory and GPU.
    pub resource_requirements: Vec<ResourceRequirement>,
    /// Role the container assumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_role_arn: Option<String>,
    /// Environment that is the same for every task of the step.
    pub environment: Vec<KeyValue>,
    /// `/dev/shm` size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParameters>,
    /// Environment variables Batch fills from Secrets Manager when the container starts
    /// (the metadata API key): see [`with_metadata_auth_secret`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// The role that resolves [`Self::secrets`] (required with them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
}

/// `secrets` entry: an environment variable from a Secrets Manager secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Variable name.
    pub name: String,
    /// The secret's ARN.
    pub value_from: String,
}

/// The variable Metaflow reads its metadata service's API key from (sent as `x-api-key`).
pub const METADATA_AUTH_KEY_VARIABLE: &str = "METAFLOW_SERVICE_AUTH_KEY";

/// `resourceRequirements` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRequirement {
    /// `VCPU`, `MEMORY` or `GPU`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The amount, as a string.
    pub value: String,
}

/// `environment` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// Variable name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// `linuxParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxParameters {
    /// `/dev/shm` in MiB.
    pub shared_memory_size: u64,
}

/// `timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTimeout {
    /// Seconds per attempt (≥ 60).
    pub attempt_duration_seconds: u64,
}

/// `retryStrategy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRetryStrategy {
    /// Attempts per submission.
    pub attempts: u32,
}

/// The command a job definition carries when nothing overrides it: fail loudly, because
/// dropflow's state machine always supplies the real task command.
const GUARD_COMMAND: &str = "echo 'dropflow: this job definition runs only with the command its state machine passes' >&2; exit 64";

/// Builds the job definition of one step.
pub fn job_definition(
    state_machine: &str,
    step: &str,
    runtime: &StepRuntime,
    static_environment: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> JobDefinition {
    let mut resource_requirements = vec![
        ResourceRequirement {
            kind: "VCPU".into(),
            value: runtime.resources.cpu.clone(),
        },
        ResourceRequirement {
            kind: "MEMORY".into(),
            value: runtime.resources.memory.to_string(),
        },
    ];
    if runtime.resources.gpu > 0 {
        resource_requirements.push(ResourceRequirement {
            kind: "GPU".into(),
            value: runtime.resources.gpu.to_string(),
        });
    }
    let environment = static_environment
        .iter()
        .chain(runtime.environment.iter())
        .map(|(name, value)| KeyValue {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let mut definition = JobDefinition {
        job_definition_name: String::new(),
        step: step.to_string(),
        kind: "container".into(),
        container_properties: ContainerProperties {
            image: runtime.image.clone(),
            command: vec!["sh".into(), "-c".into(), GUARD_COMMAND.into()],
            resource_requirements,
            job_role_arn: runtime.job_role_arn.clone(),
            environment,
            linux_parameters: runtime
                .resources
                .shared_memory
                .map(|shared_memory_size| LinuxParameters { shared_memory_size }),
            secrets: Vec::new(),
            execution_role_arn: None,
        },
        timeout: JobTimeout {
            attempt_duration_seconds: runtime.timeout_seconds,
        },
        retry_strategy: JobRetryStrategy { attempts: 1 },
        platform_capabilities: vec!["EC2".into()],
        tags: tags.clone(),
        propagate_tags: true,
    };
    name_by_content(&mut definition, state_machine);
    definition
}

/// `definition` with `METAFLOW_SERVICE_AUTH_KEY` from `secret_arn` (resolved by
/// `execution_role_arn` when the container starts, so the key is never in a state's
/// input), renamed for its new content.
pub fn with_metadata_auth_secret(
    mut definition: JobDefinition,
    state_machine: &str,
    secret_arn: &str,
    execution_role_arn: &str,
) -> JobDefinition {
    let container = &mut definition.container_properties;
    container
        .secrets
        .retain(|s| s.name != METADATA_AUTH_KEY_VARIABLE);
    container.secrets.push(Secret {
        name: METADATA_AUTH_KEY_VARIABLE.into(),
        value_from: secret_arn.into(),
    });
    container.execution_role_arn = Some(execution_role_arn.into());
    name_by_content(&mut definition, state_machine);
    definition
}

/// Names `definition` `<state machine>-<step>-<hash of its content>`.
fn name_by_content(definition: &mut JobDefinition, state_machine: &str) {
    definition.job_definition_name = String::new();
    let digest = Sha256::digest(serde_json::to_vec(&*definition).expect("serialisable"));
    let hash = data_encoding::HEXLOWER.encode(&digest);
    definition.job_definition_name =
        naming::job_definition_name(state_machine, &definition.step, &hash[..12]);
}

#[cfg(test)]
mod metadata_secret_tests {
    use super::*;

    #[test]
    fn the_metadata_key_comes_from_the_secret_and_renames_the_definition() {
        let mut plain: JobDefinition = serde_json::from_value(serde_json::json!({
            "jobDefinitionName": "",
            "step": "start",
            "type": "container",
            "containerProperties": {
                "image": "python:3.12",
                "command": ["sh", "-c", GUARD_COMMAND],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}],
                "environment": [],
            },
            "timeout": {"attemptDurationSeconds": 432000},
            "retryStrategy": {"attempts": 1},
            "platformCapabilities": ["EC2"],
            "tags": {},
            "propagateTags": true,
        }))
        .unwrap();
        name_by_content(&mut plain, "F");
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:s/metadata-api-key-AbC";
        let role = "arn:aws:iam::1:role/exec";
        let keyed = with_metadata_auth_secret(plain.clone(), "F", arn, role);
        assert_eq!(
            keyed.container_properties.secrets,
            [Secret {
                name: "METAFLOW_SERVICE_AUTH_KEY".into(),
                value_from: arn.into()
            }]
        );
        assert_eq!(
            keyed.container_properties.execution_role_arn.as_deref(),
            Some(role)
        );
        assert_ne!(keyed.job_definition_name, plain.job_definition_name);
        assert!(keyed.job_definition_name.starts_with("F-start-"));
        // The key's value is never in the definition, only where to find it.
        let json = serde_json::to_value(&keyed).unwrap();
        assert_eq!(
            json["containerProperties"]["secrets"][0]["valueFrom"],
            serde_json::json!(arn)
        );
        // Applied twice, still one entry and the same name.
        let again = with_metadata_auth_secret(keyed.clone(), "F", arn, role);
        assert_eq!(again, keyed);
    }
}
