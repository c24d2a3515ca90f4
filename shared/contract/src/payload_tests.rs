use serde_json::{Value, json};

use super::*;
use crate::hook_protocol::HookProgress;
use crate::protocol::{Ctx, Inputs, Request, Task};
use crate::start_input::{ForeachChildInput, ParentInput};

/// Fills `payload` as Step Functions does: paths read from `state` (`$…`) or from the
/// context object `context` (`$$…`).
fn fill(payload: &Payload, state: &Value, context: &Value) -> Value {
    let read = |path: &str| -> Value {
        let (root, rest) = match path.strip_prefix("$$") {
            Some(rest) => (context, rest),
            None => (state, path.strip_prefix('$').expect("a JSONPath")),
        };
        rest.split('.')
            .filter(|s| !s.is_empty())
            .fold(root, |value, key| &value[key])
            .clone()
    };
    let fields = payload.fields().iter().map(|(key, field)| {
        let value = match field {
            Field::Value(value) => value.clone(),
            Field::Path(path) => read(path),
        };
        (key.to_string(), value)
    });
    Value::Object(fields.collect())
}

fn context() -> Value {
    json!({"Execution": {"Name": "exec-1"}, "Map": {"Item": {"Value": 2}}})
}

fn ctx() -> Ctx {
    Ctx {
        manifest: "s3://b/m.json".into(),
        run: "sfn-exec-1".into(),
        task: "start/start".into(),
        foreach: Vec::new(),
        iter: None,
        resume: None,
    }
}

fn task() -> Task {
    Task {
        manifest: "s3://b/m.json".into(),
        run: "sfn-exec-1".into(),
        step: "a".into(),
        id: "a".into(),
        pathspec: "F/sfn-exec-1/a/a".into(),
        attempt: 0,
        foreach: Vec::new(),
        iter: None,
        split: None,
        inputs: Inputs::Paths("sfn-exec-1/start/start".into()),
        params_file: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        trigger_runs: Vec::new(),
        trigger_events: Vec::new(),
        resume: None,
        job: Default::default(),
    }
}

fn decode(payload: &Payload, state: Value) -> Request {
    let filled = fill(payload, &state, &context());
    Request::from_value(filled.clone()).unwrap_or_else(|e| panic!("{filled}: {e}"))
}

fn start_of(payload: &Payload, state: Value) -> crate::protocol::StartRequest {
    match decode(payload, state) {
        Request::Start(start) => start,
        other => panic!("not a start request: {other:?}"),
    }
}

#[test]
fn start_templates_decode_to_tagged_start_requests() {
    let params = json!({"alpha": 0.5});
    let start = start_of(
        &Payload::start("start", StartFrom::Execution, "s3://b/m.json"),
        params.clone(),
    );
    assert_eq!(start.step, "start");
    assert_eq!(start.from, Some(StartFrom::Execution));
    assert_eq!(start.input, params);
    assert_eq!(start.manifest.as_deref(), Some("s3://b/m.json"));
    assert_eq!(start.execution.as_deref(), Some("exec-1"));
    assert!(start.may_clone, "a first attempt is followed by S.cloned");

    let parent = json!({"ctx": ctx(), "next": "a"});
    let start = start_of(&Payload::start("a", StartFrom::Parent, "ignored"), parent);
    assert_eq!(start.from, Some(StartFrom::Parent));
    assert_eq!((start.manifest, start.execution), (None, None));
    let input: ParentInput = serde_json::from_value(start.input).expect("a parent input");
    assert_eq!(input.ctx, ctx());

    let retry = json!({"task": task(), "batch": null, "error": {"Error": "States.TaskFailed", "Cause": "{}"}});
    let start = start_of(&Payload::start("a", StartFrom::Retry, "m"), retry.clone());
    assert_eq!(start.from, Some(StartFrom::Retry));
    assert_eq!(start.input, retry);
    assert!(!start.may_clone, "a retry never clones");
}

#[test]
fn every_start_kind_is_spelled_as_serde_spells_it() {
    for from in [
        StartFrom::Execution,
        StartFrom::Retry,
        StartFrom::Parent,
        StartFrom::ForeachChild,
        StartFrom::StaticJoin,
        StartFrom::ForeachJoin,
    ] {
        assert_eq!(serde_json::to_value(from).ok(), Some(json!(from.as_str())));
    }
}

#[test]
fn the_foreach_item_selector_makes_a_foreach_child_input() {
    let selected = fill(
        &Payload::foreach_child(),
        &json!({"ctx": ctx(), "width": 3}),
        &context(),
    );
    let input: ForeachChildInput = serde_json::from_value(selected).expect("a child input");
    assert_eq!((input.ctx, input.index), (ctx(), 2));
    let kept = fill(
        &Payload::foreach_iteration_result(),
        &json!({"ctx": ctx()}),
        &context(),
    );
    assert_eq!(kept, json!({keys::TASK: "start/start"}));
}

