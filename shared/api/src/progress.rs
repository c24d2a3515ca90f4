//! Per-step progress of a run, from the task records the step Lambda writes
//! ([`TaskRecord`]): `dropflow/runs/<state machine>/<run id>/<step>/<task id>/<attempt>.json`.
//!
//! The listing alone gives the steps, their tasks and attempts; the newest attempt of each
//! task is read for its `status` (at most [`MAX_RECORDS_READ`] of them, so a wide foreach
//! does not turn one GET into thousands of reads: the rest count as `unread`).
//! A record that does not parse counts as `unknown` (and is logged).
//!
//! A record still `submitted` may belong to a job that has ended with no phase of the
//! step Lambda left to record it: the attempt failed and the step waits to retry, or the
//! run was stopped. For those (at most [`MAX_JOB_LOOKUPS`]) Batch is asked how the job
//! ended, on the queue the deployed version's manifest names for the step, and the task
//! counts as `succeeded` or `failed` from then.

use std::collections::BTreeMap;

use dropflow_contract::ServiceError;
use dropflow_contract::api::{FailedTask, StepProgress};
use dropflow_contract::ports::{JobEnd, JobEnds, ObjectListing};
use dropflow_contract::records::read_json;
use dropflow_task::records::{TaskRecord, run_prefix};
use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::deps::{ApiPorts, Deps};

/// Newest-attempt records read per request, at most.
pub const MAX_RECORDS_READ: usize = 256;

/// `submitted` records whose job is looked up in Batch per request, at most.
pub const MAX_JOB_LOOKUPS: usize = 32;

/// Keys listed per run, at most.
const MAX_KEYS: usize = 20_000;

const CONCURRENT_READS: usize = 16;

/// Failed tasks listed per step ([`StepProgress::failed`]), at most.
pub const MAX_FAILED_LISTED: usize = 5;

/// What the newest attempt's record says.
#[derive(Debug, Clone, Default)]
struct Seen {
    status: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    error: Option<String>,
    version: Option<String>,
    job_name: Option<String>,
}

/// The run's steps in the order they first wrote a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunProgress {
    /// Steps.
    pub steps: Vec<StepProgress>,
    /// Some task statuses were not read (see [`MAX_RECORDS_READ`]) or keys not listed.
    pub partial: bool,
    /// The deployed version the records say ran the run.
    pub version: Option<String>,
}

#[derive(Debug, Default)]
struct TaskKeys {
    /// Highest attempt number and its key.
    newest: Option<(u32, String)>,
    attempts: usize,
}

