//! The step Lambda: invoked by the state machine around each Metaflow task, in three
//! phases chosen by the payload's `"phase"` (`start`, `finish`, `fail`). Thin by design:
//! the protocol and its tests live in [`dropflow::task`], S3 in `dropflow-aws`. This
//! crate keeps the warm state ([`Deps`]: the datastore client and the manifests read
//! so far), logs one line per invocation, and gives errors their stable `errorType`.

use std::time::Instant;

use dropflow::task::{self, Datastore, ManifestCache, TaskError};
use dropflow_aws::S3Datastore;
use serde_json::Value;

/// What a warm Lambda keeps between invocations.
#[derive(Debug)]
pub struct Deps<D = S3Datastore> {
    /// Manifests, the Metaflow datastore and the task records.
    pub store: D,
    /// Manifests read so far (immutable per version).
    pub manifests: ManifestCache,
}

impl<D: Datastore> Deps<D> {
    /// Dependencies over `store`, with an empty manifest cache.
    pub fn new(store: D) -> Self {
        Self {
            store,
            manifests: ManifestCache::new(),
        }
    }
}

/// A failed invocation. Its [`StepError::error_type`] (`dropflow.ManifestNotFound`,
/// `dropflow.TaskNotFinished`, …) is the Lambda `errorType` Step Functions matches.
#[derive(Debug, Clone, PartialEq)]
pub struct StepError(pub TaskError);

impl StepError {
    /// The stable error name.
    pub fn error_type(&self) -> &'static str {
        self.0.error_type()
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StepError {}

impl From<TaskError> for StepError {
    fn from(error: TaskError) -> Self {
        Self(error)
    }
}

impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(error: StepError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one invocation: `request` is the state's `Parameters`, the result is the
/// state's result.
pub async fn handle<D: Datastore>(request: Value, deps: &Deps<D>) -> Result<Value, StepError> {
    let started = Instant::now();
    let field = |name: &str| request.get(name).and_then(Value::as_str).map(String::from);
    let (phase, step) = (field("phase"), field("step"));
    let result = task::run(request, &deps.store, &deps.manifests).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let phase = phase.as_deref().unwrap_or("?");
    let step = step.as_deref().unwrap_or("");
    match &result {
        Ok(response) => {
            let task = response
                .get("task")
                .and_then(|t| t.get("pathspec"))
                .or_else(|| response.get("ctx").and_then(|c| c.get("task")))
                .and_then(Value::as_str)
                .unwrap_or("");
            tracing::info!(phase, step, task, ms, "ok");
        }
        Err(error) => {
            tracing::error!(phase, step, ms, error_type = error.error_type(), "{error}");
        }
    }
    result.map_err(StepError)
}

#[cfg(test)]
mod tests {
    use dropflow::task::MemoryDatastore;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn errors_carry_their_stable_type() {
        let deps = Deps::new(MemoryDatastore::new());
        let error = handle(json!({"phase": "finish"}), &deps).await.unwrap_err();
        assert_eq!(error.error_type(), "dropflow.InvalidRequest");
        let error = handle(
            json!({"phase": "start", "step": "start", "input": {}, "execution": "e",
                   "manifest": "s3://b/deployments/F/v/deployment.json"}),
            &deps,
        )
        .await
        .unwrap_err();
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "dropflow.ManifestNotFound");
        assert_eq!(
            diagnostic.error_message,
            "deployment manifest s3://b/deployments/F/v/deployment.json not found"
        );
    }

    #[tokio::test]
    async fn a_failure_without_a_task_still_answers() {
        let deps = Deps::new(MemoryDatastore::new());
        let response = handle(
            json!({"phase": "fail", "input": {"error": {"Error": "States.Runtime", "Cause": "bad path"}}}),
            &deps,
        )
        .await
        .unwrap();
        assert_eq!(
            response,
            json!({"error": "States.Runtime", "cause": "bad path"})
        );
    }
}
