//! Resuming a failed run, Metaflow's `resume [STEP]` semantics (not yet wired to the API
//! or the state machine; see the README's Limits): which runs may be resumed
//! ([`plan`]), which steps re-run, and cloning one successful origin task into the new
//! run's datastore ([`clone_task`]) as Metaflow's `clone_task_helper` does: the new
//! attempt's `attempt.json`, a `data.json` naming the origin's content-addressed
//! artifacts (no blob is copied), and `DONE.lock`.
//!
//! Task ids are fixed by step, foreach index and loop iteration ([`super::ids`]), so the
//! origin task of a new run's task is the one with the same id.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::artifacts::{ArtifactSource, DataJson, TASK_OK, task_ok};
use super::datastore::{Datastore, TaskFiles, latest_done_attempt};
use super::error::TaskResult;
use super::ids::pathspec;
use dropflow_contract::{Manifest, StepPlan};

/// Why a run cannot be resumed (the API answers 409 with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeConflict {
    /// The run has not ended.
    #[error(
        "run {run} is still running ({status}); stop it or wait for it to end before resuming it"
    )]
    StillRunning {
        /// Run id.
        run: String,
        /// Its execution status.
        status: String,
    },
    /// The run succeeded: nothing to resume.
    #[error("run {run} succeeded; only a run that failed, timed out or was stopped can be resumed")]
    Succeeded {
        /// Run id.
        run: String,
    },
    /// The live version's graph is not the one the run ran.
    #[error(
        "run {run} ran version {origin_version}, whose graph differs from the live version {live_version} ({}); resume needs the same steps and transitions, so start a new run instead",
        differences.join("; ")
    )]
    GraphChanged {
        /// Run id.
        run: String,
        /// The version the run ran.
        origin_version: String,
        /// The live version.
        live_version: String,
        /// What differs, per step.
        differences: Vec<String>,
    },
    /// `from_step` is not a step of the flow.
    #[error("the flow has no step {step:?} to resume from (its steps: {})", steps.join(", "))]
    UnknownStep {
        /// The step asked for.
        step: String,
        /// The flow's steps.
        steps: Vec<String>,
    },
}

/// What a resumed run does: which run it clones from and which steps run again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePlan {
    /// The origin run id.
    pub origin_run: String,
    /// `resume STEP`'s step, if given.
    pub from_step: Option<String>,
    /// Steps that always run again: `from_step` and every step after it. Tasks of the
    /// other steps are cloned when they succeeded in the origin run.
    pub rerun: BTreeSet<String>,
}

impl ResumePlan {
    /// Whether the tasks of `step` may be cloned (they still need a successful origin).
    pub fn may_clone(&self, step: &str) -> bool {
        !self.rerun.contains(step)
    }
}

/// Checks that run `run` (execution status `status`, deployed as `origin`) can be
/// resumed on the `live` version, and plans it.
pub fn plan(
    run: &str,
    status: &str,
    origin: &Manifest,
    live: &Manifest,
    from_step: Option<&str>,
) -> Result<ResumePlan, ResumeConflict> {
    match status {
        "RUNNING" | "PENDING_REDRIVE" => {
            return Err(ResumeConflict::StillRunning {
                run: run.to_string(),
                status: status.to_string(),
            });
        }
        "SUCCEEDED" => {
            return Err(ResumeConflict::Succeeded {
                run: run.to_string(),
            });
        }
        _ => {}
    }
    let differences = graph_differences(&origin.steps, &live.steps);
    if !differences.is_empty() {
        return Err(ResumeConflict::GraphChanged {
            run: run.to_string(),
            origin_version: origin.version.clone(),
            live_version: live.version.clone(),
            differences,
        });
    }
    let rerun = match from_step {
        None => BTreeSet::new(),
        Some(step) if live.steps.contains_key(step) => downstream(&live.steps, step),
        Some(step) => {
            return Err(ResumeConflict::UnknownStep {
                step: step.to_string(),
                steps: live.steps.keys().cloned().collect(),
            });
        }
    };
    Ok(ResumePlan {
        origin_run: run.to_string(),
        from_step: from_step.map(String::from),
        rerun,
    })
}

