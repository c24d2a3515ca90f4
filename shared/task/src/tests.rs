//! The three phases end to end over an in-memory datastore: manifests compiled from the
//! shape corpus (`tests/flows/shapes`), task outputs written by real Metaflow
//! (`tests/fixtures/metaflow_datastore`, run ids `sfn-fixture*`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_contract::{DeployOptions, Manifest, Platform};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("shared/task is two levels below the repository root")
        .to_path_buf()
}

fn manifest_of_file(path: &Path, options: &DeployOptions) -> Manifest {
    let package = package::read_path(path, &Limits::default()).expect("readable flow");
    let checked = pipeline::check(&package).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pipeline::compile(&checked, options, &Platform::default(), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .manifest
}

fn shape(name: &str) -> Manifest {
    manifest_of_file(
        &repo().join(format!("tests/flows/shapes/{name}.py")),
        &DeployOptions::default(),
    )
}

fn manifest_of_source(source: &str) -> Manifest {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flow.py");
    std::fs::write(&path, source).unwrap();
    manifest_of_file(&path, &DeployOptions::default())
}

/// A step Lambda over an in-memory store holding the manifest and Metaflow's fixtures.
struct Lambda {
    store: MemoryDatastore,
    manifests: ManifestCache,
    manifest: Manifest,
    settings: JobSettings,
}

impl Lambda {
    fn new(manifest: Manifest) -> Self {
        let store = MemoryDatastore::new();
        store.insert(
            &manifest.location,
            serde_json::to_vec(&manifest).expect("manifest serialises"),
        );
        store
            .load_dir(
                &repo().join("tests/fixtures/metaflow_datastore"),
                &manifest.datastore_root,
            )
            .expect("fixtures load");
        Self {
            store,
            manifests: ManifestCache::new(),
            manifest,
            settings: JobSettings::default(),
        }
    }

    async fn call(&self, request: Value) -> TaskResult<Value> {
        run(request, &self.store, &self.manifests, &self.settings).await
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
            .await
            .unwrap_or_else(|e| panic!("start: {e}"));
        serde_json::from_value(response["task"].clone()).expect("a task")
    }

    async fn start(&self, step: &str, from: StartFrom, input: Value) -> Task {
        let response = self
            .call(json!({"phase": "start", "step": step, "from": from, "input": input}))
            .await
            .unwrap_or_else(|e| panic!("start {step}: {e}"));
        // `batch` is null until the job state fills it; nothing is cloned outside a resume.
        assert_eq!(response["cloned"], json!(false), "{response}");
        assert_eq!(response["batch"], Value::Null, "{response}");
        assert_eq!(response.as_object().unwrap().len(), 3, "{response}");
        serde_json::from_value(response["task"].clone()).expect("a task")
    }

    async fn finish(&self, task: &Task) -> TaskResult<Value> {
        self.call(json!({
            "phase": "finish",
            "step": task.step,
            "task": task,
            "batch": {"JobId": format!("job-{}", task.id)},
        }))
        .await
    }

    fn record(&self, task: &Task, attempt: u32) -> Value {
        let key = records::record_key(
            &self.manifest.state_machine,
            &task.run,
            &task.step,
            &task.id,
            attempt,
        );
        let bytes = self
            .store
            .object(&format!("s3://dropflow-bucket/{key}"))
            .unwrap_or_else(|| panic!("no record {key}"));
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn input_paths(task: &Task) -> &str {
    match &task.inputs {
        Inputs::Paths(paths) => paths,
        Inputs::File(url) => panic!("input paths in a file: {url}"),
    }
}

fn script(task: &Task) -> &str {
    let command = &task.job.container_overrides.command;
    assert_eq!(command[..2], ["sh", "-c"]);
    &command[2]
}

fn env(task: &Task) -> BTreeMap<&str, &str> {
    task.job
        .container_overrides
        .environment
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_str()))
        .collect()
}

#[tokio::test]
async fn inline_map_foreaches_get_their_splits_inline_and_a_width_limit() {
    let options = DeployOptions {
        distributed_map: false,
        ..DeployOptions::default()
    };
    let manifest = manifest_of_file(&repo().join("tests/flows/shapes/foreach.py"), &options);
    let lambda = Lambda::new(manifest);
    let start = lambda
        .start_flow("fixture", json!({"Parameters": "{\"width\": 7}"}))
        .await;
    let done = lambda.finish(&start).await.unwrap();
    assert_eq!(done["splits"], json!([0, 1, 2, 3, 4, 5, 6]));
    assert_eq!(done["width"], 7);
    assert!(done.get("items").is_none(), "{done}");
    let collect = lambda
        .start(
            "collect",
            StartFrom::ForeachJoin,
            json!({"ctx": done["ctx"], "splits": done["splits"]}),
        )
        .await;
    assert_eq!(
        input_paths(&collect),
        "sfn-fixture/square/:square-0,square-1,square-2,square-3,square-4,square-5,square-6"
    );

    let too_wide = width::check_width(&start, width::INLINE_MAX_WIDTH + 1, false).unwrap_err();
    assert_eq!(too_wide.error_type(), "dropflow.ForeachTooWide");
    assert_eq!(
        too_wide.to_string(),
        "the foreach of step start (ForeachFlow/sfn-fixture/start/start) is 1001 wide, over the limit of 1000: deploy with distributed_map = true (the default) in dropflow.toml, or without distributed_map = false"
    );
    let limit = width::MAX_FOREACH_WIDTH;
    assert!(width::check_width(&start, limit, true).is_ok());
    let message = width::check_width(&start, limit + 1, true)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("step start")
            && message.contains("1000001 wide")
            && message.contains("limit of 1000000"),
        "{message}"
    );
}

