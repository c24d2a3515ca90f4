//! The start phase's clone of a resumed run's task: when the run has an origin
//! ([`dropflow_contract::start_input::Resume`]) and the task's step is not one to run
//! again, the origin task of the same id is cloned ([`super::resume::clone_task`]) if it
//! succeeded, and the task's Batch job is skipped. The start step's clone also clones
//! the origin's `_parameters` task, as Metaflow's `resume` does.

use super::datastore::Datastore;
use super::error::TaskResult;
use super::ids::{PARAMS_STEP, PARAMS_TASK};
use super::resume::{CloneTarget, clone_task};
use dropflow_contract::Manifest;
use dropflow_contract::protocol::Task;

/// Clones `task` (a first attempt) from its run's origin; `Ok(false)` when the run is
/// not resumed, the step runs again, or the origin task did not succeed.
pub(crate) async fn clone_from_origin<D: Datastore>(
    store: &D,
    manifest: &Manifest,
    task: &Task,
) -> TaskResult<bool> {
    let Some(resume) = &task.resume else {
        return Ok(false);
    };
    if task.attempt != 0 || !resume.may_clone(&task.step) {
        return Ok(false);
    }
    let target = CloneTarget {
        root: &manifest.datastore_root,
        flow: &manifest.flow.name,
        origin_run: &resume.origin_run,
        run: &task.run,
        step: &task.step,
        task: &task.id,
        attempt: 0,
    };
    if task.step == manifest.flow.start_step {
        let parameters = CloneTarget {
            step: PARAMS_STEP,
            task: PARAMS_TASK,
            ..target
        };
        // Before the start task, whose clone is what lets the run go on. The start
        // task's artifacts hold the parameters too, so its clone does not wait on this.
        clone_task(store, &parameters).await?;
    }
    clone_task(store, &target).await
}
