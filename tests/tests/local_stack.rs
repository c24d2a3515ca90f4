//! The local stack (`dropflow local up`, `infra/local/moto_dropflow.py`): moto 5.2.5 with
//! dropflow's adaptations, the functions hosted in-process, Batch jobs as local processes.
//! Each test brings its own stack up on free ports in a temporary state directory.
//!
//! - an upload to the local bucket deploys (S3 notification → compile function), and the
//!   trigger API lists the flow and starts a run;
//! - a hand-written state machine exercises the execution plumbing: Lambda tasks, Batch
//!   `.sync` jobs (exit 0, and exit 1 caught), Map, Choice, Wait, a Lambda error caught by
//!   its `errorType`, a Parallel branch ending in `Fail` (`ErrorPath`/`CausePath`) with
//!   `States.TaskFailed`, `$$.Execution.Name` without a name, StartExecution on alias and
//!   version;
//! - `dropflow local down` leaves no process behind; bad set-ups fail clearly;
//! - the seed's ParameterFlow runs end to end with real Metaflow tasks registering through
//!   the stack's metadata service (`metadata_url`), and Metaflow's Client reads `alpha` and
//!   the production tags back through that service only; a `@batch` step (on a queue the
//!   stack does not have) runs on the local Batch, and a `@secrets` step reads its secret
//!   from the emulator's Secrets Manager.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{InvokeError, Options, Registry, Stack};
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_tests::{python, repo_root};
use serde_json::{Value, json};

mod common;
use common::{Execution, http, http_with_headers, s3};

/// A stack on free ports in a fresh state directory, hosting `extra` functions too.
async fn stack(extra: Registry) -> (tempfile::TempDir, Stack) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = 4;
    let stack = Stack::start(options, extra)
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    (dir, stack)
}

fn tarball(path: &Path) -> Vec<u8> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    tarball_of(&name, std::fs::read(path).unwrap())
}

