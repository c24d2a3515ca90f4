//! Names of everything a deployment creates. The state machine is named as Metaflow's
//! `step-functions create` names it (`@project` branches, `--name`, hash-shortening), so
//! a flow moves between Metaflow and dropflow under the same name; the other resources
//! (states, schedules, Batch jobs and job definitions) get names fitted to their
//! service's limits, hash-shortened the same way.

mod error;
mod project;
mod resources;
mod state_machine;

pub use dropflow_contract::production_token;
pub use error::NamingError;
pub use project::{ProjectBranch, ProjectOptions};
pub use resources::{
    MAX_BATCH_NAME, MAX_SCHEDULE_NAME, MAX_STATE_NAME, batch_job_name, job_definition_name,
    schedule_name, state_name,
};
pub use state_machine::{MAX_STATE_MACHINE_NAME, StateMachineName, state_machine_name};
