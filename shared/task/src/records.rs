//! Task records: one small JSON object per task attempt, rewritten by each phase, so
//! runs can be listed and inspected without Metaflow's metadata service. Also the keys
//! of the files the start phase writes for a task's command.
//!
//! Layout, in the deployment bucket (the manifest's bucket):
//! - `dropflow/runs/<state machine>/<run>/<step>/<task>/<attempt>.json` ([`TaskRecord`])
//! - `dropflow/runs/<state machine>/<run>/<step>/<task>/items.json`: a foreach step's
//!   split indices, read by its Distributed Map ([`items_key`])
//! - `dropflow/runs/<state machine>/<run>/_failures/<foreach step>[-<index>…].json`: a
//!   failure inside a Distributed Map's child execution, for the parent ([`failure_key`])
//! - `dropflow/inputs/<state machine>/<run>/<step>/<task>/input-paths` (long
//!   `--input-paths`) and `.../parameters.env` (large parameter values)

use serde::{Deserialize, Serialize};

pub use dropflow_contract::layout::{
    INPUTS_PREFIX, RUNS_PREFIX, failure_key, input_file_key, items_key, record_key, run_prefix,
};

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// The start phase handed its job to Batch.
    Submitted,
    /// The job succeeded and the finish phase read the task's artifacts.
    Succeeded,
    /// The attempt failed (retried, or reported by the fail phase).
    Failed,
}

/// One task attempt as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Flow name.
    pub flow: String,
    /// State machine name.
    pub state_machine: String,
    /// Deployed version that ran it.
    pub version: String,
    /// Run id.
    pub run: String,
    /// Step.
    pub step: String,
    /// Task id.
    pub task: String,
    /// Attempt (0-based).
    pub attempt: u32,
    /// `Flow/run/step/task`.
    pub pathspec: String,
    /// Status.
    pub status: TaskStatus,
    /// Foreach index stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreach: Vec<u32>,
    /// The Batch job name.
    pub job_name: String,
    /// The Batch job id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_job_id: Option<String>,
    /// When the start phase ran (RFC 3339).
    pub started_at: String,
    /// When the finish or fail phase (or the next attempt's start) saw it end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Milliseconds from start to finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// A foreach step's split count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<u32>,
    /// A switch's chosen step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Error name, for a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error cause (the end of its stderr log), for a failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_nest_run_step_task_attempt() {
        assert_eq!(
            record_key("ForeachFlow", "sfn-x", "square", "square-3", 1),
            "dropflow/runs/ForeachFlow/sfn-x/square/square-3/1.json"
        );
        assert!(record_key("F", "sfn-x", "s", "t", 0).starts_with(&run_prefix("F", "sfn-x")));
        assert_eq!(
            input_file_key("F", "sfn-x", "join", "join", "input-paths"),
            "dropflow/inputs/F/sfn-x/join/join/input-paths"
        );
    }
}
