//! Resuming a failed run on the local stack, with real Metaflow tasks: `ResumeFlow`
//! (`tests/flows/e2e/resume_flow.py`) fails in `total`; a fixed version with the same
//! graph is deployed; `POST /flows/ResumeFlow/runs/{run}/resume` starts a new run in which
//! `start`, the foreach's `square` tasks and `join` are clones (their `S.job` state never
//! entered: no Batch job), `total` and `end` run, and the run succeeds. Metaflow's Client
//! lists every step, the clones (registered by the step Lambda in the metadata service's
//! table, as Metaflow's `clone_task_helper` registers them) with their data, and the
//! re-run steps with `origin-run-id` and what they inherited from the clones. A second
//! resume of the origin `from_step` join runs join again and clones the rest before it.

use std::process::Command;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_task::records::{TaskRecord, TaskStatus, record_key};
use dropflow_tests::{python, repo_root};
use serde_json::{Value, json};

mod common;
use common::{USER, borrowed, ended, http, s3, stack_env, tarball};

const FLOW: &str = "tests/flows/e2e/resume_flow.py";
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

async fn upload(stack: &Stack, source: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resume_flow.py");
    std::fs::write(&path, source).unwrap();
    s3(stack)
        .put_object()
        .bucket(&stack.endpoints().bucket)
        .key("flows/resume_flow.tgz")
        .body(tarball(&path).into())
        .send()
        .await
        .unwrap();
}

/// `METHOD path body` on the stack's trigger API: (status, JSON body).
fn api(stack: &Stack, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, text) =
        tokio::task::block_in_place(|| http(&stack.endpoints().api_url, method, path, body))
            .unwrap_or_else(|e| panic!("{e}"));
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}

/// The live version of ResumeFlow, once it is not `not`.
async fn live_version(stack: &Stack, not: Option<&str>) -> String {
    for _ in 0..480 {
        let (status, flow) = api(stack, "GET", "/flows/ResumeFlow", "");
        if status == 200
            && let Some(version) = flow["version"].as_str()
            && Some(version) != not
        {
            return version.to_string();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("ResumeFlow's live version did not change from {not:?}");
}

/// Starts `path` (a run or resume route) and waits for the run to end.
async fn run(stack: &Stack, path: &str, body: &str) -> (Value, common::Execution) {
    let (status, started) = api(stack, "POST", path, body);
    assert!(status == 201, "POST {path}: {status} {started:#}");
    let arn = started["execution_arn"].as_str().unwrap();
    let execution = ended(stack, arn, RUN_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (started, execution)
}

/// The names of the states the execution `arn` entered, in order.
async fn states_entered(stack: &Stack, arn: &str) -> Vec<String> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let mut names = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(next_token.take())
            .send()
            .await
            .unwrap();
        names.extend(
            page.events()
                .iter()
                .filter_map(|e| e.state_entered_event_details())
                .map(|d| d.name().to_string()),
        );
        match page.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => return names,
        }
    }
}

