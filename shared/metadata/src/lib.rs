//! Metaflow's metadata service, so the Client API (`from metaflow import Flow`) reads
//! runs deployed by dropflow with no server to run: the HTTP API that Metaflow's
//! `service` metadata provider (`metaflow/plugins/metadata_providers/service.py`) calls,
//! with the JSON shapes of the reference server (Netflix/metaflow-service), over a
//! key-value [`MetadataStore`] (DynamoDB in `dropflow-metadata-host`, [`MemoryStore`] in
//! tests).
//!
//! The pieces: [`route`] (method + path → [`Route`], ids checked), [`body`] (request
//! bodies, typed), [`model`] (records as the client reads them), [`service`] (the
//! operations, and [`MetadataService::handle`] for one HTTP request), [`store`] (the
//! storage trait and its single-table key layout), [`http`] (request/response as plain
//! data) and [`error`] (4xx/503 answers as `{"error", "message"}`; never a 500).
//!
//! ```text
//! GET  /ping                                   pong + METADATA_SERVICE_VERSION header
//! GET  /flows                 POST|GET /flows/F
//! POST /flows/F/run           GET /flows/F/runs[/R]      POST …/runs/R/heartbeat
//! PATCH /flows/F/runs/R/tag/mutate {"tags_to_add": [...], "tags_to_remove": [...]}
//! POST …/runs/R/steps/S/step  GET …/runs/R/steps[/S]
//! POST …/steps/S/task         GET …/steps/S/tasks[/T]    POST …/tasks/T/heartbeat
//! POST …/tasks/T/artifact     GET …/tasks/T/artifacts[/NAME][/attempt/N]
//!                             GET …/tasks/T/attempt/N/artifacts
//! POST|GET …/tasks/T/metadata GET …/steps/S/filtered_tasks?metadata_field_name=&pattern=
//! GET  …/runs/R/artifacts     GET …/steps/S/artifacts    GET …/runs/R/metadata
//! ```

pub mod body;
pub mod error;
pub mod http;
pub mod memory;
pub mod model;
pub mod route;
pub mod service;
pub mod store;

#[cfg(test)]
mod tests;

pub use error::ApiError;
pub use http::{Request, Response, VERSION_HEADER};
pub use memory::MemoryStore;
pub use route::Route;
pub use service::{MetadataService, Reply, SERVICE_VERSION, ServiceConfig};
pub use store::{Item, MetadataStore};