#[tokio::test]
async fn foreach_flow_runs_start_to_end() {
    let lambda = Lambda::new(shape("foreach"));
    let start = lambda
        .start_flow("fixture", json!({"Parameters": "{\"width\": 7}"}))
        .await;
    assert_eq!(start.run, "sfn-fixture");
    assert_eq!(start.id, "start");
    assert_eq!(start.attempt, 0);
    assert_eq!(start.pathspec, "ForeachFlow/sfn-fixture/start/start");
    assert_eq!(input_paths(&start), "sfn-fixture/_parameters/params");
    assert_eq!(start.job.job_name, "ForeachFlow-sfn-fixture-start-0");
    assert_eq!(start.job.job_queue, "dropflow");
    assert!(start.job.job_definition.starts_with("ForeachFlow-start-"));
    assert_eq!(
        env(&start),
        BTreeMap::from([
            ("METAFLOW_INIT_WIDTH", "7"),
            ("METAFLOW_PRODUCTION_TOKEN", "foreachflow-5a27bb28"),
            ("METAFLOW_RUNTIME_NAME", "step-functions"),
            ("METAFLOW_USER", "SFN"),
            ("USERNAME", "dropflow"),
        ])
    );
    let start_script = script(&start);
    for expected in [
        "fetch dropflow-bucket deployments/ForeachFlow/",
        "python foreach.py --quiet --no-pylint --metadata=local --environment=local \
         --datastore=s3 --datastore-root=s3://dropflow-bucket/metaflow dump \
         --max-value-size=0 sfn-fixture/_parameters/params >/dev/null 2>&1 || python foreach.py",
        "init --run-id sfn-fixture --task-id params",
        "step start --run-id sfn-fixture --task-id start --retry-count 0 \
         --max-user-code-retries 0 --input-paths sfn-fixture/_parameters/params",
        "MF_PATHSPEC=ForeachFlow/sfn-fixture/start/start MF_ATTEMPT=0",
        "python -m metaflow.mflog.save_logs",
    ] {
        assert!(
            start_script.contains(expected),
            "{expected}\nnot in\n{start_script}"
        );
    }
    assert_eq!(lambda.record(&start, 0)["status"], "submitted");

    let done = lambda.finish(&start).await.unwrap();
    let items_key = "dropflow/runs/ForeachFlow/sfn-fixture/start/start/items.json";
    assert_eq!(
        done,
        json!({
            "ctx": {"manifest": lambda.manifest.location, "run": "sfn-fixture", "task": "start/start"},
            "width": 7,
            "items": {"Bucket": "dropflow-bucket", "Key": items_key},
        })
    );
    // What the Distributed Map's ItemReader reads: the split indices.
    let items = lambda
        .store
        .object(&format!("s3://dropflow-bucket/{items_key}"))
        .expect("the item list is written");
    let items: Vec<u32> = serde_json::from_slice(&items).unwrap();
    assert_eq!(items, [0, 1, 2, 3, 4, 5, 6]);
    let record = lambda.record(&start, 0);
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["batch_job_id"], "job-start");
    assert_eq!(record["splits"], 7);

    let mut results = Vec::new();
    for index in 0..7u32 {
        let square = lambda
            .start(
                "square",
                StartFrom::ForeachChild,
                json!({"ctx": done["ctx"], "index": index}),
            )
            .await;
        assert_eq!(square.id, format!("square-{index}"));
        assert_eq!(square.foreach, [index]);
        assert_eq!(square.split, Some(index));
        assert_eq!(input_paths(&square), "sfn-fixture/start/start");
        assert!(script(&square).contains(&format!(
            "--input-paths sfn-fixture/start/start --split-index {index}"
        )));
        assert!(
            !script(&square).contains(" init "),
            "only the start step inits"
        );
        let finished = lambda.finish(&square).await.unwrap();
        assert_eq!(finished["ctx"]["foreach"], json!([index]));
        assert!(finished.get("splits").is_none() && finished.get("next").is_none());
        results.push(finished);
    }

    // The Map passes its own input (the foreach step's finish output) to the join.
    let collect = lambda
        .start("collect", StartFrom::ForeachJoin, done.clone())
        .await;
    assert_eq!(collect.id, "collect");
    assert!(collect.foreach.is_empty());
    assert_eq!(
        input_paths(&collect),
        "sfn-fixture/square/:square-0,square-1,square-2,square-3,square-4,square-5,square-6"
    );
    let collected = lambda.finish(&collect).await.unwrap();
    let end = lambda
        .start("end", StartFrom::Parent, collected.clone())
        .await;
    assert_eq!(input_paths(&end), "sfn-fixture/collect/collect");
    assert_eq!(lambda.finish(&end).await.unwrap()["ctx"]["task"], "end/end");
}

#[tokio::test]
async fn switches_return_the_chosen_step() {
    let lambda = Lambda::new(shape("switch"));
    for route in ["large", "small"] {
        let start = lambda
            .start_flow(&format!("fixture-{route}"), json!({"route": route}))
            .await;
        assert_eq!(env(&start)["METAFLOW_INIT_ROUTE"], route);
        let done = lambda.finish(&start).await.unwrap();
        assert_eq!(done["next"], route);
        assert!(done.get("splits").is_none());
        assert_eq!(lambda.record(&start, 0)["next"], route);

        let target = lambda.start(route, StartFrom::Parent, done).await;
        assert_eq!(target.id, route);
        assert_eq!(
            input_paths(&target),
            format!("sfn-fixture-{route}/start/start")
        );
        let after = lambda.finish(&target).await.unwrap();
        let end = lambda.start("end", StartFrom::Parent, after).await;
        assert_eq!(
            input_paths(&end),
            format!("sfn-fixture-{route}/{route}/{route}")
        );
    }
}

#[tokio::test]
async fn recursive_switches_loop_with_a_new_task_per_iteration() {
    let lambda = Lambda::new(shape("recursive_switch"));
    let start = lambda.start_flow("fixture", json!({})).await;
    let mut done = lambda.finish(&start).await.unwrap();
    for k in 0..5u32 {
        let tick = lambda.start("tick", StartFrom::Parent, done.clone()).await;
        assert_eq!(tick.id, format!("tick-i{k}"));
        assert_eq!(tick.iter, Some(k));
        let expected_parent = if k == 0 {
            "sfn-fixture/start/start".to_string()
        } else {
            format!("sfn-fixture/tick/tick-i{}", k - 1)
        };
        assert_eq!(input_paths(&tick), expected_parent);
        done = lambda.finish(&tick).await.unwrap();
        assert_eq!(done["ctx"]["iter"], k);
        assert_eq!(done["next"], if k < 4 { "tick" } else { "finish" });
    }
    let finish = lambda.start("finish", StartFrom::Parent, done).await;
    assert_eq!(finish.id, "finish");
    assert_eq!(finish.iter, None);
    assert_eq!(input_paths(&finish), "sfn-fixture/tick/tick-i4");
}

#[tokio::test]
async fn static_joins_list_branches_in_in_funcs_order() {
    let lambda = Lambda::new(shape("branch"));
    let ctx = |task: &str| json!({"ctx": {"manifest": lambda.manifest.location, "run": "sfn-x", "task": task}});
    let join = lambda
        .start(
            "join",
            StartFrom::StaticJoin,
            json!([ctx("right/right"), ctx("left/left")]),
        )
        .await;
    assert_eq!(join.id, "join");
    assert_eq!(input_paths(&join), "sfn-x/left/left,sfn-x/right/right");
    let left = lambda
        .start("left", StartFrom::Parent, ctx("start/start"))
        .await;
    assert_eq!(input_paths(&left), "sfn-x/start/start");
}

