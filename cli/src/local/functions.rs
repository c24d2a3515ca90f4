//! dropflow's Lambda functions, hosted as libraries by the local Invoke API and configured
//! as the SAM template configures them on AWS, with the emulator as every endpoint.
//! Adding a function is one `registry.register(NAME, handler)` line below.

use std::sync::Arc;

use aws_config::SdkConfig;
use dropflow_deploy::Config;
use dropflow_task::JobSettings;
use serde_json::Value;

use super::error::LocalError;
use super::options::{COMPILE_FUNCTION, JOB_QUEUE, Options, STEP_FUNCTION};
use super::registry::{InvokeError, Registry};

/// The image job definitions name; the local Batch runs commands on the host instead.
pub const LOCAL_IMAGE: &str = "dropflow-local/host-python";

/// The secret names `@secrets` may read on the local stack (the template's default
/// `JobSecretsPrefix`).
pub const JOB_SECRETS_PREFIX: &str = "dropflow/flows/";

/// The deployment settings (`DROPFLOW_*`) of the local functions.
pub fn config(options: &Options) -> Result<Config, LocalError> {
    let step_arn = options.function_arn(STEP_FUNCTION);
    let state_machine_role = Options::role_arn("dropflow-local-state-machine");
    let scheduler_role = Options::role_arn("dropflow-local-scheduler");
    Config::from_lookup(|name| {
        let value = match name {
            "DROPFLOW_BUCKET" => options.bucket.as_str(),
            "DROPFLOW_STEP_FUNCTION_ARN" => step_arn.as_str(),
            "DROPFLOW_STATE_MACHINE_ROLE_ARN" => state_machine_role.as_str(),
            "DROPFLOW_SCHEDULER_ROLE_ARN" => scheduler_role.as_str(),
            "DROPFLOW_JOB_QUEUE" => JOB_QUEUE,
            "DROPFLOW_DEFAULT_IMAGE" => LOCAL_IMAGE,
            // The template's default JobSecretsPrefix: @secrets reads secrets stored
            // under it in the emulator's Secrets Manager.
            "DROPFLOW_JOB_SECRETS_PREFIX" => JOB_SECRETS_PREFIX,
            // Alerts may go to plain-HTTP webhooks on 127.0.0.1 / localhost.
            "DROPFLOW_LOCAL_WEBHOOKS" => "allow",
            _ => return None,
        };
        Some(value.to_string())
    })
    .map_err(|e| LocalError::setup("the functions' configuration", e))
}

/// The functions of a local stack whose AWS is `sdk`; the step function's tasks use the
/// metadata service at `metadata_url` (`--metadata=service`), as `DROPFLOW_METADATA_URL`
/// configures them on AWS, with `metadata_auth_key` as `METAFLOW_SERVICE_AUTH_KEY` in
/// their container overrides (on AWS the job definitions' `secrets` give it instead); a
/// resumed run's clones are registered in the metadata service's table, as on AWS. A
/// run's finish events are posted to `events_url` (the local trigger API's `/events`).
pub fn builtin(
    config: &Config,
    sdk: &SdkConfig,
    metadata_url: &str,
    metadata_auth_key: &str,
    events_url: &str,
) -> Registry {
    let mut registry = Registry::new();
    let deployer = Arc::new(dropflow_compile::deployer(config.clone(), sdk));
    registry.register(COMPILE_FUNCTION, move |payload: Value| {
        let deployer = deployer.clone();
        async move {
            match dropflow_compile::handle(&deployer, payload).await {
                Ok(response) => serde_json::to_value(response)
                    .map_err(|e| InvokeError::new("dropflow.InvalidResponse", e.to_string())),
                Err(error) => Err(InvokeError::new(error.error_type, error.message)),
            }
        }
    });
    let settings = JobSettings {
        metadata_url: Some(metadata_url.to_string()),
        metadata_auth_key: Some(metadata_auth_key.to_string()),
    };
    let mut step = alert_senders(sdk)
        .map_or_else(
            || dropflow_step::Deps::new(dropflow_aws::S3Datastore::new(sdk)),
            |senders| {
                dropflow_step::Deps::new(dropflow_aws::S3Datastore::new(sdk)).with_alerts(senders)
            },
        )
        .with_settings(settings)
        .with_clones(Arc::new(dropflow_step::clones::MetadataClones::new(
            Arc::new(dropflow_metadata_host::MetadataService::new(
                dropflow_metadata_host::DynamoStore::new(sdk, super::options::METADATA_TABLE),
                dropflow_metadata_host::ServiceConfig::default(),
            )),
        )));
    // The same HTTP client as alerts (none without TLS roots: no finish events either).
    if let Ok(http) = dropflow_aws::HttpWebhooks::new() {
        step = step.with_events(Arc::new(dropflow_step::HttpEvents {
            url: events_url.to_string(),
            poster: Arc::new(http),
        }));
    }
    let step = Arc::new(step);
    let step_arn = config.step_function_arn.clone();
    registry.register(STEP_FUNCTION, move |payload: Value| {
        let step = step.clone();
        let step_arn = step_arn.clone();
        async move {
            dropflow_step::handle_invocation(payload, Some(&step_arn), &step)
                .await
                .map_err(|e| InvokeError::new(e.error_type(), e.to_string()))
        }
    });
    registry
}

/// The local step function's alert senders: the emulator's SNS and the host's HTTP
/// (none when the system has no TLS root certificates: alerts are then recorded as
/// failed, the runs are not affected).
fn alert_senders(sdk: &SdkConfig) -> Option<dropflow_task::alert_delivery::AlertSenders> {
    let webhooks = dropflow_aws::HttpWebhooks::new().ok()?;
    Some(dropflow_task::alert_delivery::AlertSenders {
        sns: Arc::new(dropflow_aws::SnsAlerts::new(sdk)),
        webhooks: Arc::new(webhooks),
    })
}
