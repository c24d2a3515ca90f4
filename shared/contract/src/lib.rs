//! The one contract between dropflow's compile side and its runtime side: what the
//! compiler writes and the step, trigger and metadata sides read back.
//!
//! - [`manifest`]: one deployed version ([`Manifest`], its [`StepPlan`]s), with the types
//!   it holds: [`options`], [`parameters`], [`step_runtime`], [`job_definition`],
//!   [`node_type`];
//! - [`exit_hooks`]: the functions a run calls once it has ended, [`hook_protocol`]: the
//!   step Lambda's payloads that run them;
//! - [`protocol`] and [`paths`]: the step Lambda's payloads and where the state machine
//!   keeps them; [`start_input`]: what a start state's input is (its `from` tag);
//!   [`payload`]: the templates the state machine sends the step Lambda;
//! - [`api`]: the trigger API's answers, as it sends them and the `dropflow` command reads
//!   them;
//! - [`layout`]: every key of dropflow's bucket; [`records`]: the deploy records kept
//!   there (what is deployed, per upload key, who owns a state machine);
//! - [`pyjson`]: JSON as Python's `json.dumps` writes it, and Metaflow's execution input;
//! - [`report`]: the outcome of one deploy event;
//! - [`service`]: a failed AWS call, as every side reports it, and [`ports`]: the small
//!   traits the deploy logic sees AWS through (implemented by `dropflow-aws`);
//! - [`settings`]: a Lambda's settings read from its environment, and their [`ConfigError`];
//! - [`token`]: Metaflow's production token of a state machine;
//! - [`triggers`]: the events that start a flow (`@trigger`, `@trigger_on_finish`).
//!
//! Lean on purpose: serde, no parser, no AWS client.

pub mod api;
pub mod exit_hooks;
pub mod hook_protocol;
pub mod job_definition;
pub mod layout;
pub mod manifest;
pub mod manifest_read;
pub mod node_type;
pub mod notify;
pub mod options;
pub mod parameters;
pub mod paths;
pub mod payload;
pub mod ports;
pub mod protocol;
pub mod pyjson;
pub mod records;
pub mod report;
pub mod service;
pub mod settings;
pub mod start_input;
pub mod step_runtime;
pub mod token;
pub mod triggers;

pub use manifest::{FlowInfo, MANIFEST_SCHEMA, Manifest, ProjectInfo, ScheduleInfo, StepPlan};
pub use manifest_read::ManifestError;
pub use node_type::NodeType;
pub use options::{
    ComputePlatform, DeployOptions, OptionsError, OptionsLayer, Platform, TaskEnvironment,
};
pub use parameters::{DeployTimeDefault, ParameterSpec, ParameterType};
pub use report::{Finding, Report, Status};
pub use service::{ServiceError, ServiceResult};
pub use settings::{ConfigError, Environment};
pub use step_runtime::{
    CATCH_ERROR_RETRIES, DEFAULT_TIMEOUT_SECONDS, MAX_ATTEMPTS, Resources, RetryPlan, StepRuntime,
};
pub use token::production_token;

/// dropflow's version, recorded in manifests and reports and mixed into version ids.
pub const DROPFLOW_VERSION: &str = env!("CARGO_PKG_VERSION");
