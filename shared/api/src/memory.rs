//! In-memory implementations of the API's ports ([`ApiPorts`]): a bucket, Step Functions
//! executions and Batch job ends that live in a `Mutex`, with Metaflow's datastore from
//! `dropflow_task` ([`MemoryDatastore`]). For unit tests of the API and of crates that
//! host it. Each call can be made to fail ([`MemoryBucket::fail`],
//! [`MemoryExecutions::fail`]), and bucket and Step Functions calls yield once before
//! they act, so concurrent handlers interleave at every call. Dates come from a counter
//! (`2026-01-01T00:00:01Z`, then a second later per write or start), so "newest first"
//! is well defined.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use dropflow_contract::Manifest;
use dropflow_contract::ports::{
    ConditionalPutError, Execution, ExecutionPage, Executions, JobEnd, JobEnds, ListOutcome,
    ListedObject, Listing, ObjectHead, ObjectListing, ObjectStore, Precondition, ServiceError,
    ServiceResult, StartOutcome, StopOutcome, StoredObject, VersionInfo,
};
use dropflow_contract::records::{DeploymentState, current_key};
pub use dropflow_task::MemoryDatastore;

use crate::catalog::manifest_key;
use crate::config::TriggerConfig;
use crate::deps::{ApiPorts, Deps};
use crate::names;

/// The API's ports in memory.
#[derive(Debug, Clone, Copy)]
pub struct MemoryPorts;

impl ApiPorts for MemoryPorts {
    type Objects = MemoryBucket;
    type Executions = MemoryExecutions;
    type Jobs = MemoryJobs;
    type Datastore = MemoryDatastore;
}

/// The API over fresh in-memory services.
pub type MemoryDeps = Deps<MemoryPorts>;

/// A [`MemoryDeps`] for bucket `bucket`, with nothing deployed.
pub fn deps(bucket: &str) -> MemoryDeps {
    Deps::new(
        TriggerConfig::new(bucket),
        MemoryBucket::default(),
        MemoryExecutions::default(),
        MemoryJobs::default(),
        MemoryDatastore::new(),
    )
}

/// The ARN prefix of the fake state machines.
pub const STATE_MACHINE_ARN_PREFIX: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:";

/// Deploys `manifest` as the compile Lambda would record it: its manifest and
/// `current.json` in the bucket, a published version (described `dropflow <version> from
/// <source_key>`) and the `live` alias pointing at it. Returns the deployment.
pub fn deploy(deps: &MemoryDeps, manifest: &Manifest, source_key: &str) -> DeploymentState {
    let name = &manifest.state_machine;
    let state_machine_arn = format!("{STATE_MACHINE_ARN_PREFIX}{name}");
    let version_arn = deps.executions.publish(
        &state_machine_arn,
        &format!("dropflow {} from {source_key}", manifest.version),
    );
    let alias_arn = format!("{state_machine_arn}:live");
    deps.executions.point_alias(&alias_arn, &version_arn);
    let manifest_key = manifest_key(name, &manifest.version);
    deps.objects.insert_json(
        &manifest_key,
        &serde_json::to_value(manifest).expect("manifests serialise"),
    );
    let state = DeploymentState {
        state_machine: name.clone(),
        state_machine_arn,
        version: manifest.version.clone(),
        version_arn,
        alias_arn,
        flow: manifest.flow.name.clone(),
        source_key: source_key.to_string(),
        sequencer: None,
        version_id: None,
        schedule: None,
        manifest: format!("s3://{}/{manifest_key}", deps.config.bucket),
    };
    deps.objects.insert_json(
        &current_key(name),
        &serde_json::to_value(&state).expect("records serialise"),
    );
    state
}

