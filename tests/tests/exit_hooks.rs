//! `@exit_hook` on ONE local stack: `tests/flows/e2e/exit_hook_flow.py` is deployed and
//! run twice at once, once succeeding and once failing in its start step. Each hook
//! writes the run it was given to S3 (`hook-results/<run id>/<hook>.json`); the test
//! reads those, the executions' outcomes and the hooks' records in the run's records
//! (`_exit_hook/on_X/0.json`). The error run's hooks include one that always raises: the
//! execution still fails with the start step's error (not the hook's), the next hook
//! still runs, and the record names the failing hook.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_tests::{python, repo_root};
use serde_json::Value;

mod common;
use common::{deployed, execute, s3, tarball};

const FLOW: &str = "ExitHookFlow";
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(600);

async fn object(stack: &Stack, key: &str) -> Result<Value, String> {
    let got = s3(stack)
        .get_object()
        .bucket(&stack.endpoints().bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("GetObject {key}: {e}"))?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| format!("{key}: {e}"))?
        .into_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("{key}: {e}"))
}

async fn missing(stack: &Stack, key: &str) -> bool {
    s3(stack)
        .head_object()
        .bucket(&stack.endpoints().bucket)
        .key(key)
        .send()
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_hooks_run_after_success_and_after_a_failure_with_the_run() {
    let took = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = 2;
    let stack = Stack::start(options, Registry::new())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    s3(&stack)
        .put_object()
        .bucket(&stack.endpoints().bucket)
        .key("flows/exit_hook_flow.tgz")
        .body(tarball(&repo_root().join("tests/flows/e2e/exit_hook_flow.py")).into())
        .send()
        .await
        .expect("upload");
    let alias = deployed(&stack, FLOW).await.expect("deployed");

    let (ok, failed) = tokio::join!(
        execute(&stack, &alias, "{}", EXECUTION_TIMEOUT),
        execute(&stack, &alias, r#"{"fail": true}"#, EXECUTION_TIMEOUT),
    );
    let (ok, failed) = (ok.expect("success run"), failed.expect("error run"));
    let run_of = |e: &common::Execution| format!("sfn-{}", e.name().unwrap_or_default());
    let records = |run: &str| format!("dropflow/runs/{FLOW}/{run}/_exit_hook");

    // The successful run: SUCCEEDED, its on_success hook got the run, which succeeded.
    let run = run_of(&ok);
    assert_eq!(ok.status(), &ExecutionStatus::Succeeded, "{:?}", ok.cause());
    let record = object(&stack, &format!("{}/on_success/0.json", records(&run))).await;
    let hook = object(&stack, &format!("hook-results/{run}/on_success_hook.json"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nthe hooks' record: {record:?}\nexecution output: {:?}",
                ok.output()
            )
        });
    assert_eq!(hook["pathspec"], format!("{FLOW}/{run}"));
    assert_eq!(hook["successful"], true);
    assert!(missing(&stack, &format!("hook-results/{run}/on_error_hook.json")).await);
    let record = object(&stack, &format!("{}/on_success/0.json", records(&run)))
        .await
        .unwrap();
    assert_eq!(record["status"], "succeeded", "{record}");

    // The failed run: FAILED with the start step's error, as without hooks; the failing
    // hook did not stop the next one, and is in the run's record.
    let run = run_of(&failed);
    assert_eq!(failed.status(), &ExecutionStatus::Failed);
    let cause = failed.cause().unwrap_or_default();
    assert!(
        cause.starts_with("start/start attempt 0 failed") && cause.contains("failing on purpose"),
        "{cause}"
    );
    let hook = object(&stack, &format!("hook-results/{run}/on_error_hook.json"))
        .await
        .unwrap();
    assert_eq!(hook["pathspec"], format!("{FLOW}/{run}"));
    assert_eq!(hook["successful"], false);
    assert!(missing(&stack, &format!("hook-results/{run}/on_success_hook.json")).await);
    let record = object(&stack, &format!("{}/on_error/0.json", records(&run)))
        .await
        .unwrap();
    assert_eq!(record["status"], "failed", "{record}");
    let hook_cause = record["cause"].as_str().unwrap_or_default();
    assert!(
        hook_cause.contains("broken, on_error_hook")
            && hook_cause.contains("this hook always fails"),
        "{hook_cause}"
    );
    eprintln!("exit hooks test: {:.1} s", took.elapsed().as_secs_f64());
}
