//! The step Lambda's handler against S3 on moto (127.0.0.1), driving real Metaflow
//! 2.19.39 tasks: each task's job is run locally with `sh` exactly as the start phase
//! returned it (its `Command`, its `Environment` plus the job definition's), with
//! `--datastore=s3` against moto, then the finish phase reads what the task wrote.
//! This is not the state machine engine: the test plays the state machine's part,
//! passing each phase's output on as the contract says.

use std::collections::BTreeMap;
use std::process::Command;

use dropflow_aws::S3Datastore;
use dropflow_compiler::compile::{DeployOptions, Manifest, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_step::{Deps, handle};
use dropflow_task::artifacts::{self, Pickle};
use dropflow_task::{Datastore, EnvVar, Inputs, Ranged, StartFrom, Task, TaskFiles, command, ids};
use dropflow_tests::moto::{self, Lease};
use dropflow_tests::{python, repo_root};
use serde_json::{Value, json};

/// The bucket of `Platform::default()` (deployments, datastore root, task records).
const BUCKET: &str = "dropflow-bucket";

/// moto, the bucket, one deployed flow and the step Lambda's handler.
struct Stack {
    moto: Lease,
    deps: Deps,
    manifest: Manifest,
    s3: aws_sdk_s3::Client,
    /// Local metadata and task working directories.
    scratch: tempfile::TempDir,
}

impl Stack {
    /// Deploys `flow` (a path under the repository) the way the compile Lambda writes a
    /// deployment: the manifest and the code package in the bucket.
    async fn deploy(flow: &str) -> Self {
        let moto = moto::shared();
        let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        let package = package::read_path(&repo_root().join(flow), &Limits::default()).unwrap();
        let checked = pipeline::check(&package).unwrap();
        let manifest = pipeline::compile(
            &checked,
            &DeployOptions::default(),
            &Platform::default(),
            &BTreeMap::new(),
        )
        .unwrap()
        .manifest;
        let stack = Self {
            moto,
            deps: Deps::new(S3Datastore::new(&sdk)),
            manifest,
            s3,
            scratch: tempfile::tempdir().unwrap(),
        };
        stack
            .put(
                &stack.manifest.location,
                serde_json::to_vec(&stack.manifest).unwrap(),
            )
            .await;
        stack
            .put(&stack.manifest.code_package, package.to_tar_gz())
            .await;
        stack
    }

    async fn put(&self, url: &str, bytes: Vec<u8>) {
        let key = url.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
        self.s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    async fn get(&self, url: &str) -> Option<Vec<u8>> {
        let key = url.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
        let output = self
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(output.body.collect().await.unwrap().into_bytes().to_vec())
    }

    async fn call(&self, request: Value) -> Value {
        handle(request.clone(), &self.deps)
            .await
            .unwrap_or_else(|e| panic!("{} failed: {e}", request["phase"]))
    }

    async fn start_flow(&self, execution: &str, input: Value) -> Task {
        let response = self
            .call(json!({
                "phase": "start",
                "step": self.manifest.flow.start_step,
                "from": "execution",
                "input": input,
                "manifest": self.manifest.location,
                "execution": execution,
            }))
            .await;
        serde_json::from_value(response["task"].clone()).unwrap()
    }

    async fn start(&self, step: &str, from: StartFrom, input: Value) -> Task {
        let response = self
            .call(json!({"phase": "start", "step": step, "from": from, "input": input}))
            .await;
        serde_json::from_value(response["task"].clone()).unwrap()
    }

    async fn finish(&self, task: &Task) -> Value {
        self.call(json!({
            "phase": "finish",
            "step": task.step,
            "task": task,
            "batch": {"JobId": format!("local-{}", task.id)},
        }))
        .await
    }

    /// Runs the task's Batch job as a local process, as a Batch container would: the
    /// overrides' command, the job definition's environment plus the overrides'.
    fn run_job(&self, task: &Task) -> std::process::Output {
        let definition = self
            .manifest
            .job_definitions
            .iter()
            .find(|d| d.job_definition_name == task.job.job_definition)
            .expect("the job definition is in the manifest");
        let overrides = &task.job.container_overrides;
        let venv_bin = python().parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            venv_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(&overrides.command[0])
            .args(&overrides.command[1..])
            .env_clear()
            .envs(
                definition
                    .container_properties
                    .environment
                    .iter()
                    .map(|e| (&e.name, &e.value)),
            )
            .envs(overrides.environment.iter().map(|e| (&e.name, &e.value)))
            .env("PATH", path)
            .env("HOME", self.scratch.path())
            .env("TMPDIR", self.scratch.path())
            .env("METAFLOW_DATASTORE_SYSROOT_LOCAL", self.scratch.path())
            .env("METAFLOW_S3_ENDPOINT_URL", self.moto.url())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .expect("sh runs")
    }

    /// Runs the job and expects it to succeed.
    fn run_ok(&self, task: &Task) {
        let output = self.run_job(task);
        assert!(
            output.status.success(),
            "{} failed ({}):\n{}\n{}",
            task.pathspec,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Decodes artifact `name` of a finished task from the S3 datastore.
    async fn artifact(&self, task: &Task, name: &str) -> Pickle {
        let root = &self.manifest.datastore_root;
        let files = TaskFiles::new(
            root,
            &self.manifest.flow.name,
            &task.run,
            &task.step,
            &task.id,
        );
        let data = self.get(&files.data_json(task.attempt)).await.unwrap();
        let data = artifacts::DataJson::parse(&data).unwrap();
        let sha = &data.objects[name];
        let blob = self
            .get(&dropflow_task::datastore::blob_url(
                root,
                &self.manifest.flow.name,
                sha,
            ))
            .await
            .unwrap();
        artifacts::decode_blob(&blob).unwrap()
    }
}

fn paths(task: &Task) -> &str {
    match &task.inputs {
        Inputs::Paths(paths) => paths,
        Inputs::File(url) => panic!("input paths in {url}"),
    }
}

#[tokio::test]
async fn foreach_flow_runs_task_by_task_on_s3() {
    let stack = Stack::deploy("tests/flows/shapes/foreach.py").await;
    let start = stack
        .start_flow("it-foreach", json!({"Parameters": "{\"width\": 3}"}))
        .await;
    assert_eq!(start.pathspec, "ForeachFlow/sfn-it-foreach/start/start");
    stack.run_ok(&start);
    let done = stack.finish(&start).await;
    // The split indices, for the foreach's Distributed Map (the default) to read from S3.
    assert_eq!(done["width"], 3);
    let items = format!(
        "s3://{}/{}",
        done["items"]["Bucket"].as_str().unwrap(),
        done["items"]["Key"].as_str().unwrap()
    );
    assert_eq!(
        items,
        format!("s3://{BUCKET}/dropflow/runs/ForeachFlow/sfn-it-foreach/start/start/items.json")
    );
    let written: Value = serde_json::from_slice(&stack.get(&items).await.unwrap()).unwrap();
    assert_eq!(written, json!([0, 1, 2]));
    assert_eq!(done["ctx"]["run"], "sfn-it-foreach");

    // The start step's retry finds the _parameters task and does not init again.
    let retry = stack
        .call(json!({
            "phase": "start",
            "step": "start",
            "from": "retry",
            "input": {"task": start, "error": {"Error": "States.TaskFailed", "Cause": "{}"}},
        }))
        .await;
    let retry: Task = serde_json::from_value(retry["task"].clone()).unwrap();
    assert_eq!((retry.id.as_str(), retry.attempt), ("start", 1));
    stack.run_ok(&retry);
    assert_eq!(stack.finish(&retry).await["width"], done["width"]);

    for index in 0..3u32 {
        let square = stack
            .start(
                "square",
                StartFrom::ForeachChild,
                json!({"ctx": done["ctx"], "index": index}),
            )
            .await;
        assert_eq!(square.id, format!("square-{index}"));
        stack.run_ok(&square);
        let finished = stack.finish(&square).await;
        assert_eq!(finished["ctx"]["task"], format!("square/square-{index}"));
    }

    // The Map hands the join its own input: the foreach step's finish output.
    let collect = stack
        .start("collect", StartFrom::ForeachJoin, done.clone())
        .await;
    assert_eq!(
        paths(&collect),
        "sfn-it-foreach/square/:square-0,square-1,square-2"
    );
    // Run it the way a wide join runs: its input paths fetched from S3
    // (`--input-paths-filename`), as the start phase does above 1 KiB.
    let url = format!("s3://{BUCKET}/dropflow/inputs/it/collect-input-paths");
    stack.put(&url, paths(&collect).as_bytes().to_vec()).await;
    let mut via_file = collect.clone();
    via_file.inputs = Inputs::File(url);
    via_file.job = command::job_request(
        &stack.manifest,
        &stack.manifest.steps["collect"],
        &via_file,
        &stack.deps.settings,
        collect.job.container_overrides.environment.clone(),
    );
    assert!(via_file.job.container_overrides.command[2].contains("--input-paths-filename"));
    stack.run_ok(&via_file);
    let collected = stack.finish(&collect).await;
    assert_eq!(
        stack.artifact(&collect, "squares").await,
        Pickle::List([1, 4, 9].into_iter().map(Pickle::I64).collect())
    );

    let end = stack.start("end", StartFrom::Parent, collected).await;
    assert_eq!(paths(&end), "sfn-it-foreach/collect/collect");
    stack.run_ok(&end);
    let ended = stack.finish(&end).await;
    assert_eq!(ended["ctx"]["task"], "end/end");
    assert!(ended.get("next").is_none() && ended.get("width").is_none());

    // Every attempt has its record; the start step's first one was retried.
    let record = |task: &Task, attempt: u32| {
        let key = dropflow_task::records::record_key(
            &stack.manifest.state_machine,
            &task.run,
            &task.step,
            &task.id,
            attempt,
        );
        format!("s3://{BUCKET}/{key}")
    };
    let first: Value =
        serde_json::from_slice(&stack.get(&record(&start, 0)).await.unwrap()).unwrap();
    assert_eq!(first["status"], "failed");
    let second: Value =
        serde_json::from_slice(&stack.get(&record(&retry, 1)).await.unwrap()).unwrap();
    assert_eq!(second["status"], "succeeded");
    assert_eq!(second["splits"], 3);
    assert_eq!(second["batch_job_id"], "local-start");
}

#[tokio::test]
async fn switch_flow_takes_the_branch_its_parameter_chooses() {
    let stack = Stack::deploy("tests/flows/shapes/switch.py").await;
    for (execution, input, route) in [
        ("it-default", json!({}), "large"),
        (
            "it-small",
            json!({"Parameters": "{\"route\": \"small\"}"}),
            "small",
        ),
    ] {
        let start = stack.start_flow(execution, input).await;
        stack.run_ok(&start);
        let done = stack.finish(&start).await;
        assert_eq!(done["next"], route, "{execution}");

        let chosen = stack.start(route, StartFrom::Parent, done).await;
        assert_eq!(chosen.id, route);
        assert_eq!(paths(&chosen), format!("sfn-{execution}/start/start"));
        stack.run_ok(&chosen);
        let after = stack.finish(&chosen).await;
        assert!(after.get("next").is_none());

        let end = stack.start("end", StartFrom::Parent, after).await;
        assert_eq!(paths(&end), format!("sfn-{execution}/{route}/{route}"));
        stack.run_ok(&end);
        stack.finish(&end).await;
        let size = stack.artifact(&chosen, "size").await;
        let expected = if route == "large" { "L" } else { "S" };
        assert_eq!(size, Pickle::String(expected.into()));
    }

    // Parameter values sourced from a file, as the start phase does when they are large.
    let mut start = stack.start_flow("it-file", json!({"route": "small"})).await;
    let url = format!("s3://{BUCKET}/dropflow/inputs/it/parameters.env");
    let values = [EnvVar::new("METAFLOW_INIT_ROUTE", "small")];
    stack
        .put(&url, command::parameters_file(&values).into_bytes())
        .await;
    start.params_file = Some(url);
    start.job = command::job_request(
        &stack.manifest,
        &stack.manifest.steps["start"],
        &start,
        &stack.deps.settings,
        command::base_environment(&stack.manifest, &stack.deps.settings),
    );
    stack.run_ok(&start);
    assert_eq!(stack.finish(&start).await["next"], "small");
}

#[tokio::test]
async fn a_failing_task_surfaces_the_end_of_its_stderr_log() {
    let stack = Stack::deploy("tests/fixtures/metaflow_datastore/failing_flow.py").await;
    let start = stack.start_flow("it-fail", json!({})).await;
    let output = stack.run_job(&start);
    assert_eq!(output.status.code(), Some(1));
    // The log was saved where Metaflow's mflog keeps it.
    let files = TaskFiles::new(
        &stack.manifest.datastore_root,
        "FailingFlow",
        &start.run,
        "start",
        &start.id,
    );
    assert!(stack.get(&files.stderr_log(0)).await.is_some());

    let batch_cause = json!({
        "JobId": "local-1",
        "Status": "FAILED",
        "StatusReason": "Essential container in task exited",
        "Container": {"ExitCode": 1},
    });
    let response = stack
        .call(json!({"phase": "fail", "input": {
            "task": start,
            "error": {"Error": "States.TaskFailed", "Cause": batch_cause.to_string()},
        }}))
        .await;
    assert_eq!(response["error"], "States.TaskFailed");
    let cause = response["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(
            "start/start attempt 0 failed (Batch job local-1: exit code 1: Essential container in task exited):\n"
        ),
        "{cause}"
    );
    assert!(
        cause.contains("ValueError: boom: item 60 is broken"),
        "{cause}"
    );
    assert_eq!(
        ids::pathspec("FailingFlow", &start.run, "start", "start"),
        start.pathspec
    );
}

#[tokio::test]
async fn the_s3_datastore_reads_lists_and_tails() {
    let moto = moto::shared();
    let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
    let store = S3Datastore::new(&sdk);
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket(BUCKET)
    .send()
    .await
    .unwrap();
    let dir = format!("s3://{BUCKET}/metaflow/F/sfn-x/even/even-1/");
    for name in [
        "0.attempt.json",
        "0.DONE.lock",
        "1.attempt.json",
        "_meta/x.json",
    ] {
        store
            .put(
                &format!("{dir}{name}"),
                name.as_bytes().to_vec(),
                "text/plain",
            )
            .await
            .unwrap();
    }
    let mut names = store.list(&dir).await.unwrap();
    names.sort();
    assert_eq!(names, ["0.DONE.lock", "0.attempt.json", "1.attempt.json"]);
    assert!(
        store
            .list(&format!("s3://{BUCKET}/nothing/"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.exists(&format!("{dir}0.DONE.lock")).await.unwrap());
    assert!(!store.exists(&format!("{dir}1.DONE.lock")).await.unwrap());
    assert_eq!(store.get(&format!("{dir}2.data.json")).await.unwrap(), None);

    let log = format!("{dir}0.task_stderr.log");
    store
        .put(&log, b"0123456789".to_vec(), "text/plain")
        .await
        .unwrap();
    assert_eq!(
        store.get_tail(&log, 4).await.unwrap().as_deref(),
        Some(&b"6789"[..])
    );
    assert_eq!(
        store.get_tail(&log, 100).await.unwrap().as_deref(),
        Some(&b"0123456789"[..])
    );
    let empty = format!("{dir}1.task_stderr.log");
    store.put(&empty, Vec::new(), "text/plain").await.unwrap();
    assert_eq!(store.get_tail(&empty, 4).await.unwrap(), Some(Vec::new()));
    assert_eq!(
        store.get_tail(&format!("{dir}9.log"), 4).await.unwrap(),
        None
    );
    // Ranges (the logs API's pages) carry the object's size, also past the end and on
    // an empty object, where S3 answers InvalidRange.
    let ranged = |bytes: &[u8], size: u64| {
        Some(Ranged {
            bytes: bytes.to_vec(),
            size,
        })
    };
    assert_eq!(
        store.get_range(&log, 2, 3).await.unwrap(),
        ranged(b"234", 10)
    );
    assert_eq!(
        store.get_range(&log, 8, 100).await.unwrap(),
        ranged(b"89", 10)
    );
    assert_eq!(store.get_range(&log, 10, 4).await.unwrap(), ranged(b"", 10));
    assert_eq!(store.get_range(&empty, 0, 4).await.unwrap(), ranged(b"", 0));
    assert_eq!(
        store.get_range(&format!("{dir}9.log"), 0, 4).await.unwrap(),
        None
    );
    let error = store.get("https://not-s3/x").await.unwrap_err();
    assert!(
        error.to_string().contains("not an s3://bucket/key URL"),
        "{error}"
    );
}

/// A `@trigger` flow whose start step fails once; every task keeps what
/// `current.trigger` showed it.
const TRIGGERED_FLOW: &str = r#"import json
from metaflow import FlowSpec, current, retry, step, trigger

@trigger(events=['data_ready', 'tables_ready'])
class TriggeredFlow(FlowSpec):
    @retry(times=1)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError('the first attempt fails')
        self.seen = json.dumps([[e.name, e.id, e.type] for e in current.trigger.events])
        self.latest = current.trigger.event.name
        self.next(self.end)

    @step
    def end(self):
        self.seen = json.dumps([[e.name, e.id, e.type] for e in current.trigger])

if __name__ == '__main__':
    TriggeredFlow()
"#;

/// The local metadata files of one kind (`sysmeta_<field>_*.json`) under `dir`, parsed.
fn local_metadata(dir: &std::path::Path, field: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(local_metadata(&path, field));
        } else if entry
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("sysmeta_{field}_"))
        {
            found.push(serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap());
        }
    }
    found
}

#[tokio::test]
async fn a_triggered_run_s_tasks_see_its_events_and_its_start_task_records_them() {
    let source = tempfile::tempdir().unwrap();
    let flow = source.path().join("triggered_flow.py");
    std::fs::write(&flow, TRIGGERED_FLOW).unwrap();
    let stack = Stack::deploy(flow.to_str().unwrap()).await;
    // The record the event delivery writes before it starts the run: two events, the
    // older one first.
    let arrival = |id: &str, name: &str, timestamp: i64| dropflow_events::Arrival {
        id: id.into(),
        event: dropflow_events::MetaflowEvent {
            name: name.into(),
            payload: json!({"id": id, "timestamp": timestamp})
                .as_object()
                .unwrap()
                .clone(),
        },
    };
    let record = dropflow_events::TriggeredRun {
        state_machine: "TriggeredFlow".into(),
        execution_name: "ev-0123".into(),
        claimed_at_ms: 1,
        events: vec![
            arrival("u-1", "data_ready", 1_765_000_000),
            arrival("u-2", "tables_ready", 1_765_000_100),
        ],
    };
    stack
        .put(
            &format!(
                "s3://{BUCKET}/{}",
                dropflow_contract::layout::triggered_run_key("TriggeredFlow", "ev-0123")
            ),
            serde_json::to_vec(&record).unwrap(),
        )
        .await;

    let start = stack.start_flow("ev-0123", json!({})).await;
    assert_eq!(start.trigger_events.len(), 2, "{start:?}");
    let failed = stack.run_job(&start);
    assert!(!failed.status.success(), "the first attempt fails");
    let retry = stack
        .call(json!({
            "phase": "start",
            "step": "start",
            "from": "retry",
            "input": {"task": start, "error": {"Error": "States.TaskFailed", "Cause": "{}"}},
        }))
        .await;
    let retry: Task = serde_json::from_value(retry["task"].clone()).unwrap();
    assert_eq!(retry.attempt, 1);
    stack.run_ok(&retry);
    let done = stack.finish(&retry).await;
    let end = stack.start("end", StartFrom::Parent, done).await;
    stack.run_ok(&end);
    stack.finish(&end).await;

    // `current.trigger` in both tasks: the events newest first, as Metaflow's `Trigger`
    // orders them, each of type `event`; `current.trigger.event` is the newest.
    let seen = json!([
        ["tables_ready", "u-2", "event"],
        ["data_ready", "u-1", "event"]
    ]);
    for task in [&retry, &end] {
        let Pickle::String(text) = stack.artifact(task, "seen").await else {
            panic!("seen is not a string")
        };
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            seen,
            "{}",
            task.pathspec
        );
    }
    assert_eq!(
        stack.artifact(&retry, "latest").await,
        Pickle::String("tables_ready".into())
    );

    // The start task's `execution-triggers` metadata, once per attempt (the failed one
    // too, as on Argo), Argo's list as JSON; no other task has it.
    let run = stack
        .scratch
        .path()
        .join(".metaflow/TriggeredFlow/sfn-ev-0123");
    let mut registered = local_metadata(&run.join("start"), "execution-triggers");
    assert_eq!(
        registered.len(),
        2,
        "{registered:?} under {}",
        run.display()
    );
    registered.sort_by_key(|m| m["tags"].to_string());
    for (attempt, metadatum) in registered.iter().enumerate() {
        assert_eq!(metadatum["field_name"], "execution-triggers", "{metadatum}");
        assert_eq!(metadatum["type"], "execution-triggers", "{metadatum}");
        assert_eq!(
            metadatum["tags"],
            json!([format!("attempt_id:{attempt}")]),
            "{metadatum}"
        );
        let value: Value = serde_json::from_str(metadatum["value"].as_str().unwrap()).unwrap();
        assert_eq!(
            value,
            json!([
                {"timestamp": 1_765_000_100, "id": "u-2", "name": "tables_ready", "type": "event"},
                {"timestamp": 1_765_000_000, "id": "u-1", "name": "data_ready", "type": "event"},
            ])
        );
    }
    assert!(local_metadata(&run.join("end"), "execution-triggers").is_empty());
}
