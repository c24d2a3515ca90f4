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
}

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
        },
        timeout: JobTimeout {
            attempt_duration_seconds: runtime.timeout_seconds,
        },
        retry_strategy: JobRetryStrategy { attempts: 1 },
        platform_capabilities: vec!["EC2".into()],
        tags: tags.clone(),
        propagate_tags: true,
    };
    let digest = Sha256::digest(serde_json::to_vec(&definition).expect("serialisable"));
    let hash = data_encoding::HEXLOWER.encode(&digest);
    definition.job_definition_name = naming::job_definition_name(state_machine, step, &hash[..12]);
    definition
}
