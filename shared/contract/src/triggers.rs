//! The triggers of one deployed flow (`@trigger` / `@trigger_on_finish`), as the manifest
//! and the deploy report record them: the typed contract between the compiler (which
//! reads the decorators) and the event delivery at run time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What kind of event a trigger waits for (Metaflow's `type` in Argo's
/// `metaflow/triggered_by` annotation and in `current.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// `@trigger`: a named event anyone publishes.
    Event,
    /// `@trigger_on_finish`: the end event of an upstream flow's successful run.
    Run,
}

/// One event a flow waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTrigger {
    /// The event name to match (`data_ready`, `metaflow.proj.prod.Upstream.end`).
    pub name: String,
    /// `event` or `run`.
    #[serde(rename = "type")]
    pub kind: TriggerKind,
    /// Parameter name (as declared in the flow) → the payload field whose value sets it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Payload field → the value it must have for the event to count (for
    /// `@trigger_on_finish`: Metaflow's `auto-generated-by-metaflow`, and the upstream
    /// run's `project_name` and `branch_name` under `@project`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, String>,
    /// The upstream flow's class name (`@trigger_on_finish` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
}

/// Everything that starts a flow from events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triggers {
    /// The decorator they come from: `trigger` or `trigger_on_finish`.
    pub decorator: String,
    /// The EventBridge rule that delivers them (the compiler names it after the state machine).
    pub rule: String,
    /// The events; a run starts once every one of them has arrived.
    pub events: Vec<EventTrigger>,
}

impl Triggers {
    /// The distinct event names, in declaration order (the rule's pattern).
    pub fn event_names(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.name.as_str()).collect()
    }
}

impl std::fmt::Display for Triggers {
    /// `triggers: rule R, a run starts after event(s) a and b`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "triggers (@{}): rule {}, a run starts after {}",
            self.decorator,
            self.rule,
            self.event_names().join(" and ")
        )
    }
}

/// The name of the event Metaflow publishes when a run's end step succeeds, which
/// `@trigger_on_finish` listens for: `metaflow.<project>.<branch>.<Flow>.end`, or
/// `metaflow.<Flow>.end` without `@project` (Argo's `ArgoWorkflowsInternalDecorator`).
pub fn finish_event_name(flow: &str, project: Option<(&str, &str)>) -> String {
    match project {
        Some((project, branch)) => format!("metaflow.{project}.{branch}.{flow}.end"),
        None => format!("metaflow.{flow}.end"),
    }
}

/// One event as Metaflow publishes it: `ArgoEvent(name).publish(payload)` posts
/// `{"name": ..., "payload": {"name": ..., "id": ..., "timestamp": ..., ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaflowEvent {
    /// The event name (`data_ready`, `metaflow.Upstream.end`).
    pub name: String,
    /// Its fields; mapped ones set parameters.
    #[serde(default)]
    pub payload: Map<String, Value>,
}

impl MetaflowEvent {
    /// The payload's own `id` (a string, not empty, or a number), the delivery id of an
    /// event that has one (Metaflow's publisher sets a UUID; a finish event's is the end
    /// task's pathspec).
    pub fn payload_id(&self) -> Option<String> {
        match self.payload.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(Value::Number(id)) => Some(id.to_string()),
            _ => None,
        }
    }

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

    /// The upstream run a finish event is about (`Flow/run_id`, from its `flow_name` and
    /// `run_id`), for `@trigger_on_finish`'s `--trigger`; `None` for other events.
    pub fn finished_run(&self) -> Option<String> {
        let text = |key: &str| self.payload.get(key).and_then(Value::as_str);
        if self.field_text("auto-generated-by-metaflow").as_deref() != Some("True") {
            return None;
        }
        Some(format!("{}/{}", text("flow_name")?, text("run_id")?))
    }
}

/// One event that arrived for a flow, with its delivery id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrival {
    /// The delivery id (the payload's `id`).
    pub id: String,
    /// The event.
    pub event: MetaflowEvent,
}

