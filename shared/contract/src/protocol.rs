//! The payloads exchanged with the state machine: the three phase requests, their
//! responses, and the two records that travel between states ([`Ctx`] and [`Task`]).
//! Field names are fixed by the compiled state machines (`$.task.attempt`,
//! `$.task.job.JobName`, `$.ctx`, `$.items`, `$.splits`, `$.next`): see
//! [`crate::paths`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One invocation of the step Lambda; `phase` selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "lowercase")]
pub enum Request {
    /// Before a task's Batch job: name the task and describe its job.
    Start(StartRequest),
    /// After a task's Batch job succeeded: read what the task decided.
    Finish(Box<FinishRequest>),
    /// A task (or a nested scope) failed for good: record it and surface its error.
    Fail(FailRequest),
    /// The run ended: the Batch job running its exit hooks.
    Hook(crate::hook_protocol::HookRequest),
    /// The exit hooks ran (or could not): record how they went.
    Hooked(Box<crate::hook_protocol::HookedRequest>),
}

impl Request {
    /// Decodes a payload.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
}

/// `{"phase":"start","step":S,"from":KIND,"input":<state input>[,"manifest","execution"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    /// The step to start a task of.
    pub step: String,
    /// What the input is, set by the compiler per start state (see
    /// [`crate::start_input`]). Absent in requests from state machines compiled before
    /// the tag existed: the step Lambda then classifies the input by its shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<crate::start_input::StartFrom>,
    /// The state's input (execution input, a retry, a context, a join's inputs); its
    /// shape per [`Self::from`] is in [`crate::start_input`].
    pub input: Value,
    /// The manifest URI (only the flow's start step gets it; other steps read it from
    /// the context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The execution's name (start step only): the run id is `sfn-<execution>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// Whether the state machine skips the job of a cloned task (its `S.cloned`): only
    /// then does a resumed run's start phase clone. State machines compiled before
    /// resume do not say so; their tasks run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub may_clone: bool,
}

/// `{"phase":"finish","step":S,"task":Task,"batch":{"JobId":…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishRequest {
    /// The step whose task finished.
    pub step: String,
    /// The task, as the start phase returned it.
    pub task: Task,
    /// The Batch job's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchJob>,
}

/// What the job state keeps of Batch's job description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchJob {
    /// The Batch job id.
    #[serde(rename = "JobId")]
    pub job_id: String,
}

/// `{"phase":"fail","input":<state input with "error">[,"foreach":STEP]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailRequest {
    /// The failure state's input: `{"task", "error"}`, or `{…, "error"}` whose cause
    /// nests a scope's failed state as JSON text.
    pub input: Value,
    /// Set in a Distributed Map's child executions: the foreach step whose Map runs
    /// them, so the failure is left where that step's parent execution finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<String>,
}

/// An error as Step Functions' `Catch` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// Error name (`States.TaskFailed`, `dropflow.TaskNotFinished`).
    #[serde(rename = "Error", default)]
    pub error: String,
    /// Cause: Batch's job description, a nested state's JSON, or a message.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// The start phase's result: `{"task": Task, "cloned": bool, "batch": null}`. A task
/// of a resumed run whose origin task succeeded is `cloned` (its files already in the
/// datastore): the state machine skips its Batch job and goes to its finish state,
/// which reads `batch` (`null`: no job). Otherwise the job state replaces `batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartResponse {
    /// The task to run (or the cloned task).
    pub task: Task,
    /// Whether the task was cloned from the origin run (no job to run).
    #[serde(default)]
    pub cloned: bool,
    /// Always `null` here, so that a cloned task's finish state finds `$.batch`.
    #[serde(default)]
    pub batch: Option<BatchJob>,
}

