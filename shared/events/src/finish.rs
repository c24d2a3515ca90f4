//! The events a successful end step publishes, named and filled as Metaflow's
//! `ArgoWorkflowsInternalDecorator.task_finished` does, so a downstream
//! `@trigger_on_finish` written for Argo matches them unchanged: the name
//! `metaflow.<project_flow_name or Flow>.<end step>`, plus `....end` when the end step has
//! another name; payload `id`/`pathspec` (the task's pathspec), `flow_name`, `run_id`,
//! `step_name`, `task_id`, the `@project` fields when set, and
//! `auto-generated-by-metaflow`, every value as Python's `str()` writes it.

use serde_json::{Map, Value};

use crate::body::MetaflowEvent;
use dropflow_contract::ProjectInfo;

/// The finished task an end event is about.
#[derive(Debug, Clone, Copy)]
pub struct FinishedTask<'a> {
    /// Flow class name.
    pub flow: &'a str,
    /// The flow's `@project` placement, if any.
    pub project: Option<&'a ProjectInfo>,
    /// Metaflow run id (`sfn-...`).
    pub run_id: &'a str,
    /// The end step's name.
    pub step: &'a str,
    /// Its task id.
    pub task_id: &'a str,
}

/// The events to publish for a successful end task (one, or two for a custom-named end
/// step). `ArgoEvent.publish` adds its own fields (`name`, a random `id` it then
/// overrides with the pathspec, `timestamp`, `utc_date`, `generated-by-metaflow`) when
/// it sends them; whoever publishes these adds the same.
pub fn finish_events(task: &FinishedTask<'_>) -> Vec<MetaflowEvent> {
    let qualified = task
        .project
        .map_or_else(|| task.flow.to_string(), |p| p.flow_name(task.flow));
    let mut names = vec![format!("metaflow.{qualified}.{}", task.step)];
    if task.step != "end" {
        names.push(format!("metaflow.{qualified}.end"));
    }
    let pathspec = format!(
        "{}/{}/{}/{}",
        task.flow, task.run_id, task.step, task.task_id
    );
    let mut payload = Map::new();
    let mut put = |key: &str, value: String| {
        payload.insert(key.to_string(), Value::String(value));
    };
    put("id", pathspec.clone());
    put("pathspec", pathspec);
    put("flow_name", task.flow.to_string());
    put("run_id", task.run_id.to_string());
    put("step_name", task.step.to_string());
    put("task_id", task.task_id.to_string());
    if let Some(project) = task.project {
        put("project_name", project.name.clone());
        put("branch_name", project.branch.clone());
        // `if current.get(key)`: False is left out, as Metaflow leaves it out.
        if project.is_user_branch() {
            put("is_user_branch", "True".into());
        }
        if project.is_production() {
            put("is_production", "True".into());
        }
        put("project_flow_name", qualified.clone());
    }
    put("auto-generated-by-metaflow", "True".into());
    names
        .into_iter()
        .map(|name| MetaflowEvent {
            name,
            payload: payload.clone(),
        })
        .collect()
}
