//! The four AWS services a deployment touches, as small async traits. The deploy logic
//! only sees these; `dropflow-aws` implements them over the AWS SDK and
//! `dropflow_deploy::memory` in memory for tests. "Not found" is part of each answer (`Option`,
//! `bool`), so callers never inspect an error to learn that something is absent.

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
