//! The fail phase: find the task that failed (a nested scope hands its failed state to
//! the enclosing one as the error's cause, as JSON text, possibly nested again), record
//! the failure, and make the execution's error and cause: the task, the attempt, what
//! Batch said, and the end of the task's stderr log.

use serde_json::Value;

use super::datastore::{Datastore, TaskFiles};
use super::error::TaskResult;
use super::logs::{TAIL_BYTES, TAIL_LINES, TAIL_READ_BYTES, tail};
use super::records::TaskStatus;
use super::start::submitted_record;
use super::{duration_ms, now, write_record};
use dropflow_contract::Manifest;
use dropflow_contract::protocol::{Ctx, ErrorInfo, FailResponse, Task};

/// How deep nested causes are followed.
const MAX_NESTING: usize = 16;
/// A plain-text cause kept in a failure's headline, in characters.
const MAX_REASON_CHARS: usize = 1000;
/// Error name when the failure carries none.
const DEFAULT_ERROR: &str = "dropflow.TaskFailed";

/// The failure found in a fail phase's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The innermost error.
    pub error: ErrorInfo,
    /// The task that failed, when the failure came from one.
    pub task: Option<Task>,
    /// The context of the failed scope, when there was no task.
    pub ctx: Option<Ctx>,
}

impl Failure {
    /// Unwraps `input` (`{"task"?, "ctx"?, "error": {"Error", "Cause"}}`), following
    /// causes that are themselves a failed state's JSON.
    pub fn locate(input: &Value) -> Self {
        let mut current = input.clone();
        let mut outer_error = String::new();
        for _ in 0..MAX_NESTING {
            let mut error: ErrorInfo = current
                .get("error")
                .and_then(|e| serde_json::from_value(e.clone()).ok())
                .unwrap_or(ErrorInfo {
                    error: String::new(),
                    cause: String::new(),
                });
            if error.error.is_empty() {
                error.error = outer_error.clone();
            }
            if let Some(task) = current
                .get("task")
                .and_then(|t| serde_json::from_value::<Task>(t.clone()).ok())
            {
                return Self {
                    error,
                    task: Some(task),
                    ctx: None,
                };
            }
            match serde_json::from_str::<Value>(&error.cause) {
                Ok(inner @ Value::Object(_))
                    if inner.get("task").is_some() || inner.get("error").is_some() =>
                {
                    outer_error = error.error;
                    current = inner;
                }
                _ => {
                    let ctx = current
                        .get("ctx")
                        .and_then(|c| serde_json::from_value(c.clone()).ok());
                    return Self {
                        error,
                        task: None,
                        ctx,
                    };
                }
            }
        }
        Self {
            error: ErrorInfo {
                error: outer_error,
                cause: "the failure is nested too deeply to read".into(),
            },
            task: None,
            ctx: None,
        }
    }

    /// The manifest this failure belongs to.
    pub fn manifest(&self) -> Option<&str> {
        self.task
            .as_ref()
            .map(|t| t.manifest.as_str())
            .or_else(|| self.ctx.as_ref().map(|c| c.manifest.as_str()))
    }

    fn error_name(&self) -> String {
        if self.error.error.is_empty() {
            DEFAULT_ERROR.to_string()
        } else {
            self.error.error.clone()
        }
    }
}

/// What a failure's cause says, when it is Batch's job description (as the
/// `batch:submitJob.sync` integration reports a failed job) or a Lambda error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CauseSummary {
    /// The Batch job id.
    pub job_id: Option<String>,
    /// `exit code 1: Essential container in task exited`, or a Lambda's error message.
    pub reason: Option<String>,
}

