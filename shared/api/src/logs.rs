//! `GET /flows/{flow}/runs/{run_id}/logs?step=&task=&attempt=&stream=&offset=&max_bytes=`:
//! a page of the log Metaflow saved for a task attempt ([`dropflow_task::saved_logs`]).
//!
//! - `step` and `task` default from the run's task records: no `step` means the run's
//!   one failed task; a `step` without `task` means the step's one task. When there are
//!   several, a 400 lists them.
//! - `attempt`: the newest the datastore has, unless given.
//! - `stream`: `stdout` (default) or `stderr`.
//! - `offset` (default 0) and `max_bytes` (default and at most 1 MiB): a byte range of the
//!   stored log, cut back to a whole line; the answer's `next_offset` is where the next
//!   page starts and equals `size` at the end.

use std::collections::BTreeSet;

use dropflow_contract::Manifest;
use dropflow_contract::ports::{Execution, ObjectListing};
use dropflow_contract::records::DeploymentState;
use dropflow_task::records::run_prefix;
use dropflow_task::saved_logs::{self, LogError, LogPage, LogRequest, LogStream, MAX_PAGE_BYTES};
use lambda_http::http::StatusCode;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::answer::{Answer, answer};
use crate::catalog;
use crate::deps::{ApiPorts, Deps};
use crate::error::{ApiError, code};
use crate::names;
use crate::progress;
use crate::request::ApiRequest;
use crate::runs;

/// What a path segment of a link escapes: all but RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Task ids listed when a step has several, at most.
const MAX_LISTED_TASKS: usize = 10;
/// Task record keys listed for a step, at most.
const MAX_STEP_KEYS: usize = 20_000;

/// What the query asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// `step`.
    pub step: Option<String>,
    /// `task`.
    pub task: Option<String>,
    /// `attempt`.
    pub attempt: Option<u32>,
    /// `stream`.
    pub stream: LogStream,
    /// `offset`.
    pub offset: u64,
    /// `max_bytes`.
    pub max_bytes: u64,
}

impl LogQuery {
    /// Reads and checks the query parameters; the error is the 400's message.
    pub fn parse(request: &ApiRequest) -> Result<Self, String> {
        let text = |name: &str| request.query_param(name).filter(|v| !v.is_empty());
        let number = |name: &str, what: &str| -> Result<Option<u64>, String> {
            text(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{name}={v:?} must be {what}"))
                })
                .transpose()
        };
        let stream = match text("stream") {
            None => LogStream::Stdout,
            Some(v) => LogStream::parse(v)
                .ok_or_else(|| format!("stream={v:?} must be stdout or stderr"))?,
        };
        let attempt = number("attempt", "an attempt number (0 for the first)")?
            .map(|a| u32::try_from(a).map_err(|_| format!("attempt={a} is too large")))
            .transpose()?;
        let max_bytes = match number("max_bytes", "a number of bytes")? {
            None => MAX_PAGE_BYTES,
            Some(n) if (1..=MAX_PAGE_BYTES).contains(&n) => n,
            Some(n) => return Err(format!("max_bytes={n} must be from 1 to {MAX_PAGE_BYTES}")),
        };
        let task = text("task").map(String::from);
        let step = text("step").map(String::from);
        if task.is_some() && step.is_none() {
            return Err("task= needs step= too".into());
        }
        Ok(Self {
            step,
            task,
            attempt,
            stream,
            offset: number("offset", "a byte offset")?.unwrap_or(0),
            max_bytes,
        })
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code::INVALID_QUERY, message)
}

/// The API path of a task attempt's stderr log, as the run view links it.
pub fn link(state_machine: &str, run_id: &str, step: &str, task: &str, attempt: u32) -> String {
    let segment = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("step", step)
        .append_pair("task", task)
        .append_pair("attempt", &attempt.to_string())
        .append_pair("stream", "stderr")
        .finish();
    format!(
        "/flows/{}/runs/{}/logs?{query}",
        segment(state_machine),
        segment(run_id)
    )
}

/// `GET /flows/{flow}/runs/{run_id}/logs`.
pub async fn get<P: ApiPorts>(
    deps: &Deps<P>,
    request: &ApiRequest,
    flow: &str,
    run: &str,
) -> Answer {
    let query = LogQuery::parse(request).map_err(invalid)?;
    let (state, execution) = runs::find(deps, flow, run).await?;
    let run_id = names::run_id(&execution.name);
    let manifest = run_manifest(deps, &state, &execution).await?;
    let (step, task) = match (query.step, query.task) {
        (Some(step), Some(task)) => (step, task),
        (Some(step), None) => {
            let task = only_task(deps, &state.state_machine, &run_id, &step, &manifest).await?;
            (step, task)
        }
        (None, _) => only_failed_task(deps, &state.state_machine, &run_id).await?,
    };
    let read = saved_logs::read(
        &deps.datastore,
        &LogRequest {
            root: &manifest.datastore_root,
            flow: &manifest.flow.name,
            run: &run_id,
            step: &step,
            task: &task,
            attempt: query.attempt,
            stream: query.stream,
            offset: query.offset,
            max_bytes: query.max_bytes,
        },
    )
    .await;
    let log = read.map_err(|error| match error {
        LogError::Service(error) => ApiError::internal(error),
        LogError::TaskNotFound { .. } => ApiError::new(
            StatusCode::NOT_FOUND,
            code::TASK_NOT_FOUND,
            error.to_string(),
        ),
        LogError::AttemptNotFound { .. } | LogError::NotSaved { .. } => ApiError::new(
            StatusCode::NOT_FOUND,
            code::LOG_NOT_FOUND,
            error.to_string(),
        ),
    })?;
    let page = LogPage {
        flow: state.flow,
        state_machine: state.state_machine,
        run_id,
        step,
        task,
        log,
    };
    Ok(answer(StatusCode::OK, &page))
}

