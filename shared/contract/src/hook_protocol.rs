//! The step Lambda's exit-hook payloads (`hook` and `hooked` phases): what the compiled
//! hook states send and keep in `$.hook`, and what the phases answer.

use serde::{Deserialize, Serialize};

use crate::exit_hooks::RunOutcome;
use crate::protocol::{BatchJob, ErrorInfo, JobRequest};

/// `{"phase":"hook","on","manifest","execution"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRequest {
    /// Which hooks.
    pub on: RunOutcome,
    /// The deployed version's manifest.
    pub manifest: String,
    /// The top-level execution's name (the run id is `sfn-<execution>`).
    pub execution: String,
}

/// The hook phase's result: the job, and what `hooked` needs to record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookJob {
    /// The run's pathspec, `Flow/run`, handed to every hook.
    pub pathspec: String,
    /// The functions, in order.
    pub hooks: Vec<String>,
    /// When the job was built (RFC 3339).
    pub started_at: String,
    /// The Batch job, as `batch:submitJob.sync` wants it.
    pub job: JobRequest,
}

/// `{"phase":"hooked","on","manifest","execution","hook": $.hook}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookedRequest {
    /// Which hooks.
    pub on: RunOutcome,
    /// The deployed version's manifest.
    pub manifest: String,
    /// The top-level execution's name.
    pub execution: String,
    /// What the hook states left in `$.hook`.
    pub hook: HookProgress,
}

/// `$.hook` when `hooked` runs: the job and how it ended, or why it never started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HookProgress {
    /// The hook phase built the job (which then succeeded or failed).
    Ran(Box<HookRun>),
    /// The hook phase itself failed (caught): its error.
    NotStarted(ErrorInfo),
}

/// A hook job and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookRun {
    /// The job.
    #[serde(flatten)]
    pub job: HookJob,
    /// Its Batch job id, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchJob>,
    /// Why it failed (a hook exited non-zero, or Batch refused the job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}
