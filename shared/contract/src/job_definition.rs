//! AWS Batch job definitions as dropflow registers them (`RegisterJobDefinition` request
//! shape, Batch API field names); the compiler builds them, the manifest records them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// `EC2` or `FARGATE`: the step's compute platform.
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
    /// `/dev/shm`, swap, devices (Inferentia, EFA) and tmpfs (EC2 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux_parameters: Option<LinuxParameters>,
    /// Environment variables Batch fills from Secrets Manager when the container starts
    /// (the metadata API key): see [`with_metadata_auth_secret`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Role ECS uses to start the task: `@batch(execution_role=...)` on Fargate, else the
    /// stack's job execution role when the definition has [`Self::secrets`] to resolve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// `@batch(privileged=True)` (EC2 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// `@batch(log_driver=..., log_options=[...])`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    /// `@batch(host_volumes=..., efs_volumes=...)`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub volumes: Vec<Volume>,
    /// Where each volume is mounted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub mount_points: Vec<MountPoint>,
    /// Fargate: whether the task gets a public IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    /// Fargate: the platform version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fargate_platform_configuration: Option<FargatePlatformConfiguration>,
    /// Fargate: `@batch(ephemeral_storage=...)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
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

/// `linuxParameters` (EC2 only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxParameters {
    /// `/dev/shm` in MiB (`shared_memory`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_memory_size: Option<u64>,
    /// Swap in MiB (`max_swap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_swap: Option<u64>,
    /// `swappiness`, 0–99.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swappiness: Option<u64>,
    /// Host devices: `/dev/neuronN` (`inferentia`), `/dev/infiniband/uverbs0` (`efa`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub devices: Vec<Device>,
    /// `use_tmpfs`/`tmpfs_size`/`tmpfs_path`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tmpfs: Vec<Tmpfs>,
}

impl LinuxParameters {
    /// Nothing set: Batch needs no `linuxParameters` at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `devices` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// Path on the host.
    pub host_path: String,
    /// Path in the container (the host path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_path: Option<String>,
    /// `READ`, `WRITE`, `MKNOD`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub permissions: Vec<String>,
}

/// `tmpfs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tmpfs {
    /// Mount point (absolute).
    pub container_path: String,
    /// Size in MiB.
    pub size: u64,
    /// Mount options (Metaflow: `defaults`).
    pub mount_options: Vec<String>,
}

/// `logConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    /// `awslogs`, `splunk`, ... (Batch's list; the queue's default when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    /// The driver's options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub options: BTreeMap<String, String>,
}

/// `volumes` entry: a host path or an EFS file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name, referenced by a mount point.
    pub name: String,
    /// A host path (`host_volumes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostPath>,
    /// An EFS file system (`efs_volumes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efs_volume_configuration: Option<EfsVolume>,
}

/// `host`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPath {
    /// Path on the host.
    pub source_path: String,
}

/// `efsVolumeConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EfsVolume {
    /// `fs-...`.
    pub file_system_id: String,
    /// Always `ENABLED` (as Metaflow).
    pub transit_encryption: String,
}

/// `mountPoints` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    /// A volume's name.
    pub source_volume: String,
    /// Where it is mounted.
    pub container_path: String,
}

/// `networkConfiguration` (Fargate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    /// `ENABLED` or `DISABLED`.
    pub assign_public_ip: String,
}

/// `fargatePlatformConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FargatePlatformConfiguration {
    /// `LATEST`.
    pub platform_version: String,
}

/// `ephemeralStorage` (Fargate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EphemeralStorage {
    /// 21–200 GiB.
    #[serde(rename = "sizeInGiB")]
    pub size_in_gib: u64,
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
