//! `dropflow-step`: the step Lambda's entry point. Needs no configuration: every request
//! names its deployment manifest (directly or through its context).

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
    let sdk = dropflow_aws::load_sdk_config().await;
    let deps = dropflow_step::Deps::new(dropflow_aws::S3Datastore::new(&sdk));
    let deps = &deps;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            dropflow_step::handle(event.payload, deps).await
        },
    ))
    .await
}
