//! The exit hook phases: `hook` builds the Batch job that runs a flow's `@exit_hook`
//! functions once the run has ended, `hooked` records how they went. See
//! [`dropflow_contract::exit_hooks::ExitHooks`] for what is collected and the compiler's hook states for
//! where they run.
//!
//! ```text
//! ExitHook.on_X       {"phase":"hook","on":"on_success"|"on_error","manifest":URL,"execution":NAME}
//!                       → HookJob at $.hook
//! ExitHook.on_X.job   batch:submitJob.sync with $.hook.job.*; id → $.hook.batch, any
//!                       error caught into $.hook.error
//! ExitHook.on_X.done  {"phase":"hooked", …, "hook": $.hook} → HookReport at $.hook
//! ```
//!
//! The job runs Metaflow's own `python -m metaflow.plugins.exit_hook.exit_hook_script
//! FLOW_FILE FUNCTION Flow/run` once per function, each in its own process, from the
//! flow file's directory of the unpacked code package (the script imports the flow file
//! as a module), with the start step's job definition and queue and the tasks' Metaflow
//! environment (so `Run(pathspec)` finds the run through the same metadata service). A
//! failing function is reported and the next one still runs; the job fails if any did.
//! Their output goes to the job's log and to `s3://BUCKET/dropflow/runs/<state machine>/
//! <run>/_exit_hook/on_X/0.log`, whose end `hooked` puts in the run's record
//! (`_exit_hook/on_X/0.json`, a [`TaskRecord`]), so a failed hook is never lost.

use serde::{Deserialize, Serialize};

use super::command::{FETCH_FUNCTION, JobSettings, base_environment};
use super::datastore::Datastore;
use super::error::{TaskError, TaskResult};
use super::fail::batch_summary;
use super::ids::{job_name, run_id};
use super::logs::{TAIL_BYTES, TAIL_LINES, TAIL_READ_BYTES, tail};
use super::records::{TaskRecord, TaskStatus, run_prefix};
use super::shell::quote;
use super::{bucket_url, duration_ms, now, step_plan, write_record};
use dropflow_contract::Manifest;
use dropflow_contract::exit_hooks::RunOutcome;
pub use dropflow_contract::hook_protocol::{
    HookJob, HookProgress, HookRequest, HookRun, HookedRequest,
};
use dropflow_contract::protocol::{ContainerOverrides, JobRequest};

/// The step the hooks' record and log are kept under, in the run's records.
pub const HOOK_STEP: &str = "_exit_hook";

/// Uploads `$1` to `s3://$2/$3`, honouring an emulator's endpoint.
const UPLOAD_FUNCTION: &str = r#"upload() { python -c 'import boto3,os,sys;e=os.environ.get("METAFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL");boto3.client("s3",**({"endpoint_url":e} if e else {})).upload_file(*sys.argv[1:])' "$@"; }"#;

/// The `hooked` phase's result: how the hooks went (also the run's record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookReport {
    /// Which hooks.
    pub on: RunOutcome,
    /// `succeeded` or `failed`.
    pub status: TaskStatus,
    /// Why they failed, and the end of their log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The hook phase: the Batch job running the `on` hooks for the execution's run.
pub fn hook(
    request: &HookRequest,
    manifest: &Manifest,
    settings: &JobSettings,
) -> TaskResult<HookJob> {
    let hooks = manifest.exit_hooks.of(request.on).to_vec();
    if hooks.is_empty() {
        return Err(TaskError::InvalidRequest(format!(
            "flow {} has no {} exit hooks",
            manifest.flow.name,
            request.on.attribute()
        )));
    }
    let run = run_id(&request.execution)?;
    let pathspec = format!("{}/{run}", manifest.flow.name);
    let plan = step_plan(manifest, &manifest.flow.start_step)?;
    let log = bucket_url(manifest, &log_key(manifest, &run, request.on))?;
    let task = format!("{HOOK_STEP}-{}", request.on.attribute());
    Ok(HookJob {
        job: JobRequest {
            job_name: job_name(&manifest.flow.name, &run, &task, 0),
            job_queue: plan.runtime.job_queue.clone(),
            job_definition: plan.job_definition.clone(),
            container_overrides: ContainerOverrides {
                command: vec![
                    "sh".into(),
                    "-c".into(),
                    script(manifest, &hooks, &pathspec, &log),
                ],
                environment: base_environment(manifest, settings),
            },
        },
        pathspec,
        hooks,
        started_at: now(),
    })
}

/// `dropflow/runs/<state machine>/<run>/_exit_hook/on_X/0.log`.
fn log_key(manifest: &Manifest, run: &str, on: RunOutcome) -> String {
    format!(
        "{}{HOOK_STEP}/{}/0.log",
        run_prefix(&manifest.state_machine, run),
        on.attribute()
    )
}

