//! `dropflow-trigger`: the trigger function's Lambda entry point: API Gateway HTTP API
//! requests (payload v2) and events from dropflow's EventBridge bus. Reads and checks its
//! configuration at cold start, builds the AWS clients, then serves invocations with
//! [`dropflow_api::handle_invocation`].

use dropflow_api::TriggerConfig;
use lambda_http::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON lines when the function's LoggingConfig says LogFormat: JSON (the template does),
    // level from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO.
    lambda_http::tracing::init_default_subscriber();

    let config = match TriggerConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error_type = error.code(), "{error}");
            return Err(error.into());
        }
    };
    tracing::info!(bucket = %config.bucket, "trigger Lambda configured");
    let sdk = dropflow_aws::load_sdk_config().await;
    let deps = dropflow_trigger::deps(config, &sdk);
    let deps = &deps;
    lambda_http::lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            dropflow_api::handle_invocation(event.payload, event.context, deps).await
        },
    ))
    .await
}
