//! `dropflow-step`: the step Lambda's entry point. Every request names its deployment
//! manifest (directly or through its context); the only setting is the optional
//! `DROPFLOW_METADATA_URL` (see [`dropflow_step::settings_from_lookup`]).

use lambda_runtime::{LambdaEvent, service_fn};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
    let settings = match dropflow_step::settings_from_env() {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(error_type = "config.invalid", "{error}");
            return Err(error.into());
        }
    };
    tracing::info!(metadata_url = ?settings.metadata_url, "step Lambda configured");
    let sdk = dropflow_aws::load_sdk_config().await;
    let webhooks = match dropflow_aws::HttpWebhooks::new() {
        Ok(webhooks) => webhooks,
        Err(error) => {
            tracing::error!(error_type = "config.invalid", "{error}");
            return Err(error.into());
        }
    };
    let senders = dropflow_task::alert_delivery::AlertSenders {
        sns: std::sync::Arc::new(dropflow_aws::SnsAlerts::new(&sdk)),
        webhooks: std::sync::Arc::new(webhooks),
    };
    let deps = dropflow_step::Deps::new(dropflow_aws::S3Datastore::new(&sdk))
        .with_settings(settings)
        .with_alerts(senders);
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let function_arn = event.context.invoked_function_arn;
            dropflow_step::handle_invocation(event.payload, Some(&function_arn), deps).await
        },
    ))
    .await
}
