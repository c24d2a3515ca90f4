//! The step Lambda's errors, each with a stable `errorType` that Step Functions
//! `Retry`/`Catch` rules and the execution history show.

use dropflow_contract::ServiceError;

/// Why a phase could not do its work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// The payload is not one of the three phases, or its input has an unexpected shape.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The deployment manifest named by the request does not exist.
    #[error("deployment manifest {0} not found")]
    ManifestNotFound(String),
    /// The deployment manifest exists but cannot be read.
    #[error("deployment manifest {uri} is not valid: {message}")]
    InvalidManifest {
        /// Its URI.
        uri: String,
        /// The parse error.
        message: String,
    },
    /// The request names a step the deployed flow does not have.
    #[error("step {step} is not a step of flow {flow}")]
    UnknownStep {
        /// The flow.
        flow: String,
        /// The step asked for.
        step: String,
    },
    /// The execution input does not fit the deployed parameters.
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// The Batch job succeeded but the task's attempt left no `DONE.lock` or `data.json`.
    #[error("task {pathspec} attempt {attempt} has not finished: no {missing} in the datastore")]
    TaskNotFinished {
        /// `Flow/run/step/task`.
        pathspec: String,
        /// The attempt.
        attempt: u32,
        /// What is missing (`DONE.lock`, `data.json`).
        missing: String,
    },
    /// The task's own record says it failed (`_task_ok` is False).
    #[error("task {pathspec} attempt {attempt} failed: its _task_ok artifact is False")]
    TaskFailed {
        /// `Flow/run/step/task`.
        pathspec: String,
        /// The attempt.
        attempt: u32,
    },
    /// An artifact the phase needs is missing or is not what Metaflow writes.
    #[error("task {pathspec}: artifact {name}: {problem}")]
    BadArtifact {
        /// `Flow/run/step/task`.
        pathspec: String,
        /// Artifact name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// A foreach join could not find which task ran for a split.
    #[error("join {join}: no finished task of {candidates} for split {index}")]
    JoinInputMissing {
        /// The join step.
        join: String,
        /// The steps that could have run.
        candidates: String,
        /// The split index.
        index: u32,
    },
    /// The Batch container overrides would exceed Batch's limit even after offloading.
    #[error(
        "the Batch job for {pathspec} is too large: {size} bytes of container overrides (limit {limit})"
    )]
    JobTooLarge {
        /// `Flow/run/step/task`.
        pathspec: String,
        /// Size of the overrides.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A foreach is wider than the Map it runs in can take.
    #[error(
        "the foreach of step {step} ({pathspec}) is {width} wide, over the limit of {limit}: {fix}"
    )]
    ForeachTooWide {
        /// The foreach step.
        step: String,
        /// Its task, `Flow/run/step/task`.
        pathspec: String,
        /// The number of splits the task asked for.
        width: u32,
        /// The largest width its Map takes.
        limit: u32,
        /// What to do.
        fix: String,
    },
    /// The events that started a `@trigger` run are too large to hand its tasks as
    /// Metaflow's `current.trigger` within a Batch job's overrides.
    #[error(
        "the events that started run {run} take {size} bytes as Metaflow's current.trigger, \
         over the limit of {limit} a Batch job's overrides leave for them: publish events \
         with shorter ids (Metaflow's own are UUIDs) or have the flow wait for fewer events"
    )]
    TriggerTooLarge {
        /// `Flow/run`.
        run: String,
        /// The size of the events' JSON.
        size: usize,
        /// The limit ([`crate::command::TRIGGER_EVENTS_MAX`]).
        limit: usize,
    },
    /// A datastore (S3) call failed.
    #[error(transparent)]
    Storage(#[from] ServiceError),
}

impl TaskError {
    /// The stable error name (`errorType`) Step Functions sees.
    pub fn error_type(&self) -> &'static str {
        match self {
            TaskError::InvalidRequest(_) => "dropflow.InvalidRequest",
            TaskError::ManifestNotFound(_) => "dropflow.ManifestNotFound",
            TaskError::InvalidManifest { .. } => "dropflow.InvalidManifest",
            TaskError::UnknownStep { .. } => "dropflow.UnknownStep",
            TaskError::InvalidParameters(_) => "dropflow.InvalidParameters",
            TaskError::TaskNotFinished { .. } => "dropflow.TaskNotFinished",
            TaskError::TaskFailed { .. } => "dropflow.TaskFailed",
            TaskError::BadArtifact { .. } => "dropflow.BadArtifact",
            TaskError::JoinInputMissing { .. } => "dropflow.JoinInputMissing",
            TaskError::JobTooLarge { .. } => "dropflow.JobTooLarge",
            TaskError::ForeachTooWide { .. } => "dropflow.ForeachTooWide",
            TaskError::TriggerTooLarge { .. } => "dropflow.TriggerTooLarge",
            TaskError::Storage(_) => "dropflow.StorageError",
        }
    }
}

/// The result of every phase.
pub type TaskResult<T> = Result<T, TaskError>;
