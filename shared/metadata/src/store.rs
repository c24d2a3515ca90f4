//! Storage behind the metadata service: one table of items addressed by a partition key
//! and a sort key (DynamoDB's single-table design; [`super::memory::MemoryStore`] for
//! tests). The service needs six operations and no transactions: reads are consistent,
//! creates are conditional (a second create of the same key reports "exists", so a
//! retried POST is idempotent), tag mutations compare-and-swap on a revision number,
//! heartbeats touch one attribute, and ids come from atomic counters.
//!
//! Key layout ([`keys`]): components never contain `/` (the service rejects such ids), so
//! a sort-key prefix ending in `/` selects exactly one parent's children.

use std::future::Future;

pub use dropflow_contract::{ServiceError, ServiceResult};

/// One stored record: the JSON document of a flow, run, step, task, artifact or metadatum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// The record's JSON document.
    pub body: String,
    /// Revision, starting at 0, raised by each [`MetadataStore::update`].
    pub rev: u64,
    /// Last heartbeat (seconds since the epoch), kept beside the document so heartbeats
    /// never race with document updates.
    pub heartbeat: Option<i64>,
}

impl Item {
    /// A new item (revision 0) holding `body`.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            body: body.into(),
            rev: 0,
            heartbeat: None,
        }
    }

    /// The same item with a heartbeat.
    pub fn with_heartbeat(mut self, heartbeat: Option<i64>) -> Self {
        self.heartbeat = heartbeat;
        self
    }
}

/// The table the metadata service reads and writes.
pub trait MetadataStore: Send + Sync {
    /// Reads one item (consistently: a create just acknowledged is visible).
    fn get(&self, pk: &str, sk: &str) -> impl Future<Output = ServiceResult<Option<Item>>> + Send;

    /// Every item of partition `pk` whose sort key starts with `sk_prefix`, in sort-key
    /// order (consistent read, all pages).
    fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
    ) -> impl Future<Output = ServiceResult<Vec<Item>>> + Send;

    /// Writes `item` unless an item with its key exists: `true` when written, `false`
    /// when it existed (and was left untouched).
    fn create(&self, item: Item) -> impl Future<Output = ServiceResult<bool>> + Send;

    /// Replaces the document of an existing item if its revision is still `rev`, raising
    /// the revision by one and keeping its heartbeat: `false` when the item is missing or
    /// was changed meanwhile.
    fn update(
        &self,
        pk: &str,
        sk: &str,
        body: String,
        rev: u64,
    ) -> impl Future<Output = ServiceResult<bool>> + Send;

    /// Sets the heartbeat of an existing item: `false` when the item is missing.
    fn heartbeat(
        &self,
        pk: &str,
        sk: &str,
        at: i64,
    ) -> impl Future<Output = ServiceResult<bool>> + Send;

    /// Adds `count` (at least 1) to the counter at `pk`/`sk` (absent counts as 0) and
    /// returns the new value: the caller owns ids `new - count + 1 ..= new`.
    fn next_ids(
        &self,
        pk: &str,
        sk: &str,
        count: u64,
    ) -> impl Future<Output = ServiceResult<u64>> + Send;
}

/// The key layout: one partition for the flow list, one per flow (its runs), one per run
/// (everything below it: steps, tasks, artifacts, metadata, counters).
///
/// ```text
/// pk "flows"             sk "<flow>"                                  flow
/// pk "flow/<flow>"       sk "run/<run>"                               run (rev, heartbeat)
///                        sk "seq/run"                                 run number counter
/// pk "run/<flow>/<run>"  sk "step/<step>"                             step
///                        sk "task/<step>/<task>"                      task (heartbeat)
///                        sk "artifact/<step>/<task>/<attempt>/<name>" artifact
///                        sk "metadata/<step>/<task>/<id, 20 digits>"  metadatum
///                        sk "seq/task", "seq/metadata"                counters
/// ```
pub mod keys {
    /// The partition of all flows.
    pub const FLOWS: &str = "flows";
    /// Counter of service-assigned run numbers (per flow).
    pub const RUN_COUNTER: &str = "seq/run";
    /// Counter of service-assigned task ids (per run).
    pub const TASK_COUNTER: &str = "seq/task";
    /// Counter of metadatum ids (per run).
    pub const METADATA_COUNTER: &str = "seq/metadata";
    /// Sort-key prefix of a flow partition's runs.
    pub const RUNS: &str = "run/";
    /// Sort-key prefix of a run partition's steps.
    pub const STEPS: &str = "step/";
    /// Sort-key prefix of a run partition's tasks.
    pub const TASKS: &str = "task/";
    /// Sort-key prefix of a run partition's artifacts.
    pub const ARTIFACTS: &str = "artifact/";
    /// Sort-key prefix of a run partition's metadata.
    pub const METADATA: &str = "metadata/";

    /// Partition of one flow's runs.
    pub fn flow(flow: &str) -> String {
        format!("flow/{flow}")
    }

    /// Sort key of a run in its flow's partition.
    pub fn run(run: &str) -> String {
        format!("{RUNS}{run}")
    }

    /// Partition of everything below one run.
    pub fn run_partition(flow: &str, run: &str) -> String {
        format!("run/{flow}/{run}")
    }

    /// Sort key of a step.
    pub fn step(step: &str) -> String {
        format!("{STEPS}{step}")
    }

    /// Sort-key prefix of one step's tasks.
    pub fn tasks_of(step: &str) -> String {
        format!("{TASKS}{step}/")
    }

    /// Sort key of a task.
    pub fn task(step: &str, task: &str) -> String {
        format!("{TASKS}{step}/{task}")
    }

    /// Sort-key prefix of one step's artifacts.
    pub fn artifacts_of_step(step: &str) -> String {
        format!("{ARTIFACTS}{step}/")
    }

    /// Sort-key prefix of one task's artifacts (all attempts).
    pub fn artifacts_of_task(step: &str, task: &str) -> String {
        format!("{ARTIFACTS}{step}/{task}/")
    }

    /// Sort key of one artifact of one attempt.
    pub fn artifact(step: &str, task: &str, attempt: u32, name: &str) -> String {
        format!("{ARTIFACTS}{step}/{task}/{attempt}/{name}")
    }

    /// Sort-key prefix of one step's metadata.
    pub fn metadata_of_step(step: &str) -> String {
        format!("{METADATA}{step}/")
    }

    /// Sort-key prefix of one task's metadata.
    pub fn metadata_of_task(step: &str, task: &str) -> String {
        format!("{METADATA}{step}/{task}/")
    }

    /// Sort key of one metadatum (ids zero-padded so sort order is id order).
    pub fn metadatum(step: &str, task: &str, id: u64) -> String {
        format!("{METADATA}{step}/{task}/{id:020}")
    }
}
