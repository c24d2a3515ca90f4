//! Where a cloned task is registered so that Metaflow's Client lists it: the metadata
//! service, as Metaflow's `clone_task_helper` registers a clone (its task id and the
//! `origin-task-id`, `origin-run-id`, `attempt` and `attempt_ok` metadata). The service
//! is behind this trait, so the start phase holds no client; the step Lambda gives one.

use std::future::Future;
use std::pin::Pin;

use dropflow_contract::protocol::Task;
use dropflow_contract::{Manifest, ServiceError};

/// A registration in flight.
pub type RegisterFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ServiceError>> + Send + 'a>>;

/// One task the start phase cloned from its run's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClonedTask {
    /// Flow name.
    pub flow: String,
    /// The new run id.
    pub run: String,
    /// Step.
    pub step: String,
    /// Task id (the same in both runs).
    pub task: String,
    /// The new task's attempt.
    pub attempt: u32,
    /// The origin run id.
    pub origin_run: String,
    /// The user tasks run as (`METAFLOW_USER`).
    pub user: String,
    /// The run's tags when the origin run is not registered: the deployment's tags.
    pub tags: Vec<String>,
    /// Its system tags then: `runtime:step-functions`, `production:<token>`.
    pub system_tags: Vec<String>,
}

impl ClonedTask {
    /// The clone `task` of a resumed run deployed as `manifest`; `None` when the run has
    /// no origin.
    pub fn of(manifest: &Manifest, task: &Task) -> Option<Self> {
        let resume = task.resume.as_ref()?;
        Some(Self {
            flow: manifest.flow.name.clone(),
            run: task.run.clone(),
            step: task.step.clone(),
            task: task.id.clone(),
            attempt: task.attempt,
            origin_run: resume.origin_run.clone(),
            user: super::command::TASK_USER.to_string(),
            tags: manifest.options.tags.clone(),
            system_tags: vec![
                "runtime:step-functions".to_string(),
                format!("production:{}", manifest.production_token()),
            ],
        })
    }
}

/// Registers cloned tasks; a failure is a storage error (the state retries the phase, and
/// registering again is harmless).
pub trait CloneRegistry: Send + Sync + std::fmt::Debug {
    /// Registers `clone`.
    fn register<'a>(&'a self, clone: &'a ClonedTask) -> RegisterFuture<'a>;
}