/// The `n`th second of 2026 (RFC 3339), for fake dates.
fn date(n: u64) -> String {
    let (days, rest) = (n / 86_400, n % 86_400);
    let (month, day) = (1 + days / 28, 1 + days % 28);
    format!(
        "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Yields to the executor once: each call is a point where other tasks may run.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|context| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            context.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// Which operations fail (those whose name starts with the prefix set).
#[derive(Debug, Default)]
struct FailSwitch(Mutex<Option<String>>);

impl FailSwitch {
    fn set(&self, operation: Option<&str>) {
        *lock(&self.0) = operation.map(String::from);
    }

    fn check(&self, operation: String) -> ServiceResult<()> {
        match &*lock(&self.0) {
            Some(fail) if operation.starts_with(fail.as_str()) => Err(ServiceError {
                operation,
                code: Some("InjectedFailure".into()),
                message: "the test asked this call to fail".into(),
            }),
            _ => Ok(()),
        }
    }
}

/// One object in the bucket.
#[derive(Debug, Clone)]
struct MemoryObject {
    bytes: Vec<u8>,
    etag: String,
    last_modified: String,
}

#[derive(Debug, Default)]
struct BucketInner {
    objects: BTreeMap<String, MemoryObject>,
    /// Writes so far (the etag and the clock).
    writes: u64,
}

/// The deployment bucket in memory: conditional writes applied atomically, a new etag and
/// a later `last_modified` per write.
#[derive(Debug, Default)]
pub struct MemoryBucket {
    inner: Mutex<BucketInner>,
    fail: FailSwitch,
}

impl MemoryBucket {
    /// Writes `bytes` at `key`.
    pub fn insert(&self, key: &str, bytes: Vec<u8>) {
        let mut inner = lock(&self.inner);
        inner.writes += 1;
        let object = MemoryObject {
            bytes,
            etag: format!("\"{}\"", inner.writes),
            last_modified: date(inner.writes),
        };
        inner.objects.insert(key.to_string(), object);
    }

    /// Writes `value` as JSON at `key`.
    pub fn insert_json(&self, key: &str, value: &serde_json::Value) {
        self.insert(
            key,
            serde_json::to_vec(value).expect("JSON values serialise"),
        );
    }

    /// The object at `key`.
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.inner).objects.get(key).map(|o| o.bytes.clone())
    }

    /// The object at `key` as JSON.
    pub fn json(&self, key: &str) -> Option<serde_json::Value> {
        self.bytes(key)
            .map(|b| serde_json::from_slice(&b).expect("stored JSON"))
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.inner).objects.keys().cloned().collect()
    }

    /// Makes every later call whose operation starts with `operation` fail (`"s3:list"`,
    /// `"s3:get deployments/"`, `"s3:put"`); `None` stops failing.
    pub fn fail(&self, operation: Option<&str>) {
        self.fail.set(operation);
    }
}

impl ObjectStore for MemoryBucket {
    async fn get(
        &self,
        key: &str,
        _version_id: Option<&str>,
    ) -> ServiceResult<Option<StoredObject>> {
        yield_once().await;
        self.fail.check(format!("s3:get {key}"))?;
        Ok(lock(&self.inner).objects.get(key).map(|o| StoredObject {
            bytes: o.bytes.clone(),
            metadata: BTreeMap::new(),
            version_id: None,
            etag: Some(o.etag.clone()),
        }))
    }

    async fn head(&self, key: &str) -> ServiceResult<Option<ObjectHead>> {
        yield_once().await;
        self.fail.check(format!("s3:head {key}"))?;
        Ok(lock(&self.inner).objects.get(key).map(|o| ObjectHead {
            size: o.bytes.len() as u64,
            version_id: None,
        }))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> ServiceResult<()> {
        yield_once().await;
        self.fail.check(format!("s3:put {key}"))?;
        self.insert(key, bytes);
        Ok(())
    }

    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        precondition: &Precondition,
    ) -> Result<String, ConditionalPutError> {
        yield_once().await;
        self.fail.check(format!("s3:put {key}"))?;
        let mut inner = lock(&self.inner);
        let current = inner.objects.get(key).map(|o| o.etag.as_str());
        let holds = match precondition {
            Precondition::Absent => current.is_none(),
            Precondition::Matches(etag) => current == Some(etag.as_str()),
        };
        if !holds {
            return Err(ConditionalPutError::PreconditionFailed { key: key.into() });
        }
        inner.writes += 1;
        let etag = format!("\"{}\"", inner.writes);
        let object = MemoryObject {
            bytes,
            etag: etag.clone(),
            last_modified: date(inner.writes),
        };
        inner.objects.insert(key.to_string(), object);
        Ok(etag)
    }

