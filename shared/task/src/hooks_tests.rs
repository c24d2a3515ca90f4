//! The hook phases through the step Lambda's entry point, over an in-memory store, with
//! the manifest of `tests/flows/shapes/exit_hooks.py`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::{JobSettings, ManifestCache, MemoryDatastore, run};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_contract::{DeployOptions, Platform};

fn manifest() -> Manifest {
    deployment().manifest
}

fn deployment() -> dropflow_compiler::compile::Deployment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/flows/shapes/exit_hooks.py");
    let package = package::read_path(&path, &Limits::default()).expect("readable flow");
    let checked = pipeline::check(&package).expect("checks");
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
    .expect("compiles")
}

struct Lambda {
    store: MemoryDatastore,
    manifest: Manifest,
}

impl Lambda {
    fn new() -> Self {
        let manifest = manifest();
        let store = MemoryDatastore::new();
        store.insert(
            &manifest.location,
            serde_json::to_vec(&manifest).expect("manifest serialises"),
        );
        Self { store, manifest }
    }

    async fn call(&self, request: Value) -> TaskResult<Value> {
        run(
            request,
            &self.store,
            &ManifestCache::default(),
            &JobSettings::default(),
        )
        .await
    }

    fn hook_request(&self, phase: &str, on: &str) -> Value {
        json!({"phase": phase, "on": on, "manifest": self.manifest.location, "execution": "abc"})
    }

    async fn record(&self, on: &str) -> Value {
        let url = bucket_url(
            &self.manifest,
            &format!("dropflow/runs/ExitHookShapeFlow/sfn-abc/_exit_hook/{on}/0.json"),
        )
        .unwrap();
        let bytes = self.store.get(&url).await.unwrap().expect("a record");
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[tokio::test]
async fn the_hook_phase_runs_each_function_with_the_runs_pathspec_on_the_start_steps_job() {
    let lambda = Lambda::new();
    let job: HookJob = serde_json::from_value(
        lambda
            .call(lambda.hook_request("hook", "on_error"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(job.pathspec, "ExitHookShapeFlow/sfn-abc");
    assert_eq!(job.hooks, ["notify", "cleanup"]);
    let start = &lambda.manifest.steps["start"];
    assert_eq!(job.job.job_definition, start.job_definition);
    assert_eq!(job.job.job_queue, start.runtime.job_queue);
    let script = &job.job.container_overrides.command[2];
    let notify = script
        .find("exit_hook_script exit_hooks.py notify ExitHookShapeFlow/sfn-abc || {")
        .expect(script);
    let cleanup = script
        .find("exit_hook_script exit_hooks.py cleanup ExitHookShapeFlow/sfn-abc || {")
        .expect(script);
    assert!(notify < cleanup, "in the decorator's order");
    assert!(script.ends_with("exit $failed"), "{script}");
    assert!(
        script.contains("dropflow/runs/ExitHookShapeFlow/sfn-abc/_exit_hook/on_error/0.log"),
        "{script}"
    );

    let success: HookJob = serde_json::from_value(
        lambda
            .call(lambda.hook_request("hook", "on_success"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(success.hooks, ["notify"]);
}

#[tokio::test]
async fn the_hooked_phase_records_success_and_a_failure_with_the_end_of_the_hooks_log() {
    let lambda = Lambda::new();
    let job = lambda
        .call(lambda.hook_request("hook", "on_error"))
        .await
        .unwrap();

    let mut ok = lambda.hook_request("hooked", "on_success");
    ok["hook"] = json!({"batch": {"JobId": "j-1"}});
    ok["hook"]
        .as_object_mut()
        .unwrap()
        .extend(job.as_object().unwrap().clone());
    let report = lambda.call(ok).await.unwrap();
    assert_eq!(report, json!({"on": "on_success", "status": "succeeded"}));
    let record = lambda.record("on_success").await;
    assert_eq!(record["status"], "succeeded");
    assert_eq!(record["batch_job_id"], "j-1");

    let log = bucket_url(
        &lambda.manifest,
        "dropflow/runs/ExitHookShapeFlow/sfn-abc/_exit_hook/on_error/0.log",
    )
    .unwrap();
    lambda.store.insert(
        &log,
        b"exit hook notify: starting\nRuntimeError: no pager\nexit hook notify failed (exit code 1)\n"
            .to_vec(),
    );
    let mut failed = lambda.hook_request("hooked", "on_error");
    let cause = json!({"JobId": "j-2", "Container": {"ExitCode": 1}}).to_string();
    failed["hook"] = job;
    failed["hook"]["error"] = json!({"Error": "States.TaskFailed", "Cause": cause});
    let report = lambda.call(failed).await.unwrap();
    assert_eq!(report["status"], "failed");
    let record = lambda.record("on_error").await;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["batch_job_id"], "j-2");
    let cause = record["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("exit hooks on_error (notify, cleanup) failed (exit code 1):")
            && cause.contains("RuntimeError: no pager"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_hook_job_that_could_not_be_built_is_recorded_and_unknown_outcomes_are_refused() {
    let lambda = Lambda::new();
    let mut never = lambda.hook_request("hooked", "on_error");
    never["hook"] =
        json!({"Error": "dropflow.ManifestNotFound", "Cause": "{\"errorMessage\": \"gone\"}"});
    lambda.call(never).await.unwrap();
    let record = lambda.record("on_error").await;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"], "dropflow.ManifestNotFound");
    assert_eq!(
        record["cause"],
        "the exit hooks job could not be built: gone"
    );

    let mut manifest = lambda.manifest.clone();
    manifest.exit_hooks.on_success.clear();
    let error = hook(
        &HookRequest {
            on: RunOutcome::Success,
            manifest: manifest.location.clone(),
            execution: "abc".into(),
        },
        &manifest,
        &JobSettings::default(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("has no on_success exit hooks"),
        "{error}"
    );
}

#[tokio::test]
async fn the_compiled_hook_states_payloads_are_what_the_phases_read() {
    let lambda = Lambda::new();
    let definition = serde_json::to_value(&deployment().definition).unwrap();
    for on in ["on_success", "on_error"] {
        let payload = |state: &str| {
            let mut payload = definition["States"][state]["Parameters"].clone();
            let fields = payload.as_object_mut().unwrap();
            assert_eq!(
                fields.remove("execution.$"),
                Some(json!("$$.Execution.Name"))
            );
            fields.insert("execution".into(), json!("abc"));
            payload
        };
        let job = lambda
            .call(payload(&format!("ExitHook.{on}")))
            .await
            .unwrap();
        let mut done = payload(&format!("ExitHook.{on}.done"));
        let fields = done.as_object_mut().unwrap();
        assert_eq!(fields.remove("hook.$"), Some(json!("$.hook")));
        fields.insert("hook".into(), job);
        let report = lambda.call(done).await.unwrap();
        assert_eq!(report, json!({"on": on, "status": "succeeded"}));
    }
}