#[tokio::test]
async fn nested_foreach_joins_take_their_siblings() {
    let lambda = Lambda::new(shape("nested_foreach"));
    let location = lambda.manifest.location.clone();
    let level1_ctx =
        json!({"manifest": location, "run": "sfn-x", "task": "level1/level1-1", "foreach": [1]});
    let level2 = lambda
        .start(
            "level2",
            StartFrom::ForeachChild,
            json!({"ctx": level1_ctx, "index": 2}),
        )
        .await;
    assert_eq!(level2.id, "level2-1-2");
    assert_eq!(level2.split, Some(2));
    assert_eq!(input_paths(&level2), "sfn-x/level1/level1-1");

    let join2 = lambda
        .start(
            "join2",
            StartFrom::ForeachJoin,
            json!({"ctx": level1_ctx, "splits": [0, 1, 2]}),
        )
        .await;
    assert_eq!(join2.id, "join2-1");
    assert_eq!(join2.foreach, [1]);
    assert_eq!(
        input_paths(&join2),
        "sfn-x/level2/:level2-1-0,level2-1-1,level2-1-2"
    );

    let start_ctx = json!({"manifest": location, "run": "sfn-x", "task": "start/start"});
    let join1 = lambda
        .start(
            "join1",
            StartFrom::ForeachJoin,
            json!({"ctx": start_ctx, "splits": [0, 1]}),
        )
        .await;
    assert_eq!(join1.id, "join1");
    assert_eq!(input_paths(&join1), "sfn-x/join2/:join2-0,join2-1");
}

const SWITCH_INTO_JOIN: &str = r#"
from metaflow import FlowSpec, step


class SwitchIntoJoinFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.classify, foreach="items")

    @step
    def classify(self):
        self.kind = "even" if self.input % 2 == 0 else "odd"
        self.next({"even": self.even, "odd": self.odd}, condition="kind")

    @step
    def even(self):
        self.next(self.collect)

    @step
    def odd(self):
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchIntoJoinFlow()
"#;

#[tokio::test]
async fn foreach_joins_probe_which_branch_ran_for_each_split() {
    let lambda = Lambda::new(manifest_of_source(SWITCH_INTO_JOIN));
    let root = lambda.manifest.datastore_root.clone();
    for (step, task) in [
        ("odd", "odd-0"),
        ("even", "even-1"),
        ("odd", "odd-2"),
        ("even", "even-3"),
    ] {
        let files = TaskFiles::new(&root, "SwitchIntoJoinFlow", "sfn-x", step, task);
        lambda.store.insert(&files.done_lock(0), Vec::new());
    }
    let ctx = json!({"manifest": lambda.manifest.location, "run": "sfn-x", "task": "start/start"});
    let collect = lambda
        .start(
            "collect",
            StartFrom::ForeachJoin,
            json!({"ctx": ctx, "splits": [0, 1, 2, 3]}),
        )
        .await;
    assert_eq!(
        input_paths(&collect),
        "sfn-x/:odd/odd-0,even/even-1,odd/odd-2,even/even-3"
    );
    let missing = lambda
        .call(json!({"phase": "start", "step": "collect", "input": {"ctx": ctx, "splits": [0, 1, 2, 3, 4]}}))
        .await
        .unwrap_err();
    assert_eq!(missing.error_type(), "dropflow.JoinInputMissing");
}

#[tokio::test]
async fn long_input_paths_go_through_a_file() {
    let lambda = Lambda::new(shape("foreach"));
    let ctx =
        json!({"manifest": lambda.manifest.location, "run": "sfn-wide", "task": "start/start"});
    let splits: Vec<u32> = (0..1000).collect();
    let collect = lambda
        .start(
            "collect",
            StartFrom::ForeachJoin,
            json!({"ctx": ctx, "splits": splits}),
        )
        .await;
    let Inputs::File(url) = &collect.inputs else {
        panic!("inline paths: {:?}", collect.inputs)
    };
    assert_eq!(
        url,
        "s3://dropflow-bucket/dropflow/inputs/ForeachFlow/sfn-wide/collect/collect/input-paths"
    );
    let paths = String::from_utf8(lambda.store.object(url).unwrap()).unwrap();
    assert!(
        paths.starts_with("sfn-wide/square/:square-0,square-1,"),
        "{paths:.80}"
    );
    assert!(paths.ends_with(",square-999"));
    let script = script(&collect);
    assert!(script.contains(
        "fetch dropflow-bucket dropflow/inputs/ForeachFlow/sfn-wide/collect/collect/input-paths .dropflow-input-paths"
    ));
    assert!(script.contains("--input-paths-filename .dropflow-input-paths"));
    assert!(command::overrides_size(&collect.job) < 4096);
}

#[tokio::test]
async fn large_parameter_values_go_through_a_file() {
    let lambda = Lambda::new(shape("switch"));
    let route = "x".repeat(7000);
    let start = lambda.start_flow("big", json!({"route": route})).await;
    assert!(!env(&start).contains_key("METAFLOW_INIT_ROUTE"));
    let url = start.params_file.clone().expect("a parameters file");
    let file = String::from_utf8(lambda.store.object(&url).unwrap()).unwrap();
    assert_eq!(file, format!("export METAFLOW_INIT_ROUTE={route}\n"));
    assert!(script(&start).contains(". ./.dropflow-parameters.env"));
    assert!(command::overrides_size(&start.job) < command::OVERRIDES_BUDGET);

    let retried = lambda
        .call(json!({
            "phase": "start",
            "step": "start",
            "input": {"task": start, "error": {"Error": "States.TaskFailed", "Cause": "{}"}},
            "manifest": lambda.manifest.location,
            "execution": "big",
        }))
        .await
        .unwrap();
    let retried: Task = serde_json::from_value(retried["task"].clone()).unwrap();
    assert_eq!(retried.attempt, 1);
    assert_eq!(retried.params_file, start.params_file);

    // The tagged retry (its own start state: no manifest, no execution; the start step's
    // execution input may have a parameter called "task", it is never guessed at).
    let again = lambda
        .start(
            "start",
            StartFrom::Retry,
            json!({"task": retried, "error": {"Error": "States.TaskFailed", "Cause": "{}"}}),
        )
        .await;
    assert_eq!(again.attempt, 2);
    assert_eq!(again.params_file, start.params_file);
}

