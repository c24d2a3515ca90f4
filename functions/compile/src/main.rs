//! `dropflow-compile`: the compile Lambda's entry point. Reads and validates the
//! configuration at cold start (every problem in one message), then serves S3 events.

use dropflow_deploy::Config;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON lines when the function's LoggingConfig says LogFormat: JSON (the template does),
    // level from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO.
    lambda_runtime::tracing::init_default_subscriber();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error_type = error.code(), "{error}");
            return Err(error.into());
        }
    };
    tracing::info!(
        bucket = %config.bucket,
        flows_prefix = %config.flows_prefix,
        "compile Lambda configured"
    );
    let sdk = dropflow_aws::load_sdk_config().await;
    let deployer = dropflow_compile::deployer(config, &sdk);
    let deployer = &deployer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            dropflow_compile::handle(deployer, event.payload).await
        },
    ))
    .await
}
