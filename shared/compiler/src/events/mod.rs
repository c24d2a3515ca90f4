//! Event-driven flows: `@trigger` and `@trigger_on_finish`, as the compiler reads them.
//!
//! [`read_triggers`] reads the decorators as Metaflow does (with its checks and
//! messages) into [`Triggers`], which the manifest records: the contract between the
//! compiler and the delivery of events at run time, which lives in `dropflow-events`
//! (matching, the multi-event rule, parameter mapping, finish events), so that the
//! Lambdas delivering events link no Python parser.

mod decorator;
mod error;
mod model;

pub use decorator::{LocatedError, ReadTriggers, TriggerSource, read_triggers};
pub use error::TriggerError;
pub use model::{EventTrigger, TriggerKind, Triggers, finish_event_name, rule_name};

#[cfg(test)]
mod tests;