#[tokio::test]
async fn retries_reuse_the_task_with_the_next_attempt() {
    let lambda = Lambda::new(shape("foreach"));
    let ctx =
        json!({"manifest": lambda.manifest.location, "run": "sfn-fixture", "task": "start/start"});
    let square = lambda
        .start(
            "square",
            StartFrom::ForeachChild,
            json!({"ctx": ctx, "index": 3}),
        )
        .await;
    let cause = json!({
        "JobId": "job-abc",
        "Status": "FAILED",
        "StatusReason": "Essential container in task exited",
        "Container": {"ExitCode": 1},
    })
    .to_string();
    let retry = lambda
        .start(
            "square",
            StartFrom::Retry,
            json!({"task": square, "error": {"Error": "States.TaskFailed", "Cause": cause}}),
        )
        .await;
    assert_eq!(retry.id, "square-3");
    assert_eq!(retry.attempt, 1);
    assert_eq!(retry.split, Some(3));
    assert_eq!(retry.job.job_name, "ForeachFlow-sfn-fixture-square-3-1");
    assert!(script(&retry).contains("--retry-count 1 "));
    assert!(script(&retry).contains("MF_ATTEMPT=1 "));
    assert_eq!(
        retry.job.container_overrides.environment,
        square.job.container_overrides.environment
    );
    let failed = lambda.record(&square, 0);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["batch_job_id"], "job-abc");
    assert_eq!(
        failed["cause"],
        "exit code 1: Essential container in task exited"
    );
    assert_eq!(lambda.record(&retry, 1)["status"], "submitted");
}

fn failing_manifest() -> Manifest {
    manifest_of_file(
        &repo().join("tests/fixtures/metaflow_datastore/failing_flow.py"),
        &DeployOptions::default(),
    )
}

#[tokio::test]
async fn a_failed_task_is_not_finished_and_its_log_is_the_cause() {
    let lambda = Lambda::new(failing_manifest());
    let start = lambda.start_flow("fixture", json!({})).await;
    let error = lambda.finish(&start).await.unwrap_err();
    assert_eq!(error.error_type(), "dropflow.TaskFailed");

    let batch_cause = json!({
        "JobId": "job-1",
        "StatusReason": "Essential container in task exited",
        "Container": {"ExitCode": 1},
    })
    .to_string();
    let failed_state =
        json!({"task": start, "error": {"Error": "States.TaskFailed", "Cause": batch_cause}});
    // Top level, then nested twice as Map and Parallel hand a failed state outwards.
    let nested_once = json!({
        "ctx": {"manifest": lambda.manifest.location, "run": "sfn-fixture", "task": "x/x"},
        "error": {"Error": "States.TaskFailed", "Cause": failed_state.to_string()},
    });
    let nested_twice =
        json!({"error": {"Error": "States.TaskFailed", "Cause": nested_once.to_string()}});
    for input in [failed_state, nested_once, nested_twice] {
        let response = lambda
            .call(json!({"phase": "fail", "input": input}))
            .await
            .unwrap();
        assert_eq!(response["error"], "States.TaskFailed");
        let cause = response["cause"].as_str().unwrap();
        assert!(
            cause.starts_with(
                "start/start attempt 0 failed (Batch job job-1: exit code 1: Essential container in task exited):\n"
            ),
            "{cause}"
        );
        assert!(
            cause.ends_with("ValueError: boom: item 60 is broken"),
            "{cause}"
        );
        assert!(!cause.contains("[MFLOG|"), "{cause}");
        assert!(
            cause.lines().count() <= 41 && cause.len() <= 4300,
            "{cause}"
        );
    }
    let record = lambda.record(&start, 0);
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"], "States.TaskFailed");
    assert_eq!(record["batch_job_id"], "job-1");
}

#[tokio::test]
async fn failures_without_a_task_keep_their_message() {
    let lambda = Lambda::new(shape("foreach"));
    let lambda_error =
        json!({"errorType": "dropflow.TaskNotFinished", "errorMessage": "task X has not finished"});
    let response = lambda
        .call(json!({"phase": "fail", "input": {
            "ctx": {"manifest": lambda.manifest.location, "run": "sfn-x", "task": "start/start"},
            "error": {"Error": "dropflow.TaskNotFinished", "Cause": lambda_error.to_string()},
        }}))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"error": "dropflow.TaskNotFinished", "cause": "task X has not finished"})
    );
    let response = lambda
        .call(json!({"phase": "fail", "input": {"error": {"Error": "States.Timeout", "Cause": "took too long"}}}))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"error": "States.Timeout", "cause": "took too long"})
    );
}

#[tokio::test]
async fn a_task_whose_manifest_is_gone_still_fails_with_a_cause() {
    let lambda = Lambda::new(failing_manifest());
    let mut start = lambda.start_flow("fixture", json!({})).await;
    start.manifest = "s3://dropflow-bucket/deployments/gone/deployment.json".into();
    let response = lambda
        .call(json!({"phase": "fail", "input": {"task": start, "error": {"Error": "States.TaskFailed", "Cause": ""}}}))
        .await
        .unwrap();
    let cause = response["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(
            "start/start attempt 0 failed:\n(the task's log could not be found: deployment manifest"
        ),
        "{cause}"
    );
}

#[tokio::test]
async fn bad_requests_have_stable_error_types() {
    let lambda = Lambda::new(manifest_of_file(
        &repo().join("examples/parameter_flow.py"),
        &DeployOptions::default(),
    ));
    let location = lambda.manifest.location.clone();
    let ctx = json!({"manifest": location, "run": "sfn-x", "task": "start/start"});
    let cases = [
        (json!({"phase": "explode"}), "dropflow.InvalidRequest"),
        (
            json!({"phase": "start", "step": "end", "input": {}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "nope", "input": {"ctx": ctx}}),
            "dropflow.UnknownStep",
        ),
        (
            json!({"phase": "start", "step": "start", "input": {}, "manifest": "s3://dropflow-bucket/none.json", "execution": "e"}),
            "dropflow.ManifestNotFound",
        ),
        (
            json!({"phase": "start", "step": "start", "input": {"alpha": "fast"}, "manifest": location, "execution": "e"}),
            "dropflow.InvalidParameters",
        ),
        (
            json!({"phase": "start", "step": "start", "input": {"beta": 1}, "manifest": location, "execution": "e"}),
            "dropflow.InvalidParameters",
        ),
        (
            json!({"phase": "start", "step": "start", "input": {}, "manifest": location}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "input": {"ctx": ctx}, "manifest": location, "execution": "e"}),
            "dropflow.InvalidRequest",
        ),
        // Tagged requests whose input is not of the tagged kind, or whose tag does not fit
        // the step.
        (
            json!({"phase": "start", "step": "end", "from": "parent", "input": {}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "retry", "input": {"ctx": ctx}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "foreach_child", "input": {"ctx": ctx}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "static_join", "input": {"ctx": ctx}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "foreach_join", "input": {"ctx": ctx}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "foreach_join", "input": {"ctx": ctx, "width": 2, "splits": [0, 1]}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "execution", "input": {}, "manifest": location, "execution": "e"}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "parent", "input": {"ctx": ctx}, "manifest": location}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "start", "from": "execution", "input": {}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "start", "from": "parent", "input": {"ctx": ctx}}),
            "dropflow.InvalidRequest",
        ),
        (
            json!({"phase": "start", "step": "end", "from": "sideways", "input": {"ctx": ctx}}),
            "dropflow.InvalidRequest",
        ),
    ];
    for (request, expected) in cases {
        let error = lambda.call(request.clone()).await.unwrap_err();
        assert_eq!(error.error_type(), expected, "{request}: {error}");
    }
    let error = lambda
        .call(json!({"phase": "start", "step": "start", "input": {"alpha": "fast"}, "manifest": location, "execution": "e"}))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid parameters: alpha: expected a number, got string \"fast\" (the flow's parameters: alpha)"
    );
    let error = lambda
        .call(json!({"phase": "start", "step": "end", "from": "retry", "input": {"ctx": ctx}}))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid request: the input of a start from retry does not fit: missing field `task` \
         (the state machine's start state and its input disagree: redeploy the flow)"
    );
    // A task that never wrote its DONE.lock.
    let end = lambda
        .start("end", StartFrom::Parent, json!({"ctx": ctx}))
        .await;
    let error = lambda.finish(&end).await.unwrap_err();
    assert_eq!(error.error_type(), "dropflow.TaskNotFinished");
    assert_eq!(
        error.to_string(),
        "task ParameterFlow/sfn-x/end/end attempt 0 has not finished: no 0.DONE.lock in the datastore"
    );
}

