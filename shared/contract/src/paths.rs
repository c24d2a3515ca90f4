//! Payload paths shared by the state machine the compiler emits and the step Lambda's
//! protocol.

/// The prepared task (start phase output), carried through the job to `finish`.
pub const TASK: &str = "$.task";
/// The task's attempt number (0-based).
pub const ATTEMPT: &str = "$.task.attempt";
/// The Batch job's id (`{"JobId": ...}`), kept from the job state's result.
pub const BATCH: &str = "$.batch";
/// Where a caught error is put.
pub const ERROR: &str = "$.error";
/// Foreach split indices returned by `finish` of a foreach step (inline Map).
pub const SPLITS: &str = "$.splits";
/// The S3 object (`{"Bucket", "Key"}`) holding a foreach's split indices, written by
/// `finish` of a foreach step (Distributed Map's `ItemReader`).
pub const ITEMS: &str = "$.items";
/// The context handed to children.
pub const CTX: &str = "$.ctx";
/// The step chosen by a switch, returned by `finish`.
pub const NEXT: &str = "$.next";
/// Whether the start phase cloned the task from a resumed run's origin (`true`: no job).
pub const CLONED: &str = "$.cloned";
