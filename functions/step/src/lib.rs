//! The step Lambda: invoked by the state machine around each Metaflow task, in three
//! phases chosen by the payload's `"phase"` (`start`, `finish`, `fail`). Thin by design:
//! the protocol and its tests live in [`dropflow_task`], S3 in `dropflow-aws`. This
//! crate keeps the warm state ([`Deps`]: the datastore client, the manifests read so
//! far and the [`JobSettings`] read from the environment by [`settings_from_env`]), logs
//! one line per invocation, and gives errors their stable `errorType`.

use std::sync::Arc;
use std::time::Instant;

use dropflow_aws::S3Datastore;
use dropflow_task::alert_delivery::AlertSenders;
use dropflow_task::clone_registry::CloneRegistry;
use dropflow_task::{self as task, Datastore, JobSettings, ManifestCache, TaskError};

mod alerting;
pub mod clones;
pub mod finish_events;
use serde_json::Value;

pub use finish_events::{EventPublisher, HttpEvents};

/// What a warm Lambda keeps between invocations.
pub struct Deps<D = S3Datastore> {
    /// Manifests, the Metaflow datastore and the task records.
    pub store: D,
    /// Manifests read so far (immutable per version).
    pub manifests: ManifestCache,
    /// What every job gets from the Lambda's configuration (the metadata service).
    pub settings: JobSettings,
    /// Where `notify_on_*` alerts are sent (none: alerts are recorded as failed).
    pub alerts: Option<AlertSenders>,
    /// Where a successful end step's finish events go (none: not published).
    pub events: Option<Arc<dyn EventPublisher>>,
    /// Where a resumed run's cloned tasks are registered (the metadata service's store;
    /// none: the Client does not list them).
    pub clones: Option<Arc<dyn CloneRegistry>>,
}

impl<D: Datastore> Deps<D> {
    /// Dependencies over `store`, with an empty manifest cache and default settings
    /// (`--metadata=local`).
    pub fn new(store: D) -> Self {
        Self {
            store,
            manifests: ManifestCache::new(),
            settings: JobSettings::default(),
            alerts: None,
            events: None,
            clones: None,
        }
    }

    /// The same, publishing finish events with `publisher`.
    pub fn with_events(mut self, publisher: Arc<dyn EventPublisher>) -> Self {
        self.events = Some(publisher);
        self
    }

    /// Registers cloned tasks with `clones`.
    pub fn with_clones(mut self, clones: Arc<dyn CloneRegistry>) -> Self {
        self.clones = Some(clones);
        self
    }

    /// The same, sending alerts with `senders`.
    pub fn with_alerts(mut self, senders: AlertSenders) -> Self {
        self.alerts = Some(senders);
        self
    }

    /// The same, with `settings`.
    pub fn with_settings(mut self, settings: JobSettings) -> Self {
        self.settings = settings;
        self
    }
}

/// The step Lambda's settings from its environment, see [`settings_from_lookup`].
pub fn settings_from_env() -> Result<JobSettings, String> {
    settings_from_lookup(|name| std::env::var(name).ok())
}

/// The step Lambda's settings: `DROPFLOW_METADATA_URL` (optional; unset or empty:
/// `--metadata=local`), the `http(s)://` URL tasks reach a Metaflow metadata service at
/// (`METAFLOW_SERVICE_URL`): dropflow's own (`https://API/metadata`) or an existing
/// metaflow-service. An API key the service wants is not passed here: put
/// `METAFLOW_SERVICE_AUTH_KEY` in the tasks' job definition (or image).
pub fn settings_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<JobSettings, String> {
    let metadata_url = lookup("DROPFLOW_METADATA_URL")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if let Some(url) = &metadata_url {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty() || host.contains(char::is_whitespace)) {
            return Err(format!(
                "DROPFLOW_METADATA_URL: {url:?} is not an http:// or https:// URL"
            ));
        }
    }
    Ok(JobSettings {
        metadata_url,
        ..JobSettings::default()
    })
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

impl<D: std::fmt::Debug> std::fmt::Debug for Deps<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("store", &self.store)
            .field("manifests", &self.manifests)
            .field("settings", &self.settings)
            .field("alerts", &self.alerts)
            .field("events", &self.events.is_some())
            .finish()
    }
}

/// Handles one invocation: `request` is the state's `Parameters`, the result is the
/// state's result.
pub async fn handle<D: Datastore>(request: Value, deps: &Deps<D>) -> Result<Value, StepError> {
    handle_invocation(request, None, deps).await
}

/// [`handle`] for the Lambda `function_arn` (the invocation's ARN: the account and
/// region of the execution link in alerts). A top-level fail phase and the end step's
/// finish phase then send the flow's `notify_on_*` alerts ([`alerting`]); the end step's
/// finish phase publishes the run's finish events ([`finish_events`]).
pub async fn handle_invocation<D: Datastore>(
    request: Value,
    function_arn: Option<&str>,
    deps: &Deps<D>,
) -> Result<Value, StepError> {
    let started = Instant::now();
    let field = |name: &str| request.get(name).and_then(Value::as_str).map(String::from);
    let (phase, step) = (field("phase"), field("step"));
    let alert_input = alerting::AlertInput::of(&request);
    let finishing = finish_events::finishing_task(&request);
    let result = task::run_with_clones(
        request,
        &deps.store,
        &deps.manifests,
        &deps.settings,
        deps.clones.as_deref(),
    )
    .await;
    if let (Some(input), Ok(response)) = (alert_input, &result) {
        alerting::send(input, response, function_arn, deps).await;
    }
    if let (Some(task), Ok(_)) = (&finishing, &result) {
        finish_events::publish(task, deps).await;
    }
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
    use dropflow_task::MemoryDatastore;
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

    #[test]
    fn the_metadata_url_is_optional_and_checked() {
        let read = |value: Option<&str>| {
            settings_from_lookup(|name| {
                assert_eq!(name, "DROPFLOW_METADATA_URL");
                value.map(String::from)
            })
        };
        assert_eq!(read(None), Ok(JobSettings::default()));
        assert_eq!(read(Some(" ")), Ok(JobSettings::default()));
        let url = "https://abc.execute-api.us-east-1.amazonaws.com/metadata";
        assert_eq!(
            read(Some(&format!(" {url}\n")))
                .unwrap()
                .metadata_url
                .as_deref(),
            Some(url)
        );
        assert!(read(Some("http://127.0.0.1:5101")).is_ok());
        for bad in ["abc.example.com", "https://", "ftp://host", "https://a b"] {
            let error = read(Some(bad)).unwrap_err();
            assert!(error.starts_with("DROPFLOW_METADATA_URL: "), "{error}");
        }
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
