//! The states that run a flow's `@exit_hook` functions once the run has ended.
//!
//! For each outcome with hooks (`on_success` after the end step's `done` state, `on_error`
//! between `TaskFailed` and `Failed`), three states:
//!
//! - `ExitHook.on_X`       step Lambda `hook`: the hook job (the run's pathspec, the
//!   functions, the start step's job definition and queue) → `$.hook`
//! - `ExitHook.on_X.job`   `batch:submitJob.sync`: one Batch job runs each function in its
//!   own process, as Metaflow's `exit_hook_script` does; its id → `$.hook.batch`; any
//!   failure is caught into `$.hook.error`
//! - `ExitHook.on_X.done`  step Lambda `hooked`: records how the hooks went (the run's
//!   `_exit_hook/on_X` record, with the end of their log) → `$.hook`, then `Succeeded`
//!   (a `Succeed` state) or `Failed`
//!
//! Every error in these states is caught, so the run ends as it would without hooks: the
//! success path ends (`SUCCEEDED`), the error path goes on to `Failed` with the failed
//! task's error and cause, which the hook states leave untouched under `$.error`/`$.cause`.
//! One job per outcome, rather than one per function, keeps the history short and the
//! Batch overhead (queueing, image pull) paid once; each function still runs in its own
//! process, so one failing hook does not stop the next.

use super::exit_hooks::{ExitHooks, RunOutcome};
use super::state_machine::{StateMachineBuilder, catch_all};
use crate::asl::{CatchRule, ResultPath, State, States, SucceedState, Transition};
use crate::naming::state_name;
use dropflow_contract::payload::Payload;

/// Where the hook states keep their progress in the state's data.
pub mod paths {
    /// The hook job (hook phase output), then the hooks' outcome (hooked phase output).
    pub const HOOK: &str = "$.hook";
    /// The hook job's Batch job id.
    pub const BATCH: &str = "$.hook.batch";
    /// Why the hook job failed.
    pub const ERROR: &str = "$.hook.error";
}

/// Adds the hook states of `hooks` to the top-level `states`, after the end step (`end`)
/// and on the failure path (`TaskFailed` → hooks → `Failed`).
pub(super) fn add(
    builder: &StateMachineBuilder<'_>,
    hooks: &ExitHooks,
    end: &str,
    states: &mut States,
) {
    for outcome in [RunOutcome::Success, RunOutcome::Error] {
        let functions = hooks.of(outcome);
        if functions.is_empty() {
            continue;
        }
        // After the hooks: `Succeeded` (a Succeed state, so a failure to record them can
        // be caught into it) or the failure path's `Failed`.
        let (before, after) = match outcome {
            RunOutcome::Success => (state_name(&format!("{end}.done")), state_name("Succeeded")),
            RunOutcome::Error => (state_name("TaskFailed"), state_name("Failed")),
        };
        let first = state_name(&format!("ExitHook.{}", outcome.attribute()));
        let job = state_name(&format!("{first}.job"));
        let done = state_name(&format!("{first}.done"));
        if let Some(State::Task(task)) = states.get_mut(&before) {
            task.transition = Transition::next(first.clone());
        }

        let manifest = builder.manifest_location();
        let mut start = builder.lambda_task(Payload::hook(outcome, manifest).into());
        start.comment = Some(format!(
            "exit hooks {}: {}",
            outcome.attribute(),
            functions.join(", ")
        ));
        start.result_path = Some(ResultPath::Path(paths::HOOK.to_string()));
        start.catch = vec![catch_into(paths::HOOK, &done)];
        start.transition = Transition::next(job.clone());

        let mut run = builder.batch_job_state(paths::HOOK, paths::BATCH, &done, &done);
        if let State::Task(task) = &mut run {
            task.comment = Some("each hook in its own process; a failure is recorded".into());
            task.catch = vec![catch_into(paths::ERROR, &done)];
        }

        let mut finish =
            builder.lambda_task(Payload::hooked(outcome, manifest, paths::HOOK).into());
        finish.comment = Some("record how the hooks went".into());
        finish.result_path = Some(ResultPath::Path(paths::HOOK.to_string()));
        finish.transition = Transition::next(after.clone());
        // The run's own outcome must not depend on recording the hooks'.
        finish.catch = vec![catch_into(paths::HOOK, &after)];

        if outcome == RunOutcome::Success {
            states.insert(
                after,
                State::Succeed(SucceedState {
                    comment: Some("the run succeeded; its exit hooks ran".into()),
                }),
            );
        }
        states.insert(first, State::Task(start));
        states.insert(job, run);
        states.insert(done, State::Task(finish));
    }
}

/// Catches every error into `result_path` and goes to `next`.
fn catch_into(result_path: &str, next: &str) -> CatchRule {
    CatchRule {
        result_path: result_path.to_string(),
        ..catch_all(next)
    }
}
