//! A wide foreach on the local stack, with real Metaflow tasks: `ForeachFlow` deployed by
//! upload and started with `width` N, run to its end (N `square` tasks, each its own Batch
//! job and step Lambda phases, joined by `collect`), then read back with Metaflow's Client:
//! N tasks and the N squares at `end`, or the bench fails.
//!
//! `cargo bench -p dropflow-tests --bench wide_foreach -- [WIDTH] [MAX_JOBS]` (default
//! 1000 and 4; needs `bash tests/run.sh --setup-only` once for the venv). Prints the wall
//! time of the execution and per task. On 2 cores a task costs about 2 s of wall time
//! (real Metaflow starts several Python processes per task), so 1,000 take about half an
//! hour and 10,000 several hours: this is a benchmark, not part of `tests/run.sh`.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_tests::{python, repo_root};
use serde_json::json;

#[path = "../tests/common/mod.rs"]
mod common;
use common::{borrowed, deployed, dump, execute, s3, stack_env, tarball};

const FLOW: &str = "ForeachFlow";
const SOURCE: &str = "tests/flows/shapes/foreach.py";

fn argument(position: usize, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(position)
        .map(|a| a.parse().expect("WIDTH and MAX_JOBS are whole numbers"))
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let width = argument(0, 1000);
    let max_jobs = argument(1, 4);
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = max_jobs;
    let stack = Stack::start(options, Registry::new())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    s3(&stack)
        .put_object()
        .bucket(&stack.endpoints().bucket)
        .key("flows/foreach.tgz")
        .body(tarball(&repo_root().join(SOURCE)).into())
        .send()
        .await
        .expect("upload to the local bucket");
    let alias = deployed(&stack, FLOW).await.expect("ForeachFlow deployed");

    let input = json!({ "Parameters": json!({ "width": width }).to_string() }).to_string();
    let timeout = Duration::from_secs(60 + 30 * width as u64);
    let started = Instant::now();
    let execution = execute(&stack, &alias, &input, timeout)
        .await
        .unwrap_or_else(|e| panic!("width {width}: {e}"));
    let took = started.elapsed();
    assert_eq!(
        execution.status(),
        &ExecutionStatus::Succeeded,
        "width {width}: {:?}: {:?}",
        execution.error(),
        execution.cause()
    );

    let run = format!("{FLOW}/sfn-{}", execution.name().unwrap_or_default());
    let got = tokio::task::block_in_place(|| {
        dump(&borrowed(&stack_env(&stack)), &repo_root(), &run, &["end"])
    })
    .unwrap_or_else(|e| panic!("reading {run}: {e}"));
    let squares: Vec<u64> = (1..=width as u64).map(|i| i * i).collect();
    assert_eq!(got["successful"], json!(true), "{run} is not successful");
    assert_eq!(got["tasks"]["square"], json!(width), "{run}: square tasks");
    assert_eq!(
        got["data"]["end"]["squares"],
        json!(squares),
        "{run}: squares"
    );

    println!(
        "wide foreach on the local stack: width {width}, {max_jobs} jobs at once: \
         {:.0} s, {:.2} s per task; {run} read back with the Client",
        took.as_secs_f64(),
        took.as_secs_f64() / width as f64
    );
}
