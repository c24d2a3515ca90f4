//! `dropflow-compile`: the compile Lambda's entry point. Reads and validates the
//! configuration at cold start (every problem in one message), then serves S3 events.

use dropflow_deploy::Config;
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
