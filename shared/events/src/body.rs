//! The event itself: Metaflow's body (`ArgoEvent(name).publish(payload)` posts
//! `{"name": ..., "payload": {"name": ..., "id": ..., "timestamp": ..., ...}}`), which is
//! also the `detail` of an event put on dropflow's EventBridge bus.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use dropflow_contract::triggers::{EventTrigger, Triggers};

/// One event as Metaflow publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaflowEvent {
    /// The event name (`data_ready`, `metaflow.Upstream.end`).
    pub name: String,
    /// Its fields; mapped ones set parameters.
    #[serde(default)]
    pub payload: Map<String, Value>,
}

impl MetaflowEvent {
    /// A payload field as Python's `str()` shows it (Metaflow publishes finish events
    /// with `str(value)`, so `True` is `"True"`), for filters.
    fn field_text(&self, field: &str) -> Option<String> {
        Some(match self.payload.get(field)? {
            Value::String(s) => s.clone(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Null => "None".into(),
            other => other.to_string(),
        })
    }

    /// Whether this event is one `trigger` waits for: same name, every filter matched.
    pub fn satisfies(&self, trigger: &EventTrigger) -> bool {
        self.name == trigger.name
            && trigger
                .filters
                .iter()
                .all(|(field, value)| self.field_text(field).as_deref() == Some(value.as_str()))
    }
}

/// The index of the first trigger of `triggers` that `event` satisfies.
pub fn matching_trigger(triggers: &Triggers, event: &MetaflowEvent) -> Option<usize> {
    triggers.events.iter().position(|t| event.satisfies(t))
}
