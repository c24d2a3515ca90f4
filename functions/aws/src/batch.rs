//! Batch job definitions: looked up by name (ACTIVE only) and registered from the
//! compiler's `RegisterJobDefinition` fields.

use aws_config::SdkConfig;
use aws_sdk_batch::types::{
    ContainerProperties, JobDefinitionType, JobTimeout, KeyValuePair, LinuxParameters,
    PlatformCapability, ResourceRequirement, ResourceType, RetryStrategy, Secret,
};
use dropflow::compile::JobDefinition;
use dropflow::deploy::{JobDefinitions, ServiceResult};

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
        let container = &definition.container_properties;
        let mut properties = ContainerProperties::builder()
            .image(&container.image)
            .set_command(Some(container.command.clone()))
            .set_job_role_arn(container.job_role_arn.clone())
            .set_execution_role_arn(container.execution_role_arn.clone());
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
            properties = properties.linux_parameters(
                LinuxParameters::builder()
                    .shared_memory_size(int(linux.shared_memory_size))
                    .build(),
            );
        }
        let mut request = self
            .client
            .register_job_definition()
            .job_definition_name(name)
            .r#type(JobDefinitionType::from(definition.kind.as_str()))
            .container_properties(properties.build())
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
