//! The start phase of a resumed run: tasks whose origin succeeded are cloned (no job),
//! the others, and the steps to run again, get their job with `--clone-run-id`.

use serde_json::{Value, json};

use super::{Lambda, failing_manifest, script, shape};
use crate::{Task, TaskFiles};
use dropflow_contract::start_input::{Resume, ResumedExecutionInput, StartFrom};

fn resumed_input(parameters: &str, rerun: &[&str]) -> Value {
    serde_json::to_value(ResumedExecutionInput {
        parameters: parameters.to_string(),
        resume: Resume {
            origin_run: "sfn-fixture".into(),
            rerun: rerun.iter().map(|s| s.to_string()).collect(),
        },
    })
    .unwrap()
}

impl Lambda {
    /// The start phase's whole response, and its task.
    async fn start_raw(&self, request: Value) -> (Value, Task) {
        let response = self.call(request).await.unwrap_or_else(|e| panic!("{e}"));
        let task = serde_json::from_value(response["task"].clone()).expect("a task");
        (response, task)
    }

    async fn start_resumed(&self, input: Value) -> (Value, Task) {
        self.start_raw(json!({
            "phase": "start",
            "step": self.manifest.flow.start_step,
            "from": "execution",
            "input": input,
            "manifest": self.manifest.location,
            "execution": "resumed",
            "may_clone": true,
        }))
        .await
    }
}

#[tokio::test]
async fn succeeded_origin_tasks_are_cloned_and_their_children_follow() {
    let lambda = Lambda::new(shape("foreach"));
    let (response, start) = lambda
        .start_resumed(resumed_input("{\"width\": 7}", &["collect", "end"]))
        .await;
    assert_eq!(response["cloned"], json!(true), "{response}");
    assert_eq!(response["batch"], Value::Null);
    assert_eq!(start.run, "sfn-resumed");
    let root = &lambda.manifest.datastore_root;
    let files = TaskFiles::new(root, "ForeachFlow", "sfn-resumed", "start", "start");
    assert!(lambda.store.object(&files.done_lock(0)).is_some());

    // The clone finishes as a task that ran: the Map gets the origin's width.
    let done = lambda.finish(&start).await.unwrap();
    assert_eq!(done["width"], 7);
    assert_eq!(done["ctx"]["resume"]["origin_run"], "sfn-fixture");
    assert_eq!(lambda.record(&start, 0)["status"], "succeeded");

    let (response, square) = lambda
        .start_raw(
            json!({"phase": "start", "step": "square", "from": StartFrom::ForeachChild,
                          "input": {"ctx": done["ctx"], "index": 3}, "may_clone": true}),
        )
        .await;
    assert_eq!(response["cloned"], json!(true), "{response}");
    assert_eq!(square.id, "square-3");
    let square_done = lambda.finish(&square).await.unwrap();

    // A step to run again gets its job, which records the origin run.
    let (response, collect) = lambda
        .start_raw(
            json!({"phase": "start", "step": "collect", "from": StartFrom::ForeachJoin,
                          "input": {"ctx": done["ctx"], "width": 7}, "may_clone": true}),
        )
        .await;
    assert_eq!(response["cloned"], json!(false), "{response}");
    assert!(
        script(&collect).contains("--clone-run-id sfn-fixture"),
        "{}",
        script(&collect)
    );
    assert_eq!(
        square_done["ctx"]["resume"]["rerun"],
        json!(["collect", "end"])
    );
}

#[tokio::test]
async fn a_task_that_failed_in_the_origin_runs_again_with_the_origin_parameters() {
    let lambda = Lambda::new(failing_manifest());
    let (response, start) = lambda.start_resumed(resumed_input("{}", &[])).await;
    assert_eq!(response["cloned"], json!(false), "{response}");
    assert!(script(&start).contains("--clone-run-id sfn-fixture"));
    assert_eq!(lambda.record(&start, 0)["status"], "submitted");
    let root = &lambda.manifest.datastore_root;
    let files = TaskFiles::new(root, "FailingFlow", "sfn-resumed", "start", "start");
    assert!(lambda.store.object(&files.done_lock(0)).is_none());
}