#[tokio::test]
async fn project_tags_namespace_and_retry_options_reach_the_command() {
    let options = DeployOptions {
        tags: vec!["team:ml".into(), "two words".into()],
        namespace: Some("prod-ns".into()),
        retry_by_default: true,
        branch: Some("feature".into()),
        ..DeployOptions::default()
    };
    let manifest = manifest_of_file(
        &repo().join("tests/flows/shapes/project_schedule.py"),
        &options,
    );
    let lambda = Lambda::new(manifest);
    let start = lambda.start_flow("e1", json!({})).await;
    let script = script(&start);
    for expected in [
        "--with=retry --branch=feature step start",
        "--max-user-code-retries 3 ",
        "--tag team:ml --tag 'two words' --namespace=prod-ns",
        "init --run-id sfn-e1 --task-id params --tag team:ml --tag 'two words'",
    ] {
        assert!(script.contains(expected), "{expected}\nnot in\n{script}");
    }
}

/// Reads artifact `name` of a fixture task.
async fn fixture_artifact(
    flow: &str,
    run: &str,
    step: &str,
    task: &str,
    name: &str,
) -> serde_pickle::Value {
    let store = MemoryDatastore::new();
    let root = "s3://fixtures/metaflow";
    store
        .load_dir(&repo().join("tests/fixtures/metaflow_datastore"), root)
        .unwrap();
    let files = TaskFiles::new(root, flow, run, step, task);
    let data = artifacts::DataJson::parse(&store.object(&files.data_json(0)).unwrap()).unwrap();
    let pathspec = ids::pathspec(flow, run, step, task);
    let source = artifacts::ArtifactSource {
        root,
        flow,
        pathspec: &pathspec,
        data: &data,
    };
    source.read(&store, name, |v| Ok(v.clone())).await.unwrap()
}

#[tokio::test]
async fn blobs_written_by_real_metaflow_decode() {
    use serde_pickle::Value as P;
    let run = "sfn-fixture";
    let splits =
        fixture_artifact("ForeachFlow", run, "start", "start", "_foreach_num_splits").await;
    assert_eq!(artifacts::foreach_num_splits(&splits), Ok(7));
    let transition = fixture_artifact("ForeachFlow", run, "start", "start", "_transition").await;
    assert_eq!(
        transition,
        P::Tuple(vec![
            P::List(vec![P::String("square".into())]),
            P::String("numbers".into())
        ])
    );
    let squares = fixture_artifact("ForeachFlow", run, "collect", "collect", "squares").await;
    assert_eq!(
        squares,
        P::List([1, 4, 9, 16, 25, 36, 49].into_iter().map(P::I64).collect())
    );
    let end = fixture_artifact("ForeachFlow", run, "end", "end", "_transition").await;
    assert_eq!(artifacts::transition_step(&end), Ok(None));
    let chosen = fixture_artifact(
        "SwitchFlow",
        "sfn-fixture-small",
        "start",
        "start",
        "_transition",
    )
    .await;
    assert_eq!(
        artifacts::transition_step(&chosen),
        Ok(Some("small".into()))
    );
    let looping =
        fixture_artifact("RecursiveSwitchFlow", run, "tick", "tick-i3", "_transition").await;
    assert_eq!(
        artifacts::transition_step(&looping),
        Ok(Some("tick".into()))
    );
    let ok = fixture_artifact("FailingFlow", run, "start", "start", "_task_ok").await;
    assert_eq!(artifacts::task_ok(&ok), Ok(false));
    let ok = fixture_artifact("ForeachFlow", run, "square", "square-6", "_task_ok").await;
    assert_eq!(artifacts::task_ok(&ok), Ok(true));
}

#[tokio::test]
async fn the_job_scripts_read_as_intended() {
    let lambda = Lambda::new(shape("foreach"));
    let version = lambda.manifest.version.clone();
    let start = lambda.start_flow("fixture", json!({})).await;
    let ctx =
        json!({"manifest": lambda.manifest.location, "run": "sfn-fixture", "task": "start/start"});
    let collect = lambda
        .start(
            "collect",
            StartFrom::ForeachJoin,
            json!({"ctx": ctx, "splits": (0..500).collect::<Vec<u32>>()}),
        )
        .await;
    for (name, task) in [
        ("start_step_script", &start),
        ("wide_join_script", &collect),
    ] {
        insta::assert_snapshot!(name, script(task).replace(&version, "<version>"));
    }
}

#[tokio::test]
async fn without_a_metadata_service_tasks_record_metadata_locally() {
    let lambda = Lambda::new(shape("foreach"));
    assert_eq!(lambda.settings, JobSettings::default());
    let start = lambda.start_flow("local", json!({})).await;
    let script = script(&start);
    assert!(script.contains(" --metadata=local "), "{script}");
    assert!(!script.contains("--metadata=service"), "{script}");
    let env = env(&start);
    assert!(!env.contains_key("METAFLOW_SERVICE_URL"));
    assert!(!env.contains_key("METAFLOW_DEFAULT_METADATA"));
    assert_eq!(env["METAFLOW_RUNTIME_NAME"], "step-functions");
    assert_eq!(
        env["METAFLOW_PRODUCTION_TOKEN"],
        dropflow_contract::production_token("ForeachFlow")
    );
}

