//! `dropflow-step`: the step Lambda's entry point. Every request names its deployment
//! manifest (directly or through its context); the settings are the optional
//! `DROPFLOW_METADATA_URL` (see [`dropflow_step::settings_from_lookup`]) and
//! `DROPFLOW_METADATA_TABLE`, the metadata service's table, where a resumed run's cloned
//! tasks are registered ([`dropflow_step::clones`]), and `DROPFLOW_EVENTS_URL`, the
//! stack's `POST /events`, where a successful end step's finish events are published
//! (SigV4-signed).

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON lines when the function's LoggingConfig says LogFormat: JSON (the template does),
    // level from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO.
    lambda_runtime::tracing::init_default_subscriber();
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
        webhooks: std::sync::Arc::new(webhooks.clone()),
    };
    let mut deps = dropflow_step::Deps::new(dropflow_aws::S3Datastore::new(&sdk))
        .with_settings(settings)
        .with_alerts(senders);
    // Finish events go to the stack's own `POST /events`, signed with the Lambda's role.
    if let Some(url) = std::env::var("DROPFLOW_EVENTS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        let Some(poster) = dropflow_aws::SignedApiPoster::new(&sdk, webhooks) else {
            let error = "DROPFLOW_EVENTS_URL is set but the SDK has no credentials or region";
            tracing::error!(error_type = "config.invalid", "{error}");
            return Err(error.into());
        };
        deps = deps.with_events(std::sync::Arc::new(dropflow_step::HttpEvents {
            url: url.trim().to_string(),
            poster: std::sync::Arc::new(poster),
        }));
    }
    if let Some(table) = std::env::var("DROPFLOW_METADATA_TABLE")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        let service = dropflow_metadata_host::MetadataService::new(
            dropflow_metadata_host::DynamoStore::new(&sdk, table.trim()),
            dropflow_metadata_host::ServiceConfig::default(),
        );
        deps = deps.with_clones(std::sync::Arc::new(
            dropflow_step::clones::MetadataClones::new(std::sync::Arc::new(service)),
        ));
    }
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let function_arn = event.context.invoked_function_arn;
            dropflow_step::handle_invocation(event.payload, Some(&function_arn), deps).await
        },
    ))
    .await
}
