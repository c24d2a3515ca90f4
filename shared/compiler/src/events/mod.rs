//! Event-driven flows: `@trigger` and `@trigger_on_finish`.
//!
//! [`read_triggers`] reads the decorators as Metaflow does (with its checks and
//! messages) into [`Triggers`], which the manifest records: the contract between the
//! compiler and the delivery of events at run time (an EventBridge rule per flow on
//! dropflow's bus, named by [`rule_name`]). [`deliver`] is what happens when an event
//! arrives for a flow: matched, collected until every event of the flow has arrived
//! ([`Pending`]), mapped to parameters and checked, and started once per event set.
//! Pure: AWS stays behind [`PendingStore`], [`RunStarter`] and [`RejectionLog`].

mod body;
mod decorator;
mod deliver;
mod error;
mod finish;
mod model;
mod pattern;
mod pending;

pub use body::{MetaflowEvent, matching_trigger};
pub use decorator::{LocatedError, ReadTriggers, TriggerSource, read_triggers};
pub use deliver::{
    Delivered, FlowTarget, MAX_ATTEMPTS, PendingStore, RejectedEvent, Rejection, RejectionLog,
    RunStarter, deliver, run_parameters,
};
pub use error::TriggerError;
pub use finish::{FinishedTask, finish_events};
pub use model::{EventTrigger, TriggerKind, Triggers, finish_event_name, rule_name};
pub use pattern::{DetailPattern, EventPattern};
pub use pending::{Arrival, Outcome, Pending, REMEMBERED_IDS, execution_name};

#[cfg(test)]
mod deliver_tests;
#[cfg(test)]
mod tests;