#[tokio::test]
async fn with_a_metadata_service_tasks_use_it() {
    let url = "https://abc.execute-api.us-east-1.amazonaws.com/metadata";
    let mut lambda = Lambda::new(shape("foreach"));
    lambda.settings = JobSettings {
        metadata_url: Some(url.into()),
        ..JobSettings::default()
    };
    let start = lambda
        .start_flow("svc", json!({"Parameters": "{\"width\": 2}"}))
        .await;
    let start_script = script(&start);
    // Every Metaflow command: the `_parameters` dump and init, and the step.
    let services = start_script.matches(" --metadata=service ").count();
    assert_eq!(services, 3, "{start_script}");
    assert!(!start_script.contains("--metadata=local"));
    let expected_env = BTreeMap::from([
        ("METAFLOW_DEFAULT_METADATA", "service"),
        ("METAFLOW_INIT_WIDTH", "2"),
        ("METAFLOW_PRODUCTION_TOKEN", "foreachflow-5a27bb28"),
        ("METAFLOW_RUNTIME_NAME", "step-functions"),
        ("METAFLOW_SERVICE_URL", url),
        ("METAFLOW_USER", "SFN"),
        ("USERNAME", "dropflow"),
    ]);
    assert_eq!(env(&start), expected_env);

    // The next step, and a retry of it: the same metadata options.
    let ctx =
        json!({"manifest": lambda.manifest.location, "run": "sfn-svc", "task": "start/start"});
    let square = lambda
        .start(
            "square",
            StartFrom::ForeachChild,
            json!({"ctx": ctx, "index": 1}),
        )
        .await;
    assert!(script(&square).contains(" --metadata=service "));
    assert_eq!(env(&square)["METAFLOW_SERVICE_URL"], url);
    let failed = json!({"Error": "States.TaskFailed", "Cause": "{}"});
    let retried = lambda
        .start(
            "square",
            StartFrom::Retry,
            json!({"task": square, "error": failed}),
        )
        .await;
    assert_eq!(retried.attempt, 1);
    assert!(script(&retried).contains(" --metadata=service "));
    assert_eq!(env(&retried), env(&square));

    // A retry after the service was configured away falls back to local metadata, its
    // environment rebased (no service variables left behind).
    lambda.settings = JobSettings::default();
    let local = lambda
        .start(
            "square",
            StartFrom::Retry,
            json!({"task": retried, "error": failed}),
        )
        .await;
    assert!(script(&local).contains(" --metadata=local "));
    assert!(!env(&local).contains_key("METAFLOW_SERVICE_URL"));
    assert!(!env(&local).contains_key("METAFLOW_DEFAULT_METADATA"));
    assert_eq!(env(&local)["METAFLOW_RUNTIME_NAME"], "step-functions");
}

#[tokio::test]
async fn manifests_without_a_production_token_still_get_one() {
    let mut manifest = shape("linear");
    let token = manifest.production_token.clone();
    assert_eq!(
        token,
        dropflow_contract::production_token(&manifest.state_machine)
    );
    // A manifest written before the field existed.
    let mut json = serde_json::to_value(&manifest).unwrap();
    json.as_object_mut().unwrap().remove("production_token");
    manifest = serde_json::from_value(json).unwrap();
    assert_eq!(manifest.production_token, "");
    assert_eq!(manifest.production_token(), token);
    let lambda = Lambda::new(manifest);
    let start = lambda.start_flow("old", json!({})).await;
    assert_eq!(env(&start)["METAFLOW_PRODUCTION_TOKEN"], token);
}

#[tokio::test]
async fn a_failure_in_nested_distributed_maps_reaches_the_top_execution() {
    let lambda = Lambda::new(shape("nested_foreach"));
    let location = lambda.manifest.location.clone();
    let ctx = |task: &str, foreach: Value| json!({"manifest": location, "run": "sfn-nest", "task": task, "foreach": foreach});
    // level2-1-2 runs in a child execution of level1-1's Map, itself a child execution
    // of start's Map.
    let level2 = lambda
        .start(
            "level2",
            StartFrom::ForeachChild,
            json!({"ctx": ctx("level1/level1-1", json!([1])), "index": 2}),
        )
        .await;
    assert_eq!(level2.id, "level2-1-2");
    let batch_cause = json!({"JobId": "job-9", "Container": {"ExitCode": 1}}).to_string();
    let child = lambda
        .call(json!({"phase": "fail", "foreach": "level1", "input": {
            "task": level2, "error": {"Error": "States.TaskFailed", "Cause": batch_cause},
        }}))
        .await
        .unwrap();
    let cause = child["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("level2/level2-1-2 attempt 0 failed (Batch job job-9: exit code 1):\n"),
        "{cause}"
    );
    let left = |key: &str| {
        lambda
            .store
            .object(&format!(
                "s3://dropflow-bucket/dropflow/runs/NestedForeachFlow/sfn-nest/_failures/{key}"
            ))
            .map(|body| serde_json::from_slice::<Value>(&body).unwrap())
    };
    assert_eq!(left("level1-1.json"), Some(child.clone()));

    // The Map Run of level1-1 fails with Step Functions' own error; the child execution
    // of start's Map that ran it reports the task's failure and leaves it for the top.
    let map_run_failed = json!({
        "Error": "States.ExceedToleratedFailureThreshold",
        "Cause": "The specified tolerated failure threshold was exceeded",
    });
    let middle = lambda
        .call(json!({"phase": "fail", "foreach": "start", "input": {
            "ctx": ctx("level1/level1-1", json!([1])), "width": 3, "error": map_run_failed,
        }}))
        .await
        .unwrap();
    assert_eq!(middle, child);
    assert_eq!(left("start.json"), Some(child.clone()));
    let top = lambda
        .call(json!({"phase": "fail", "input": {
            "ctx": ctx("start/start", json!([])), "width": 2, "error": map_run_failed,
        }}))
        .await
        .unwrap();
    assert_eq!(top, child);

    // Another run's Map failing finds nothing left and keeps Step Functions' error.
    let unrelated = lambda
        .call(json!({"phase": "fail", "input": {
            "ctx": {"manifest": location, "run": "sfn-other", "task": "start/start"},
            "error": map_run_failed,
        }}))
        .await
        .unwrap();
    assert_eq!(
        unrelated,
        json!({"error": "States.ExceedToleratedFailureThreshold", "cause": "The specified tolerated failure threshold was exceeded"})
    );
}

/// Makes the fixture's foreach task of `lambda` report `width` splits: its
/// `_foreach_num_splits` blob becomes a (raw) pickle of `width`.
fn set_foreach_width(lambda: &Lambda, task: &Task, width: i64) {
    let manifest = &lambda.manifest;
    let files = datastore::TaskFiles::new(
        &manifest.datastore_root,
        &manifest.flow.name,
        &task.run,
        &task.step,
        &task.id,
    );
    let data = lambda.store.object(&files.data_json(0)).expect("data.json");
    let data = artifacts::DataJson::parse(&data).unwrap();
    let sha = &data.objects[artifacts::FOREACH_NUM_SPLITS];
    let pickle = serde_pickle::to_vec(&width, serde_pickle::SerOptions::new()).unwrap();
    lambda.store.insert(
        &datastore::blob_url(&manifest.datastore_root, &manifest.flow.name, sha),
        pickle,
    );
}