#[tokio::test]
async fn only_the_resumed_form_of_the_input_resumes() {
    let lambda = Lambda::new(shape("foreach"));
    // A plain run's input (no "Parameters" text beside it) is parameter values: an
    // unknown "Resume" is refused as a parameter, never read as a resume.
    let error = lambda
        .call(json!({
            "phase": "start", "step": "start", "from": "execution",
            "input": {"width": 3, "Resume": {"origin_run": "sfn-fixture"}},
            "manifest": lambda.manifest.location, "execution": "plain",
        }))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "dropflow.InvalidParameters", "{error}");
}

/// A registry that remembers what it was given.
#[derive(Debug, Default)]
struct Recorded(std::sync::Mutex<Vec<crate::clone_registry::ClonedTask>>);

impl crate::clone_registry::CloneRegistry for Recorded {
    fn register<'a>(
        &'a self,
        clone: &'a crate::clone_registry::ClonedTask,
    ) -> crate::clone_registry::RegisterFuture<'a> {
        self.0.lock().unwrap().push(clone.clone());
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn clones_and_only_clones_are_registered() {
    let lambda = Lambda::new(shape("foreach"));
    let registry = Recorded::default();
    let start = |step: &str, from: StartFrom, input: Value| json!({"phase": "start", "step": step, "from": from, "input": input});
    let run = |request: Value| {
        crate::run_with_clones(
            request,
            &lambda.store,
            &lambda.manifests,
            &lambda.settings,
            Some(&registry),
        )
    };
    let response = run(json!({
        "phase": "start", "step": "start", "from": "execution",
        "input": resumed_input("{\"width\": 7}", &["collect", "end"]),
        "manifest": lambda.manifest.location, "execution": "resumed", "may_clone": true,
    }))
    .await
    .unwrap();
    assert_eq!(response["cloned"], json!(true));
    let start_task: Task = serde_json::from_value(response["task"].clone()).unwrap();
    let done = lambda.finish(&start_task).await.unwrap();
    let collect = run(start(
        "collect",
        StartFrom::ForeachJoin,
        json!({"ctx": done["ctx"], "width": 7}),
    ))
    .await
    .unwrap();
    assert_eq!(collect["cloned"], json!(false));

    let registered = registry.0.lock().unwrap().clone();
    assert_eq!(registered.len(), 1, "{registered:?}");
    let clone = &registered[0];
    assert_eq!(
        (clone.run.as_str(), clone.step.as_str(), clone.task.as_str()),
        ("sfn-resumed", "start", "start")
    );
    assert_eq!(clone.origin_run, "sfn-fixture");
    assert_eq!(clone.user, "SFN");
    assert!(clone.system_tags.contains(&format!(
        "production:{}",
        lambda.manifest.production_token()
    )));
}

#[tokio::test]
async fn a_state_machine_without_s_cloned_runs_every_task_of_a_resumed_run() {
    // Compiled before resume: its start states do not say `may_clone`, and its job state
    // follows the start state whatever it answers, so nothing is cloned.
    let lambda = Lambda::new(shape("foreach"));
    let (response, start) = lambda
        .start_raw(json!({
            "phase": "start", "step": "start", "from": "execution",
            "input": resumed_input("{\"width\": 7}", &[]),
            "manifest": lambda.manifest.location, "execution": "resumed",
        }))
        .await;
    assert_eq!(response["cloned"], json!(false), "{response}");
    assert!(script(&start).contains("--clone-run-id sfn-fixture"));
    let root = &lambda.manifest.datastore_root;
    let files = TaskFiles::new(root, "ForeachFlow", "sfn-resumed", "start", "start");
    assert!(lambda.store.object(&files.done_lock(0)).is_none());
}
