//! `dropflow-metadata-host`: Metaflow's metadata service on DynamoDB, so
//! `from metaflow import Flow` reads runs deployed by dropflow without a
//! metaflow-service container or PostgreSQL.
//!
//! The API itself (routes, JSON shapes, rules) is [`dropflow_metadata_service`]; this crate
//! hosts it: [`DynamoStore`] (the store on one pk/sk table), [`handle_lambda`] (API
//! Gateway HTTP API, payload v2, mounted at `/metadata` next to the trigger API),
//! [`local::serve`] and [`LocalServer`] (a plain HTTP listener for the local stack and
//! tests), all through [`respond`] (one log line per request).

pub mod config;
mod dynamodb;
mod lambda;
pub mod local;
mod respond;
pub mod secret;

pub use config::MetadataConfig;
pub use dropflow_contract::ConfigError;
pub use dropflow_metadata_service::{MetadataService, ServiceConfig};
pub use dynamodb::DynamoStore;
pub use lambda::handle_lambda;
pub use local::LocalServer;
pub use respond::{Answer, handle, respond};
pub use secret::{SecretError, resolve_api_key};

/// Re-exported so that hosts build requests with the same version.
pub use lambda_http;

/// The service over DynamoDB.
pub type DynamoService = MetadataService<DynamoStore>;

/// The service for `config`, on `sdk`'s clients.
pub fn dynamo_service(config: &MetadataConfig, sdk: &aws_config::SdkConfig) -> DynamoService {
    MetadataService::new(DynamoStore::new(sdk, &config.table), config.service.clone())
}