#[tokio::test]
async fn a_100_000_wide_foreach_starts_from_an_item_list_in_s3() {
    let lambda = Lambda::new(shape("foreach"));
    let start = lambda
        .start_flow("fixture", json!({"Parameters": "{\"width\": 7}"}))
        .await;
    set_foreach_width(&lambda, &start, 100_000);
    let done = lambda.finish(&start).await.unwrap();
    assert_eq!(done["width"], 100_000);
    // The Map's input stays tiny; the 588,891-byte list (over a state's 256 KiB) is in S3.
    assert!(done.to_string().len() < 512, "{done}");
    let key = done["items"]["Key"].as_str().unwrap();
    let items = lambda
        .store
        .object(&format!("s3://dropflow-bucket/{key}"))
        .unwrap();
    assert_eq!(items.len(), 588_891);
    let items: Vec<u32> = serde_json::from_slice(&items).unwrap();
    assert_eq!((items[0], items[99_999], items.len()), (0, 99_999, 100_000));
    // A child, and the join of all 100,000 (its input paths go through a file).
    let child = lambda
        .start(
            "square",
            StartFrom::ForeachChild,
            json!({"ctx": done["ctx"], "index": 99_999}),
        )
        .await;
    assert_eq!(child.id, "square-99999");
    let collect = lambda
        .start("collect", StartFrom::ForeachJoin, done.clone())
        .await;
    assert!(
        matches!(collect.inputs, Inputs::File(_)),
        "{:?}",
        collect.inputs
    );

    // Over the cap, the run fails at the split, naming the step, the width and the limit.
    set_foreach_width(&lambda, &start, 1_000_001);
    let error = lambda.finish(&start).await.unwrap_err();
    assert_eq!(error.error_type(), "dropflow.ForeachTooWide");
    assert!(
        error
            .to_string()
            .starts_with("the foreach of step start (ForeachFlow/sfn-fixture/start/start) is 1000001 wide, over the limit of 1000000:"),
        "{error}"
    );
}

#[tokio::test]
async fn an_inline_map_foreach_over_its_limit_fails_at_the_split() {
    let options = DeployOptions {
        distributed_map: false,
        ..DeployOptions::default()
    };
    let lambda = Lambda::new(manifest_of_file(
        &repo().join("tests/flows/shapes/foreach.py"),
        &options,
    ));
    let start = lambda
        .start_flow("fixture", json!({"Parameters": "{\"width\": 7}"}))
        .await;
    set_foreach_width(&lambda, &start, 1_001);
    let error = lambda.finish(&start).await.unwrap_err();
    assert_eq!(error.error_type(), "dropflow.ForeachTooWide");
    assert_eq!(
        error.to_string(),
        "the foreach of step start (ForeachFlow/sfn-fixture/start/start) is 1001 wide, over the limit of 1000: deploy with distributed_map = true (the default) in dropflow.toml, or without distributed_map = false"
    );
    set_foreach_width(&lambda, &start, 1_000);
    assert_eq!(
        lambda.finish(&start).await.unwrap()["splits"]
            .as_array()
            .unwrap()
            .len(),
        1_000
    );
}

const ON_FINISH_FLOW: &str = r#"from metaflow import FlowSpec, step, trigger_on_finish