/// The record of `step/task`'s first attempt in run `run`.
async fn record(stack: &Stack, run: &str, step: &str, task: &str) -> TaskRecord {
    let object = s3(stack)
        .get_object()
        .bucket(&stack.endpoints().bucket)
        .key(record_key("ResumeFlow", run, step, task, 0))
        .send()
        .await
        .unwrap_or_else(|e| panic!("no record of {step}/{task}: {e:?}"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Metaflow's Client on the stack's datastore and metadata service: stdout as JSON.
fn client(stack: &Stack, code: &str) -> Value {
    let envs = stack_env(stack);
    let no_local_metadata = tempfile::tempdir().unwrap();
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .args(["-c", code])
            .envs(borrowed(&envs))
            .env("METAFLOW_DATASTORE_SYSROOT_LOCAL", no_local_metadata.path())
            .env("USERNAME", USER)
            .current_dir(no_local_metadata.path())
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

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_resumes_with_clones_of_what_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = 4;
    let stack = Stack::start(options, Registry::new())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    let broken = std::fs::read_to_string(repo_root().join(FLOW)).unwrap();
    upload(&stack, &broken).await;
    let first = live_version(&stack, None).await;

    let (origin, execution) = run(&stack, "/flows/ResumeFlow/runs", r#"{"size": 3}"#).await;
    assert_eq!(execution.status(), &ExecutionStatus::Failed);
    assert!(execution.cause().unwrap_or_default().contains("BROKEN"));
    let origin_run = origin["run_id"].as_str().unwrap().to_string();

    // Same graph, fixed code: the live version changes, the run may be resumed on it.
    let fixed = broken.replace(
        "raise ValueError(\"BROKEN\")",
        "self.sum = sum(self.squares)",
    );
    assert_ne!(fixed, broken);
    upload(&stack, &fixed).await;
    let second = live_version(&stack, Some(&first)).await;

    let resume = format!("/flows/ResumeFlow/runs/{origin_run}/resume");
    let (resumed, execution) = run(&stack, &resume, "").await;
    assert_eq!(
        execution.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}",
        execution.error(),
        execution.cause()
    );
    assert_eq!(resumed["origin_run_id"], origin_run.as_str());
    assert_eq!(resumed["version"], second.as_str());
    assert_eq!(resumed["parameters"], json!({"size": 3}));
    let run_id = resumed["run_id"].as_str().unwrap().to_string();
    assert_ne!(run_id, origin_run);

    // Clones skip their job; the step that failed, and the one after it, run. (The
    // squares run in the Distributed Map's child executions: their records tell.)
    let entered = states_entered(&stack, execution.execution_arn()).await;
    for state in ["start.job", "join.job"] {
        assert!(!entered.iter().any(|s| s == state), "{state}: {entered:?}");
    }
    for state in [
        "start.cloned",
        "start.done",
        "join.done",
        "total.job",
        "end.job",
    ] {
        assert!(entered.iter().any(|s| s == state), "{state}: {entered:?}");
    }
    let tasks = [
        ("start", "start", false),
        ("square", "square-0", false),
        ("square", "square-1", false),
        ("square", "square-2", false),
        ("join", "join", false),
        ("total", "total", true),
        ("end", "end", true),
    ];
    for (step, task, ran) in tasks {
        let record = record(&stack, &run_id, step, task).await;
        assert_eq!(record.status, TaskStatus::Succeeded, "{task}: {record:?}");
        assert_eq!(record.batch_job_id.is_some(), ran, "{task}: {record:?}");
    }

    // A succeeded run cannot be resumed.
    let (status, refused) = api(
        &stack,
        "POST",
        &format!("/flows/ResumeFlow/runs/{run_id}/resume"),
        "",
    );
    assert_eq!(status, 409, "{refused:#}");
    assert_eq!(refused["reason"], "succeeded");

    let read = client(
        &stack,
        &format!(
            "from metaflow import Run, namespace\n\
             import json\n\
             namespace(None)\n\
             run = Run('ResumeFlow/{run_id}')\n\
             end = run['end'].task\n\
             total = run['total'].task\n\
             start = run['start'].task\n\
             squares = sorted(t.data.value for t in run['square'])\n\
             print(json.dumps({{'successful': run.successful, 'doubled': end.data.doubled, \
             'numbers': end.data.numbers, 'squares': end.data.squares, \
             'origin': total.metadata_dict.get('origin-run-id'), \
             'start_numbers': start.data.numbers, 'cloned_squares': squares, \
             'start_origin': start.metadata_dict.get('origin-run-id'), \
             'start_ok': start.successful, \
             'steps': sorted(s.id for s in run)}}))\n"
        ),
    );
    assert_eq!(read["successful"], json!(true), "{read:#}");
    assert_eq!(read["doubled"], json!(28), "{read:#}");
    assert_eq!(read["numbers"], json!([1, 2, 3]), "{read:#}");
    assert_eq!(read["squares"], json!([1, 4, 9]), "{read:#}");
    assert_eq!(read["origin"], json!(origin_run), "{read:#}");
    // The clones, as after a local `resume`.
    assert_eq!(
        read["steps"],
        json!(["end", "join", "square", "start", "total"]),
        "{read:#}"
    );
    assert_eq!(read["start_numbers"], json!([1, 2, 3]), "{read:#}");
    assert_eq!(read["cloned_squares"], json!([1, 4, 9]), "{read:#}");
    assert_eq!(read["start_origin"], json!(origin_run), "{read:#}");
    assert_eq!(read["start_ok"], json!(true), "{read:#}");

    // `resume join` of the same origin: join and every step after it run again; start
    // and the squares are clones.
    let (again, execution) = run(&stack, &resume, r#"{"from_step": "join"}"#).await;
    assert_eq!(execution.status(), &ExecutionStatus::Succeeded);
    assert_eq!(again["rerun"], json!(["end", "join", "total"]));
    let again_id = again["run_id"].as_str().unwrap().to_string();
    assert_ne!(again_id, run_id);
    let tasks = [
        ("start", "start", false),
        ("square", "square-1", false),
        ("join", "join", true),
        ("total", "total", true),
    ];
    for (step, task, ran) in tasks {
        let record = record(&stack, &again_id, step, task).await;
        assert_eq!(record.batch_job_id.is_some(), ran, "{task}: {record:?}");
    }
}
