//! The API over the in-memory ports ([`crate::memory`]): requests in through [`crate::handle`]
//! and [`crate::handle_invocation`] as the Lambda and the local stack send them, answers
//! and the services' state checked. No AWS emulator.

mod events;
mod flows;
mod logs;
mod runs;

use bytes::Bytes;
use dropflow_contract::Manifest;
use dropflow_contract::records::DeploymentState;
use lambda_http::http;
use serde_json::{Value, json};

use crate::memory::{self, MemoryDeps};

/// The compiler's manifest of a one-parameter flow (`alpha`, a float defaulting to 0.01),
/// as `tests/tests/snapshots/compile_shapes__parameter_flow.manifest.snap` records it.
const PARAMETER_FLOW: &str = include_str!("parameter_flow.manifest.json");

/// The bucket.
const BUCKET: &str = "dropflow-bucket";

/// [`PARAMETER_FLOW`]'s manifest, changed by `edit`.
fn manifest(edit: impl FnOnce(&mut Value)) -> Manifest {
    let mut value: Value = serde_json::from_str(PARAMETER_FLOW).expect("the fixture is JSON");
    edit(&mut value);
    Manifest::from_json(&serde_json::to_vec(&value).unwrap()).expect("a valid manifest")
}

/// Fresh services with ParameterFlow deployed.
fn deployed() -> (MemoryDeps, DeploymentState) {
    let deps = memory::deps(BUCKET);
    let state = memory::deploy(&deps, &manifest(|_| {}), "team/parameter_flow.tar.gz");
    (deps, state)
}

/// An answer: status, headers and the JSON body.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

/// Sends a request as the local stack's HTTP server does.
async fn send(
    deps: &MemoryDeps,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder
        .body(Bytes::from(body.unwrap_or("").to_string()))
        .unwrap();
    let response = crate::handle(crate::from_http(request), deps).await;
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("not a JSON answer: {other:?}"),
    };
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// `send` without headers.
async fn call(deps: &MemoryDeps, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let answer = send(deps, method, path, body, &[]).await;
    (answer.status, answer.body)
}

/// A run of ParameterFlow started through the API; its run id.
async fn start(deps: &MemoryDeps, body: &str) -> String {
    let (status, answer) = call(deps, "POST", "/flows/ParameterFlow/runs", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    answer["run_id"].as_str().unwrap().to_string()
}

/// The execution ARN of run `run_id` of `state`.
fn execution_arn(state: &DeploymentState, run_id: &str) -> String {
    crate::names::execution_arn(
        &state.state_machine_arn,
        run_id.strip_prefix("sfn-").unwrap(),
    )
    .unwrap()
}

/// A task record as the step Lambda writes it.
fn task_record(run_id: &str, step: &str, task: &str, status: &str, job_name: &str) -> Value {
    let mut record = json!({
        "flow": "ParameterFlow",
        "state_machine": "ParameterFlow",
        "version": manifest(|_| {}).version,
        "run": run_id,
        "step": step,
        "task": task,
        "attempt": 0,
        "pathspec": format!("ParameterFlow/{run_id}/{step}/{task}"),
        "status": status,
        "job_name": job_name,
        "started_at": "2026-01-01T00:00:10Z",
    });
    if status != "submitted" {
        record["finished_at"] = json!("2026-01-01T00:00:20Z");
    }
    record
}