/// What differs between two graphs, step by step: steps added or removed, and a step's
/// type, parents, children, foreach variable or switch cases.
pub fn graph_differences(
    origin: &BTreeMap<String, StepPlan>,
    live: &BTreeMap<String, StepPlan>,
) -> Vec<String> {
    let mut differences = Vec::new();
    for step in origin.keys().filter(|s| !live.contains_key(*s)) {
        differences.push(format!("step {step} was removed"));
    }
    for step in live.keys().filter(|s| !origin.contains_key(*s)) {
        differences.push(format!("step {step} was added"));
    }
    for (step, before) in origin {
        let Some(after) = live.get(step) else {
            continue;
        };
        if before.node_type != after.node_type {
            differences.push(format!(
                "step {step} was a {} step and is a {} step",
                before.node_type.as_str(),
                after.node_type.as_str()
            ));
        }
        if before.out_funcs != after.out_funcs {
            differences.push(format!(
                "step {step} went to {} and goes to {}",
                before.out_funcs.join(", "),
                after.out_funcs.join(", ")
            ));
        }
        if before.in_funcs != after.in_funcs {
            differences.push(format!(
                "step {step} came from {} and comes from {}",
                before.in_funcs.join(", "),
                after.in_funcs.join(", ")
            ));
        }
        if before.foreach_param != after.foreach_param || before.switch_cases != after.switch_cases
        {
            differences.push(format!("step {step} splits differently"));
        }
    }
    differences
}

/// `step` and every step reachable from it.
fn downstream(steps: &BTreeMap<String, StepPlan>, step: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![step.to_string()];
    while let Some(next) = todo.pop() {
        if seen.insert(next.clone())
            && let Some(plan) = steps.get(&next)
        {
            todo.extend(plan.out_funcs.iter().cloned());
            todo.extend(plan.switch_cases.values().cloned());
        }
    }
    seen
}

/// One task to clone: where the origin is, and the new run.
#[derive(Debug, Clone, Copy)]
pub struct CloneTarget<'a> {
    /// Datastore root.
    pub root: &'a str,
    /// Flow name.
    pub flow: &'a str,
    /// The origin run id.
    pub origin_run: &'a str,
    /// The new run id.
    pub run: &'a str,
    /// Step.
    pub step: &'a str,
    /// Task id (the same in both runs).
    pub task: &'a str,
    /// The new task's attempt.
    pub attempt: u32,
}

/// Clones the origin task into the new run when its newest finished attempt succeeded
/// (`_task_ok`); `Ok(false)` when there is nothing to clone (no finished attempt, or it
/// failed), so the task runs instead. The new attempt's `data.json` names the origin's
/// artifacts; `DONE.lock` is written last, as Metaflow's `done()` does.
pub async fn clone_task<D: Datastore>(store: &D, target: &CloneTarget<'_>) -> TaskResult<bool> {
    let origin = TaskFiles::new(
        target.root,
        target.flow,
        target.origin_run,
        target.step,
        target.task,
    );
    let names = store.list(origin.dir()).await?;
    let Some(attempt) = latest_done_attempt(names.iter().map(String::as_str)) else {
        return Ok(false);
    };
    let Some(bytes) = store.get(&origin.data_json(attempt)).await? else {
        return Ok(false);
    };
    let origin_path = pathspec(target.flow, target.origin_run, target.step, target.task);
    let data = DataJson::parse(&bytes).map_err(|problem| super::TaskError::BadArtifact {
        pathspec: origin_path.clone(),
        name: "data.json".into(),
        problem,
    })?;
    let source = ArtifactSource {
        root: target.root,
        flow: target.flow,
        pathspec: &origin_path,
        data: &data,
    };
    if !source.read(store, TASK_OK, task_ok).await? {
        return Ok(false);
    }
    // Everything of the origin's data.json but the attempt, which is the new task's.
    let mut cloned: Map<String, Value> =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Map::new());
    cloned.insert("attempt".into(), json!(target.attempt));
    let files = TaskFiles::new(
        target.root,
        target.flow,
        target.run,
        target.step,
        target.task,
    );
    let attempt_json = format!("{}{}.attempt.json", files.dir(), target.attempt);
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    store
        .put(
            &attempt_json,
            serde_json::to_vec(&json!({ "time": now })).expect("JSON"),
            "application/json",
        )
        .await?;
    store
        .put(
            &files.data_json(target.attempt),
            serde_json::to_vec(&cloned).expect("JSON"),
            "application/json",
        )
        .await?;
    store
        .put(
            &files.done_lock(target.attempt),
            Vec::new(),
            "application/octet-stream",
        )
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests;
