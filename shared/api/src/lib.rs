//! The trigger API: start, list, inspect and stop runs of deployed flows over HTTP
//! (API Gateway HTTP API, payload v2, through lambda_http).
//!
//! | route | what |
//! |---|---|
//! | `GET /flows` | deployed flows: name, flow class, version, schedule, last report status |
//! | `GET /flows/{flow}` | one deployment: parameters, schedule, versions, last report |
//! | `POST /flows/{flow}/runs` | start a run (plain JSON or Metaflow's `{"Parameters": "..."}`) |
//! | `GET /flows/{flow}/runs` | runs, newest first (`status`, `limit`, `next_token`) |
//! | `GET /flows/{flow}/runs/{run_id}` | one run: status, dates, error, per-step progress |
//! | `DELETE /flows/{flow}/runs/{run_id}` | stop a running run |
//! | `GET /flows/{flow}/runs/{run_id}/logs` | a task's saved stdout or stderr, a page at a time |
//! | `POST /events` | deliver Metaflow's event (`ArgoEvent(name).publish(...)`'s body) to the flows waiting for it |
//! | `GET /flows/{flow}/events/rejected` | event sets whose payload did not fit the flow, with the reason |
//! | `POST /flows/{flow}/runs/{run_id}/resume` | resume a failed run: clone what succeeded, run the rest |
//!
//! The same function is the target of the rule on dropflow's EventBridge bus: an event put
//! there is delivered as `POST /events` delivers its body ([`handle_invocation`] tells
//! the two apart).
//!
//! [`route`] maps a request to a route, [`params`] checks a run's input against the
//! deployment manifest, [`catalog`] reads what the compile Lambda recorded. Errors are
//! `{"error": CODE, "message": ...}` ([`error`]). Every answer is one of the contract's
//! types ([`dropflow_contract::api`]), the ones the `dropflow` command reads.
//!
//! The services it calls are small traits ([`ApiPorts`]: the bucket,
//! [`dropflow_contract::ports::ObjectStore`] and
//! [`dropflow_contract::ports::ObjectListing`]; Step Functions,
//! [`dropflow_contract::ports::Executions`]; Batch, [`dropflow_contract::ports::JobEnds`];
//! Metaflow's datastore, [`dropflow_task::datastore::Datastore`]), gathered in [`Deps`].
//! The trigger Lambda (`functions/trigger`) binds them to `dropflow-aws`; [`memory`] has
//! in-memory ones, so this crate's tests need no AWS emulator. It links no AWS SDK.

mod answer;
pub mod catalog;
pub mod config;
mod deps;
pub mod error;
pub mod event_runs;
pub mod events;
mod flows;
mod handler;
pub mod invocation;
pub mod logs;
pub mod memory;
pub mod names;
pub mod params;
pub mod progress;
pub mod request;
mod resume;
pub mod route;
mod runs;

pub use config::TriggerConfig;
pub use deps::{ApiPorts, Deps};
pub use dropflow_contract::ConfigError;
pub use handler::{handle, handle_request};
pub use invocation::{InvocationError, handle_invocation};
pub use request::{ApiRequest, from_http};
pub use runs::{DEFAULT_LIMIT, MAX_LIMIT, STATUSES};

/// Re-exported so that hosts and tests build requests with the same version.
pub use lambda_http;

#[cfg(test)]
mod tests;
