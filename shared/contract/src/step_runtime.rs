//! Per-step runtime settings as the manifest records them: resources, retries, timeout,
//! environment, image, queue (the compiler reads them from the step decorators).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metaflow's `MAX_ATTEMPTS`: attempts per task including the @catch fallback.
pub const MAX_ATTEMPTS: u32 = 6;
/// Metaflow's `@catch` error retries (`NUM_FALLBACK_RETRIES`).
pub const CATCH_ERROR_RETRIES: u32 = 3;
/// Metaflow's default task run time limit on Batch (5 days).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 5 * 24 * 3600;

/// Container resources of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// vCPUs (Batch accepts fractions for Fargate; kept as Metaflow's string).
    pub cpu: String,
    /// Memory in MiB.
    pub memory: u64,
    /// GPUs.
    pub gpu: u64,
    /// `/dev/shm` size in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_memory: Option<u64>,
}

/// How a step's task is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPlan {
    /// `--max-user-code-retries` (Metaflow: the largest `@retry(times)`).
    pub user_code_retries: u32,
    /// Retries in all (user code retries + `@catch`'s error retries).
    pub total_retries: u32,
    /// Wait between attempts (`@retry(minutes_between_retries)`), in seconds.
    pub wait_seconds: u64,
}

/// Everything the step Lambda needs to launch one step's tasks, besides the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRuntime {
    /// Container resources.
    pub resources: Resources,
    /// Retry plan.
    pub retry: RetryPlan,
    /// Attempt timeout in seconds (`@timeout`, else 5 days).
    pub timeout_seconds: u64,
    /// `@environment(vars=...)`.
    pub environment: BTreeMap<String, String>,
    /// `@batch(image=...)` or the deployment's image.
    pub image: String,
    /// `@batch(queue=...)` or the deployment's queue.
    pub job_queue: String,
    /// `@batch(iam_role=...)`, if set.
    pub job_role_arn: Option<String>,
    /// `--with` decorator specs Metaflow passes to the task (e.g. `retry` from retry-by-default).
    pub with_decorators: Vec<String>,
}
