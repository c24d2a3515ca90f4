//! The metadata service: Metaflow's metadata API over a [`MetadataStore`].
//!
//! [`MetadataService::handle`] answers one HTTP request (API Gateway through the Lambda,
//! a local listener, tests). The typed methods below it are the same operations for
//! callers without HTTP (the step Lambda recording a run it starts).
//!
//! Semantics follow Netflix/metaflow-service: creates answer the new record, or 409 when
//! it exists (Metaflow's client then GETs it); a run or task created without an id gets
//! the next number of a counter (per flow for runs, per run for tasks), and a
//! client-chosen id may not be all digits; reads of steps, tasks and artifacts carry the
//! run's tags (tags are mutated on the run only); artifact reads without an attempt give
//! each task's latest attempt; metadata keeps every write (newest first);
//! heartbeats answer `"{\"wait_time_in_seconds\": 10}"` (a JSON string, which the client
//! decodes twice). Unlike the reference, a heartbeat on a live record is always 200.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::body;
use super::error::{ApiError, code};
use super::http::{API_KEY_HEADER, Request, Response};
use super::model::{ArtifactRecord, Id, is_numeric};
use super::route::{Route, check_id, route};
use super::store::{Item, MetadataStore, ServiceError, keys};

mod artifacts;
mod metadata;
mod runs;
mod tasks;

/// The metaflow-service version whose API this implements; Metaflow's client enables
/// heartbeats (≥ 2.0.4), attempt reads (≥ 2.0.6), tag mutation (≥ 2.3.0) and
/// `filtered_tasks` (≥ 2.5.0) from it.
pub const SERVICE_VERSION: &str = "2.5.0";

/// Seconds between heartbeats the service asks for.
pub const HEARTBEAT_SECONDS: u64 = 10;

/// The largest record stored (DynamoDB items are at most 400 KB with their keys).
pub const MAX_RECORD_BYTES: usize = 350 * 1024;

/// How many records one request writes at a time.
const WRITE_CONCURRENCY: usize = 16;

/// How often a tag mutation re-reads the run when another one raced it.
const TAG_RETRIES: usize = 16;

/// Milliseconds since the epoch.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Deployment settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceConfig {
    /// A prefix the API is mounted under (`/metadata` behind the trigger API's HTTP API),
    /// stripped when present; paths without it are served too.
    pub path_prefix: Option<String>,
    /// SHA-256 of the API key every request must carry in `x-api-key` (Metaflow sends
    /// `METAFLOW_SERVICE_AUTH_KEY` there); `None` accepts every request.
    pub api_key_sha256: Option<[u8; 32]>,
}

/// A success: JSON, or text (`/ping`, `/version`).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `application/json`.
    Json(Value),
    /// `text/plain`.
    Text(String),
}

/// Metaflow's metadata API over a store.
pub struct MetadataService<S> {
    store: S,
    config: ServiceConfig,
    clock: Clock,
}

/// Checks the `x-api-key` value against the key's SHA-256: missing or wrong is 401 (the
/// credentials are absent or invalid: RFC 9110's 401, not 403), each with its own message.
/// The digests are compared in full whatever the first difference (constant time), and
/// hashing first makes the comparison independent of the key's length.
fn check_api_key(expected: &[u8; 32], given: Option<&str>) -> Result<(), ApiError> {
    let Some(given) = given else {
        return Err(ApiError::new(
            401,
            code::UNAUTHORIZED,
            "this metadata service requires an API key in the x-api-key header: set \
             METAFLOW_SERVICE_AUTH_KEY (the stack's metadata API key secret)",
        ));
    };
    let given = digest(given);
    let difference = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if difference != 0 {
        return Err(ApiError::new(
            401,
            code::UNAUTHORIZED,
            "the x-api-key header is not this metadata service's API key: check \
             METAFLOW_SERVICE_AUTH_KEY",
        ));
    }
    Ok(())
}

fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Whether the client that sent `system_tags` sends heartbeats (the reference's
/// `has_heartbeat_capable_version_tag`: Metaflow ≥ 2.2.12, or 1.x ≥ 1.14.0; unparsable
/// versions count as capable).
pub fn sends_heartbeats(system_tags: &[String]) -> bool {
    let Some(version) = system_tags
        .iter()
        .find_map(|t| t.strip_prefix("metaflow_version:"))
    else {
        return false;
    };
    let numbers: Vec<u64> = version
        .split(|c: char| !c.is_ascii_digit())
        .take_while(|p| !p.is_empty())
        .take(3)
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect();
    if numbers.is_empty() {
        return true;
    }
    let v = [0, 1, 2].map(|i| numbers.get(i).copied().unwrap_or(0));
    match v[0] {
        0 => false,
        1 => v >= [1, 14, 0],
        _ => v >= [2, 2, 12],
    }
}

fn encode<T: Serialize>(record: &T) -> Result<String, ApiError> {
    let text = serde_json::to_string(record)
        .map_err(|e| ApiError::from(ServiceError::new("metadata:encode", e.to_string())))?;
    if text.len() > MAX_RECORD_BYTES {
        return Err(ApiError::new(
            413,
            code::TOO_LARGE,
            format!(
                "the record is {} bytes; at most {MAX_RECORD_BYTES} can be stored",
                text.len()
            ),
        ));
    }
    Ok(text)
}

fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, ApiError> {
    serde_json::from_str(&item.body).map_err(|e| {
        ApiError::from(ServiceError::new(
            format!("metadata:decode {}/{}", item.pk, item.sk),
            format!("a stored record is not valid: {e}"),
        ))
    })
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::from(ServiceError::new("metadata:encode", e.to_string())))
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Checks a client-chosen run or task id: a valid segment, never all digits.
fn check_name(kind: &str, id: &Id) -> Result<String, ApiError> {
    match id {
        Id::Number(_) => Err(ApiError::bad_request(format!(
            "a {kind} id given by the client may not be numeric (numbers are assigned by the service)"
        ))),
        Id::Name(name) => {
            check_id(kind, name)?;
            if is_numeric(name) {
                return Err(ApiError::bad_request(format!(
                    "the {kind} id {name:?} may not be numeric (numbers are assigned by the service)"
                )));
            }
            Ok(name.clone())
        }
    }
}

/// Each task's latest attempt only (the reference's `filter_artifacts_for_latest_attempt`).
fn latest_attempts(artifacts: Vec<ArtifactRecord>) -> Vec<ArtifactRecord> {
    let mut latest: BTreeMap<Id, u32> = BTreeMap::new();
    for a in &artifacts {
        let entry = latest.entry(a.task_id.clone()).or_insert(a.attempt_id);
        *entry = (*entry).max(a.attempt_id);
    }
    artifacts
        .into_iter()
        .filter(|a| latest.get(&a.task_id) == Some(&a.attempt_id))
        .collect()
}

impl<S: MetadataStore> MetadataService<S> {
    /// A service over `store`, on the system clock.
    pub fn new(store: S, config: ServiceConfig) -> Self {
        Self {
            store,
            config,
            clock: Arc::new(system_clock),
        }
    }

    /// The same service on another clock (milliseconds since the epoch).
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The version reported in the version header.
    pub fn version(&self) -> &'static str {
        SERVICE_VERSION
    }

    fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    fn now_s(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Answers one request; every answer carries the version header
    /// ([`Response::headers`]). Errors are JSON `{"error", "message"}` with a 4xx status,
    /// or 503 when the store failed (see [`Self::dispatch`] for the error itself).
    pub async fn handle(&self, request: &Request) -> Response {
        match self.dispatch(request).await {
            Ok(Reply::Json(value)) => Response::json(200, &value),
            Ok(Reply::Text(text)) => Response::text(200, &text),
            Err(error) => Response::error(&error),
        }
    }

    /// Answers one request, keeping the error (and the store's error behind a 503).
    pub async fn dispatch(&self, request: &Request) -> Result<Reply, ApiError> {
        if let Some(expected) = &self.config.api_key_sha256 {
            check_api_key(expected, request.header_value(API_KEY_HEADER))?;
        }
        let path = self.strip_prefix(&request.path);
        let json = |v: Result<Value, ApiError>| v.map(Reply::Json);
        match route(&request.method, path)? {
            Route::Ping => Ok(Reply::Text("pong".into())),
            Route::Version => Ok(Reply::Text(SERVICE_VERSION.into())),
            Route::Healthcheck => {
                self.store.get(keys::FLOWS, "~healthcheck").await?;
                Ok(Reply::Json(json!({"status": "UP"})))
            }
            Route::ListFlows => json(to_json(&self.list_flows().await?)),
            Route::GetFlow(flow) => json(to_json(&self.flow(&flow).await?)),
            Route::CreateFlow(flow) => {
                let new = body::object(&request.body, "flow")?;
                json(to_json(&self.create_flow(&flow, new).await?))
            }
            Route::ListRuns(flow) => json(to_json(&self.list_runs(&flow).await?)),
            Route::CreateRun(flow) => {
                let new = body::object(&request.body, "run")?;
                json(to_json(&self.create_run(&flow, new).await?))
            }
            Route::GetRun(run) => json(to_json(&self.run(&run).await?.0)),
            Route::RunHeartbeat(run) => self.run_heartbeat(&run).await.map(Reply::Json),
            Route::MutateRunTags(run) => {
                let mutation = body::object(&request.body, "tag mutation")?;
                let tags = self.mutate_tags(&run, mutation).await?;
                Ok(Reply::Json(json!({ "tags": tags })))
            }
            Route::ListSteps(run) => json(to_json(&self.list_steps(&run).await?)),
            Route::ListRunArtifacts(run) => {
                json(to_json(&self.artifacts(&run, keys::ARTIFACTS, None).await?))
            }
            Route::ListRunMetadata(run) => {
                json(to_json(&self.metadata(&run, keys::METADATA).await?))
            }
            Route::GetStep(step) => json(to_json(&self.step(&step).await?)),
            Route::CreateStep(step) => {
                let new = body::object(&request.body, "step")?;
                json(to_json(&self.create_step(&step, new).await?))
            }
            Route::ListTasks(step) => json(to_json(&self.list_tasks(&step).await?)),
            Route::FilteredTasks(step) => {
                let field = request.query_value("metadata_field_name")?;
                let pattern = request.query_value("pattern")?;
                let found = self
                    .filtered_tasks(&step, field.as_deref(), pattern.as_deref())
                    .await?;
                json(to_json(&found))
            }
            Route::CreateTask(step) => {
                let new = body::object(&request.body, "task")?;
                json(to_json(&self.create_task(&step, new).await?))
            }
            Route::ListStepArtifacts(step) => {
                let prefix = keys::artifacts_of_step(&step.step);
                json(to_json(&self.artifacts(&step.run, &prefix, None).await?))
            }
            Route::GetTask(task) => json(to_json(&self.task(&task).await?)),
            Route::TaskHeartbeat(task) => self.task_heartbeat(&task).await.map(Reply::Json),
            Route::ListTaskArtifacts(task, attempt) => {
                json(to_json(&self.task_artifacts(&task, attempt).await?))
            }
            Route::GetArtifact(task, name, attempt) => {
                json(to_json(&self.artifact(&task, &name, attempt).await?))
            }
            Route::CreateArtifacts(task) => {
                let artifacts = body::list(&request.body, "artifacts")?;
                let created = self.create_artifacts(&task, artifacts).await?;
                Ok(Reply::Json(json!({ "artifacts_created": created })))
            }
            Route::ListTaskMetadata(task) => {
                let prefix = keys::metadata_of_task(&task.step.step, &task.task.as_key());
                json(to_json(&self.metadata(&task.step.run, &prefix).await?))
            }
            Route::CreateMetadata(task) => {
                let data = body::list(&request.body, "metadata")?;
                let created = self.create_metadata(&task, data).await?;
                Ok(Reply::Json(json!({ "metadata_created": created })))
            }
        }
    }

    fn strip_prefix<'a>(&self, path: &'a str) -> &'a str {
        if let Some(prefix) = self.config.path_prefix.as_deref() {
            let prefix = prefix.trim_end_matches('/');
            if !prefix.is_empty()
                && let Some(rest) = path.strip_prefix(prefix)
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return if rest.is_empty() { "/" } else { rest };
            }
        }
        path
    }
}

/// What a heartbeat answers: a JSON *string* holding the JSON object (the reference
/// serialises twice, and Metaflow's heartbeat sidecar decodes twice).
fn heartbeat_answer() -> Value {
    Value::String(format!("{{\"wait_time_in_seconds\": {HEARTBEAT_SECONDS}}}"))
}
