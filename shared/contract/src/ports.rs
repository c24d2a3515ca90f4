//! The AWS services dropflow's logic touches, as small async traits. The deploy logic
//! sees the four a deployment needs ([`ObjectStore`], [`StateMachines`],
//! [`JobDefinitions`], [`Schedules`]); the trigger API (`dropflow-api`) sees the bucket,
//! its listing ([`ObjectListing`]), runs ([`Executions`]) and how Batch jobs ended
//! ([`JobEnds`]). `dropflow-aws` implements them over the AWS SDK, and
//! `dropflow_deploy::memory` and `dropflow_api::memory` in memory for tests. "Not found" is
//! part of each answer (`Option`, `bool`, an outcome enum), so callers never inspect an
//! error to learn that something is absent.

use std::collections::BTreeMap;
use std::future::Future;

use crate::job_definition::JobDefinition;
pub use crate::service::{ServiceError, ServiceResult};

/// An object read from the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The body.
    pub bytes: Vec<u8>,
    /// User metadata (`x-amz-meta-*`), keys lower-case and without the prefix.
    pub metadata: BTreeMap<String, String>,
    /// The S3 version id, in a versioned bucket.
    pub version_id: Option<String>,
    /// The entity tag, for a later [`ObjectStore::put_if`] (`If-Match`).
    pub etag: Option<String>,
}

/// The condition of a conditional write ([`ObjectStore::put_if`]), as S3's `PutObject`
/// takes it: the write happens only if the condition holds at the moment it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `If-None-Match: *`: only if no object exists under the key (create).
    Absent,
    /// `If-Match: <etag>`: only if the current object has this entity tag (compare and
    /// swap); an absent object fails too.
    Matches(String),
}

/// Why a conditional write did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionalPutError {
    /// The condition did not hold (S3 answered `412 PreconditionFailed`, or `404` for
    /// `If-Match` on an absent key, or `409 ConditionalRequestConflict`): another writer
    /// got there first. Re-read the object and decide again.
    #[error(
        "s3:PutObject {key}: the precondition failed (another writer changed it); re-read it and decide again"
    )]
    PreconditionFailed {
        /// The key.
        key: String,
    },
    /// The call itself failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What `HeadObject` tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// Size in bytes.
    pub size: u64,
    /// The S3 version id, in a versioned bucket.
    pub version_id: Option<String>,
}

/// The deployment bucket: uploads, manifests, code packages, state and reports.
pub trait ObjectStore: Send + Sync {
    /// Reads `key` (a specific version when `version_id` is given); `None` when absent.
    fn get(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = ServiceResult<Option<StoredObject>>> + Send;
    /// Whether `key` exists, and its size.
    fn head(&self, key: &str) -> impl Future<Output = ServiceResult<Option<ObjectHead>>> + Send;
    /// Writes `key`.
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = ServiceResult<()>> + Send;
    /// Writes `key` only if `precondition` holds, atomically; returns the new entity tag.
    fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        precondition: &Precondition,
    ) -> impl Future<Output = Result<String, ConditionalPutError>> + Send;
    /// Deletes `key` (absent is fine).
    fn delete(&self, key: &str) -> impl Future<Output = ServiceResult<()>> + Send;
}

/// A state machine to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineSpec {
    /// Name.
    pub name: String,
    /// ASL definition (JSON).
    pub definition: String,
    /// Execution role.
    pub role_arn: String,
    /// Tags (applied on create and on update).
    pub tags: BTreeMap<String, String>,
    /// Description of the version published.
    pub version_description: String,
}

/// A state machine after create-or-update with publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Unqualified state machine ARN.
    pub state_machine_arn: String,
    /// ARN of the version just published.
    pub version_arn: String,
    /// Created (true) or updated (false).
    pub created: bool,
}

/// A state machine as described by Step Functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineInfo {
    /// Unqualified ARN.
    pub arn: String,
    /// Current definition (JSON).
    pub definition: String,
    /// Execution role.
    pub role_arn: String,
    /// Its tags (dropflow's own say who manages it and which upload deployed it).
    pub tags: BTreeMap<String, String>,
}