@trigger_on_finish(flow='Up')
class Down(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

#[tokio::test]
async fn a_run_started_by_a_finish_event_passes_the_upstream_run_as_trigger() {
    let lambda = Lambda::new(manifest_of_source(ON_FINISH_FLOW));
    let record = dropflow_contract::triggers::TriggeredRun {
        state_machine: "Down".into(),
        execution_name: "ev-0123".into(),
        claimed_at_ms: 1,
        events: vec![dropflow_contract::triggers::Arrival {
            id: "Up/sfn-x/end/end".into(),
            event: dropflow_contract::triggers::MetaflowEvent {
                name: "metaflow.Up.end".into(),
                payload: json!({"flow_name": "Up", "run_id": "sfn-x",
                    "auto-generated-by-metaflow": "True"})
                .as_object()
                .unwrap()
                .clone(),
            },
        }],
    };
    lambda.store.insert(
        "s3://dropflow-bucket/events/runs/Down/ev-0123.json",
        serde_json::to_vec(&record).unwrap(),
    );

    let triggered = lambda.start_flow("ev-0123", json!({})).await;
    assert_eq!(triggered.trigger_runs, ["Up/sfn-x"]);
    // Metaflow's `--trigger` sets `current.trigger`; the launcher registers the start
    // task's `execution-triggers` as Argo does, with `type` `run` and the upstream end
    // task's pathspec as `id` (Metaflow's `Trigger.runs` reads the run from it).
    assert_eq!(
        serde_json::to_value(&triggered.trigger_events).unwrap(),
        json!([{"name": "metaflow.Up.end", "id": "Up/sfn-x/end/end", "type": "run"}])
    );
    assert!(
        script(&triggered).contains(&format!(
            "{}='[{{\"name\":\"metaflow.Up.end\",\"id\":\"Up/sfn-x/end/end\",\"type\":\"run\"}}]' {}=1 python -c",
            command::TRIGGER_EVENTS_VAR,
            command::EXECUTION_TRIGGERS_VAR
        )),
        "{}",
        script(&triggered)
    );
    assert!(
        script(&triggered).contains("--trigger=Up/sfn-x step start"),
        "{}",
        script(&triggered)
    );

    // A run not started by an event (or without a record) has none.
    let plain = lambda.start_flow("manual", json!({})).await;
    assert!(plain.trigger_runs.is_empty());
    assert!(!script(&plain).contains("--trigger"), "{}", script(&plain));
    let unknown = lambda.start_flow("ev-9999", json!({})).await;
    assert!(unknown.trigger_runs.is_empty());
}

const EVENT_FLOW: &str = r#"from metaflow import FlowSpec, step, trigger

@trigger(events=['data_ready', 'tables_ready'])
class Evented(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"#;

/// The record of a run of [`EVENT_FLOW`] started by two events (`ev-0123`), one with
/// the id `long_id`.
fn event_record(long_id: &str) -> Vec<u8> {
    let arrival = |id: &str, name: &str, payload: Value| dropflow_contract::triggers::Arrival {
        id: id.into(),
        event: dropflow_contract::triggers::MetaflowEvent {
            name: name.into(),
            payload: payload.as_object().unwrap().clone(),
        },
    };
    let record = dropflow_contract::triggers::TriggeredRun {
        state_machine: "Evented".into(),
        execution_name: "ev-0123".into(),
        claimed_at_ms: 1,
        events: vec![
            arrival(
                "u-1",
                "data_ready",
                json!({"id": "u-1", "timestamp": 1_765_000_000, "it's": "quoted"}),
            ),
            arrival(long_id, "tables_ready", json!({"id": long_id})),
        ],
    };
    serde_json::to_vec(&record).unwrap()
}

const EVENT_RECORD_URL: &str = "s3://dropflow-bucket/events/runs/Evented/ev-0123.json";

#[tokio::test]
async fn a_run_started_by_events_hands_them_to_every_task_through_the_launcher() {
    let lambda = Lambda::new(manifest_of_source(EVENT_FLOW));
    lambda.store.insert(EVENT_RECORD_URL, event_record("u-2"));

    let start = lambda.start_flow("ev-0123", json!({})).await;
    let expected = json!([
        {"name": "data_ready", "id": "u-1", "timestamp": 1_765_000_000},
        {"name": "tables_ready", "id": "u-2"},
    ]);
    assert_eq!(
        serde_json::to_value(&start.trigger_events).unwrap(),
        expected
    );
    assert!(start.trigger_runs.is_empty(), "no --trigger for @trigger");
    // The start step runs through the launcher, which also registers the metadata;
    // `init` and `dump` do not.
    let launched = format!(
        "DROPFLOW_TRIGGER_EVENTS='{}' DROPFLOW_EXECUTION_TRIGGERS=1 python -c {} flow.py --quiet",
        r#"[{"name":"data_ready","id":"u-1","timestamp":1765000000},{"name":"tables_ready","id":"u-2"}]"#,
        shell::quote(command::TRIGGER_LAUNCHER),
    );
    assert!(script(&start).contains(&launched), "{}", script(&start));
    assert_eq!(
        script(&start).matches("python -c ").count(),
        3,
        "has (the image's modules), fetch and the step"
    );
    assert!(script(&start).contains(" step start --run-id sfn-ev-0123 "));
    assert!(!script(&start).contains("--trigger"), "{}", script(&start));
    assert!(
        !script(&start).contains("quoted"),
        "only name, id and timestamp"
    );
    let version = lambda.manifest.version.clone();
    insta::assert_snapshot!(
        "triggered_start_step_script",
        script(&start).replace(&version, "<version>")
    );

    // Every task sees `current.trigger`; only the start step registers the metadata.
    let ctx =
        json!({"manifest": lambda.manifest.location, "run": start.run, "task": "start/start"});
    let end = lambda
        .start("end", StartFrom::Parent, json!({"ctx": ctx}))
        .await;
    assert_eq!(end.trigger_events, start.trigger_events);
    assert!(
        script(&end).contains("DROPFLOW_TRIGGER_EVENTS='[{\"name\":\"data_ready\"")
            && !script(&end).contains("DROPFLOW_EXECUTION_TRIGGERS=1"),
        "{}",
        script(&end)
    );

    // A retry keeps them.
    let retry = lambda
        .start(
            "start",
            StartFrom::Retry,
            json!({"task": start, "error": {"Error": "States.TaskFailed", "Cause": "{}"}}),
        )
        .await;
    assert_eq!(retry.attempt, 1);
    assert_eq!(retry.trigger_events, start.trigger_events);
    assert!(script(&retry).contains(&launched), "{}", script(&retry));

    // A run started through the API (or without a record) has none: plain `python`.
    for execution in ["manual", "ev-9999"] {
        let plain = lambda.start_flow(execution, json!({})).await;
        assert!(plain.trigger_events.is_empty(), "{execution}");
        assert!(
            !script(&plain).contains("python -c 'import json"),
            "{}",
            script(&plain)
        );
        assert!(script(&plain).contains("\npython flow.py --quiet"));
    }
}

#[tokio::test]
async fn events_too_large_for_the_job_fail_the_start_step_saying_why() {
    let lambda = Lambda::new(manifest_of_source(EVENT_FLOW));
    let long_id = "x".repeat(command::TRIGGER_EVENTS_MAX);
    lambda
        .store
        .insert(EVENT_RECORD_URL, event_record(&long_id));
    let error = lambda
        .call(json!({
            "phase": "start",
            "step": "start",
            "from": "execution",
            "input": {},
            "manifest": lambda.manifest.location,
            "execution": "ev-0123",
        }))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "dropflow.TriggerTooLarge");
    let message = error.to_string();
    assert!(
        message.starts_with("the events that started run Evented/sfn-ev-0123 take 2")
            && message.contains("over the limit of 2048")
            && message.contains("shorter ids"),
        "{message}"
    );
}

mod resumed;

#[test]
fn the_metaflow_a_plain_image_gets_is_the_one_tested() {
    let pins = include_str!("../../../tests/requirements.txt");
    let tested = pins
        .lines()
        .find_map(|line| line.trim().strip_prefix("metaflow=="))
        .expect("tests/requirements.txt pins metaflow");
    assert_eq!(crate::command::TASK_METAFLOW_VERSION, tested);
    let lines = crate::command::dependencies_lines().join("\n");
    assert!(
        lines.contains(&format!("has metaflow || install metaflow=={tested}")),
        "{lines}"
    );
    assert!(
        lines.contains("has boto3 || install boto3 requests"),
        "{lines}"
    );
}

#[tokio::test]
async fn a_uv_environment_syncs_the_lock_and_runs_metaflow_through_uv() {
    let mut manifest = shape("foreach");
    manifest.options.environment = dropflow_contract::TaskEnvironment::Uv;
    let lambda = Lambda::new(manifest);
    let version = lambda.manifest.version.clone();
    let start = lambda.start_flow("uv", json!({})).await;
    let script = script(&start);
    insta::assert_snapshot!(
        "uv_start_step_script",
        script.replace(&version, "<version>")
    );
    // The sync comes right after unpacking, before Metaflow's `init` and `step`, which
    // both run in the project's environment; the log tees stay on the image's Python.
    let unpacked = script.find("tar -xzf code.tar.gz").unwrap();
    let synced = script.find("\"$UV\" sync --frozen --no-dev").unwrap();
    let init = script.find(" init --run-id").unwrap();
    assert!(unpacked < synced && synced < init, "{script}");
    assert!(
        script.contains("\"$UV\" run --no-sync python foreach.py --quiet")
            && !script.contains("\npython foreach.py")
            && !script.contains("|| python foreach.py"),
        "{script}"
    );
    assert!(
        script.contains("python -m metaflow.mflog.tee task"),
        "{script}"
    );
}