/// The manifest of the version that ran `execution` (the live one when unknown): the
/// datastore root and flow name its tasks wrote under.
async fn run_manifest<P: ApiPorts>(
    deps: &Deps<P>,
    state: &DeploymentState,
    execution: &Execution,
) -> Result<Manifest, ApiError> {
    let version = match &execution.version_arn {
        Some(arn) => catalog::version_id(deps, state, arn).await?,
        None => None,
    };
    let version = match version {
        Some(version) => version,
        None => catalog::live_version(deps, state).await?.version,
    };
    catalog::manifest(deps, &state.state_machine, &version).await
}

/// The one task of `step` that has a record in the run, or a 404/400 saying why not.
async fn only_task<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
    run_id: &str,
    step: &str,
    manifest: &Manifest,
) -> Result<String, ApiError> {
    if !manifest.steps.contains_key(step) {
        let steps: Vec<&str> = manifest.steps.keys().map(String::as_str).collect();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::TASK_NOT_FOUND,
            format!(
                "{} has no step {step:?} (its steps: {})",
                manifest.flow.name,
                steps.join(", ")
            ),
        ));
    }
    let prefix = format!("{}{step}/", run_prefix(state_machine, run_id));
    let listing = deps.objects.list(&prefix, None, MAX_STEP_KEYS).await?;
    let tasks: BTreeSet<&str> = listing
        .objects
        .iter()
        .filter_map(|o| o.key.strip_prefix(&prefix)?.split_once('/').map(|(t, _)| t))
        .collect();
    match tasks.len() {
        1 => Ok(tasks.into_iter().next().expect("one").to_string()),
        0 => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            code::TASK_NOT_FOUND,
            format!("step {step} has not started in run {run_id}"),
        )),
        n => {
            let listed: Vec<&str> = tasks.into_iter().take(MAX_LISTED_TASKS).collect();
            Err(invalid(format!(
                "step {step} has {n} tasks in run {run_id}; choose one with task= ({}{})",
                listed.join(", "),
                if n > MAX_LISTED_TASKS { ", ..." } else { "" }
            ))
            .with("tasks", listed))
        }
    }
}

/// The run's one failed task, as its records say, or a 404/400 saying why not.
async fn only_failed_task<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
    run_id: &str,
) -> Result<(String, String), ApiError> {
    let run = progress::read(deps, state_machine, run_id).await?;
    let failed: Vec<(String, String)> = run
        .steps
        .iter()
        .flat_map(|s| s.failed.iter().map(|f| (s.step.clone(), f.task.clone())))
        .collect();
    match failed.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(invalid(format!(
            "run {run_id} has no failed task; name one with step= (and task= in a foreach)"
        ))),
        many => {
            let listed: Vec<String> = many.iter().map(|(s, t)| format!("{s}/{t}")).collect();
            Err(invalid(format!(
                "run {run_id} has {} failed tasks; choose one with step= and task= ({})",
                many.len(),
                listed.join(", ")
            ))
            .with("tasks", listed))
        }
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::http::Method;

    use super::*;

    fn request(query: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            path: "/flows/F/runs/sfn-x/logs".into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: Default::default(),
            body: Vec::new(),
            request_id: "r".into(),
        }
    }

    #[test]
    fn the_query_has_defaults() {
        assert_eq!(
            LogQuery::parse(&request(&[])).unwrap(),
            LogQuery {
                step: None,
                task: None,
                attempt: None,
                stream: LogStream::Stdout,
                offset: 0,
                max_bytes: MAX_PAGE_BYTES,
            }
        );
        let full = LogQuery::parse(&request(&[
            ("step", "work"),
            ("task", "work-2"),
            ("attempt", "1"),
            ("stream", "stderr"),
            ("offset", "100"),
            ("max_bytes", "10"),
        ]))
        .unwrap();
        assert_eq!(
            (full.attempt, full.stream, full.offset, full.max_bytes),
            (Some(1), LogStream::Stderr, 100, 10)
        );
    }

    #[test]
    fn bad_queries_say_what_is_expected() {
        for (query, message) in [
            (("stream", "err"), "stream=\"err\" must be stdout or stderr"),
            (
                ("attempt", "-1"),
                "attempt=\"-1\" must be an attempt number",
            ),
            (("max_bytes", "0"), "max_bytes=0 must be from 1 to 1048576"),
            (("offset", "x"), "offset=\"x\" must be a byte offset"),
            (("task", "work-1"), "task= needs step= too"),
        ] {
            let error = LogQuery::parse(&request(&[query])).unwrap_err();
            assert!(error.starts_with(message), "{error}");
        }
    }

    #[test]
    fn failed_tasks_link_to_their_stderr() {
        assert_eq!(
            link("demo.prod.Flow", "sfn-a_b", "work", "work-2", 1),
            "/flows/demo.prod.Flow/runs/sfn-a_b/logs?step=work&task=work-2&attempt=1&stream=stderr"
        );
    }
}
