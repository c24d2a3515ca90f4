//! The run answers: start, resume, list, view and stop.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /flows/{flow}/runs`: the run started (201), or the one an `Idempotency-Key`
/// started before (200).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    /// Metaflow run id (`sfn-<execution name>`).
    pub run_id: String,
    /// The Step Functions execution's ARN.
    pub execution_arn: String,
    /// Flow class name.
    pub flow: String,
    /// State machine name.
    pub state_machine: String,
    /// The version it runs.
    pub version: String,
    /// Execution status (`RUNNING` for a new run).
    pub status: String,
    /// When it started (RFC 3339).
    pub start_date: String,
    /// Every parameter's value for the run, defaults included.
    pub parameters: Map<String, Value>,
}

/// `POST /flows/{flow}/runs/{run_id}/resume`: the new run that resumes a failed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResumed {
    /// The new run's id.
    pub run_id: String,
    /// The run it resumes.
    pub origin_run_id: String,
    /// The step given as `from_step`; `null` without one.
    pub from_step: Option<String>,
    /// The steps that run again whatever the origin run did.
    pub rerun: Vec<String>,
    /// The new execution's ARN.
    pub execution_arn: String,
    /// Flow class name.
    pub flow: String,
    /// State machine name.
    pub state_machine: String,
    /// The version it runs (the live one).
    pub version: String,
    /// Execution status.
    pub status: String,
    /// When it started (RFC 3339).
    pub start_date: String,
    /// Every parameter's value for the run (the origin's, defaults included).
    pub parameters: Map<String, Value>,
}

impl From<RunResumed> for RunStarted {
    /// The new run as a start answers it (what it resumes left out).
    fn from(resumed: RunResumed) -> Self {
        Self {
            run_id: resumed.run_id,
            execution_arn: resumed.execution_arn,
            flow: resumed.flow,
            state_machine: resumed.state_machine,
            version: resumed.version,
            status: resumed.status,
            start_date: resumed.start_date,
            parameters: resumed.parameters,
        }
    }
}

/// `GET /flows/{flow}/runs`: a page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunList {
    /// Flow class name.
    pub flow: String,
    /// State machine name.
    pub state_machine: String,
    /// The runs of this page.
    pub runs: Vec<RunSummary>,
    /// Where the next page starts (the `next_token` query parameter); `null` on the last.
    pub next_token: Option<String>,
}

/// One run in [`RunList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Metaflow run id.
    pub run_id: String,
    /// Execution status (`RUNNING`, `SUCCEEDED`, `FAILED`, ...).
    pub status: String,
    /// When it started (RFC 3339); `null` when unknown.
    pub start_date: Option<String>,
    /// When it ended (RFC 3339); `null` while it runs.
    pub stop_date: Option<String>,
    /// The execution's ARN.
    pub execution_arn: String,
}

/// `GET /flows/{flow}/runs/{run_id}`: one run, with per-step progress from the task
/// records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    /// Metaflow run id.
    pub run_id: String,
    /// Flow class name.
    pub flow: String,
    /// State machine name.
    pub state_machine: String,
    /// The execution's ARN.
    pub execution_arn: String,
    /// Execution status.
    pub status: String,
    /// When it started (RFC 3339); `null` when unknown.
    pub start_date: Option<String>,
    /// When it ended (RFC 3339); `null` while it runs.
    pub stop_date: Option<String>,
    /// The version it runs; `null` when unknown.
    pub version: Option<String>,
    /// The parameter values of its input; `null` when the input is unreadable.
    pub parameters: Option<Map<String, Value>>,
    /// Error name of a failed run; `null` otherwise.
    pub error: Option<String>,
    /// Its cause; `null` otherwise.
    pub cause: Option<String>,
    /// Per-step progress, in the order the steps started.
    pub steps: Vec<StepProgress>,
    /// Some task records were not read (too many) or not listed.
    pub steps_partial: bool,
    /// The events that started an event-started run; `null` for a run started otherwise.
    pub triggered_by: Option<Vec<TriggeringEvent>>,
}

/// One step's progress in [`RunDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    /// Step name.
    pub step: String,
    /// Tasks that have a record.
    pub tasks: usize,
    /// Attempts over all its tasks.
    pub attempts: usize,
    /// Tasks by the status of their newest attempt (`unread` past the read limit,
    /// `unknown` when the record has none).
    pub status: BTreeMap<String, usize>,
    /// When its first task started (RFC 3339); `null` when unknown.
    pub started_at: Option<String>,
    /// When its last task ended, once every task read has (RFC 3339); `null` before.
    pub finished_at: Option<String>,
    /// Tasks whose newest attempt failed (a few per step); absent when none did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedTask>,
}

/// A task whose newest attempt failed, in [`StepProgress`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedTask {
    /// Task id.
    pub task: String,
    /// Attempt number.
    pub attempt: u32,
    /// Error name, when recorded; `null` otherwise.
    pub error: Option<String>,
    /// The API path of the attempt's stderr log (`/flows/{flow}/runs/{run_id}/logs?...`).
    pub log: String,
}

/// One event that started a run, in [`RunDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggeringEvent {
    /// The delivery id (the payload's `id`).
    pub id: String,
    /// The event name.
    pub name: String,
    /// The upstream run (`Flow/run_id`) of a finish event; absent for other events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// `DELETE /flows/{flow}/runs/{run_id}`: the run stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStopped {
    /// Metaflow run id.
    pub run_id: String,
    /// Flow class name.
    pub flow: String,
    /// State machine name.
    pub state_machine: String,
    /// The execution's ARN.
    pub execution_arn: String,
    /// `ABORTED`.
    pub status: String,
    /// When it stopped, as Step Functions recorded it (RFC 3339); `null` when unknown.
    pub stop_date: Option<String>,
}
