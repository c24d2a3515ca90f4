//! Batch job definitions: looked up by name (ACTIVE only) and registered from the
//! compiler's `RegisterJobDefinition` fields.

use aws_config::SdkConfig;
use aws_sdk_batch::types::{
    AssignPublicIp, ContainerProperties, CrType, Device, DeviceCgroupPermission,
    EfsTransitEncryption, EfsVolumeConfiguration, EphemeralStorage, FargatePlatformConfiguration,
    Host, JobDefinitionType, JobTimeout, KeyValuePair, LinuxParameters, LogConfiguration,
    LogDriver, MountPoint, NetworkConfiguration, PlatformCapability, ResourceRequirement,
    ResourceType, RetryStrategy, Secret, Tmpfs,
};
use dropflow_contract::ports::{JobDefinitions, ServiceError, ServiceResult};
use dropflow_contract::{ComputePlatform, job_definition::JobDefinition};

use crate::error::{build_error, service_error};

/// Batch, for job definitions.
#[derive(Debug, Clone)]
pub struct BatchJobDefinitions {
    client: aws_sdk_batch::Client,
}

impl BatchJobDefinitions {
    /// A client from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_batch::Client::new(sdk),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_batch::Client {
        &self.client
    }

    /// Where jobs on `queue` run, found as Metaflow's Batch client finds it: the type of
    /// the queue's first compute environment (`FARGATE`, `FARGATE_SPOT` → Fargate; EC2,
    /// Spot and unmanaged environments → EC2). AWS keeps one platform per queue. The
    /// compile function can list the Fargate queues it finds in
    /// [`dropflow_contract::Platform::fargate_queues`].
    pub async fn queue_platform(&self, queue: &str) -> ServiceResult<ComputePlatform> {
        let operation = format!("batch:DescribeJobQueues {queue}");
        let queues = self
            .client
            .describe_job_queues()
            .job_queues(queue)
            .send()
            .await
            .map_err(|e| service_error(operation.clone(), e))?;
        let environment = queues
            .job_queues()
            .first()
            .ok_or_else(|| {
                ServiceError::new(
                    &operation,
                    format!("AWS Batch Job Queue {queue} not found."),
                )
            })?
            .compute_environment_order()
            .first()
            .and_then(|order| order.compute_environment())
            .ok_or_else(|| {
                ServiceError::new(
                    &operation,
                    format!("job queue {queue} has no compute environment"),
                )
            })?
            .to_string();
        let operation = format!("batch:DescribeComputeEnvironments {environment}");
        let environments = self
            .client
            .describe_compute_environments()
            .compute_environments(&environment)
            .send()
            .await
            .map_err(|e| service_error(operation.clone(), e))?;
        let kind = environments
            .compute_environments()
            .first()
            .ok_or_else(|| ServiceError::new(&operation, "compute environment not found"))?
            .compute_resources()
            .and_then(|resources| resources.r#type());
        Ok(match kind {
            Some(CrType::Fargate | CrType::FargateSpot) => ComputePlatform::Fargate,
            _ => ComputePlatform::Ec2,
        })
    }
}