impl Arrival {
    /// The event as a triggered run's `current.trigger` shows it: `kind` is `Event` for
    /// `@trigger`, `Run` for `@trigger_on_finish` (whose finish events' ids are the
    /// upstream end task's pathspec, from which Metaflow's `Trigger.runs` reads the run).
    pub fn triggering_event(&self, kind: TriggerKind) -> TriggeringEvent {
        TriggeringEvent {
            name: self.event.name.clone(),
            id: self.id.clone(),
            timestamp: self.event.payload.get("timestamp").and_then(Value::as_i64),
            kind,
        }
    }
}

/// One event that started a triggered run, as Metaflow's `current.trigger` and the
/// start task's `execution-triggers` metadata show it: Argo's `{"timestamp", "id",
/// "name", "type"}` (`type` left out when it is `event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggeringEvent {
    /// The event name (`data_ready`).
    pub name: String,
    /// The delivery id (the payload's `id`; Metaflow's publisher sets a UUID).
    pub id: String,
    /// The payload's `timestamp` when it is an integer (seconds since the Unix epoch, as
    /// Metaflow's publisher sets it; Metaflow shows it as a `datetime`); other forms are
    /// left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// `event` (`@trigger`) or `run` (`@trigger_on_finish`: `id` is the upstream end
    /// task's pathspec).
    #[serde(
        rename = "type",
        default = "event_kind",
        skip_serializing_if = "is_event_kind"
    )]
    pub kind: TriggerKind,
}

fn event_kind() -> TriggerKind {
    TriggerKind::Event
}

fn is_event_kind(kind: &TriggerKind) -> bool {
    *kind == TriggerKind::Event
}

/// The prefix of the execution names of runs started by events (`ev-<hash>`).
pub const EVENT_EXECUTION_PREFIX: &str = "ev-";

/// Whether execution `name` was started by events (only such runs have a
/// [`TriggeredRun`] record).
pub fn started_by_events(name: &str) -> bool {
    name.starts_with(EVENT_EXECUTION_PREFIX)
}

/// The events that started a run (`events/runs/<sm>/<execution>.json`), written by the
/// delivery before the run is started (a claim: only its writer starts the execution)
/// and read by the step Lambda (`@trigger_on_finish`'s `--trigger`, `@trigger`'s
/// `current.trigger`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggeredRun {
    /// The flow's state machine.
    pub state_machine: String,
    /// The execution the events start (the run id is `sfn-<execution_name>`).
    pub execution_name: String,
    /// When the claim was written (milliseconds since the Unix epoch).
    pub claimed_at_ms: u64,
    /// The events, one per trigger of the flow.
    pub events: Vec<Arrival>,
}

impl TriggeredRun {
    /// The upstream runs of its finish events (`Flow/run_id`), in order.
    pub fn finished_runs(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|a| a.event.finished_run())
            .collect()
    }

    /// The events, as the triggered run's `current.trigger` shows them, in order.
    pub fn triggering_events(&self, kind: TriggerKind) -> Vec<TriggeringEvent> {
        self.events
            .iter()
            .map(|arrival| arrival.triggering_event(kind))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn arrival(id: &str, name: &str, payload: Value) -> Arrival {
        Arrival {
            id: id.into(),
            event: MetaflowEvent {
                name: name.into(),
                payload: payload.as_object().cloned().unwrap_or_default(),
            },
        }
    }

    #[test]
    fn triggering_events_keep_name_id_and_integer_timestamps_in_order() {
        let run = TriggeredRun {
            state_machine: "F".into(),
            execution_name: "ev-1".into(),
            claimed_at_ms: 1,
            events: vec![
                arrival(
                    "u-1",
                    "first",
                    json!({"id": "u-1", "timestamp": 1_765_000_000}),
                ),
                // Not Metaflow's integer seconds: left out rather than guessed.
                arrival("u-2", "second", json!({"timestamp": "yesterday"})),
                arrival("u-3", "third", json!({"timestamp": 1.5})),
            ],
        };
        let events = run.triggering_events(TriggerKind::Event);
        assert_eq!(
            serde_json::to_value(&events).unwrap(),
            json!([
                {"name": "first", "id": "u-1", "timestamp": 1_765_000_000},
                {"name": "second", "id": "u-2"},
                {"name": "third", "id": "u-3"},
            ])
        );
        assert!(run.finished_runs().is_empty(), "no finish events");
    }
}
