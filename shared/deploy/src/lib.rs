//! Deploying an uploaded flow, and undeploying a removed one: the compile Lambda's logic,
//! with every AWS call behind the small traits of [`ports`] so that it runs the same
//! against AWS (`dropflow-aws`), a local emulator, or [`memory`] in unit tests.
//!
//! One S3 event in, one [`Report`] out:
//!
//! - **created**: read the object → [`dropflow_compiler::package`] → [`dropflow_compiler::pipeline::check`] →
//!   options (defaults ← `dropflow.toml` ← object metadata, [`metadata`]) → deploy-time
//!   parameter values → [`dropflow_compiler::pipeline::compile`] → apply: register new Batch job
//!   definitions, write the manifest and code package, create or update the state machine
//!   and publish a version, move the `live` alias to it, create, update or delete the
//!   schedule.
//! - **removed**: delete the schedule and the state machine the key deployed.
//!
//! Idempotent and ordered under concurrency ([`claim`]): each event first claims its key
//! with a conditional write, so of any set of events for a key the newest `sequencer`
//! ([`sequencer`]) is the one that ends live, a duplicate publishes nothing and an older
//! event is `superseded`; an upload whose content, options and platform are those already
//! deployed (same [`dropflow_compiler::compile::version_id`]) changes nothing. dropflow changes only
//! the state machines it created, each owned by one upload key ([`ownership`]). Every check
//! that can reject a flow runs before the first AWS write, and the state machine is updated
//! only after its job definitions, manifest and code package exist, so a failure leaves the
//! running deployment as it was.

pub mod claim;
pub mod config;
mod created;
mod key_claim;
pub mod memory;
pub mod metadata;
pub mod ownership;
pub use dropflow_contract::ports;
mod removed;
mod reporting;
pub use dropflow_contract::report;
pub mod sequencer;
pub use dropflow_contract::records as state;

#[cfg(test)]
mod concurrency_tests;
#[cfg(test)]
mod tests;

pub use claim::{ClaimError, ClaimSettings};
pub use config::Config;
pub use dropflow_contract::ConfigError;
pub use ports::{
    AliasPointed, ConditionalPutError, JobDefinitions, ObjectHead, ObjectStore, Precondition,
    Published, ScheduleSpec, Schedules, ServiceError, ServiceResult, StateMachineInfo,
    StateMachineSpec, StateMachines, StoredObject,
};
pub use report::{Report, Status};

use dropflow_compiler::package::Limits;

pub use dropflow_contract::pyjson::SCHEDULE_INPUT;

/// One S3 object event, key already URL-decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectEvent {
    /// The object's key (full, including the flows prefix).
    pub key: String,
    /// Its S3 version id, in a versioned bucket.
    pub version_id: Option<String>,
    /// The event's sequencer.
    pub sequencer: Option<String>,
    /// Who uploaded it (`userIdentity.principalId`).
    pub principal: Option<String>,
}

/// The deploy logic bound to its configuration and the four services.
#[derive(Debug)]
pub struct Deployer<O, M, J, S> {
    /// Settings.
    pub config: Config,
    /// The bucket.
    pub objects: O,
    /// Step Functions.
    pub state_machines: M,
    /// Batch.
    pub job_definitions: J,
    /// EventBridge Scheduler.
    pub schedules: S,
    /// Bounds on uploaded packages.
    pub limits: Limits,
    /// Claim lease and waits ([`claim`]).
    pub claims: ClaimSettings,
}

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// A deployer with the default package limits.
    pub fn new(
        config: Config,
        objects: O,
        state_machines: M,
        job_definitions: J,
        schedules: S,
    ) -> Self {
        Self {
            config,
            objects,
            state_machines,
            job_definitions,
            schedules,
            limits: Limits::default(),
            claims: ClaimSettings::default(),
        }
    }
}