fn int(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl JobDefinitions for BatchJobDefinitions {
    async fn is_active(&self, name: &str) -> ServiceResult<bool> {
        let output = self
            .client
            .describe_job_definitions()
            .job_definition_name(name)
            .status("ACTIVE")
            .send()
            .await
            .map_err(|e| service_error(format!("batch:DescribeJobDefinitions {name}"), e))?;
        Ok(output
            .job_definitions()
            .iter()
            .any(|d| d.job_definition_name() == Some(name) && d.status() == Some("ACTIVE")))
    }

    async fn register(&self, definition: &JobDefinition) -> ServiceResult<String> {
        let name = &definition.job_definition_name;
        let operation = format!("batch:RegisterJobDefinition {name}");
        let properties = container_properties(&definition.container_properties);
        let mut request = self
            .client
            .register_job_definition()
            .job_definition_name(name)
            .r#type(JobDefinitionType::from(definition.kind.as_str()))
            .container_properties(properties)
            .timeout(
                JobTimeout::builder()
                    .attempt_duration_seconds(int(definition.timeout.attempt_duration_seconds))
                    .build(),
            )
            .retry_strategy(
                RetryStrategy::builder()
                    .attempts(int(u64::from(definition.retry_strategy.attempts)))
                    .build(),
            )
            .propagate_tags(definition.propagate_tags)
            .set_tags(Some(definition.tags.clone().into_iter().collect()));
        for capability in &definition.platform_capabilities {
            request = request.platform_capabilities(PlatformCapability::from(capability.as_str()));
        }
        let output = request
            .send()
            .await
            .map_err(|e| service_error(operation.clone(), e))?;
        output
            .job_definition_arn()
            .map(String::from)
            .ok_or_else(|| build_error(&operation, "no job definition ARN returned"))
    }
}

/// The compiler's `containerProperties`, field for field.
fn container_properties(
    container: &dropflow_contract::job_definition::ContainerProperties,
) -> ContainerProperties {
    let mut properties = ContainerProperties::builder()
        .image(&container.image)
        .set_command(Some(container.command.clone()))
        .set_job_role_arn(container.job_role_arn.clone())
        .set_execution_role_arn(container.execution_role_arn.clone())
        .set_privileged(container.privileged);
    for requirement in &container.resource_requirements {
        properties = properties.resource_requirements(
            ResourceRequirement::builder()
                .r#type(ResourceType::from(requirement.kind.as_str()))
                .value(&requirement.value)
                .build(),
        );
    }
    for variable in &container.environment {
        properties = properties.environment(
            KeyValuePair::builder()
                .name(&variable.name)
                .value(&variable.value)
                .build(),
        );
    }
    for secret in &container.secrets {
        properties = properties.secrets(
            Secret::builder()
                .name(&secret.name)
                .value_from(&secret.value_from)
                .build(),
        );
    }
    if let Some(linux) = &container.linux_parameters {
        properties = properties.linux_parameters(linux_parameters(linux));
    }
    if let Some(logging) = &container.log_configuration {
        let mut configuration = LogConfiguration::builder()
            .set_log_driver(logging.log_driver.as_deref().map(LogDriver::from));
        for (key, value) in &logging.options {
            configuration = configuration.options(key, value);
        }
        properties = properties.log_configuration(configuration.build());
    }
    for volume in &container.volumes {
        let mut built = aws_sdk_batch::types::Volume::builder().name(&volume.name);
        if let Some(host) = &volume.host {
            built = built.host(Host::builder().source_path(&host.source_path).build());
        }
        if let Some(efs) = &volume.efs_volume_configuration {
            built = built.efs_volume_configuration(
                EfsVolumeConfiguration::builder()
                    .file_system_id(&efs.file_system_id)
                    .transit_encryption(EfsTransitEncryption::from(efs.transit_encryption.as_str()))
                    .build(),
            );
        }
        properties = properties.volumes(built.build());
    }
    for mount in &container.mount_points {
        properties = properties.mount_points(
            MountPoint::builder()
                .source_volume(&mount.source_volume)
                .container_path(&mount.container_path)
                .build(),
        );
    }
    if let Some(network) = &container.network_configuration {
        properties = properties.network_configuration(
            NetworkConfiguration::builder()
                .assign_public_ip(AssignPublicIp::from(network.assign_public_ip.as_str()))
                .build(),
        );
    }
    if let Some(fargate) = &container.fargate_platform_configuration {
        properties = properties.fargate_platform_configuration(
            FargatePlatformConfiguration::builder()
                .platform_version(&fargate.platform_version)
                .build(),
        );
    }
    if let Some(storage) = &container.ephemeral_storage {
        properties = properties.ephemeral_storage(
            EphemeralStorage::builder()
                .size_in_gib(int(storage.size_in_gib))
                .build(),
        );
    }
    properties.build()
}

fn linux_parameters(linux: &dropflow_contract::job_definition::LinuxParameters) -> LinuxParameters {
    let mut parameters = LinuxParameters::builder()
        .set_shared_memory_size(linux.shared_memory_size.map(int))
        .set_max_swap(linux.max_swap.map(int))
        .set_swappiness(linux.swappiness.map(int));
    for device in &linux.devices {
        let mut built = Device::builder()
            .host_path(&device.host_path)
            .set_container_path(device.container_path.clone());
        for permission in &device.permissions {
            built = built.permissions(DeviceCgroupPermission::from(permission.as_str()));
        }
        parameters = parameters.devices(built.build());
    }
    for mount in &linux.tmpfs {
        parameters = parameters.tmpfs(
            Tmpfs::builder()
                .container_path(&mount.container_path)
                .size(int(mount.size))
                .set_mount_options(Some(mount.mount_options.clone()))
                .build(),
        );
    }
    parameters.build()
}
