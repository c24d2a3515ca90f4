//! `dropflow-metadata`: the metadata service's Lambda entry point (API Gateway HTTP API,
//! payload v2), or, with `--listen ADDR`, a plain HTTP server (the local stack:
//! `dropflow-metadata --listen 127.0.0.1:5101 --create-table` with `AWS_ENDPOINT_URL`
//! pointing at moto). Settings come from `DROPFLOW_METADATA_*` (see [`MetadataConfig`]);
//! the API key is read from its secret once, before the first request.

use std::sync::Arc;

use dropflow_metadata_host::{MetadataConfig, dynamo_service};
use lambda_http::{Request, service_fn};

fn usage() -> ! {
    eprintln!("usage: dropflow-metadata [--listen HOST:PORT [--create-table]]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON lines when the function's LoggingConfig says LogFormat: JSON (the template does),
    // level from AWS_LAMBDA_LOG_LEVEL, else RUST_LOG, else INFO.
    lambda_http::tracing::init_default_subscriber();

    let mut listen = None;
    let mut create_table = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().unwrap_or_else(|| usage())),
            "--create-table" => create_table = true,
            _ => usage(),
        }
    }

    let mut config = match MetadataConfig::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error_type = error.code(), "{error}");
            return Err(error.into());
        }
    };
    let sdk = dropflow_aws::load_sdk_config().await;
    // Once per cold start: the key's digest is kept for the life of the process.
    if let Err(error) = dropflow_metadata_host::resolve_api_key(&mut config, &sdk).await {
        tracing::error!(error_type = error.code(), "{error}");
        return Err(error.into());
    }
    let service = dynamo_service(&config, &sdk);
    tracing::info!(table = %config.table, prefix = ?config.service.path_prefix,
        api_key = config.service.api_key_sha256.is_some(), "metadata service configured");

    if let Some(addr) = listen {
        if create_table {
            service.store().ensure_table().await?;
        }
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        // One line on stdout for a supervisor to read.
        println!(
            "metadata service listening on http://{}",
            listener.local_addr()?
        );
        dropflow_metadata_host::local::serve(listener, Arc::new(service), std::future::pending())
            .await?;
        return Ok(());
    }

    let service = &service;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(
            dropflow_metadata_host::handle_lambda(service, request).await,
        )
    }))
    .await
}
