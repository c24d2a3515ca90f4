//! A wide foreach on the local stack, shared by the CI test (1,000 wide) and the benchmark
//! (any width): `ForeachFlow` deployed by upload and started with `width` N, run to its end
//! (N `square` tasks, each its own Batch job of real Metaflow between step Lambda phases,
//! joined by `collect`), then read back with Metaflow's Client.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_tests::{python, repo_root};
use serde_json::json;

use super::{borrowed, deployed, dump, execute, history_events, s3, stack_env, tarball};

const FLOW: &str = "ForeachFlow";
const SOURCE: &str = "tests/flows/shapes/foreach.py";

/// A wide foreach that ran to its end and was read back as it should be.
pub struct WideRun {
    /// `ForeachFlow/sfn-<execution name>`.
    pub run: String,
    /// From StartExecution to the execution's end.
    pub took: Duration,
    /// Events in the (parent) execution's history; AWS fails an execution at 25,000.
    pub parent_events: usize,
}

/// Runs `ForeachFlow` `width` wide on a fresh local stack running `max_jobs` Batch jobs at
/// once. Errs, naming the run, unless the execution succeeded and the Client reads a
/// successful run with `width` `square` tasks and the `width` squares, in order, at `end`.
pub async fn run_wide_foreach(width: usize, max_jobs: usize) -> Result<WideRun, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = max_jobs;
    let stack = Stack::start(options, Registry::new())
        .await
        .map_err(|e| format!("the local stack did not come up: {e}"))?;
    s3(&stack)
        .put_object()
        .bucket(&stack.endpoints().bucket)
        .key("flows/foreach.tgz")
        .body(tarball(&repo_root().join(SOURCE)).into())
        .send()
        .await
        .map_err(|e| format!("upload to the local bucket: {e}"))?;
    let alias = deployed(&stack, FLOW).await?;

    let input = json!({ "Parameters": json!({ "width": width }).to_string() }).to_string();
    // Only a guard against a hung execution: a task takes about 2 s on 2 cores.
    let timeout = Duration::from_secs(600 + 30 * width as u64);
    let started = Instant::now();
    let execution = execute(&stack, &alias, &input, timeout)
        .await
        .map_err(|e| format!("width {width}: {e}"))?;
    let took = started.elapsed();
    if execution.status() != &ExecutionStatus::Succeeded {
        return Err(format!(
            "width {width}: the execution ended {:?}: {:?}: {:?}",
            execution.status(),
            execution.error(),
            execution.cause()
        ));
    }

    let parent_events = history_events(&stack, execution.execution_arn()).await?;
    let run = format!("{FLOW}/sfn-{}", execution.name().unwrap_or_default());
    let got = tokio::task::block_in_place(|| {
        dump(&borrowed(&stack_env(&stack)), &repo_root(), &run, &["end"])
    })
    .map_err(|e| format!("reading {run}: {e}"))?;
    let squares: Vec<u64> = (1..=width as u64).map(|i| i * i).collect();
    let checks = [
        ("successful", &got["successful"], json!(true)),
        ("square tasks", &got["tasks"]["square"], json!(width)),
        (
            "squares at end",
            &got["data"]["end"]["squares"],
            json!(squares),
        ),
    ];
    for (what, actual, expected) in checks {
        if *actual != expected {
            let shorten =
                |v: &serde_json::Value| v.to_string().chars().take(300).collect::<String>();
            return Err(format!(
                "{run}: {what}: expected {}, got {}",
                shorten(&expected),
                shorten(actual)
            ));
        }
    }
    Ok(WideRun {
        run,
        took,
        parent_events,
    })
}
