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

    /// The event as `ArgoEvent(name).publish(payload)` sends it: Metaflow's default
    /// fields (`name`, `timestamp`, `utc_date`, `generated-by-metaflow`) first, then the
    /// payload's own fields over them (as Python's `{**defaults, **payload}`); the payload
    /// keeps its `id` (Metaflow's is a UUID, a finish event's the task pathspec).
    /// `timestamp` is seconds since the Unix epoch.
    pub fn published(&self, timestamp: i64) -> MetaflowEvent {
        let utc_date = chrono::DateTime::from_timestamp(timestamp, 0)
            .map(|t| t.format("%Y%m%d").to_string())
            .unwrap_or_default();
        let mut payload = Map::new();
        payload.insert("name".into(), Value::String(self.name.clone()));
        payload.insert("timestamp".into(), Value::from(timestamp));
        payload.insert("utc_date".into(), Value::String(utc_date));
        payload.insert("generated-by-metaflow".into(), Value::Bool(true));
        for (key, value) in &self.payload {
            payload.insert(key.clone(), value.clone());
        }
        MetaflowEvent {
            name: self.name.clone(),
            payload,
        }
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