/// The progress of run `run_id` of `state_machine`.
pub async fn read<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
    run_id: &str,
) -> Result<RunProgress, ServiceError> {
    let prefix = run_prefix(state_machine, run_id);
    let listing = deps.objects.list(&prefix, None, MAX_KEYS).await?;
    // step → (task → keys), and step → when its first record was written.
    let mut steps: BTreeMap<String, BTreeMap<String, TaskKeys>> = BTreeMap::new();
    let mut dates: BTreeMap<String, String> = BTreeMap::new();
    for object in &listing.objects {
        let Some(rest) = object.key.strip_prefix(&prefix) else {
            continue;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let [step, task, file] = parts.as_slice() else {
            continue;
        };
        let Some(attempt) = file
            .strip_suffix(".json")
            .and_then(|a| a.parse::<u32>().ok())
        else {
            continue;
        };
        let keys = steps
            .entry(step.to_string())
            .or_default()
            .entry(task.to_string())
            .or_default();
        keys.attempts += 1;
        if keys.newest.as_ref().is_none_or(|(n, _)| attempt > *n) {
            keys.newest = Some((attempt, object.key.clone()));
        }
        if let Some(at) = &object.last_modified {
            let first = dates.entry(step.to_string()).or_insert_with(|| at.clone());
            if at < first {
                *first = at.clone();
            }
        }
    }

    // (step, task, attempt, key) of each task's newest attempt.
    let newest: Vec<(String, String, u32, String)> = steps
        .iter()
        .flat_map(|(step, tasks)| {
            tasks.iter().filter_map(|(task, keys)| {
                keys.newest
                    .as_ref()
                    .map(|(attempt, key)| (step.clone(), task.clone(), *attempt, key.clone()))
            })
        })
        .collect();
    let unread = newest.len().saturating_sub(MAX_RECORDS_READ);
    let mut seen: Vec<(String, String, u32, Seen)> =
        stream::iter(newest.into_iter().take(MAX_RECORDS_READ))
            .map(|(step, task, attempt, key)| async move {
                let record = match read_json::<TaskRecord>(&deps.objects, &key).await {
                    Ok(record) => record,
                    Err(error) => {
                        tracing::warn!(key = %key, error = %error, "run record unreadable");
                        None
                    }
                };
                let seen = match record {
                    Some(record) => Seen {
                        status: serde_json::to_value(record.status)
                            .ok()
                            .and_then(|s| s.as_str().map(String::from))
                            .unwrap_or_else(|| "unknown".into()),
                        started_at: Some(record.started_at),
                        finished_at: record.finished_at,
                        error: record.error,
                        version: Some(record.version),
                        job_name: Some(record.job_name),
                    },
                    None => Seen {
                        status: "unknown".into(),
                        ..Seen::default()
                    },
                };
                (step, task, attempt, seen)
            })
            .buffer_unordered(CONCURRENT_READS)
            .collect()
            .await;
    seen.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let version = seen.iter().find_map(|(_, _, _, s)| s.version.clone());
    if let Some(version) = &version {
        settle_ended_jobs(deps, state_machine, version, &mut seen).await;
    }

    let mut progress: Vec<StepProgress> = steps
        .iter()
        .map(|(step, tasks)| {
            let first = dates.remove(step);
            StepProgress {
                step: step.clone(),
                tasks: tasks.len(),
                attempts: tasks.values().map(|t| t.attempts).sum(),
                status: BTreeMap::new(),
                started_at: first,
                finished_at: None,
                failed: Vec::new(),
            }
        })
        .collect();
    let mut open: BTreeMap<String, bool> = BTreeMap::new();
    for (step, task, attempt, seen) in seen {
        let Some(entry) = progress.iter_mut().find(|p| p.step == step) else {
            continue;
        };
        *entry.status.entry(seen.status.clone()).or_default() += 1;
        if let Some(started) = seen.started_at
            && entry.started_at.as_ref().is_none_or(|s| started < *s)
        {
            entry.started_at = Some(started);
        }
        match seen.finished_at {
            Some(finished) if entry.finished_at.as_ref().is_none_or(|f| finished > *f) => {
                entry.finished_at = Some(finished);
            }
            Some(_) => {}
            None => {
                open.insert(step.clone(), true);
            }
        }
        if seen.status == "failed" && entry.failed.len() < MAX_FAILED_LISTED {
            entry.failed.push(FailedTask {
                log: crate::logs::link(state_machine, run_id, &step, &task, attempt),
                task,
                attempt,
                error: seen.error,
            });
        }
    }
    for entry in &mut progress {
        let counted: usize = entry.status.values().sum();
        if counted < entry.tasks {
            entry.status.insert("unread".into(), entry.tasks - counted);
        }
        if counted < entry.tasks || open.contains_key(&entry.step) {
            entry.finished_at = None;
        }
    }
    progress.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then_with(|| a.step.cmp(&b.step))
    });
    Ok(RunProgress {
        steps: progress,
        partial: unread > 0 || listing.truncated,
        version,
    })
}

/// Replaces `submitted` with how the attempt's Batch job ended, where it has (see the
/// module doc). Lookups that fail leave the record's word (and are logged).
async fn settle_ended_jobs<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
    version: &str,
    seen: &mut [(String, String, u32, Seen)],
) {
    let pending: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, (_, _, _, s))| s.status == "submitted" && s.job_name.is_some())
        .map(|(i, _)| i)
        .take(MAX_JOB_LOOKUPS)
        .collect();
    if pending.is_empty() {
        return;
    }
    let key = crate::catalog::manifest_key(state_machine, version);
    let manifest = match crate::catalog::read_manifest(&deps.objects, &key).await {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(key = %key, error = %error, "manifest unreadable: job ends not checked");
            return;
        }
    };
    let lookups: Vec<(usize, String, String)> = pending
        .into_iter()
        .filter_map(|i| {
            let (step, _, _, s) = &seen[i];
            let queue = manifest.steps.get(step)?.runtime.job_queue.clone();
            Some((i, queue, s.job_name.clone()?))
        })
        .collect();
    let ends: Vec<(usize, Option<JobEnd>)> = stream::iter(lookups)
        .map(|(i, queue, job_name)| async move {
            match deps.jobs.end_of(&queue, &job_name).await {
                Ok(end) => (i, end),
                Err(error) => {
                    tracing::warn!(job_name = %job_name, error = %error, "job state unknown");
                    (i, None)
                }
            }
        })
        .buffer_unordered(CONCURRENT_READS)
        .collect()
        .await;
    for (i, end) in ends {
        let Some(end) = end else { continue };
        let entry = &mut seen[i].3;
        entry.status = if end.succeeded { "succeeded" } else { "failed" }.into();
        entry.finished_at = end.stopped_at;
        if !end.succeeded {
            entry.error = Some(end.reason.unwrap_or_else(|| "Batch job failed".into()));
        }
    }
}
