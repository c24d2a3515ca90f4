//! The triggers model lives in the contract ([`dropflow_contract::triggers`]); the
//! compiler adds the name of the EventBridge rule that delivers a flow's events.

pub use dropflow_contract::triggers::{EventTrigger, TriggerKind, Triggers, finish_event_name};

/// The EventBridge rule that delivers a flow's events: the state machine name fitted to
/// EventBridge's rule names (at most 64 characters of `[.-_A-Za-z0-9]`), as schedules
/// are fitted to Scheduler's identical limits.
pub fn rule_name(state_machine: &str) -> String {
    crate::naming::schedule_name(state_machine)
}
