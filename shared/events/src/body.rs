//! The event itself: Metaflow's body (`ArgoEvent(name).publish(payload)` posts
//! `{"name": ..., "payload": {"name": ..., "id": ..., "timestamp": ..., ...}}`); an event put
//! on dropflow's EventBridge bus becomes the same ([`crate::BusEvent`]).

use serde_json::{Map, Value};

pub use dropflow_contract::triggers::MetaflowEvent;
use dropflow_contract::triggers::Triggers;

/// The event as `ArgoEvent(name).publish(payload)` sends it: Metaflow's default fields
/// (`name`, `timestamp`, `utc_date`, `generated-by-metaflow`) first, then the payload's
/// own fields over them (as Python's `{**defaults, **payload}`); the payload keeps its
/// `id` (Metaflow's is a UUID, a finish event's the task pathspec). `timestamp` is
/// seconds since the Unix epoch.
pub fn published(event: &MetaflowEvent, timestamp: i64) -> MetaflowEvent {
    let utc_date = chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_default();
    let mut payload = Map::new();
    payload.insert("name".into(), Value::String(event.name.clone()));
    payload.insert("timestamp".into(), Value::from(timestamp));
    payload.insert("utc_date".into(), Value::String(utc_date));
    payload.insert("generated-by-metaflow".into(), Value::Bool(true));
    for (key, value) in &event.payload {
        payload.insert(key.clone(), value.clone());
    }
    MetaflowEvent {
        name: event.name.clone(),
        payload,
    }
}

/// The index of the first trigger of `triggers` that `event` satisfies.
pub fn matching_trigger(triggers: &Triggers, event: &MetaflowEvent) -> Option<usize> {
    triggers.events.iter().position(|t| event.satisfies(t))
}
