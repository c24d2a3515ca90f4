//! The step Lambda's protocol: what runs around each Metaflow task of a deployed state
//! machine. The state machine invokes the step Lambda directly (the state's
//! `Parameters` are the event, the return value is the state's result) three times
//! per task, the phase chosen by `"phase"`:
//!
//! ```text
//! S       {"phase":"start","step":S,"from":KIND,"input":<state input>
//!          [,"manifest":URL,"execution":NAME]}
//!           → {"task": Task}
//! S.again {"phase":"start","step":S,"from":"retry","input":{"task","error"}}
//! S.job   batch:submitJob.sync with $.task.job.{JobName,JobQueue,JobDefinition,ContainerOverrides}
//!           → result reduced to $.batch = {"JobId"}
//! S.done  {"phase":"finish","step":S,"task":Task,"batch":{"JobId":…}}
//!           → {"ctx": Ctx, "width"?: n, "items"?: {"Bucket","Key"}, "splits"?: [0..n-1],
//!              "next"?: STEP}
//! TaskFailed {"phase":"fail","input":<state input with "error">[,"foreach":F]}
//!           → {"error": NAME, "cause": "S/TASK attempt N failed (…): <end of stderr>"}
//! ```
//!
//! Flows with `@exit_hook` add the `hook` and `hooked` phases ([`hooks`]).
//!
//! A resumed run (its execution input carries a
//! [`dropflow_contract::start_input::Resume`], then every task and context does): the
//! start phase of a first attempt clones the origin task of the same id when it
//! succeeded and its step is not one to run again, and answers `"cloned": true`, so the
//! state machine skips the job ([`resume`]); [`run_with_clones`] also registers the
//! clone with the metadata service ([`clone_registry`]).
//!
//! **start** inputs ([`StartInput`]), of the kind `from` names
//! ([`dropflow_contract::start_input`]): `execution`, the execution input for the flow's
//! start step (`{"Parameters": "<json>"}`, plain `{"alpha": 0.5}` or `{}`; it also gets
//! `manifest` and `execution`, and the run id is `sfn-<execution>`); `retry`, `{"task":
//! <previous Task>, "error"}` (same task id, `attempt + 1`); `parent`, `{"ctx", "next"?}`
//! for a linear step, switch target or loop iteration; `foreach_child`, `{"ctx",
//! "index"}`; `static_join`, `[{"ctx"}, …]`; `foreach_join`, `{"ctx": <foreach step's
//! ctx>, "width", "items"}` (or `"splits"`). Requests without `from` (state machines
//! compiled before it) are classified by shape ([`StartInput::classify_legacy`]).
//!
//! [`Task`] holds the manifest URL, run id, step, task id ([`ids::task_id`]: `start`,
//! `square-3`, `level2-1-2`, `tick-i4`), pathspec, `attempt` (0-based; the retry Choice
//! compares `$.task.attempt`), foreach stack, loop iteration, split index, input paths
//! (inline, or an S3 file when longer than 1 KiB), `started_at`, and `job` (PascalCase,
//! as the Batch integration wants: `ContainerOverrides.Command` is `["sh","-c",script]`,
//! see [`command`]; the step Lambda's [`JobSettings`] choose local or service metadata).
//!
//! [`Ctx`] is what a finished task hands its children: manifest URL, run id (carried,
//! never re-derived: Distributed Map children are other executions), `task`
//! (`step/task_id`), foreach stack and loop iteration.
//!
//! **finish** checks the attempt's `DONE.lock` and `data.json` and `_task_ok`, reads
//! `_foreach_num_splits` (foreach step) or `_transition` (switch), and returns the
//! children's context; a foreach step's split indices go to S3 for its Distributed Map
//! ([`width`]). **fail** finds the failed task through nested causes, reads the end of
//! its `task_stderr.log`, and returns the execution's error and cause; in a Distributed
//! Map's child execution it also leaves that failure for the parent, whose own **fail**
//! (the Map Run failed) reads it back ([`report`]). Every
//! phase writes the attempt's [`records::TaskRecord`].
//!
//! Errors carry a stable name ([`TaskError::error_type`], e.g.
//! `dropflow.ManifestNotFound`, `dropflow.TaskNotFinished`). Nothing here holds an AWS
//! client: storage is the [`Datastore`] trait.

pub mod alert_delivery;
pub mod alerts;
pub mod artifacts;
pub mod clone_registry;
mod cloning;
pub mod command;
pub mod datastore;
mod error;
mod fail;
mod finish;
mod handoff;
pub mod hooks;
pub mod ids;
pub mod logs;
mod manifests;
mod memory;
pub mod parameters;
pub mod paths;
pub mod records;
pub mod resume;
pub mod saved_logs;
pub mod shell;
mod start;
pub mod width;

use serde::Serialize;
use serde_json::Value;

pub use command::JobSettings;
pub use datastore::{Datastore, Ranged, TaskFiles, split_s3_url};
pub use dropflow_contract::protocol::{
    BatchJob, ContainerOverrides, Ctx, EnvVar, ErrorInfo, FailRequest, FailResponse, FinishRequest,
    FinishResponse, Inputs, ItemsObject, JobRequest, Request, StartRequest, StartResponse, Task,
};
pub use dropflow_contract::start_input::StartFrom;
pub use error::{TaskError, TaskResult};
pub use fail::{CauseSummary, Failure, batch_summary, fail};
pub use finish::finish;
pub use handoff::report;
pub use manifests::ManifestCache;
pub use memory::MemoryDatastore;
pub use start::{StartInput, start};