/// The finish phase's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishResponse {
    /// The context for the children.
    pub ctx: Ctx,
    /// A foreach step's number of splits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// A foreach step's split indices `0..n` as an S3 object (Distributed Map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemsObject>,
    /// A foreach step's split indices, `0..n`, inline (inline Map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<Vec<u32>>,
    /// The step a switch chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Where a foreach's split indices are, as Distributed Map's `ItemReader` reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemsObject {
    /// The bucket.
    #[serde(rename = "Bucket")]
    pub bucket: String,
    /// The key (a JSON array `[0, 1, …, n-1]`).
    #[serde(rename = "Key")]
    pub key: String,
}

/// The fail phase's result (the Fail state's `ErrorPath` and `CausePath`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailResponse {
    /// The error name.
    pub error: String,
    /// What failed, and the end of its stderr log.
    pub cause: String,
}

/// What a finished task hands its children: tiny, and enough to name their inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ctx {
    /// The deployment manifest's URI.
    pub manifest: String,
    /// The run id (`sfn-<execution name of the top-level execution>`).
    pub run: String,
    /// The finished task, `step/task_id`.
    pub task: String,
    /// The finished task's foreach index stack, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreach: Vec<u32>,
    /// The finished task's loop iteration, when its step loops on itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iter: Option<u32>,
    /// A resumed run's origin and the steps that run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<crate::start_input::Resume>,
}

impl Ctx {
    /// The finished task's step.
    pub fn step(&self) -> &str {
        self.task
            .split_once('/')
            .map_or(&self.task, |(step, _)| step)
    }

    /// The finished task's Metaflow path, `run/step/task_id`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.run, self.task)
    }
}

/// One task attempt, from its start phase to its finish or fail phase. Retries reuse it
/// with `attempt + 1`, so it carries everything its job is built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The deployment manifest's URI.
    pub manifest: String,
    /// The run id.
    pub run: String,
    /// The step.
    pub step: String,
    /// The task id (deterministic, stable across retries).
    pub id: String,
    /// `Flow/run/step/task_id`.
    pub pathspec: String,
    /// The attempt, 0-based (`--retry-count`).
    pub attempt: u32,
    /// Foreach index stack, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreach: Vec<u32>,
    /// Loop iteration of a step that loops on itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iter: Option<u32>,
    /// `--split-index` of a foreach child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<u32>,
    /// Where the task's `--input-paths` come from.
    pub inputs: Inputs,
    /// The start step's parameter values, when they were too large for the job's
    /// environment: an `s3://` file of `export METAFLOW_INIT_…=…` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_file: Option<String>,
    /// When this attempt was started (RFC 3339).
    pub started_at: String,
    /// The upstream runs (`Flow/run_id`) whose finish events started this run, for
    /// `@trigger_on_finish`'s `--trigger` (Metaflow's `current.trigger`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trigger_runs: Vec<String>,
    /// The events that started this `@trigger` run, for Metaflow's `current.trigger`
    /// (and the start task's `execution-triggers` metadata).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trigger_events: Vec<crate::triggers::TriggeringEvent>,
    /// A resumed run's origin and the steps that run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<crate::start_input::Resume>,
    /// The Batch job, as `batch:submitJob.sync` wants it.
    pub job: JobRequest,
}

/// A task's `--input-paths`: inline, or (when long) a file in S3 the command fetches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inputs {
    /// The value itself.
    Paths(String),
    /// An `s3://` object holding the value (`--input-paths-filename`).
    File(String),
}

/// The Batch `SubmitJob` fields the job state passes through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRequest {
    /// Job name (≤ 128 characters of `[A-Za-z0-9_-]`).
    pub job_name: String,
    /// Job queue.
    pub job_queue: String,
    /// Job definition name (its latest active revision).
    pub job_definition: String,
    /// Command and environment.
    pub container_overrides: ContainerOverrides,
}

/// Batch container overrides (≤ 8 KiB in all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerOverrides {
    /// `["sh", "-c", script]`.
    pub command: Vec<String>,
    /// Environment added to the job definition's.
    pub environment: Vec<EnvVar>,
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

impl EnvVar {
    /// `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}