    async fn delete(&self, key: &str) -> ServiceResult<()> {
        yield_once().await;
        self.fail.check(format!("s3:delete {key}"))?;
        lock(&self.inner).objects.remove(key);
        Ok(())
    }
}

impl ObjectListing for MemoryBucket {
    async fn list(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: usize,
    ) -> ServiceResult<Listing> {
        yield_once().await;
        self.fail.check(format!("s3:list {prefix}"))?;
        let inner = lock(&self.inner);
        let mut listing = Listing::default();
        let mut prefixes = BTreeSet::new();
        for (key, object) in inner.objects.range(prefix.to_string()..) {
            let Some(rest) = key.strip_prefix(prefix) else {
                break;
            };
            if let Some(delimiter) = delimiter
                && let Some(at) = rest.find(delimiter)
            {
                prefixes.insert(format!("{prefix}{}", &rest[..at + delimiter.len()]));
                continue;
            }
            listing.objects.push(ListedObject {
                key: key.clone(),
                size: object.bytes.len() as u64,
                last_modified: Some(object.last_modified.clone()),
            });
        }
        listing.prefixes = prefixes.into_iter().collect();
        let total = listing.objects.len() + listing.prefixes.len();
        if total > max_keys {
            listing.truncated = true;
            listing.objects.truncate(max_keys);
            listing
                .prefixes
                .truncate(max_keys.saturating_sub(listing.objects.len()));
        }
        Ok(listing)
    }
}

#[derive(Debug, Default)]
struct ExecutionsInner {
    /// State machine ARN → its versions' descriptions, version 1 first.
    machines: BTreeMap<String, Vec<String>>,
    /// Alias ARN → version ARN.
    aliases: BTreeMap<String, String>,
    /// Every execution, in the order started.
    executions: Vec<Execution>,
    /// Starts and stops so far (the clock).
    ticks: u64,
    /// `StartExecution` answers `ExecutionLimitExceeded`.
    limit_reached: bool,
}

impl ExecutionsInner {
    fn tick(&mut self) -> String {
        self.ticks += 1;
        date(self.ticks)
    }

    fn execution_mut(&mut self, execution_arn: &str) -> Option<&mut Execution> {
        self.executions
            .iter_mut()
            .find(|e| e.execution_arn == execution_arn)
    }
}

/// Step Functions executions in memory: state machines with published versions and
/// aliases, and the executions started on them.
#[derive(Debug, Default)]
pub struct MemoryExecutions {
    inner: Mutex<ExecutionsInner>,
    fail: FailSwitch,
}

impl MemoryExecutions {
    /// Publishes a version of the state machine (created if new) with `description`;
    /// returns its ARN (`<state machine ARN>:<n>`).
    pub fn publish(&self, state_machine_arn: &str, description: &str) -> String {
        let mut inner = lock(&self.inner);
        let versions = inner
            .machines
            .entry(state_machine_arn.to_string())
            .or_default();
        versions.push(description.to_string());
        format!("{state_machine_arn}:{}", versions.len())
    }

    /// Points the alias `alias_arn` (`<state machine ARN>:<alias>`) at `version_arn`.
    pub fn point_alias(&self, alias_arn: &str, version_arn: &str) {
        lock(&self.inner)
            .aliases
            .insert(alias_arn.to_string(), version_arn.to_string());
    }

    /// Deletes the alias (the state machine is being deployed or removed).
    pub fn remove_alias(&self, alias_arn: &str) {
        lock(&self.inner).aliases.remove(alias_arn);
    }

    /// Makes `StartExecution` answer that the open-execution limit is reached (or not).
    pub fn limit_reached(&self, reached: bool) {
        lock(&self.inner).limit_reached = reached;
    }

