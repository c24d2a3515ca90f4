//! Event delivery at run time for `@trigger` / `@trigger_on_finish` flows.
//!
//! The compiler reads the decorators into [`Triggers`] (recorded in the manifest); this
//! crate is what happens when an event arrives: [`deliver`] matches it against one flow's
//! triggers ([`matching_trigger`]), collects a multi-event set until every event has
//! arrived ([`Pending`]), maps the payload to parameters, checks them as
//! `POST /flows/{flow}/runs` does, and starts one run per event set ([`execution_name`]).
//! [`finish_events`] are the events a successful end step publishes; [`BusEvent`] is an
//! event put on dropflow's EventBridge bus. Pure: AWS stays
//! behind [`PendingStore`], [`RunStarter`] and [`RejectionLog`]; no parser, no AWS client.

mod answer;
mod body;
mod bus;
mod deliver;
mod finish;
mod pattern;
mod pending;
mod store;

pub use answer::{EventAnswer, FlowDelivery, RejectionEntry, Rejections};
pub use body::{MetaflowEvent, matching_trigger, published};
pub use bus::{BusEvent, BusEventError};
pub use deliver::{
    Delivered, FlowTarget, MAX_ATTEMPTS, PendingStore, RejectedEvent, Rejection, RejectionLog,
    RunStarter, deliver, run_parameters,
};
pub use dropflow_contract::triggers::{EventTrigger, TriggerKind, Triggers, finish_event_name};
pub use finish::{FinishedTask, finish_events};
pub use pattern::{DetailPattern, EventPattern};
pub use pending::{Arrival, Outcome, Pending, REMEMBERED_IDS, execution_name};
pub use store::{BucketPending, BucketRejections, Claim, TriggeredRun, claim_run, triggered_run};

#[cfg(test)]
mod deliver_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;
