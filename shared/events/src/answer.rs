//! What `POST /events` answers: the event as identified, and what it did to each deployed
//! flow whose triggers it matched. Typed on both sides (serde), so clients read the same
//! types the trigger API writes.

use serde::{Deserialize, Serialize};

use crate::deliver::{Delivered, Rejection};

/// The answer to one published event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAnswer {
    /// The event name.
    pub name: String,
    /// Its delivery id: the payload's `id` (Metaflow's publisher sets a UUID), else one
    /// the API made up (then a re-sent copy counts as a new event).
    pub id: String,
    /// One entry per deployed flow whose triggers the event matched; empty when it is
    /// for no flow (accepted and ignored).
    pub flows: Vec<FlowDelivery>,
}

/// What the event did to one flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDelivery {
    /// The flow class.
    pub flow: String,
    /// Its state machine.
    pub state_machine: String,
    /// The run the event set started (or an earlier delivery of it started): `sfn-` and
    /// the execution name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Started, waiting, duplicate, already started or rejected (`outcome`).
    pub delivery: Delivered,
}

/// One refused event set, as `GET /flows/{flow}/events/rejected` lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectionEntry {
    /// When it was recorded (RFC 3339), from the bucket's listing.
    pub rejected_at: Option<String>,
    /// The refusal.
    #[serde(flatten)]
    pub rejection: Rejection,
}

/// The answer of `GET /flows/{flow}/events/rejected`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejections {
    /// The flow's state machine.
    pub state_machine: String,
    /// The refusals.
    pub rejections: Vec<RejectionEntry>,
}