    /// Ends an execution with `status` (`SUCCEEDED`, `FAILED`, ...), and for a failure its
    /// error and cause.
    pub fn finish(
        &self,
        execution_arn: &str,
        status: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) {
        let mut inner = lock(&self.inner);
        let stop_date = inner.tick();
        let execution = inner
            .execution_mut(execution_arn)
            .unwrap_or_else(|| panic!("no execution {execution_arn}"));
        execution.status = status.to_string();
        execution.stop_date = Some(stop_date);
        execution.error = error.map(String::from);
        execution.cause = cause.map(String::from);
    }

    /// Every execution, in the order started.
    pub fn executions(&self) -> Vec<Execution> {
        lock(&self.inner).executions.clone()
    }

    /// Makes every later call whose operation starts with `operation` fail
    /// (`"sfn:start"`, `"sfn:describe"`, `"sfn:list"`, `"sfn:stop"`, `"sfn:alias_version"`,
    /// `"sfn:version"`); `None` stops failing.
    pub fn fail(&self, operation: Option<&str>) {
        self.fail.set(operation);
    }
}

impl Executions for MemoryExecutions {
    async fn alias_version(&self, alias_arn: &str) -> ServiceResult<Option<String>> {
        yield_once().await;
        self.fail.check(format!("sfn:alias_version {alias_arn}"))?;
        Ok(lock(&self.inner).aliases.get(alias_arn).cloned())
    }

    async fn version(&self, version_arn: &str) -> ServiceResult<Option<VersionInfo>> {
        yield_once().await;
        self.fail.check(format!("sfn:version {version_arn}"))?;
        let inner = lock(&self.inner);
        let Some((machine, number)) = version_arn.rsplit_once(':') else {
            return Ok(None);
        };
        let description = number
            .parse::<usize>()
            .ok()
            .and_then(|n| inner.machines.get(machine)?.get(n.checked_sub(1)?).cloned());
        Ok(description.map(|description| VersionInfo {
            arn: version_arn.to_string(),
            description: Some(description),
        }))
    }

    async fn start(&self, alias_arn: &str, name: &str, input: &str) -> ServiceResult<StartOutcome> {
        yield_once().await;
        self.fail.check(format!("sfn:start {alias_arn} {name}"))?;
        let mut inner = lock(&self.inner);
        let Some(version_arn) = inner.aliases.get(alias_arn).cloned() else {
            return Ok(StartOutcome::StateMachineMissing);
        };
        if inner.limit_reached {
            return Ok(StartOutcome::LimitExceeded);
        }
        let Some(execution_arn) = names::execution_arn(alias_arn, name) else {
            return Ok(StartOutcome::StateMachineMissing);
        };
        if let Some(found) = inner
            .executions
            .iter()
            .find(|e| e.execution_arn == execution_arn)
        {
            // Step Functions' idempotent answer: same name and input while it runs.
            return Ok(
                if found.status == "RUNNING" && found.input.as_deref() == Some(input) {
                    StartOutcome::Started {
                        execution_arn,
                        start_date: found.start_date.clone().unwrap_or_default(),
                    }
                } else {
                    StartOutcome::AlreadyExists
                },
            );
        }
        let start_date = inner.tick();
        inner.executions.push(Execution {
            execution_arn: execution_arn.clone(),
            name: name.to_string(),
            status: "RUNNING".into(),
            start_date: Some(start_date.clone()),
            stop_date: None,
            version_arn: Some(version_arn),
            alias_arn: Some(alias_arn.to_string()),
            input: Some(input.to_string()),
            error: None,
            cause: None,
        });
        Ok(StartOutcome::Started {
            execution_arn,
            start_date,
        })
    }

    async fn describe(&self, execution_arn: &str) -> ServiceResult<Option<Execution>> {
        yield_once().await;
        self.fail.check(format!("sfn:describe {execution_arn}"))?;
        Ok(lock(&self.inner)
            .executions
            .iter()
            .find(|e| e.execution_arn == execution_arn)
            .cloned())
    }

