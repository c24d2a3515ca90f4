//! dropflow's AWS adapters: the [`dropflow_contract::ports`] of the deploy logic implemented over the AWS SDK
//! (S3, Step Functions, Batch, EventBridge Scheduler), and one SDK configuration loader
//! for every Lambda. Each adapter is a thin translation: requests built from dropflow's
//! types, "not found" read from typed SDK errors (`into_service_error()`), never from
//! message text, and any other failure returned as a [`ServiceError`] with the service's
//! error code. The trigger API's ports are here too: [`SfnExecutions`]
//! ([`dropflow_contract::ports::Executions`]: start, describe, list and stop executions;
//! the alias and its version), [`S3Objects`] as an
//! [`dropflow_contract::ports::ObjectListing`], [`BatchJobs`]
//! ([`dropflow_contract::ports::JobEnds`]) and [`S3Datastore`] (Metaflow's datastore,
//! `dropflow_task::datastore::Datastore`).

mod alerts;
mod batch;
mod config;
mod datastore;
mod error;
mod executions;
mod jobs;
mod listing;
mod s3;
mod scheduler;
mod sfn;
pub mod signing;

pub use alerts::{HttpWebhooks, SignedApiPoster, SnsAlerts};
pub use batch::BatchJobDefinitions;
pub use config::{credentials_sdk_config, load_sdk_config, static_sdk_config};
pub use datastore::S3Datastore;
pub use executions::SfnExecutions;
pub use jobs::BatchJobs;
pub use s3::S3Objects;
pub use scheduler::SchedulerSchedules;
pub use sfn::SfnStateMachines;

pub use dropflow_contract::ServiceError;