/// Reads Batch's job description (`JobId`, `StatusReason`, `Container.ExitCode`,
/// `Container.Reason`) or a Lambda error (`errorMessage`) from a cause.
pub fn batch_summary(cause: &str) -> CauseSummary {
    let Ok(Value::Object(job)) = serde_json::from_str::<Value>(cause) else {
        // A plain message (e.g. Batch refusing the job before it ran).
        let message = cause.trim();
        return CauseSummary {
            job_id: None,
            reason: (!message.is_empty()).then(|| shorten(message, MAX_REASON_CHARS)),
        };
    };
    if let Some(message) = job.get("errorMessage").and_then(Value::as_str) {
        return CauseSummary {
            job_id: None,
            reason: Some(message.to_string()),
        };
    }
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    let container = job.get("Container");
    let mut parts = Vec::new();
    if let Some(code) = container
        .and_then(|c| c.get("ExitCode"))
        .and_then(Value::as_i64)
    {
        parts.push(format!("exit code {code}"));
    }
    if let Some(reason) = text(container.and_then(|c| c.get("Reason"))) {
        parts.push(reason.to_string());
    }
    if let Some(status) = text(job.get("StatusReason")) {
        parts.push(status.to_string());
    }
    CauseSummary {
        job_id: text(job.get("JobId")).map(String::from),
        reason: (!parts.is_empty()).then(|| parts.join(": ")),
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Runs the fail phase for `failure`; `manifest` is its manifest (or why it could not
/// be read). Never fails: what cannot be read is said in the cause.
pub async fn fail<D: Datastore>(
    failure: &Failure,
    manifest: TaskResult<&Manifest>,
    store: &D,
) -> FailResponse {
    let error = failure.error_name();
    let summary = batch_summary(&failure.error.cause);
    let Some(task) = &failure.task else {
        let raw = &failure.error.cause;
        let cause = match summary.reason {
            Some(reason) if raw.trim_start().starts_with('{') => reason,
            _ => raw.clone(),
        };
        return FailResponse {
            error,
            cause: tail(cause.as_bytes(), false, usize::MAX, TAIL_BYTES),
        };
    };
    let mut headline = format!("{}/{} attempt {} failed", task.step, task.id, task.attempt);
    match (&summary.job_id, &summary.reason) {
        (Some(job), Some(reason)) => headline.push_str(&format!(" (Batch job {job}: {reason})")),
        (None, Some(reason)) => headline.push_str(&format!(" ({reason})")),
        (Some(job), None) => headline.push_str(&format!(" (Batch job {job})")),
        (None, None) => {}
    }
    let log = match &manifest {
        Ok(manifest) => {
            let files = TaskFiles::new(
                &manifest.datastore_root,
                &manifest.flow.name,
                &task.run,
                &task.step,
                &task.id,
            );
            match store
                .get_tail(&files.stderr_log(task.attempt), TAIL_READ_BYTES)
                .await
            {
                Ok(Some(bytes)) => {
                    let partial = bytes.len() as u64 >= TAIL_READ_BYTES;
                    let text = tail(&bytes, partial, TAIL_LINES, TAIL_BYTES);
                    if text.is_empty() {
                        "(the task's stderr log is empty)".to_string()
                    } else {
                        text
                    }
                }
                Ok(None) => format!("(no stderr log at {})", files.stderr_log(task.attempt)),
                Err(e) => format!("(the stderr log could not be read: {e})"),
            }
        }
        Err(e) => format!("(the task's log could not be found: {e})"),
    };
    let cause = format!("{headline}:\n{log}");
    if let Ok(manifest) = manifest {
        let finished_at = now();
        let mut record = submitted_record(manifest, task);
        record.status = TaskStatus::Failed;
        record.batch_job_id = summary.job_id;
        record.duration_ms = duration_ms(&task.started_at, &finished_at);
        record.finished_at = Some(finished_at);
        record.error = Some(error.clone());
        record.cause = Some(cause.clone());
        // Best effort: the execution's error matters more than its record.
        let _ = write_record(store, manifest, &record).await;
    }
    FailResponse { error, cause }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn batch_job_descriptions_are_summarised() {
        let cause = json!({
            "JobId": "8f1c",
            "Status": "FAILED",
            "StatusReason": "Job attempt duration exceeded timeout",
            "Container": {"ExitCode": 137, "Reason": "OutOfMemoryError: Container killed"},
        });
        assert_eq!(
            batch_summary(&cause.to_string()),
            CauseSummary {
                job_id: Some("8f1c".into()),
                reason: Some(
                    "exit code 137: OutOfMemoryError: Container killed: Job attempt duration exceeded timeout"
                        .into()
                ),
            }
        );
        assert_eq!(batch_summary("{}"), CauseSummary::default());
        assert_eq!(batch_summary(""), CauseSummary::default());
    }

    #[test]
    fn lambda_errors_and_plain_messages_become_the_reason() {
        let lambda =
            json!({"errorType": "dropflow.TaskNotFinished", "errorMessage": "no DONE.lock"});
        assert_eq!(
            batch_summary(&lambda.to_string()).reason.as_deref(),
            Some("no DONE.lock")
        );
        assert_eq!(
            batch_summary("JobQueue dropflow not found")
                .reason
                .as_deref(),
            Some("JobQueue dropflow not found")
        );
        let long = "x".repeat(MAX_REASON_CHARS + 5);
        assert_eq!(
            batch_summary(&long).reason.unwrap().chars().count(),
            MAX_REASON_CHARS + 1
        );
    }

    #[test]
    fn nested_failures_are_unwrapped_to_the_innermost_error() {
        let inner = json!({"ctx": {"manifest": "s3://b/m.json", "run": "sfn-x", "task": "a/a"},
                           "error": {"Error": "dropflow.TaskNotFinished", "Cause": "{\"errorMessage\": \"m\"}"}});
        let outer = json!({"error": {"Error": "States.TaskFailed", "Cause": inner.to_string()}});
        let failure = Failure::locate(&outer);
        assert_eq!(failure.error.error, "dropflow.TaskNotFinished");
        assert!(failure.task.is_none());
        assert_eq!(failure.manifest(), Some("s3://b/m.json"));
        let nothing = Failure::locate(&json!({}));
        assert_eq!(nothing.error_name(), DEFAULT_ERROR);
        assert_eq!(nothing.manifest(), None);
    }
}