/// An alias after it was pointed at a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasPointed {
    /// Alias ARN (`<state machine ARN>:<alias>`).
    pub alias_arn: String,
    /// Created (true) or moved (false).
    pub created: bool,
}

/// Step Functions state machines, their published versions and aliases.
pub trait StateMachines: Send + Sync {
    /// Creates the state machine, or updates it when it exists, and publishes a version.
    fn publish(
        &self,
        spec: &StateMachineSpec,
    ) -> impl Future<Output = ServiceResult<Published>> + Send;
    /// Creates alias `alias` or moves it, routing all executions to `version_arn`.
    fn point_alias(
        &self,
        state_machine_arn: &str,
        alias: &str,
        version_arn: &str,
    ) -> impl Future<Output = ServiceResult<AliasPointed>> + Send;
    /// Describes the state machine named `name`; `None` when absent.
    fn describe(
        &self,
        name: &str,
    ) -> impl Future<Output = ServiceResult<Option<StateMachineInfo>>> + Send;
    /// Deletes the state machine named `name` with its aliases (and so its versions);
    /// `false` when it did not exist.
    fn delete(
        &self,
        name: &str,
        aliases: &[&str],
    ) -> impl Future<Output = ServiceResult<bool>> + Send;
}

/// Batch job definitions.
pub trait JobDefinitions: Send + Sync {
    /// Whether an ACTIVE job definition named `name` exists.
    fn is_active(&self, name: &str) -> impl Future<Output = ServiceResult<bool>> + Send;
    /// Registers `definition`; returns its ARN.
    fn register(
        &self,
        definition: &JobDefinition,
    ) -> impl Future<Output = ServiceResult<String>> + Send;
}

/// An EventBridge Scheduler schedule that starts a state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    /// Schedule name (in the default group).
    pub name: String,
    /// `cron(...)` or `rate(...)`.
    pub expression: String,
    /// IANA time zone.
    pub timezone: String,
    /// What it starts: the state machine alias ARN.
    pub target_arn: String,
    /// Role EventBridge Scheduler assumes to call `StartExecution`.
    pub role_arn: String,
    /// Execution input (`{"Parameters": "{}"}`, as Metaflow's schedules).
    pub input: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Description.
    pub description: String,
}

/// EventBridge Scheduler schedules.
pub trait Schedules: Send + Sync {
    /// The schedule named `name`; `None` when absent.
    fn get(&self, name: &str) -> impl Future<Output = ServiceResult<Option<ScheduleSpec>>> + Send;
    /// Creates a schedule.
    fn create(&self, spec: &ScheduleSpec) -> impl Future<Output = ServiceResult<()>> + Send;
    /// Replaces a schedule.
    fn update(&self, spec: &ScheduleSpec) -> impl Future<Output = ServiceResult<()>> + Send;
    /// Deletes a schedule; `false` when it did not exist.
    fn delete(&self, name: &str) -> impl Future<Output = ServiceResult<bool>> + Send;
}

/// One object listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified, RFC 3339.
    pub last_modified: Option<String>,
}

/// Objects and common prefixes under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// Objects (directly under the prefix when a delimiter was given), in key order.
    pub objects: Vec<ListedObject>,
    /// Common prefixes (with the delimiter), in key order.
    pub prefixes: Vec<String>,
    /// More than `max_keys` entries existed; the listing stops there.
    pub truncated: bool,
}

/// Listing the deployment bucket (`ListObjectsV2`), for readers that need more than
/// [`ObjectStore`]'s get/put: the trigger API lists deployed state machines
/// (`deployments/<name>/`), a state machine's versions and a run's task records.
pub trait ObjectListing: Send + Sync {
    /// Lists keys under `prefix` (with `delimiter`, also the common prefixes), until
    /// `max_keys` entries have been seen.
    fn list(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: usize,
    ) -> impl Future<Output = ServiceResult<Listing>> + Send;
}

