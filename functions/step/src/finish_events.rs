//! Finish events: when a run's end step succeeds, the step Lambda publishes the events a
//! downstream `@trigger_on_finish` listens for ([`dropflow_events::finish_events`]:
//! Metaflow's names, payload, project and branch), each as `ArgoEvent.publish` would
//! send it, through an [`EventPublisher`]: on the local stack an HTTP POST to the trigger
//! API's `POST /events` ([`HttpEvents`], `DROPFLOW_EVENTS_URL`). Publishing never changes
//! the phase's result: a failure is logged with `error_type = "dropflow.EventFailed"`.
//! A retried finish phase publishes the same events again (the id is the end task's
//! pathspec), which the delivery counts once.

use std::sync::Arc;

use dropflow_contract::protocol::Task;
use dropflow_contract::{Manifest, NodeType};
use dropflow_events::{FinishedTask, MetaflowEvent, finish_events, published};
use dropflow_task::Datastore;
use dropflow_task::alert_delivery::{SendFuture, WebhookPoster};
use serde_json::Value;

use super::Deps;

/// Publishes one event (Metaflow's body) where flows are triggered.
pub trait EventPublisher: Send + Sync {
    /// Publishes `event`; the error says why not.
    fn publish<'a>(&'a self, event: &'a MetaflowEvent) -> SendFuture<'a>;
}

/// [`EventPublisher`] posting Metaflow's body to `url` (the trigger API's `/events`).
pub struct HttpEvents {
    /// `http(s)://.../events`.
    pub url: String,
    /// The HTTP client.
    pub poster: Arc<dyn WebhookPoster>,
}

impl EventPublisher for HttpEvents {
    fn publish<'a>(&'a self, event: &'a MetaflowEvent) -> SendFuture<'a> {
        let body = serde_json::to_vec(event).expect("events serialise");
        self.poster.post_json(&self.url, body)
    }
}

/// The task of a finish phase request, taken before the phase consumes the request.
pub(crate) fn finishing_task(request: &Value) -> Option<Task> {
    if request.get("phase").and_then(Value::as_str) != Some("finish") {
        return None;
    }
    serde_json::from_value(request.get("task")?.clone()).ok()
}

/// The events a finished `task` publishes: none unless it is the end step's.
pub fn events_for(manifest: &Manifest, task: &Task, timestamp: i64) -> Vec<MetaflowEvent> {
    let is_end = manifest
        .steps
        .get(&task.step)
        .is_some_and(|plan| plan.node_type == NodeType::End);
    if !is_end {
        return Vec::new();
    }
    finish_events(&FinishedTask {
        flow: &manifest.flow.name,
        project: manifest.project.as_ref(),
        run_id: &task.run,
        step: &task.step,
        task_id: &task.id,
    })
    .iter()
    .map(|event| published(event, timestamp))
    .collect()
}

/// Publishes the finish events of `task` (after its finish phase succeeded).
pub(crate) async fn publish<D: Datastore>(task: &Task, deps: &Deps<D>) {
    let Some(publisher) = &deps.events else {
        return;
    };
    let Ok(manifest) = deps.manifests.load(&deps.store, &task.manifest).await else {
        return;
    };
    let now = chrono::Utc::now().timestamp();
    for event in events_for(&manifest, task, now) {
        match publisher.publish(&event).await {
            Ok(()) => tracing::info!(event = event.name, run = task.run, "finish event published"),
            Err(error) => tracing::error!(
                error_type = "dropflow.EventFailed",
                event = event.name,
                run = task.run,
                "{error}"
            ),
        }
    }
}

#[cfg(test)]
#[path = "finish_events_tests.rs"]
mod tests;
