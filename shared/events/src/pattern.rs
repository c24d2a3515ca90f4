//! The EventBridge event pattern of a flow's rule. An event on dropflow's bus carries
//! Metaflow's body as its `detail` (`{"name": ..., "payload": {...}}`, the body
//! `POST /events` takes), so the pattern matches `detail.name` against the flow's event
//! names; filters and the multi-event rule are applied by the delivery, not the pattern.

use serde::Serialize;

use dropflow_contract::triggers::Triggers;

/// `{"detail": {"name": [...]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventPattern {
    /// What `detail` must hold.
    pub detail: DetailPattern,
}

/// The `detail` part of [`EventPattern`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetailPattern {
    /// Any of these event names.
    pub name: Vec<String>,
}

impl EventPattern {
    /// The pattern of a flow's rule.
    pub fn of(triggers: &Triggers) -> Self {
        Self {
            detail: DetailPattern {
                name: triggers
                    .event_names()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            },
        }
    }

    /// The pattern as EventBridge takes it (a JSON string).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("patterns serialise")
    }
}