/// What `StartExecution` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Started (or, for the same name and input while it runs, Step Functions' idempotent
    /// answer for the run already started).
    Started {
        /// The execution's ARN.
        execution_arn: String,
        /// RFC 3339.
        start_date: String,
    },
    /// An execution with this name exists (finished, or with another input).
    AlreadyExists,
    /// The state machine (or alias) does not exist, or is being deleted.
    StateMachineMissing,
    /// The account's open-execution limit is reached: retry later.
    LimitExceeded,
}

/// One execution as `DescribeExecution` or `ListExecutions` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Execution {
    /// ARN.
    pub execution_arn: String,
    /// Name (the run id without `sfn-`).
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    /// RFC 3339.
    pub start_date: Option<String>,
    /// RFC 3339, once finished.
    pub stop_date: Option<String>,
    /// Version it runs, when started through a version or an alias.
    pub version_arn: Option<String>,
    /// Alias it was started through.
    pub alias_arn: Option<String>,
    /// Input (JSON), from `DescribeExecution` only.
    pub input: Option<String>,
    /// Error name of a failed run.
    pub error: Option<String>,
    /// Its cause.
    pub cause: Option<String>,
}

/// One page of `ListExecutions`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecutionPage {
    /// Newest first.
    pub executions: Vec<Execution>,
    /// Token of the next page.
    pub next_token: Option<String>,
}

/// What `ListExecutions` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListOutcome {
    /// A page.
    Page(ExecutionPage),
    /// The `next_token` was not one Step Functions issued (or it expired).
    InvalidToken,
    /// The state machine does not exist.
    StateMachineMissing,
}

/// What `StopExecution` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// Stopped at this date (RFC 3339).
    Stopped {
        /// RFC 3339.
        stop_date: String,
    },
    /// No such execution.
    DoesNotExist,
}

/// A published state machine version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Version ARN.
    pub arn: String,
    /// Its description (dropflow writes `dropflow <version> from <key>`).
    pub description: Option<String>,
}

/// Step Functions executions, for the trigger API: start a run on a state machine's
/// alias, read the alias and the version it routes to, describe, list and stop runs.
pub trait Executions: Send + Sync {
    /// The version ARN the alias routes to (the one with the largest weight); `None` when
    /// the alias does not exist.
    fn alias_version(
        &self,
        alias_arn: &str,
    ) -> impl Future<Output = ServiceResult<Option<String>>> + Send;
    /// A published version; `None` when it does not exist.
    fn version(
        &self,
        version_arn: &str,
    ) -> impl Future<Output = ServiceResult<Option<VersionInfo>>> + Send;
    /// Starts execution `name` with `input` on the alias `alias_arn`
    /// (`<state machine ARN>:live`).
    fn start(
        &self,
        alias_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = ServiceResult<StartOutcome>> + Send;
    /// Describes an execution; `None` when it does not exist.
    fn describe(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = ServiceResult<Option<Execution>>> + Send;
    /// One page of the state machine's executions (all versions and aliases), newest
    /// first, optionally only those with `status`.
    fn list(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        limit: i32,
        next_token: Option<&str>,
    ) -> impl Future<Output = ServiceResult<ListOutcome>> + Send;
    /// Stops an execution, recording `error` and `cause` on it.
    fn stop(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = ServiceResult<StopOutcome>> + Send;
}

/// A Batch job that has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    /// `true` for SUCCEEDED, `false` for FAILED.
    pub succeeded: bool,
    /// When it stopped (RFC 3339), when Batch says.
    pub stopped_at: Option<String>,
    /// Batch's reason (`Essential container in task exited`, the stop's reason, ...).
    pub reason: Option<String>,
}

/// How a task attempt's Batch job ended, when its record still says `submitted`: the
/// record is written by the step Lambda's phases, and none runs while a retried step
/// waits `minutes_between_retries` or after the run was stopped, though the job has ended.
pub trait JobEnds: Send + Sync {
    /// How the newest job named `job_name` on `queue` ended; `None` while it has not (or
    /// when there is none).
    fn end_of(
        &self,
        queue: &str,
        job_name: &str,
    ) -> impl Future<Output = ServiceResult<Option<JobEnd>>> + Send;
}