#[test]
fn finish_and_fail_templates_decode() {
    let state = json!({"task": task(), "batch": {"JobId": "j-1"}});
    match decode(&Payload::finish("a"), state) {
        Request::Finish(finish) => {
            assert_eq!(finish.step, "a");
            assert_eq!(finish.task, task());
            assert_eq!(finish.batch.map(|b| b.job_id).as_deref(), Some("j-1"));
        }
        other => panic!("not a finish request: {other:?}"),
    }
    let failed = json!({"task": task(), "error": {"Error": "E", "Cause": "C"}});
    match decode(&Payload::fail(Some("each")), failed.clone()) {
        Request::Fail(fail) => {
            assert_eq!(fail.input, failed);
            assert_eq!(fail.foreach.as_deref(), Some("each"));
        }
        other => panic!("not a fail request: {other:?}"),
    }
    match decode(&Payload::fail(None), failed) {
        Request::Fail(fail) => assert_eq!(fail.foreach, None),
        other => panic!("not a fail request: {other:?}"),
    }
}

#[test]
fn hook_templates_decode() {
    match decode(
        &Payload::hook(RunOutcome::Error, "s3://b/m.json"),
        json!({}),
    ) {
        Request::Hook(hook) => {
            assert_eq!(hook.on, RunOutcome::Error);
            assert_eq!(hook.manifest, "s3://b/m.json");
            assert_eq!(hook.execution, "exec-1");
        }
        other => panic!("not a hook request: {other:?}"),
    }
    let state = json!({"hook": {"Error": "Lambda.Unknown", "Cause": "boom"}});
    match decode(
        &Payload::hooked(RunOutcome::Success, "s3://b/m.json", "$.hook"),
        state,
    ) {
        Request::Hooked(hooked) => {
            assert_eq!(hooked.on, RunOutcome::Success);
            assert!(matches!(hooked.hook, HookProgress::NotStarted(ref e) if e.cause == "boom"));
        }
        other => panic!("not a hooked request: {other:?}"),
    }
}

#[test]
fn a_cloned_start_response_reaches_the_finish_template_without_a_job() {
    let response = crate::protocol::StartResponse {
        task: task(),
        cloned: true,
        batch: None,
    };
    let state = serde_json::to_value(&response).unwrap();
    // What `S.cloned` compares, and what `S.done` then reads (no job state ran).
    assert_eq!(state[paths::CLONED.trim_start_matches("$.")], json!(true));
    match decode(&Payload::finish("a"), state) {
        Request::Finish(finish) => {
            assert_eq!(finish.task, task());
            assert_eq!(finish.batch, None);
        }
        other => panic!("not a finish: {other:?}"),
    }
}

#[test]
fn only_the_resumed_input_form_carries_a_resume() {
    use crate::start_input::{Resume, ResumedExecutionInput};
    let resumed = ResumedExecutionInput {
        parameters: "{\"alpha\":0.5}".into(),
        resume: Resume {
            origin_run: "sfn-1".into(),
            rerun: vec!["end".into()],
        },
    };
    let input = serde_json::to_value(&resumed).unwrap();
    assert_eq!(
        input,
        json!({"Parameters": "{\"alpha\":0.5}", "Resume": {"origin_run": "sfn-1", "rerun": ["end"]}})
    );
    assert_eq!(
        ResumedExecutionInput::from_input(&input).as_ref(),
        Some(&resumed)
    );
    // A plain run's values, even a parameter called Resume, are not a resume.
    for plain in [
        json!({"Parameters": "{}"}),
        json!({"alpha": 0.5, "Resume": {"origin_run": "sfn-1"}}),
        json!({"Parameters": "{}", "Resume": {"origin_run": "sfn-1"}, "alpha": 1}),
    ] {
        assert_eq!(ResumedExecutionInput::from_input(&plain), None, "{plain}");
    }
    assert!(resumed.resume.may_clone("start"));
    assert!(!resumed.resume.may_clone("end"));
}

#[test]
fn a_task_carries_its_triggering_events_and_older_tasks_still_parse() {
    let plain = serde_json::to_value(task()).unwrap();
    assert!(plain.get("trigger_events").is_none(), "{plain}");
    assert_eq!(serde_json::from_value::<Task>(plain).unwrap(), task());

    let mut triggered = task();
    triggered.trigger_events = vec![crate::triggers::TriggeringEvent {
        name: "data_ready".into(),
        id: "u-1".into(),
        timestamp: Some(1_765_000_000),
        kind: crate::triggers::TriggerKind::Event,
    }];
    let value = serde_json::to_value(&triggered).unwrap();
    assert_eq!(
        value["trigger_events"],
        json!([{"name": "data_ready", "id": "u-1", "timestamp": 1_765_000_000}])
    );
    assert_eq!(serde_json::from_value::<Task>(value).unwrap(), triggered);
}
