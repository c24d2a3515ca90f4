//! `dropflow-trigger`: the trigger API's Lambda entry point (API Gateway HTTP API,
//! payload v2). Reads and checks its configuration at cold start, then serves requests.

use dropflow_trigger::{Deps, TriggerConfig};
use lambda_http::{Request, service_fn};

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
    let deps = Deps::new(config, &sdk);
    let deps = &deps;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(dropflow_trigger::handle(request, deps).await)
    }))
    .await
}