use dropflow_contract::{Manifest, StepPlan};

/// Runs one invocation: decodes `request`, reads its manifest (through `manifests`),
/// runs the phase, and returns its response as JSON. `settings` shape the jobs the start
/// phase builds.
pub async fn run<D: Datastore>(
    request: Value,
    store: &D,
    manifests: &ManifestCache,
    settings: &JobSettings,
) -> TaskResult<Value> {
    run_with_clones(request, store, manifests, settings, None).await
}

/// [`run`], registering the tasks a resumed run clones with `clones` (the metadata
/// service), so that Metaflow's Client lists them.
pub async fn run_with_clones<D: Datastore>(
    request: Value,
    store: &D,
    manifests: &ManifestCache,
    settings: &JobSettings,
    clones: Option<&dyn clone_registry::CloneRegistry>,
) -> TaskResult<Value> {
    match Request::from_value(request).map_err(|e| TaskError::InvalidRequest(e.to_string()))? {
        Request::Start(request) => {
            let input = match request.from {
                Some(from) => StartInput::decode(from, &request.input)?,
                // A state machine compiled before the tag: only the flow's start step gets
                // `manifest` (its first attempt and its retries).
                None => StartInput::classify_legacy(request.manifest.is_some(), &request.input)?,
            };
            // Tagged: the execution input, and only it, comes with `manifest`, and only to
            // the start step (its other start states, a retry or a loop iteration, are
            // checked by the start phase as any step's are). Untagged: `manifest` marks
            // every start state of the start step, as earlier state machines sent it.
            let from_execution = matches!(input, StartInput::Execution(_));
            if request.from.is_some() && request.manifest.is_some() != from_execution {
                return Err(TaskError::InvalidRequest(
                    "only a start from execution carries \"manifest\"".into(),
                ));
            }
            let url = match (request.manifest.as_deref(), input.manifest()) {
                (Some(url), _) | (None, Some(url)) => url.to_string(),
                (None, None) => {
                    return Err(TaskError::InvalidRequest(
                        "the start phase needs \"manifest\" or an input with a context".into(),
                    ));
                }
            };
            let manifest = manifests.load(store, &url).await?;
            let is_start_step = request.step == manifest.flow.start_step;
            let checked = request.from.is_none() || from_execution;
            if checked && request.manifest.is_some() != is_start_step {
                return Err(TaskError::InvalidRequest(format!(
                    "only the start step ({}) is started from the execution input, with \
                     \"manifest\"; got step {}",
                    manifest.flow.start_step, request.step
                )));
            }
            let response = start(&request, input, &manifest, store, settings).await?;
            if response.cloned
                && let (Some(clones), Some(clone)) = (
                    clones,
                    clone_registry::ClonedTask::of(&manifest, &response.task),
                )
            {
                clones.register(&clone).await?;
            }
            to_json(&response)
        }
        Request::Finish(request) => {
            let manifest = manifests.load(store, &request.task.manifest).await?;
            to_json(&finish(&request, &manifest, store).await?)
        }
        Request::Fail(request) => {
            let failure = Failure::locate(&request.input);
            let manifest = match failure.manifest() {
                Some(url) => manifests.load(store, url).await,
                None => Err(TaskError::InvalidRequest("no task in the failure".into())),
            };
            let manifest = manifest.as_deref().map_err(Clone::clone);
            to_json(&report(&request, &failure, manifest, store).await)
        }
        Request::Hook(request) => {
            let manifest = manifests.load(store, &request.manifest).await?;
            to_json(&hooks::hook(&request, &manifest, settings)?)
        }
        Request::Hooked(request) => {
            let manifest = manifests.load(store, &request.manifest).await?;
            to_json(&hooks::hooked(&request, &manifest, store).await?)
        }
    }
}

fn to_json(value: &impl Serialize) -> TaskResult<Value> {
    serde_json::to_value(value).map_err(|e| TaskError::InvalidRequest(e.to_string()))
}

/// The plan of `step`, or [`TaskError::UnknownStep`].
fn step_plan<'m>(manifest: &'m Manifest, step: &str) -> TaskResult<&'m StepPlan> {
    manifest
        .steps
        .get(step)
        .ok_or_else(|| TaskError::UnknownStep {
            flow: manifest.flow.name.clone(),
            step: step.to_string(),
        })
}

/// Now, RFC 3339 in UTC with milliseconds.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Milliseconds between two [`now`] stamps.
fn duration_ms(from: &str, to: &str) -> Option<u64> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    u64::try_from((to - from).num_milliseconds()).ok()
}

/// `s3://<manifest's bucket>/<key>`.
fn bucket_url(manifest: &Manifest, key: &str) -> TaskResult<String> {
    let (bucket, _) =
        split_s3_url(&manifest.location).ok_or_else(|| TaskError::InvalidManifest {
            uri: manifest.location.clone(),
            message: "its location is not an s3:// URL".into(),
        })?;
    Ok(format!("s3://{bucket}/{key}"))
}

/// Writes an attempt's record to the deployment bucket.
async fn write_record<D: Datastore>(
    store: &D,
    manifest: &Manifest,
    record: &records::TaskRecord,
) -> TaskResult<()> {
    let key = records::record_key(
        &record.state_machine,
        &record.run,
        &record.step,
        &record.task,
        record.attempt,
    );
    let body = serde_json::to_vec(record).expect("a record serialises");
    store
        .put(&bucket_url(manifest, &key)?, body, "application/json")
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