    async fn list(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        limit: i32,
        next_token: Option<&str>,
    ) -> ServiceResult<ListOutcome> {
        yield_once().await;
        self.fail.check(format!("sfn:list {state_machine_arn}"))?;
        let inner = lock(&self.inner);
        if !inner.machines.contains_key(state_machine_arn) {
            return Ok(ListOutcome::StateMachineMissing);
        }
        let skip = match next_token {
            None => 0,
            Some(token) => match token.parse::<usize>() {
                Ok(skip) => skip,
                Err(_) => return Ok(ListOutcome::InvalidToken),
            },
        };
        let matching: Vec<&Execution> = inner
            .executions
            .iter()
            .rev()
            .filter(|e| {
                names::execution_arn(state_machine_arn, &e.name).as_deref()
                    == Some(e.execution_arn.as_str())
            })
            .filter(|e| status.is_none_or(|s| e.status == s))
            .collect();
        let limit = usize::try_from(limit).unwrap_or(0).max(1);
        let executions: Vec<Execution> = matching
            .iter()
            .skip(skip)
            .take(limit)
            .map(|e| Execution {
                input: None,
                error: None,
                cause: None,
                ..(*e).clone()
            })
            .collect();
        let next = skip + executions.len();
        Ok(ListOutcome::Page(ExecutionPage {
            executions,
            next_token: (next < matching.len()).then(|| next.to_string()),
        }))
    }

    async fn stop(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> ServiceResult<StopOutcome> {
        yield_once().await;
        self.fail.check(format!("sfn:stop {execution_arn}"))?;
        let mut inner = lock(&self.inner);
        let stop_date = inner.tick();
        let Some(execution) = inner.execution_mut(execution_arn) else {
            return Ok(StopOutcome::DoesNotExist);
        };
        if execution.status == "RUNNING" {
            execution.status = "ABORTED".into();
            execution.stop_date = Some(stop_date.clone());
            execution.error = Some(error.to_string());
            execution.cause = Some(cause.to_string());
        }
        Ok(StopOutcome::Stopped {
            stop_date: execution.stop_date.clone().unwrap_or(stop_date),
        })
    }
}

/// How Batch jobs ended, by queue and job name.
#[derive(Debug, Default)]
pub struct MemoryJobs {
    ends: Mutex<BTreeMap<(String, String), JobEnd>>,
}

impl MemoryJobs {
    /// Records that the job `job_name` on `queue` ended so.
    pub fn set(&self, queue: &str, job_name: &str, end: JobEnd) {
        lock(&self.ends).insert((queue.to_string(), job_name.to_string()), end);
    }
}

impl JobEnds for MemoryJobs {
    async fn end_of(&self, queue: &str, job_name: &str) -> ServiceResult<Option<JobEnd>> {
        Ok(lock(&self.ends)
            .get(&(queue.to_string(), job_name.to_string()))
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_dates_are_rfc3339_and_ordered() {
        assert_eq!(date(1), "2026-01-01T00:00:01Z");
        assert_eq!(date(86_400 + 3_661), "2026-01-02T01:01:01Z");
        assert!(date(59) < date(60) && date(86_399) < date(86_400));
    }

    #[tokio::test]
    async fn listing_gives_common_prefixes_and_stops_at_max_keys() {
        let bucket = MemoryBucket::default();
        for key in [
            "deployments/A/current.json",
            "deployments/B/1/deployment.json",
            "other",
        ] {
            bucket.insert(key, b"{}".to_vec());
        }
        let listing = bucket.list("deployments/", Some("/"), 10).await.unwrap();
        assert_eq!(listing.prefixes, ["deployments/A/", "deployments/B/"]);
        assert!(listing.objects.is_empty() && !listing.truncated);
        let listing = bucket.list("deployments/", None, 1).await.unwrap();
        assert_eq!(listing.objects.len(), 1);
        assert!(listing.truncated);
    }
}
