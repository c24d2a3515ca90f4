//! When the step Lambda sends `notify_on_*` alerts: after a fail phase of a top-level
//! execution (a Distributed Map child's fail phase only leaves its failure for the
//! parent, whose own fail phase then alerts once) and after the end step's finish
//! phase. Sending never changes the phase's result: what could not be sent is in the
//! run's alert record and logged with `error_type = "dropflow.AlertFailed"`.

use std::sync::Arc;

use serde_json::Value;

use super::Deps;
use dropflow_contract::protocol::{FailResponse, Task};
use dropflow_contract::{Manifest, NodeType};
use dropflow_task::Datastore;
use dropflow_task::Failure;
use dropflow_task::alert_delivery::{DeliveryStatus, FIRST_BACKOFF, send_alert};
use dropflow_task::alerts::{Alert, execution_name, execution_url};

/// The part of a request an alert needs, taken before the phase consumes it.
pub(crate) enum AlertInput {
    /// A top-level fail phase's input.
    Failed(Value),
    /// A finish phase's task (an alert only if it is the end step's).
    Finished(Box<Task>),
}

impl AlertInput {
    /// What `request` may alert about, if anything.
    pub(crate) fn of(request: &Value) -> Option<Self> {
        match request.get("phase").and_then(Value::as_str)? {
            "fail" if request.get("foreach").is_none_or(Value::is_null) => {
                Some(AlertInput::Failed(request.get("input")?.clone()))
            }
            "finish" => serde_json::from_value(request.get("task")?.clone())
                .ok()
                .map(|task| AlertInput::Finished(Box::new(task))),
            _ => None,
        }
    }
}

/// Sends the alert `input` and the phase's `response` call for, if the flow asks for one.
pub(crate) async fn send<D: Datastore>(
    input: AlertInput,
    response: &Value,
    function_arn: Option<&str>,
    deps: &Deps<D>,
) {
    let Some((alert, manifest)) = alert_for(input, response, function_arn, deps).await else {
        return;
    };
    let Some(senders) = &deps.alerts else {
        tracing::error!(
            error_type = "dropflow.AlertFailed",
            run = alert.run,
            "the step Lambda has no alert senders configured"
        );
        return;
    };
    match send_alert(&alert, &manifest, senders, &deps.store, FIRST_BACKOFF).await {
        None => {}
        Some(Err(error)) => {
            tracing::error!(
                error_type = "dropflow.AlertFailed",
                run = alert.run,
                "{error}"
            )
        }
        Some(Ok(record)) => {
            for delivery in &record.deliveries {
                if delivery.status == DeliveryStatus::Failed {
                    tracing::error!(
                        error_type = "dropflow.AlertFailed",
                        run = alert.run,
                        target = delivery.target,
                        attempts = delivery.attempts,
                        "{}",
                        delivery.error.as_deref().unwrap_or("")
                    );
                } else {
                    tracing::info!(run = alert.run, target = delivery.target, "alert sent");
                }
            }
        }
    }
}

/// The alert `input` calls for, with its manifest: `None` when the flow has no
/// targets for the outcome (or the request is not one that alerts).
async fn alert_for<D: Datastore>(
    input: AlertInput,
    response: &Value,
    function_arn: Option<&str>,
    deps: &Deps<D>,
) -> Option<(Alert, Arc<Manifest>)> {
    match input {
        AlertInput::Failed(failed) => {
            let failure = Failure::locate(&failed);
            let url = failure.manifest()?;
            let manifest = deps.manifests.load(&deps.store, url).await.ok()?;
            if manifest.options.notify_on_error.is_empty() {
                return None;
            }
            let response = serde_json::from_value::<FailResponse>(response.clone()).ok()?;
            let link = link(&manifest, &run_of(&failure)?, function_arn);
            Some((
                Alert::failure(&manifest, &failure, &response, link)?,
                manifest,
            ))
        }
        AlertInput::Finished(task) => {
            let manifest = deps
                .manifests
                .load(&deps.store, &task.manifest)
                .await
                .ok()?;
            if manifest.options.notify_on_success.is_empty()
                || manifest.steps.get(&task.step)?.node_type != NodeType::End
            {
                return None;
            }
            let link = link(&manifest, &task.run, function_arn);
            Some((Alert::success(&manifest, &task.run, link), manifest))
        }
    }
}

fn run_of(failure: &Failure) -> Option<String> {
    failure
        .task
        .as_ref()
        .map(|t| t.run.clone())
        .or_else(|| failure.ctx.as_ref().map(|c| c.run.clone()))
}

fn link(manifest: &Manifest, run: &str, function_arn: Option<&str>) -> Option<String> {
    execution_url(function_arn?, &manifest.state_machine, execution_name(run)?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_top_level_failures_and_finishes_may_alert() {
        let input = json!({"error": {"Error": "States.TaskFailed", "Cause": ""}});
        assert!(matches!(
            AlertInput::of(&json!({"phase": "fail", "input": input})),
            Some(AlertInput::Failed(_))
        ));
        // A Distributed Map child leaves its failure for the parent, which alerts.
        assert!(
            AlertInput::of(&json!({"phase": "fail", "input": input, "foreach": "f"})).is_none()
        );
        assert!(AlertInput::of(&json!({"phase": "start", "step": "start", "input": {}})).is_none());
        assert!(AlertInput::of(&json!({"phase": "finish", "task": "not a task"})).is_none());
    }
}