fn tarball_of(name: &str, source: Vec<u8>) -> Vec<u8> {
    SourcePackage {
        files: [(name.to_string(), source)].into_iter().collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz()
}

/// Uploads `flow` (a path under the repository) as a tarball under `flows/`.
async fn upload(stack: &Stack, flow: &str, key: &str) {
    put(stack, key, tarball(&repo_root().join(flow))).await;
}

async fn put(stack: &Stack, key: &str, bytes: Vec<u8>) {
    s3(stack)
        .put_object()
        .bucket(&stack.endpoints().bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
}

/// Runs `code` with the venv's Python and Metaflow's Client pointed at the stack's
/// datastore and reading metadata through the stack's metadata service only
/// (`METAFLOW_SERVICE_URL` = `metadata_url` from `local.json`; local metadata would be
/// read from an empty directory); returns its stdout as JSON.
fn client(stack: &Stack, code: &str) -> Value {
    let endpoint = &stack.endpoints().s3_endpoint;
    let endpoints: Value = serde_json::from_str(
        &std::fs::read_to_string(stack.options().state_dir.join("local.json")).unwrap(),
    )
    .unwrap();
    let metadata_url = endpoints["metadata_url"].as_str().unwrap();
    let metadata_auth_key = endpoints["metadata_auth_key"].as_str().unwrap();
    let no_local_metadata = tempfile::tempdir().unwrap();
    // The metadata service is served on this test's runtime: block in place so the runtime
    // moves it to another worker while the Client waits on it.
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .args(["-c", code])
            .current_dir(no_local_metadata.path())
            .env("METAFLOW_DEFAULT_METADATA", "service")
            .env("METAFLOW_SERVICE_URL", metadata_url)
            .env("METAFLOW_SERVICE_AUTH_KEY", metadata_auth_key)
            .env("METAFLOW_DATASTORE_SYSROOT_LOCAL", no_local_metadata.path())
            .env("METAFLOW_S3_ENDPOINT_URL", endpoint)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("USERNAME", "dropflow-test")
            .output()
    })
    .unwrap();
    assert!(
        out.status.success(),
        "the Client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The state machine's and its `live` alias's ARNs, once `name` is deployed.
async fn deployed(stack: &Stack, name: &str) -> (String, String) {
    let alias = common::deployed(stack, name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let machine = alias.trim_end_matches(":live").to_string();
    (machine, alias)
}

/// Waits (at most `timeout`) for the execution `arn` to end.
async fn finished(stack: &Stack, arn: &str, timeout: Duration) -> Execution {
    common::ended(stack, arn, timeout)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn output(
    execution: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> Value {
    serde_json::from_str(execution.output().unwrap_or("null")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_to_the_local_bucket_deploys_the_flow() {
    let (_dir, stack) = stack(Registry::new()).await;
    let started = Instant::now();
    upload(
        &stack,
        "examples/parameter_flow.py",
        "flows/parameter_flow.tgz",
    )
    .await;
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let (arn, alias) = deployed(&stack, "ParameterFlow").await;
    eprintln!("deployed in {:?}", started.elapsed());
    let definition = sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let definition: Value = serde_json::from_str(definition.definition()).unwrap();
    assert_eq!(definition["StartAt"], "start", "{definition:#}");
    let step_arn = stack.options().function_arn("dropflow-step");
    assert_eq!(definition["States"]["start"]["Resource"], json!(step_arn));
    assert!(
        alias.ends_with(":stateMachine:ParameterFlow:live"),
        "{alias}"
    );

    let endpoints: Value = serde_json::from_str(
        &std::fs::read_to_string(stack.options().state_dir.join("local.json")).unwrap(),
    )
    .unwrap();
    for field in [
        "region",
        "s3_endpoint",
        "bucket",
        "api_url",
        "sfn_endpoint",
        "metadata_url",
        "metadata_auth_key",
    ] {
        assert!(
            endpoints[field].is_string(),
            "{field} missing: {endpoints:#}"
        );
    }

    // The metadata service, on its own port, mounted at /metadata (METAFLOW_SERVICE_URL).
    let metadata_url = endpoints["metadata_url"].as_str().unwrap();
    assert_eq!(metadata_url, stack.endpoints().metadata_url);
    let metadata_base = metadata_url
        .strip_suffix("/metadata")
        .unwrap_or_else(|| panic!("{metadata_url} does not end in /metadata"));
    assert!(
        metadata_base.starts_with("http://127.0.0.1:"),
        "{metadata_url}"
    );
    for other in ["s3_endpoint", "api_url", "lambda_endpoint"] {
        assert_ne!(
            endpoints[other].as_str(),
            Some(metadata_base),
            "{endpoints:#}"
        );
    }
    // Closed by default: no key (or another key) is 401 with a JSON error; the key from
    // local.json (what METAFLOW_SERVICE_AUTH_KEY should be) opens it.
    let key = endpoints["metadata_auth_key"].as_str().unwrap();
    assert_eq!(key.len(), 64, "{key}");
    assert_eq!(key, stack.endpoints().metadata_auth_key);
    for headers in [&[][..], &[("x-api-key", "not-the-key")][..]] {
        let (status, body) =
            http_with_headers(metadata_base, "GET", "/metadata/flows", headers, "").unwrap();
        assert_eq!(status, 401, "{headers:?}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"], "unauthorized", "{body}");
    }
    let (status, body) = http_with_headers(
        metadata_base,
        "GET",
        "/metadata/ping",
        &[("x-api-key", key)],
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");

    // The trigger API: the deployed flow is listed, and a run starts on its alias.
    let api = endpoints["api_url"].as_str().unwrap();
    let (status, body) = http(api, "GET", "/flows", "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ParameterFlow"), "{body}");
    let (status, body) = http(
        api,
        "POST",
        "/flows/ParameterFlow/runs",
        r#"{"alpha": 0.5}"#,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let started: Value = serde_json::from_str(&body).unwrap();
    let run_id = started["run_id"].as_str().unwrap();
    assert!(run_id.starts_with("sfn-"), "{started:#}");
    let (status, body) = http(
        api,
        "GET",
        &format!("/flows/ParameterFlow/runs/{run_id}"),
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let execution = sfn
        .describe_execution()
        .execution_arn(started["execution_arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(execution.state_machine_alias_arn(), Some(alias.as_str()));
}

/// The execution plumbing, on a hand-written state machine.
const PLUMBING: &str = r#"{
  "StartAt": "Echo",
  "States": {
    "Echo": {
      "Type": "Task", "Resource": "ECHO_ARN",
      "Parameters": {"name.$": "$$.Execution.Name", "items.$": "$.items"},
      "ResultPath": "$.echo", "Next": "Hi"
    },
    "Hi": {
      "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
      "Parameters": {
        "JobName": "hi", "JobQueue": "dropflow-local", "JobDefinition": "local-sh",
        "ContainerOverrides": {
          "Command": ["sh", "-c", "echo hi; exit 0"],
          "Environment": [{"Name": "GREETING", "Value": "hello"}]
        }
      },
      "ResultSelector": {"JobId.$": "$.JobId", "Status.$": "$.Status"},
      "ResultPath": "$.hi", "Next": "Exit1"
    },
    "Exit1": {
      "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
      "Parameters": {
        "JobName": "exit1", "JobQueue": "dropflow-local", "JobDefinition": "local-sh",
        "ContainerOverrides": {"Command": ["sh", "-c", "echo failing >&2; exit 1"]}
      },
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Each"}],
      "Next": "Unreachable"
    },
    "Unreachable": {"Type": "Fail", "Error": "Unreachable", "Cause": "exit 1 was not caught"},
    "Each": {
      "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
      "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Twice",
        "States": {"Twice": {"Type": "Task", "Resource": "ECHO_ARN", "End": true}}
      },
      "ResultPath": "$.each", "Next": "Route"
    },
    "Route": {
      "Type": "Choice",
      "Choices": [{"Variable": "$.items[0]", "NumericEquals": 1, "Next": "Boom"}],
      "Default": "Unreachable"
    },
    "Boom": {
      "Type": "Task", "Resource": "FAIL_ARN",
      "Catch": [{"ErrorEquals": ["dropflow.TestFailure"], "ResultPath": "$.boom", "Next": "Pause"}],
      "Next": "Unreachable"
    },
    "Pause": {"Type": "Wait", "Seconds": 1, "Next": "Branches"},
    "Branches": {
      "Type": "Parallel",
      "Branches": [
        {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": true}}},
        {
          "StartAt": "Failure",
          "States": {
            "Failure": {
              "Type": "Pass",
              "Result": {"error": "States.TaskFailed", "cause": "step b failed for good"},
              "Next": "Failed"
            },
            "Failed": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}
          }
        }
      ],
      "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.branches", "Next": "Done"}],
      "Next": "Unreachable"
    },
    "Done": {"Type": "Succeed"}
  }
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn state_machines_run_lambdas_batch_jobs_maps_and_choices() {
    let mut functions = Registry::new();
    functions
        .register("dropflow-test-echo", |payload| async move {
            Ok(json!({"echo": payload}))
        })
        .register("dropflow-test-fail", |_| async {
            Err(InvokeError::new(
                "dropflow.TestFailure",
                "failed on purpose",
            ))
        });
    let (_dir, stack) = stack(functions).await;
    let sdk = stack.sdk();
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let batch = aws_sdk_batch::Client::new(sdk);
    batch
        .register_job_definition()
        .job_definition_name("local-sh")
        .r#type(aws_sdk_batch::types::JobDefinitionType::Container)
        .container_properties(
            aws_sdk_batch::types::ContainerProperties::builder()
                .image("ignored-locally")
                .set_resource_requirements(Some(resources()))
                .command("false")
                .environment(
                    aws_sdk_batch::types::KeyValuePair::builder()
                        .name("FROM_JOB_DEFINITION")
                        .value("yes")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let definition = PLUMBING
        .replace(
            "ECHO_ARN",
            &stack.options().function_arn("dropflow-test-echo"),
        )
        .replace(
            "FAIL_ARN",
            &stack.options().function_arn("dropflow-test-fail"),
        );
    let created = sfn
        .create_state_machine()
        .name("plumbing")
        .definition(definition)
        .role_arn(Options::role_arn("dropflow-local-state-machine"))
        .publish(true)
        .send()
        .await
        .unwrap();
    let version = created.state_machine_version_arn().unwrap().to_string();
    let alias = sfn
        .create_state_machine_alias()
        .name("live")
        .routing_configuration(
            aws_sdk_sfn::types::RoutingConfigurationListItem::builder()
                .state_machine_version_arn(&version)
                .weight(100)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn()
        .to_string();

    // On the alias, without a name: the version's definition runs, with a generated name.
    let started = Instant::now();
    let run = sfn
        .start_execution()
        .state_machine_arn(&alias)
        .input(r#"{"items": [1, 2, 3]}"#)
        .send()
        .await
        .unwrap();
    let execution = finished(&stack, run.execution_arn(), Duration::from_secs(120)).await;
    eprintln!("plumbing execution took {:?}", started.elapsed());
    assert_eq!(
        execution.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error(),
        execution.cause()
    );
    assert_eq!(execution.state_machine_alias_arn(), Some(alias.as_str()));
    assert_eq!(
        execution.state_machine_version_arn(),
        Some(version.as_str())
    );
    let out = output(&execution);
    let name = execution.name().unwrap();
    assert_eq!(name.len(), 36, "a UUID: {name}");
    assert!(run.execution_arn().ends_with(&format!(":{name}")));
    assert_eq!(
        out["echo"],
        json!({"echo": {"name": name, "items": [1, 2, 3]}})
    );
    assert_eq!(out["hi"]["Status"], "SUCCEEDED", "{out:#}");
    assert_eq!(
        out["each"],
        json!([
            {"echo": {"item": 1, "index": 0}},
            {"echo": {"item": 2, "index": 1}},
            {"echo": {"item": 3, "index": 2}}
        ])
    );
    assert_eq!(out["caught"]["Error"], "States.TaskFailed", "{out:#}");
    let cause: Value = serde_json::from_str(out["caught"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["Status"], "FAILED", "{cause:#}");
    assert_eq!(cause["Container"]["ExitCode"], 1, "{cause:#}");
    assert_eq!(out["boom"]["Error"], "dropflow.TestFailure", "{out:#}");
    let boom: Value = serde_json::from_str(out["boom"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(boom["errorMessage"], "failed on purpose");
    // A Fail state's ErrorPath/CausePath, leaving a Parallel branch as `States.TaskFailed`.
    assert_eq!(
        out["branches"],
        json!({"Error": "States.TaskFailed", "Cause": "step b failed for good"})
    );

    // The job ran on the host with the job definition's and the overrides' environment.
    let job_id = out["hi"]["JobId"].as_str().unwrap();
    let jobs = batch.describe_jobs().jobs(job_id).send().await.unwrap();
    let job = &jobs.jobs()[0];
    let container = job.container().unwrap();
    assert_eq!(container.exit_code(), Some(0));
    let environment: Vec<(&str, &str)> = container
        .environment()
        .iter()
        .map(|e| (e.name().unwrap_or(""), e.value().unwrap_or("")))
        .collect();
    assert!(
        environment.contains(&("GREETING", "hello")),
        "{environment:?}"
    );
    assert!(
        environment.contains(&("FROM_JOB_DEFINITION", "yes")),
        "{environment:?}"
    );
    let log = stack.options().state_dir.join(format!("jobs/{job_id}.log"));
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "hi\n");

    // On the version ARN, named: runs too, and a name is kept.
    let run = sfn
        .start_execution()
        .state_machine_arn(&version)
        .name("on-the-version")
        .input(r#"{"items": [1, 2, 3]}"#)
        .send()
        .await
        .unwrap();
    let execution = finished(&stack, run.execution_arn(), Duration::from_secs(120)).await;
    assert_eq!(execution.status(), &ExecutionStatus::Succeeded);
    assert_eq!(output(&execution)["echo"]["echo"]["name"], "on-the-version");
    // Both executions belong to the state machine.
    let listed = sfn
        .list_executions()
        .state_machine_arn(created.state_machine_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.executions().len(), 2);
}

/// 1 vCPU, 512 MiB (Batch requires both; the local Batch ignores them).
fn resources() -> Vec<aws_sdk_batch::types::ResourceRequirement> {
    use aws_sdk_batch::types::{ResourceRequirement, ResourceType};
    [(ResourceType::Vcpu, "1"), (ResourceType::Memory, "512")]
        .into_iter()
        .map(|(kind, value)| {
            ResourceRequirement::builder()
                .r#type(kind)
                .value(value)
                .build()
        })
        .collect()
}

/// The `dropflow` binary next to this test's (cargo builds it for the CLI's own
/// integration tests, so `cargo test --workspace` has it).
fn dropflow_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("dropflow{}", std::env::consts::EXE_SUFFIX)))
        .unwrap();
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build -p dropflow-cli`)",
        bin.display()
    );
    bin
}

fn dropflow(args: &[&str]) -> std::process::Output {
    Command::new(dropflow_bin())
        .args(args)
        .env("DROPFLOW_PYTHON", python())
        .output()
        .unwrap()
}

/// Runs `dropflow local down` for a state directory when dropped, so that a failing test
/// leaves no stack behind (dropped before the temporary directory is removed).
struct DownOnDrop(PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(dropflow_bin())
            .args(["local", "down", "--state-dir"])
            .arg(&self.0)
            .output();
    }
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// Processes whose command line or working directory mentions `dir`.
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        if !zombie && (cmdline.contains(&needle) || cwd.starts_with(&needle)) {
            found.push(format!("{pid}: {cmdline} (cwd {cwd})"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn down_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let _down_even_on_failure = DownOnDrop(state.clone());
    let up = dropflow(&["local", "up", "--port", "0", "--state-dir", state_arg]);
    assert!(
        up.status.success(),
        "up failed: {}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(String::from_utf8_lossy(&up.stdout).contains("dropflow local stack is up"));
    let endpoints: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("local.json")).unwrap()).unwrap();

    // A Batch job that would run for minutes.
    let sdk = dropflow_aws::static_sdk_config(
        endpoints["s3_endpoint"].as_str().unwrap(),
        endpoints["region"].as_str().unwrap(),
    );
    let batch = aws_sdk_batch::Client::new(&sdk);
    batch
        .register_job_definition()
        .job_definition_name("sleeper")
        .r#type(aws_sdk_batch::types::JobDefinitionType::Container)
        .container_properties(
            aws_sdk_batch::types::ContainerProperties::builder()
                .image("ignored-locally")
                .set_resource_requirements(Some(resources()))
                .command("sh")
                .command("-c")
                .command("sleep 300 & sleep 300")
                .build(),
        )
        .send()
        .await
        .unwrap();
    batch
        .submit_job()
        .job_name("sleeper")
        .job_queue("dropflow-local")
        .job_definition("sleeper")
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    while processes_under(&state).len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the job did not start: {:?}",
            processes_under(&state)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = processes_under(&state);
    // supervisor, emulator, the job's shell and its two sleeps
    assert!(before.len() >= 4, "{before:#?}");

    let pids: Vec<u32> = ["dropflow.pid", "moto.pid"]
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(state.join(file)).unwrap();
            text.trim().parse().unwrap()
        })
        .collect();
    let down = dropflow(&["local", "down", "--state-dir", state_arg]);
    assert!(down.status.success());
    let report = String::from_utf8_lossy(&down.stdout);
    assert!(report.contains("supervisor"), "{report}");
    let after = processes_under(&state);
    assert!(
        after.is_empty(),
        "left behind: {after:#?} (before: {before:#?})"
    );
    assert!(!state.join("local.json").exists());
    assert!(!state.join("dropflow.pid").exists());
    assert!(!state.join("moto.pid").exists());
    for pid in pids {
        assert!(!alive(pid), "pid {pid} is still running");
    }

    let again = dropflow(&["local", "down", "--state-dir", state_arg]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "no local stack was running"
    );
}

#[test]
fn a_port_in_use_is_named_with_how_to_pick_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = dropflow(&[
        "local",
        "up",
        "--port",
        &port.to_string(),
        "--state-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "port {port} on 127.0.0.1 (the AWS emulator, moto) is already in use"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--port N"), "{stderr}");
    assert!(!dir.path().join("dropflow.pid").exists());
}

#[test]
fn a_missing_python_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(dropflow_bin())
        .args(["local", "up", "--port", "0", "--state-dir"])
        .arg(dir.path())
        .env("DROPFLOW_PYTHON", dir.path().join("no/python"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no Python for the local stack"), "{stderr}");
    assert!(
        stderr.contains("bash tests/run.sh --setup-only"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_parameter_flow_runs_end_to_end_with_real_metaflow_tasks() {
    let (_dir, stack) = stack(Registry::new()).await;
    upload(
        &stack,
        "examples/parameter_flow.py",
        "flows/parameter_flow.tgz",
    )
    .await;
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let (_, alias) = deployed(&stack, "ParameterFlow").await;
    let started = Instant::now();
    let run = sfn
        .start_execution()
        .state_machine_arn(&alias)
        .input(r#"{"Parameters": "{\"alpha\": 0.5}"}"#)
        .send()
        .await
        .unwrap();
    let execution = finished(&stack, run.execution_arn(), Duration::from_secs(300)).await;
    eprintln!("ParameterFlow ran in {:?}", started.elapsed());
    let state_dir = &stack.options().state_dir;
    assert_eq!(
        execution.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}\nemulator log:\n{}",
        execution.error(),
        execution.cause(),
        std::fs::read_to_string(state_dir.join("moto.log")).unwrap_or_default()
    );
    let run_id = format!("sfn-{}", execution.name().unwrap());

    // Metaflow's Client, on the same datastore as the tasks and through the metadata
    // service they registered with (local metadata unused).
    let read = client(
        &stack,
        &format!(
            "from metaflow import Run, namespace\n\
             import json\n\
             namespace(None)\n\
             run = Run('ParameterFlow/{run_id}')\n\
             print(json.dumps({{'alpha': run.data.alpha, 'steps': sorted(s.id for s in run), \
             'successful': run.successful}}))\n"
        ),
    );
    assert_eq!(
        read,
        json!({"alpha": 0.5, "steps": ["end", "start"], "successful": true})
    );

    // As the issue checks it: the latest run, its tags (Metaflow's production namespace).
    let token = dropflow_compiler::naming::production_token("ParameterFlow");
    let read = client(
        &stack,
        &format!(
            "from metaflow import Flow, namespace\n\
             import json\n\
             namespace(None)\n\
             run = Flow('ParameterFlow').latest_run\n\
             alpha = run['end'].task.data.alpha\n\
             namespace('production:{token}')\n\
             production = [r.id for r in Flow('ParameterFlow')]\n\
             print(json.dumps({{'id': run.id, 'alpha': alpha, 'tags': sorted(run.tags), \
             'production': production}}))\n"
        ),
    );
    assert_eq!(read["id"], json!(run_id), "{read:#}");
    assert_eq!(read["alpha"], json!(0.5), "{read:#}");
    let tags = read["tags"].as_array().unwrap();
    for tag in [
        "runtime:step-functions".to_string(),
        format!("production:{token}"),
    ] {
        assert!(tags.contains(&json!(tag)), "{tag} missing: {read:#}");
    }
    assert_eq!(read["production"], json!([run_id]), "{read:#}");
}

/// A `@batch` step naming a queue the local stack does not have.
const BATCH_STEP_FLOW: &str = r#"import os

from metaflow import FlowSpec, batch, secrets, step


class BatchStepFlow(FlowSpec):
    @batch(cpu=1, memory=512, queue="gpu-queue-not-here")
    @step
    def start(self):
        self.job = os.environ["AWS_BATCH_JOB_ID"]
        self.next(self.end)

    @secrets(sources=["dropflow/flows/local-test"])
    @step
    def end(self):
        self.token = os.environ["LOCAL_TEST_TOKEN"]


if __name__ == "__main__":
    BatchStepFlow()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_decorated_step_runs_on_the_local_batch_and_secrets_reads_its_secret() {
    let (_dir, stack) = stack(Registry::new()).await;
    // `end` has @secrets: Metaflow reads this from the emulator's Secrets Manager (under
    // the local stack's JobSecretsPrefix, dropflow/flows/).
    aws_sdk_secretsmanager::Client::new(stack.sdk())
        .create_secret()
        .name("dropflow/flows/local-test")
        .secret_string(r#"{"LOCAL_TEST_TOKEN": "t0ken"}"#)
        .send()
        .await
        .unwrap();
    let tarball = tarball_of("batch_step_flow.py", BATCH_STEP_FLOW.as_bytes().to_vec());
    put(&stack, "flows/batch_step_flow.tgz", tarball).await;
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let (_, alias) = deployed(&stack, "BatchStepFlow").await;
    let run = sfn
        .start_execution()
        .state_machine_arn(&alias)
        .send()
        .await
        .unwrap();
    let execution = finished(&stack, run.execution_arn(), Duration::from_secs(300)).await;
    assert_eq!(
        execution.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        execution.error(),
        execution.cause()
    );
    // The step ran as a Batch job (its id in the environment), in an empty working
    // directory (`@batch` tars its `./.metaflow`), and its metadata reached the Client.
    let run_id = format!("sfn-{}", execution.name().unwrap());
    let read = client(
        &stack,
        &format!(
            "from metaflow import Run, namespace\n\
             import json\n\
             namespace(None)\n\
             run = Run('BatchStepFlow/{run_id}')\n\
             print(json.dumps({{'job': run['start'].task.data.job, 'token': run['end'].task.data.token, 'successful': run.successful}}))\n"
        ),
    );
    assert_eq!(read["successful"], true, "{read}");
    assert_eq!(read["token"], "t0ken", "{read}");
    let job = read["job"].as_str().unwrap();
    let batch = aws_sdk_batch::Client::new(stack.sdk());
    let described = batch.describe_jobs().jobs(job).send().await.unwrap();
    assert_eq!(described.jobs().len(), 1, "{job} is not a Batch job");
    assert!(
        described.jobs()[0]
            .job_queue()
            .is_some_and(|q| q.ends_with("/dropflow-local")),
        "{:?}",
        described.jobs()[0].job_queue()
    );
}

/// Starts deployed `flow` on its `live` alias and waits (at most 10 minutes) for it to
/// succeed; returns its run id.
async fn run_to_success(stack: &Stack, flow: &str) -> String {
    let (_, alias) = deployed(stack, flow).await;
    let run = aws_sdk_sfn::Client::new(stack.sdk())
        .start_execution()
        .state_machine_arn(&alias)
        .send()
        .await
        .unwrap();
    let execution = finished(stack, run.execution_arn(), Duration::from_secs(600)).await;
    assert_eq!(
        execution.status(),
        &ExecutionStatus::Succeeded,
        "{:?}: {:?}",
        execution.error(),
        execution.cause()
    );
    format!("sfn-{}", execution.name().unwrap())
}

/// A step on a plain Python image (`@batch(image="python:3.12")`), as Metaflow's own Batch
/// jobs run on: the image has neither Metaflow nor boto3.
const PLAIN_IMAGE_FLOW: &str = r#"import sys

from metaflow import FlowSpec, batch, step


class PlainImageFlow(FlowSpec):
    @batch(image="python:3.12")
    @step
    def start(self):
        import boto3
        import metaflow

        self.python = sys.prefix
        self.metaflow_version = metaflow.__version__
        self.boto3 = boto3.__version__
        self.next(self.end)

    @step
    def end(self):
        self.python = sys.prefix


if __name__ == "__main__":
    PlainImageFlow()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_step_on_a_plain_python_image_installs_what_it_lacks_and_runs() {
    // The image: a fresh venv with pip and nothing else (no Metaflow, no boto3).
    let image = tempfile::tempdir().unwrap();
    let created = tokio::task::block_in_place(|| {
        Command::new(python())
            .args(["-m", "venv", "--clear"])
            .arg(image.path())
            .output()
            .unwrap()
    });
    assert!(created.status.success(), "{created:?}");
    let image_python = image.path().join("bin/python");
    let lacks = Command::new(&image_python)
        .args(["-c", "import importlib.util as u; print(u.find_spec('metaflow') is None and u.find_spec('boto3') is None)"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&lacks.stdout).trim(), "True");

    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = 2;
    options.images = vec![("python:3.12".into(), image.path().join("bin"))];
    let stack = Stack::start(options, Registry::new())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    put(
        &stack,
        "flows/plain_image_flow.tgz",
        tarball_of("plain_image_flow.py", PLAIN_IMAGE_FLOW.as_bytes().to_vec()),
    )
    .await;
    let run_id = run_to_success(&stack, "PlainImageFlow").await;
    let read = client(
        &stack,
        &format!(
            "from metaflow import Run, namespace\n\
             import json\n\
             namespace(None)\n\
             run = Run('PlainImageFlow/{run_id}')\n\
             start = run['start'].task.data\n\
             print(json.dumps({{'start': start.python, 'metaflow': start.metaflow_version, 'boto3': start.boto3, 'end': run['end'].task.data.python}}))\n"
        ),
    );
    // `start` ran on the image, which now has the Metaflow dropflow pins and boto3.
    let image_prefix = image.path().canonicalize().unwrap();
    assert_eq!(
        std::path::Path::new(read["start"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        image_prefix,
        "{read}"
    );
    assert_eq!(
        read["metaflow"],
        dropflow_task::command::TASK_METAFLOW_VERSION,
        "{read}"
    );
    assert!(
        read["boto3"].as_str().is_some_and(|v| !v.is_empty()),
        "{read}"
    );
    // `end` (the default image) ran on the stack's own Python.
    assert_ne!(read["end"], read["start"], "{read}");
}

/// A flow run in Metaflow's uv environment: `tabulate` is in its lock, not in the image.
const UV_FLOW: &str = r#"import sys

import tabulate
from metaflow import FlowSpec, step


class UvFlow(FlowSpec):
    @step
    def start(self):
        self.tabulate = tabulate.__version__
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UvFlow()
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_in_a_uv_environment_runs_in_its_locked_project() {
    // The project: pyproject.toml and the uv.lock `uv lock` writes for it.
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("pyproject.toml"),
        "[project]\nname = \"uv-flow\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\ndependencies = [\"tabulate==0.9.0\"]\n",
    )
    .unwrap();
    let uv = python().with_file_name("uv");
    let locked = tokio::task::block_in_place(|| {
        Command::new(&uv)
            .arg("lock")
            .current_dir(project.path())
            .output()
            .unwrap()
    });
    assert!(locked.status.success(), "uv lock: {locked:?}");
    let read = |name: &str| std::fs::read(project.path().join(name)).unwrap();
    let files = [
        ("uv_flow.py", UV_FLOW.as_bytes().to_vec()),
        ("pyproject.toml", read("pyproject.toml")),
        ("uv.lock", read("uv.lock")),
        (
            "dropflow.toml",
            b"[deploy]\nenvironment = \"uv\"\n".to_vec(),
        ),
    ];
    let package = SourcePackage {
        files: files
            .into_iter()
            .map(|(name, bytes)| (name.to_string(), bytes))
            .collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz();

    let (_dir, stack) = stack(Registry::new()).await;
    put(&stack, "flows/uv_flow.tgz", package).await;
    let run_id = run_to_success(&stack, "UvFlow").await;
    let read = client(
        &stack,
        &format!(
            "from metaflow import Run, namespace\n\
             import json\n\
             namespace(None)\n\
             data = Run('UvFlow/{run_id}')['start'].task.data\n\
             print(json.dumps({{'tabulate': data.tabulate, 'prefix': data.prefix}}))\n"
        ),
    );
    // The locked version, from the project's own environment (`.venv` in the task's
    // working directory), which the stack's Python does not have.
    assert_eq!(read["tabulate"], "0.9.0", "{read}");
    assert!(
        read["prefix"]
            .as_str()
            .is_some_and(|p| p.ends_with("/.venv")),
        "{read}"
    );
    let image_has = Command::new(python())
        .args([
            "-c",
            "import importlib.util as u; print(u.find_spec('tabulate') is None)",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&image_has.stdout).trim(), "True");
}
