//! Resume planning over manifests compiled from the shape corpus, and cloning over tasks
//! written by real Metaflow (`tests/fixtures/metaflow_datastore`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::MemoryDatastore;
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_contract::{DeployOptions, Platform};

const ROOT: &str = "s3://b/metaflow";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("shared/task/ is two levels below the repository root")
        .to_path_buf()
}

fn shape(name: &str) -> Manifest {
    let path = repo().join(format!("tests/flows/shapes/{name}.py"));
    let package = package::read_path(&path, &Limits::default()).expect("readable flow");
    let checked = pipeline::check(&package).expect("a valid flow");
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
    .expect("compiles")
    .manifest
}

#[test]
fn only_runs_that_ended_without_success_resume() {
    let linear = shape("linear");
    for status in ["RUNNING", "PENDING_REDRIVE"] {
        assert!(matches!(
            plan("sfn-x", status, &linear, &linear, None),
            Err(ResumeConflict::StillRunning { .. })
        ));
    }
    let succeeded = plan("sfn-x", "SUCCEEDED", &linear, &linear, None).unwrap_err();
    assert_eq!(
        succeeded.to_string(),
        "run sfn-x succeeded; only a run that failed, timed out or was stopped can be resumed"
    );
    for status in ["FAILED", "TIMED_OUT", "ABORTED"] {
        let planned = plan("sfn-x", status, &linear, &linear, None).unwrap();
        assert!(planned.rerun.is_empty());
        assert!(planned.may_clone("middle"));
    }
}

#[test]
fn from_step_reruns_it_and_everything_after_it() {
    let foreach = shape("foreach");
    let planned = plan("sfn-x", "FAILED", &foreach, &foreach, Some("square")).unwrap();
    let rerun: Vec<&str> = planned.rerun.iter().map(String::as_str).collect();
    assert_eq!(rerun, ["collect", "end", "square"]);
    assert!(planned.may_clone("start"));
    assert!(!planned.may_clone("collect"));
    let unknown = plan("sfn-x", "FAILED", &foreach, &foreach, Some("nope")).unwrap_err();
    assert!(
        unknown.to_string().starts_with(
            "the flow has no step \"nope\" to resume from (its steps: collect, end, square, start)"
        ),
        "{unknown}"
    );
}

#[test]
fn another_graph_cannot_resume_the_run() {
    let (linear, foreach) = (shape("linear"), shape("foreach"));
    let conflict = plan("sfn-x", "FAILED", &linear, &foreach, None).unwrap_err();
    let ResumeConflict::GraphChanged { differences, .. } = &conflict else {
        panic!("{conflict:?}");
    };
    assert!(differences.contains(&"step middle was removed".to_string()));
    assert!(differences.contains(&"step square was added".to_string()));
    assert!(
        differences
            .iter()
            .any(|d| d.starts_with("step start was a start step and is a foreach step")),
        "{differences:?}"
    );
    assert!(conflict.to_string().contains("start a new run instead"));
}

#[tokio::test]
async fn a_successful_task_is_cloned_onto_the_same_artifacts() {
    let store = MemoryDatastore::new();
    store
        .load_dir(&repo().join("tests/fixtures/metaflow_datastore"), ROOT)
        .expect("fixtures load");
    let target = CloneTarget {
        root: ROOT,
        flow: "ForeachFlow",
        origin_run: "sfn-fixture",
        run: "sfn-resumed",
        step: "square",
        task: "square-6",
        attempt: 0,
    };
    assert!(clone_task(&store, &target).await.unwrap());
    let origin = TaskFiles::new(ROOT, "ForeachFlow", "sfn-fixture", "square", "square-6");
    let cloned = TaskFiles::new(ROOT, "ForeachFlow", "sfn-resumed", "square", "square-6");
    let names = store.list(origin.dir()).await.unwrap();
    let origin_attempt = latest_done_attempt(names.iter().map(String::as_str)).unwrap();
    let data = |bytes: Option<Vec<u8>>| DataJson::parse(&bytes.unwrap()).unwrap();
    assert_eq!(
        data(store.get(&cloned.data_json(0)).await.unwrap()),
        data(store.get(&origin.data_json(origin_attempt)).await.unwrap()),
        "the clone names the origin's artifacts"
    );
    assert!(store.exists(&cloned.done_lock(0)).await.unwrap());
    assert!(
        store
            .exists(&format!("{}0.attempt.json", cloned.dir()))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn failed_or_missing_tasks_are_not_cloned() {
    let store = MemoryDatastore::new();
    store
        .load_dir(&repo().join("tests/fixtures/metaflow_datastore"), ROOT)
        .expect("fixtures load");
    let failed = CloneTarget {
        root: ROOT,
        flow: "FailingFlow",
        origin_run: "sfn-fixture",
        run: "sfn-resumed",
        step: "start",
        task: "start",
        attempt: 0,
    };
    assert!(!clone_task(&store, &failed).await.unwrap());
    let missing = CloneTarget {
        task: "start-9",
        ..failed
    };
    assert!(!clone_task(&store, &missing).await.unwrap());
    let new_run = TaskFiles::new(ROOT, "FailingFlow", "sfn-resumed", "start", "start");
    assert!(store.list(new_run.dir()).await.unwrap().is_empty());
}