/// The `sh -c` script running each hook in its own process.
fn script(manifest: &Manifest, hooks: &[String], pathspec: &str, log: &str) -> String {
    let file = manifest.flow.file.as_str();
    let (dir, base) = file.rsplit_once('/').unwrap_or(("", file));
    let (code_bucket, code_key) =
        super::datastore::split_s3_url(&manifest.code_package).unwrap_or(("", ""));
    let (log_bucket, log_key) = super::datastore::split_s3_url(log).unwrap_or(("", ""));
    let environment = manifest.options.environment;
    let interpreter = super::command::interpreter(environment);
    let mut lines = vec!["set -u".to_string()];
    lines.extend(super::command::dependencies_lines());
    lines.extend(super::command::environment_functions(environment));
    lines.extend([
        FETCH_FUNCTION.to_string(),
        UPLOAD_FUNCTION.to_string(),
        "w=$(mktemp -d) && cd \"$w\" || exit 70".to_string(),
        format!(
            "fetch {} {} code.tar.gz && tar -xzf code.tar.gz || exit 71",
            quote(code_bucket),
            quote(code_key)
        ),
        "export PYTHONUNBUFFERED=x PYTHONPATH=\"$w${PYTHONPATH:+:$PYTHONPATH}\"".to_string(),
        // The Client in the hooks reads the run's artifacts from the tasks' datastore.
        format!(
            "export METAFLOW_DEFAULT_DATASTORE=s3 METAFLOW_DATASTORE_SYSROOT_S3={}",
            quote(&manifest.datastore_root)
        ),
    ]);
    if let Some(setup) = super::command::environment_setup(environment) {
        lines.push(format!("{{ {setup}; }} || exit 74"));
    }
    if !dir.is_empty() {
        lines.push(format!("cd {} || exit 72", quote(dir)));
    }
    lines.push("failed=0".into());
    lines.push("{".into());
    for hook in hooks {
        let name = quote(hook);
        lines.push(format!(
            "echo \"exit hook {name}: starting for {pathspec}\""
        ));
        lines.push(format!(
            "{interpreter} -m metaflow.plugins.exit_hook.exit_hook_script {} {name} {} || {{ echo \"exit hook {name} failed (exit code $?)\"; failed=1; }}",
            quote(base),
            quote(pathspec),
        ));
    }
    lines.extend([
        "} >\"$w/.exit-hooks.log\" 2>&1".to_string(),
        "cat \"$w/.exit-hooks.log\" >&2".to_string(),
        format!(
            "upload \"$w/.exit-hooks.log\" {} {} || echo 'the exit hooks log could not be saved' >&2",
            quote(log_bucket),
            quote(log_key)
        ),
        "exit $failed".to_string(),
    ]);
    lines.join("\n")
}

/// The hooked phase: records how the hooks went in the run's records and returns it.
/// Never fails on the hooks' account; what cannot be read is said in the cause.
pub async fn hooked<D: Datastore>(
    request: &HookedRequest,
    manifest: &Manifest,
    store: &D,
) -> TaskResult<HookReport> {
    let run = run_id(&request.execution)?;
    let finished_at = now();
    let mut record = TaskRecord {
        flow: manifest.flow.name.clone(),
        state_machine: manifest.state_machine.clone(),
        version: manifest.version.clone(),
        run: run.clone(),
        step: HOOK_STEP.to_string(),
        task: request.on.attribute().to_string(),
        attempt: 0,
        pathspec: format!("{}/{run}", manifest.flow.name),
        status: TaskStatus::Succeeded,
        foreach: Vec::new(),
        job_name: String::new(),
        batch_job_id: None,
        started_at: finished_at.clone(),
        finished_at: Some(finished_at.clone()),
        duration_ms: None,
        splits: None,
        next: None,
        error: None,
        cause: None,
    };
    let cause = match &request.hook {
        HookProgress::NotStarted(error) => {
            record.status = TaskStatus::Failed;
            record.error = Some(error.error.clone());
            Some(format!(
                "the exit hooks job could not be built: {}",
                batch_summary(&error.cause)
                    .reason
                    .unwrap_or_else(|| error.cause.clone())
            ))
        }
        HookProgress::Ran(run_) => {
            record.job_name = run_.job.job.job_name.clone();
            record.started_at = run_.job.started_at.clone();
            record.duration_ms = duration_ms(&run_.job.started_at, &finished_at);
            record.batch_job_id = run_.batch.as_ref().map(|b| b.job_id.clone());
            match &run_.error {
                None => None,
                Some(error) => {
                    record.status = TaskStatus::Failed;
                    record.error = Some(error.error.clone());
                    let summary = batch_summary(&error.cause);
                    record.batch_job_id = summary.job_id.or(record.batch_job_id.take());
                    let url = bucket_url(manifest, &log_key(manifest, &run, request.on))?;
                    let log = match store.get_tail(&url, TAIL_READ_BYTES).await {
                        Ok(Some(bytes)) => tail(
                            &bytes,
                            bytes.len() as u64 >= TAIL_READ_BYTES,
                            TAIL_LINES,
                            TAIL_BYTES,
                        ),
                        Ok(None) => format!("(no exit hooks log at {url})"),
                        Err(e) => format!("(the exit hooks log could not be read: {e})"),
                    };
                    Some(format!(
                        "exit hooks {} ({}) failed ({}):\n{log}",
                        request.on.attribute(),
                        run_.job.hooks.join(", "),
                        summary.reason.unwrap_or_else(|| error.error.clone())
                    ))
                }
            }
        }
    };
    record.cause = cause.clone();
    write_record(store, manifest, &record).await?;
    Ok(HookReport {
        on: request.on,
        status: record.status,
        cause,
    })
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
