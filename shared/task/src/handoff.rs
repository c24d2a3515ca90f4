//! Failures across a Distributed Map. Its child executions are executions of their own:
//! when one fails, the parent's Map Run fails with `States.ExceedToleratedFailureThreshold`
//! and a cause that names no task. So a child's fail phase (its request names the foreach
//! step, `"foreach"`) leaves its error and cause in the run's area, keyed by that foreach
//! step's task, and the parent's fail phase, whose failure has only the foreach step's
//! context, reads it back: the run fails with the task's own error, as with inline Maps.

use super::datastore::Datastore;
use super::error::TaskResult;
use super::fail::{Failure, fail};
use super::records::failure_key;
use super::{bucket_url, step_plan};
use dropflow_contract::Manifest;
use dropflow_contract::NodeType;
use dropflow_contract::protocol::{FailRequest, FailResponse};

/// Runs the fail phase for `request`, whose input was located as `failure`: the failure
/// a child execution left when there is one, else [`fail`]; left for the parent when the
/// request comes from a child execution. Never fails.
pub async fn report<D: Datastore>(
    request: &FailRequest,
    failure: &Failure,
    manifest: TaskResult<&Manifest>,
    store: &D,
) -> FailResponse {
    let Ok(manifest) = manifest else {
        return fail(failure, manifest, store).await;
    };
    let response = match left_by_child(failure, manifest, store).await {
        Some(response) => response,
        None => fail(failure, Ok(manifest), store).await,
    };
    if let Some(foreach) = &request.foreach {
        // Best effort: this execution fails with the response whatever happens here.
        let _ = leave_for_parent(foreach, failure, manifest, &response, store).await;
    }
    response
}

/// The failure a child execution left, when `failure` is a foreach step's Map failing.
async fn left_by_child<D: Datastore>(
    failure: &Failure,
    manifest: &Manifest,
    store: &D,
) -> Option<FailResponse> {
    if failure.task.is_some() {
        return None;
    }
    let ctx = failure.ctx.as_ref()?;
    let step = ctx.step();
    if step_plan(manifest, step).ok()?.node_type != NodeType::Foreach {
        return None;
    }
    let key = failure_key(&manifest.state_machine, &ctx.run, step, &ctx.foreach);
    let body = store.get(&bucket_url(manifest, &key).ok()?).await.ok()??;
    serde_json::from_slice(&body).ok()
}

/// Writes `response` where the parent execution of `foreach`'s Map finds it.
async fn leave_for_parent<D: Datastore>(
    foreach: &str,
    failure: &Failure,
    manifest: &Manifest,
    response: &FailResponse,
    store: &D,
) -> TaskResult<()> {
    let (run, stack) = match (&failure.task, &failure.ctx) {
        (Some(task), _) => (&task.run, &task.foreach),
        (None, Some(ctx)) => (&ctx.run, &ctx.foreach),
        (None, None) => return Ok(()),
    };
    let depth = foreach_depth(manifest, foreach)?;
    let Some(stack) = stack.get(..depth) else {
        return Ok(());
    };
    let key = failure_key(&manifest.state_machine, run, foreach, stack);
    let body = serde_json::to_vec(response).expect("a response serialises");
    store
        .put(&bucket_url(manifest, &key)?, body, "application/json")
        .await?;
    Ok(())
}

/// How many foreaches enclose `step` (the length of its tasks' foreach stacks).
fn foreach_depth(manifest: &Manifest, step: &str) -> TaskResult<usize> {
    let plan = step_plan(manifest, step)?;
    Ok(plan
        .split_parents
        .iter()
        .filter(|p| {
            manifest
                .steps
                .get(*p)
                .is_some_and(|s| s.node_type == NodeType::Foreach)
        })
        .count())
}
