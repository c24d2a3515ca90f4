//! What the end-to-end tests and the local-stack benchmarks share: uploading a flow to a
//! local stack, waiting for its deployment, running an execution to its end, and reading
//! a run back with Metaflow's Client through the stack's datastore and metadata service.
#![allow(dead_code)] // each test or bench crate uses its own part

pub mod wide;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::Stack;
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_tests::python;
use serde_json::Value;

/// `USERNAME` of local runs and of the Client.
pub const USER: &str = "dropflow-e2e";

/// Reads a run with Metaflow's Client: `{"successful", "tasks": {step: count}, "data":
/// {step: {artifact: value, ..., "_attempt": n}}}` for the (single) task of each of
/// `steps`. Internal artifacts (`_*`, `name`) are left out; values JSON cannot hold are
/// shown as `<TypeName>`. `argv[1]` is `Flow/run` or a flow name (its latest run).
pub const DUMP: &str = r#"
import json, sys
from metaflow import Flow, Run, namespace
namespace(None)
run = Run(sys.argv[1]) if "/" in sys.argv[1] else Flow(sys.argv[1]).latest_run
out = {"successful": run.successful, "tasks": {s.id: len(list(s)) for s in run}, "data": {}}
for name in json.loads(sys.argv[2]):
    tasks = list(run[name])
    if len(tasks) != 1:
        raise SystemExit("%s has %d tasks, not 1" % (name, len(tasks)))
    task = tasks[0]
    data = {a.id: a.data for a in task if not a.id.startswith("_") and a.id != "name"}
    data["_attempt"] = task.current_attempt
    out["data"][name] = data
print(json.dumps(out, sort_keys=True, default=lambda o: "<%s>" % type(o).__name__))
"#;

/// Runs [`DUMP`] with `envs`, in `cwd`.
pub fn dump(
    envs: &[(&str, &std::ffi::OsStr)],
    cwd: &Path,
    run: &str,
    steps: &[&str],
) -> Result<Value, String> {
    let out = Command::new(python())
        .args(["-c", DUMP, run, &serde_json::to_string(steps).unwrap()])
        .envs(envs.iter().copied())
        .env("USERNAME", USER)
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("the Client did not start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the Client failed on {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the Client's output: {e}"))
}

/// The stack's datastore and metadata service (where its tasks register), for the Client.
pub fn stack_env(stack: &Stack) -> Vec<(&'static str, std::ffi::OsString)> {
    let endpoint: std::ffi::OsString = stack.endpoints().s3_endpoint.clone().into();
    vec![
        ("METAFLOW_DEFAULT_METADATA", "service".into()),
        (
            "METAFLOW_SERVICE_URL",
            stack.endpoints().metadata_url.clone().into(),
        ),
        (
            "METAFLOW_SERVICE_AUTH_KEY",
            stack.endpoints().metadata_auth_key.clone().into(),
        ),
        ("METAFLOW_S3_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
    ]
}

pub fn borrowed<'a>(
    envs: &'a [(&'static str, std::ffi::OsString)],
) -> Vec<(&'static str, &'a std::ffi::OsStr)> {
    envs.iter().map(|(k, v)| (*k, v.as_os_str())).collect()
}

pub fn s3(stack: &Stack) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(stack.sdk())
            .force_path_style(true)
            .build(),
    )
}

/// A `.tar.gz` of one flow file, or of a directory's files (a multi-file package).
pub fn tarball(path: &Path) -> Vec<u8> {
    if path.is_dir() {
        return dropflow_compiler::package::read_path(
            path,
            &dropflow_compiler::package::Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_tar_gz();
    }
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    SourcePackage {
        files: [(name, std::fs::read(path).unwrap())].into_iter().collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz()
}

/// The `live` alias of `name`, once the compile function recorded the deployment.
pub async fn deployed(stack: &Stack, name: &str) -> Result<String, String> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let s3 = s3(stack);
    let started = Instant::now();
    loop {
        let recorded = s3
            .head_object()
            .bucket(&stack.endpoints().bucket)
            .key(format!("deployments/{name}/current.json"))
            .send()
            .await
            .is_ok();
        if recorded {
            let machines = sfn
                .list_state_machines()
                .send()
                .await
                .map_err(|e| format!("ListStateMachines: {e}"))?;
            if let Some(machine) = machines.state_machines().iter().find(|m| m.name() == name) {
                let alias = format!("{}:live", machine.state_machine_arn());
                if sfn
                    .describe_state_machine_alias()
                    .state_machine_alias_arn(&alias)
                    .send()
                    .await
                    .is_ok()
                {
                    return Ok(alias);
                }
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("{name} was not deployed within 120 s"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts `input` on `alias` and waits (at most `timeout`) for the execution to end.
pub async fn execute(
    stack: &Stack,
    alias: &str,
    input: &str,
    timeout: Duration,
) -> Result<Execution, String> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let run = sfn
        .start_execution()
        .state_machine_arn(alias)
        .input(input)
        .send()
        .await
        .map_err(|e| format!("StartExecution: {e:?}"))?;
    ended(stack, run.execution_arn(), timeout).await
}

/// A finished execution, as DescribeExecution tells it.
pub type Execution = aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;

/// Waits (at most `timeout`) for the execution `arn` to end.
pub async fn ended(stack: &Stack, arn: &str, timeout: Duration) -> Result<Execution, String> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let started = Instant::now();
    loop {
        let execution = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| format!("DescribeExecution: {e}"))?;
        if execution.status() != &ExecutionStatus::Running {
            return Ok(execution);
        }
        if started.elapsed() > timeout {
            return Err(format!("{arn} still running after {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The number of events in the history of the execution `arn` (its own: a Distributed
/// Map's child executions have theirs).
pub async fn history_events(stack: &Stack, arn: &str) -> Result<usize, String> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let mut events = 0;
    let mut next_token: Option<String> = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| format!("GetExecutionHistory: {e:?}"))?;
        events += page.events().len();
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => return Ok(events),
        }
    }
}

/// A blocking HTTP/1.1 request to `base` (`http://127.0.0.1:PORT`): (status, body).
pub fn http(base: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    http_with_headers(base, method, path, &[], body)
}

/// [`http`] with extra request headers (`x-api-key` for the metadata service).
pub fn http_with_headers(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)
        .map_err(|e| format!("connecting to {address}: {e}"))?;
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         {extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| format!("{method} {path}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("{method} {path}: not an HTTP response: {response}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
