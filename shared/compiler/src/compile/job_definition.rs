//! AWS Batch job definitions, one per step, named by content so that an unchanged step
//! reuses its registered definition and a running execution never sees a changed one.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::batch_settings::ContainerSettings;
use super::steps::StepRuntime;
use crate::naming;
use dropflow_contract::options::ComputePlatform;

pub use dropflow_contract::job_definition::*;

/// The command a job definition carries when nothing overrides it: fail loudly, because
/// dropflow's state machine always supplies the real task command.
const GUARD_COMMAND: &str = "echo 'dropflow: this job definition runs only with the command its state machine passes' >&2; exit 64";

/// Builds the job definition of one step: resources and role from `runtime`, the rest
/// of `@batch` from `container`, as Metaflow's `BatchJob._register_job_definition`
/// composes it for the step's compute platform.
pub fn job_definition(
    state_machine: &str,
    step: &str,
    runtime: &StepRuntime,
    container: &ContainerSettings,
    static_environment: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> JobDefinition {
    let fargate = container.platform == ComputePlatform::Fargate;
    let mut environment: BTreeMap<&String, &String> = static_environment
        .iter()
        .chain(runtime.environment.iter())
        .collect();
    if let Some(tempdir) = &container.tempdir {
        environment.insert(&container.tempdir_variable, tempdir);
    }
    let environment = environment
        .into_iter()
        .map(|(name, value)| KeyValue {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let mut tags = tags.clone();
    tags.extend(container.tags.clone());
    let linux_parameters = linux_parameters(runtime, container);
    let (volumes, mount_points) = volumes(container);
    let mut definition = JobDefinition {
        job_definition_name: String::new(),
        step: step.to_string(),
        kind: "container".into(),
        container_properties: ContainerProperties {
            image: runtime.image.clone(),
            command: vec!["sh".into(), "-c".into(), GUARD_COMMAND.into()],
            resource_requirements: resource_requirements(runtime),
            job_role_arn: runtime.job_role_arn.clone(),
            environment,
            linux_parameters: (!linux_parameters.is_empty()).then_some(linux_parameters),
            secrets: Vec::new(),
            execution_role_arn: container.execution_role_arn.clone(),
            privileged: container.privileged.then_some(true),
            log_configuration: log_configuration(container),
            volumes,
            mount_points,
            network_configuration: fargate.then(|| NetworkConfiguration {
                assign_public_ip: if container.assign_public_ip {
                    "ENABLED"
                } else {
                    "DISABLED"
                }
                .into(),
            }),
            fargate_platform_configuration: fargate.then(|| FargatePlatformConfiguration {
                platform_version: "LATEST".into(),
            }),
            ephemeral_storage: container
                .ephemeral_storage_gib
                .map(|size_in_gib| EphemeralStorage { size_in_gib }),
        },
        timeout: JobTimeout {
            attempt_duration_seconds: runtime.timeout_seconds,
        },
        retry_strategy: JobRetryStrategy { attempts: 1 },
        platform_capabilities: vec![if fargate { "FARGATE" } else { "EC2" }.into()],
        tags,
        propagate_tags: true,
    };
    name_by_content(&mut definition, state_machine);
    definition
}

/// vCPU, memory and (when asked for) GPUs.
fn resource_requirements(runtime: &StepRuntime) -> Vec<ResourceRequirement> {
    let mut requirements = vec![
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
        requirements.push(ResourceRequirement {
            kind: "GPU".into(),
            value: runtime.resources.gpu.to_string(),
        });
    }
    requirements
}

/// Shared memory, swap, Inferentia and EFA devices, tmpfs (all EC2 only: the settings
/// were refused on Fargate before this).
fn linux_parameters(runtime: &StepRuntime, container: &ContainerSettings) -> LinuxParameters {
    let read_write = || vec!["READ".to_string(), "WRITE".to_string()];
    let mut devices: Vec<Device> = (0..container.inferentia)
        .map(|i| Device {
            host_path: format!("/dev/neuron{i}"),
            container_path: Some(format!("/dev/neuron{i}")),
            permissions: read_write(),
        })
        .collect();
    if container.efa > 0 {
        // A single-node job names only the host path (Metaflow's non-parallel case).
        devices.push(Device {
            host_path: "/dev/infiniband/uverbs0".into(),
            container_path: None,
            permissions: Vec::new(),
        });
    }
    LinuxParameters {
        shared_memory_size: runtime.resources.shared_memory,
        max_swap: container.max_swap,
        swappiness: container.swappiness,
        devices,
        tmpfs: container
            .tmpfs
            .iter()
            .map(|mount| Tmpfs {
                container_path: mount.path.clone(),
                size: mount.size_mib,
                mount_options: vec!["defaults".into()],
            })
            .collect(),
    }
}

fn log_configuration(container: &ContainerSettings) -> Option<LogConfiguration> {
    (container.log_driver.is_some() || !container.log_options.is_empty()).then(|| {
        LogConfiguration {
            log_driver: container.log_driver.clone(),
            options: container.log_options.clone(),
        }
    })
}

/// Host and EFS volumes with their mount points, named as Metaflow names them.
fn volumes(container: &ContainerSettings) -> (Vec<Volume>, Vec<MountPoint>) {
    let mut volumes = Vec::new();
    let mut mount_points = Vec::new();
    for mount in &container.host_volumes {
        let name = mount.source.replace(['/', '.'], "_");
        volumes.push(Volume {
            name: name.clone(),
            host: Some(HostPath {
                source_path: mount.source.clone(),
            }),
            efs_volume_configuration: None,
        });
        mount_points.push(MountPoint {
            source_volume: name,
            container_path: mount.container_path.clone(),
        });
    }
    for mount in &container.efs_volumes {
        let name = format!("efs_{}", mount.source);
        volumes.push(Volume {
            name: name.clone(),
            host: None,
            efs_volume_configuration: Some(EfsVolume {
                file_system_id: mount.source.clone(),
                transit_encryption: "ENABLED".into(),
            }),
        });
        mount_points.push(MountPoint {
            source_volume: name,
            container_path: mount.container_path.clone(),
        });
    }
    (volumes, mount_points)
}

/// `definition` with `METAFLOW_SERVICE_AUTH_KEY` from `secret_arn` (resolved by
/// the definition's execution role, or else `execution_role_arn`, when the container starts, so the key is never in a state's
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
    // A step's own `@batch(execution_role=...)` (Fargate) resolves the secret too.
    container
        .execution_role_arn
        .get_or_insert_with(|| execution_role_arn.into());
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
