//! The API as Metaflow's client uses it, over the in-memory store.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::body::{NewRun, NewTask};
use super::model::Id;
use super::route::{RunPath, StepPath};
use super::service::sends_heartbeats;
use super::*;

/// A service on a clock that advances 1 ms per reading, from 1_700_000_000_000.
fn service() -> MetadataService<MemoryStore> {
    service_with(ServiceConfig::default())
}

fn service_with(config: ServiceConfig) -> MetadataService<MemoryStore> {
    let now = Arc::new(AtomicI64::new(1_700_000_000_000));
    MetadataService::new(MemoryStore::new(), config)
        .with_clock(move || now.fetch_add(1, Ordering::SeqCst))
}

async fn call(
    svc: &MetadataService<MemoryStore>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::new(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = svc.handle(&request).await;
    let value = response
        .json_body()
        .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&response.body).into()));
    (response.status, value)
}

async fn ok(
    svc: &MetadataService<MemoryStore>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let (status, value) = call(svc, method, path, body).await;
    assert_eq!(status, 200, "{method} {path}: {value}");
    value
}

/// What the client sends to create objects (`_all_obj_elements`).
fn elements(extra: Value) -> Value {
    let mut base = json!({
        "flow_id": "ForeachFlow", "user_name": "alice", "ts_epoch": 1,
        "tags": ["team:a"],
        "system_tags": ["runtime:dev", "user:alice", "metaflow_version:2.19.39"]
    });
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

/// A flow, run 1 (assigned), step `square`, task 2 (assigned after the params task 1).
async fn seeded(svc: &MetadataService<MemoryStore>) {
    ok(
        svc,
        "POST",
        "/flows/ForeachFlow",
        Some(json!({"flow_id": "ForeachFlow", "ts_epoch": 1})),
    )
    .await;
    ok(
        svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({}))),
    )
    .await;
    for step in ["start", "square"] {
        let path = format!("/flows/ForeachFlow/runs/1/steps/{step}/step");
        ok(
            svc,
            "POST",
            &path,
            Some(elements(json!({"run_number": "1", "step_name": step}))),
        )
        .await;
        let path = format!("/flows/ForeachFlow/runs/1/steps/{step}/task");
        ok(
            svc,
            "POST",
            &path,
            Some(elements(json!({"run_number": "1", "step_name": step}))),
        )
        .await;
    }
}

fn artifact(name: &str, attempt: u32) -> Value {
    json!({
        "run_number": "1", "step_name": "square", "task_id": "2", "attempt_id": attempt,
        "name": name, "content_type": "gzip+pickle-v4", "type": "metaflow.artifact",
        "sha": format!("{name}{attempt}"), "ds_type": "local",
        "location": ":root:/tmp/.metaflow", "user_name": "alice", "tags": [], "system_tags": []
    })
}

#[tokio::test]
async fn ping_answers_pong_with_the_version_header() {
    let svc = service();
    let response = svc.handle(&Request::new("GET", "/ping")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"pong");
    let headers = response.headers(svc.version());
    assert!(
        headers.contains(&(VERSION_HEADER, "2.5.0".to_string())),
        "{headers:?}"
    );
    assert_eq!(ok(&svc, "GET", "/version", None).await, json!("2.5.0"));
    assert_eq!(
        ok(&svc, "GET", "/healthcheck", None).await,
        json!({"status": "UP"})
    );
    // Errors carry the header too.
    let response = svc.handle(&Request::new("GET", "/nope")).await;
    assert_eq!(response.status, 404);
    assert!(
        response
            .headers("2.5.0")
            .iter()
            .any(|(n, _)| *n == VERSION_HEADER)
    );
}

#[tokio::test]
async fn flows_and_runs_are_created_once_and_numbered() {
    let svc = service();
    let (status, _) = call(&svc, "GET", "/flows/ForeachFlow", None).await;
    assert_eq!(status, 404);
    // A run of an unregistered flow: 404 (the client registers the flow first).
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({}))),
    )
    .await;
    assert_eq!(status, 404);

    let flow = ok(
        &svc,
        "POST",
        "/flows/ForeachFlow",
        Some(json!({"flow_id": "ForeachFlow", "ts_epoch": 1})),
    )
    .await;
    assert_eq!(flow["flow_id"], "ForeachFlow");
    assert_eq!(flow["ts_epoch"], 1_700_000_000_000i64);
    let (status, body) = call(&svc, "POST", "/flows/ForeachFlow", Some(json!({}))).await;
    assert_eq!(status, 409, "{body}");

    let first = ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({}))),
    )
    .await;
    let second = ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({}))),
    )
    .await;
    assert_eq!(
        (first["run_number"].clone(), second["run_number"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(
        first["system_tags"],
        json!(["runtime:dev", "user:alice", "metaflow_version:2.19.39"])
    );
    assert_eq!(first["tags"], json!(["team:a"]));
    assert_eq!(first["user_name"], "alice");
    assert!(first["last_heartbeat_ts"].is_i64(), "{first}");

    let named = ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({"run_number": "sfn-abc", "system_tags": ["runtime:step-functions", "production:tok-1"]}))),
    )
    .await;
    assert_eq!(named["run_number"], "sfn-abc");
    assert_eq!(named["last_heartbeat_ts"], Value::Null);
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({"run_number": "sfn-abc"}))),
    )
    .await;
    assert_eq!(status, 409);
    let (status, body) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({"run_number": "123"}))),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("numeric"),
        "{body}"
    );

    assert_eq!(
        ok(&svc, "GET", "/flows/ForeachFlow/runs/2", None).await["run_number"],
        2
    );
    assert_eq!(
        ok(&svc, "GET", "/flows/ForeachFlow/runs/sfn-abc", None).await["run_number"],
        "sfn-abc"
    );
    let runs = ok(&svc, "GET", "/flows/ForeachFlow/runs", None).await;
    assert_eq!(runs.as_array().unwrap().len(), 3);
    assert_eq!(
        ok(&svc, "GET", "/flows", None)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(ok(&svc, "GET", "/flows/Other/runs", None).await, json!([]));
    let (status, _) = call(&svc, "GET", "/flows/ForeachFlow/runs/9", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn steps_and_tasks_carry_the_runs_tags() {
    let svc = service();
    seeded(&svc).await;
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/step",
        Some(elements(json!({}))),
    )
    .await;
    assert_eq!(status, 409);
    // A task of an unregistered step, a step of an unregistered run: 404.
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/end/task",
        Some(elements(json!({}))),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/7/steps/end/step",
        Some(elements(json!({}))),
    )
    .await;
    assert_eq!(status, 404);

    let named = ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/task",
        Some(elements(
            json!({"task_id": "square-1", "tags": ["task-tag"]}),
        )),
    )
    .await;
    assert_eq!(named["task_id"], "square-1");
    assert_eq!(
        named["tags"],
        json!(["team:a"]),
        "the run's tags, not the task's"
    );
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/task",
        Some(elements(json!({"task_id": "square-1"}))),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/task",
        Some(elements(json!({"task_id": "42"}))),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/task",
        Some(elements(json!({"task_id": 42}))),
    )
    .await;
    assert_eq!(status, 400);

    let tasks = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/tasks",
        None,
    )
    .await;
    let ids: Vec<Value> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].clone())
        .collect();
    assert_eq!(ids, [json!(2), json!("square-1")]);
    let task = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/2",
        None,
    )
    .await;
    assert_eq!(task["run_number"], 1);
    assert_eq!(task["step_name"], "square");
    let steps = ok(&svc, "GET", "/flows/ForeachFlow/runs/1/steps", None).await;
    assert_eq!(steps.as_array().unwrap().len(), 2);
    let step = ok(&svc, "GET", "/flows/ForeachFlow/runs/1/steps/start", None).await;
    assert_eq!(step["system_tags"][0], "runtime:dev");
    let (status, _) = call(&svc, "GET", "/flows/ForeachFlow/runs/1/steps/end", None).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/99",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn artifacts_resolve_the_latest_attempt() {
    let svc = service();
    seeded(&svc).await;
    let base = "/flows/ForeachFlow/runs/1/steps/square/tasks/2";
    let posted = ok(
        &svc,
        "POST",
        &format!("{base}/artifact"),
        Some(json!([
            artifact("name", 0),
            artifact("value", 0),
            artifact("only0", 0)
        ])),
    )
    .await;
    assert_eq!(posted, json!({"artifacts_created": 3}));
    // A retried POST creates nothing new and keeps the first records.
    let posted = ok(
        &svc,
        "POST",
        &format!("{base}/artifact"),
        Some(json!([artifact("name", 0)])),
    )
    .await;
    assert_eq!(posted, json!({"artifacts_created": 0}));
    ok(
        &svc,
        "POST",
        &format!("{base}/artifact"),
        Some(json!([artifact("name", 1), artifact("value", 1)])),
    )
    .await;

    let latest = ok(&svc, "GET", &format!("{base}/artifacts"), None).await;
    let mut names: Vec<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["name", "value"]);
    assert!(
        latest
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["attempt_id"] == 1)
    );
    let first = ok(&svc, "GET", &format!("{base}/attempt/0/artifacts"), None).await;
    assert_eq!(first.as_array().unwrap().len(), 3);

    let value = ok(&svc, "GET", &format!("{base}/artifacts/value"), None).await;
    assert_eq!(
        (value["sha"].clone(), value["attempt_id"].clone()),
        (json!("value1"), json!(1))
    );
    assert_eq!(value["location"], ":root:/tmp/.metaflow");
    assert_eq!(value["content_type"], "gzip+pickle-v4");
    assert_eq!(value["type"], "metaflow.artifact");
    assert_eq!(value["task_id"], 2);
    assert_eq!(value["tags"], json!(["team:a"]));
    let old = ok(
        &svc,
        "GET",
        &format!("{base}/artifacts/value/attempt/0"),
        None,
    )
    .await;
    assert_eq!(old["sha"], "value0");
    // `only0` exists in attempt 0 only: the latest attempt (1) does not have it.
    let (status, _) = call(&svc, "GET", &format!("{base}/artifacts/only0"), None).await;
    assert_eq!(status, 404);

    let by_step = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/artifacts",
        None,
    )
    .await;
    assert_eq!(by_step.as_array().unwrap().len(), 2);
    let by_run = ok(&svc, "GET", "/flows/ForeachFlow/runs/1/artifacts", None).await;
    assert_eq!(by_run.as_array().unwrap().len(), 2);

    // An unregistered task: 400, as the reference.
    let (status, body) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/77/artifact",
        Some(json!([artifact("x", 0)])),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("need to register"),
        "{body}"
    );
}

#[tokio::test]
async fn metadata_is_kept_newest_first_and_filterable() {
    let svc = service();
    seeded(&svc).await;
    let base = "/flows/ForeachFlow/runs/1/steps/square/tasks/2";
    let datum = |field: &str, value: &str, attempt: u32| {
        json!({"flow_id": "ForeachFlow", "run_number": "1", "step_name": "square", "task_id": "2",
               "field_name": field, "type": field, "value": value,
               "tags": [format!("attempt_id:{attempt}")], "user_name": "alice", "ts_epoch": 5})
    };
    let posted = ok(
        &svc,
        "POST",
        &format!("{base}/metadata"),
        Some(json!([
            datum("attempt", "0", 0),
            datum("ds-root", "/tmp/x", 0)
        ])),
    )
    .await;
    assert_eq!(posted, json!({"metadata_created": 2}));
    ok(
        &svc,
        "POST",
        &format!("{base}/metadata"),
        Some(json!([datum("attempt", "1", 1)])),
    )
    .await;
    ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/2/metadata",
        Some(json!([])),
    )
    .await;
    // Metaflow sends `foreach-stack` as a list: kept as sent.
    let stack = json!([{"field_name": "foreach-stack", "type": "foreach-stack",
                        "value": ["numbers=1"], "tags": ["attempt_id:1"]}]);
    let start = "/flows/ForeachFlow/runs/1/steps/start/tasks/1/metadata";
    ok(&svc, "POST", start, Some(stack)).await;
    assert_eq!(
        ok(&svc, "GET", start, None).await[0]["value"],
        json!(["numbers=1"])
    );

    let data = ok(&svc, "GET", &format!("{base}/metadata"), None).await;
    let data = data.as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(
        (data[0]["field_name"].clone(), data[0]["value"].clone()),
        (json!("attempt"), json!("1"))
    );
    assert_eq!(
        data[0]["tags"],
        json!(["attempt_id:1"]),
        "a metadatum keeps its own tags"
    );
    assert_eq!(data[0]["id"], 3);
    assert_eq!(data[2]["id"], 1);
    assert_eq!(data[0]["task_id"], 2);
    let by_run = ok(&svc, "GET", "/flows/ForeachFlow/runs/1/metadata", None).await;
    assert_eq!(by_run.as_array().unwrap().len(), 4);

    let found = ok(&svc, "GET",
        "/flows/ForeachFlow/runs/1/steps/square/filtered_tasks?metadata_field_name=ds-root&pattern=%5E(%3F%3A%2Ftmp%2F.*)%24",
        None).await;
    assert_eq!(found, json!(["ForeachFlow/1/square/2"]));
    let none = ok(&svc, "GET",
        "/flows/ForeachFlow/runs/1/steps/square/filtered_tasks?metadata_field_name=ds-root&pattern=nothing", None).await;
    assert_eq!(none, json!([]));
    let (status, _) = call(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/filtered_tasks?pattern=%28",
        None,
    )
    .await;
    assert_eq!(status, 400);

    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/9/metadata",
        Some(json!([datum("attempt", "0", 0)])),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn tags_are_mutated_on_the_run_and_seen_below_it() {
    let svc = service();
    seeded(&svc).await;
    let mutate = "/flows/ForeachFlow/runs/1/tag/mutate";
    let tags = ok(
        &svc,
        "PATCH",
        mutate,
        Some(json!({"tags_to_add": ["x", "y"], "tags_to_remove": []})),
    )
    .await;
    assert_eq!(tags, json!({"tags": ["team:a", "x", "y"]}));
    let tags = ok(
        &svc,
        "PATCH",
        mutate,
        Some(json!({"tags_to_add": ["z"], "tags_to_remove": ["team:a", "y"]})),
    )
    .await;
    assert_eq!(tags, json!({"tags": ["x", "z"]}));
    // A system tag is never added as a user tag, nor removed.
    let tags = ok(
        &svc,
        "PATCH",
        mutate,
        Some(json!({"tags_to_add": ["runtime:dev"]})),
    )
    .await;
    assert_eq!(tags, json!({"tags": ["x", "z"]}));
    let (status, body) = call(
        &svc,
        "PATCH",
        mutate,
        Some(json!({"tags_to_remove": ["runtime:dev"]})),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    assert_eq!(
        ok(&svc, "GET", "/flows/ForeachFlow/runs/1", None).await["tags"],
        json!(["x", "z"])
    );
    let task = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/2",
        None,
    )
    .await;
    assert_eq!(task["tags"], json!(["x", "z"]));

    for bad in [
        json!({"tags_to_add": "x"}),
        json!({"tags_to_add": [1]}),
        json!(["x"]),
        json!({"tags_to_remove": {"a": 1}}),
    ] {
        let (status, body) = call(&svc, "PATCH", mutate, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = call(
        &svc,
        "PATCH",
        "/flows/ForeachFlow/runs/8/tag/mutate",
        Some(json!({"tags_to_add": ["x"]})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        ok(&svc, "GET", "/flows/ForeachFlow/runs/1", None).await["tags"],
        json!(["x", "z"])
    );
}

#[tokio::test]
async fn heartbeats_answer_a_json_string_and_are_recorded() {
    let svc = service();
    seeded(&svc).await;
    let answer = ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/heartbeat",
        Some(json!({})),
    )
    .await;
    // The client does json.loads(response.json()).
    let inner: Value = serde_json::from_str(answer.as_str().unwrap()).unwrap();
    assert_eq!(inner, json!({"wait_time_in_seconds": 10}));
    let before = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/2",
        None,
    )
    .await["last_heartbeat_ts"]
        .clone();
    ok(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/2/heartbeat",
        Some(json!({})),
    )
    .await;
    let after = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/2",
        None,
    )
    .await["last_heartbeat_ts"]
        .clone();
    assert!(after.as_i64().unwrap() >= before.as_i64().unwrap());
    let (status, _) = call(&svc, "POST", "/flows/ForeachFlow/runs/5/heartbeat", None).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/runs/1/steps/square/tasks/5/heartbeat",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn malformed_requests_are_4xx_and_write_nothing() {
    let svc = service();
    seeded(&svc).await;
    let stored = svc.store().len();
    let task = "/flows/ForeachFlow/runs/1/steps/square/tasks/2";
    let cases: Vec<(&str, String, &[u8])> = vec![
        ("POST", "/flows/ForeachFlow/run".into(), b"{not json"),
        ("POST", "/flows/ForeachFlow/run".into(), b"[]"),
        (
            "POST",
            "/flows/ForeachFlow/run".into(),
            br#"{"run_number": ""}"#,
        ),
        (
            "POST",
            "/flows/ForeachFlow/run".into(),
            br#"{"run_number": "a/b"}"#,
        ),
        ("POST", "/flows/ForeachFlow/run".into(), br#"{"tags": "x"}"#),
        (
            "POST",
            "/flows/ForeachFlow/run".into(),
            br#"{"user_name": 5}"#,
        ),
        (
            "POST",
            "/flows/ForeachFlow/runs/1/steps/square/task".into(),
            br#"{"task_id": -1}"#,
        ),
        ("POST", format!("{task}/artifact"), br#"{"name": "x"}"#),
        (
            "POST",
            format!("{task}/artifact"),
            br#"[{"name": "ok"}, {"name": 1}]"#,
        ),
        (
            "POST",
            format!("{task}/artifact"),
            br#"[{"name": "ok"}, {"name": ""}]"#,
        ),
        (
            "POST",
            format!("{task}/artifact"),
            br#"[{"name": "ok", "attempt_id": "zero"}]"#,
        ),
        ("POST", format!("{task}/artifact"), b"\xff\xfe"),
        (
            "POST",
            format!("{task}/metadata"),
            br#"[{"field_name": 1, "value": "v"}]"#,
        ),
        ("POST", format!("{task}/metadata"), br#"[{"value": "v"}]"#),
        (
            "POST",
            format!("{task}/metadata"),
            br#"[{"field_name": "a"}]"#,
        ),
        ("POST", format!("{task}/metadata"), br#"[null]"#),
        ("DELETE", "/flows/ForeachFlow".into(), b""),
        ("PUT", format!("{task}/metadata"), b"[]"),
        ("GET", format!("{task}/attempt/x/artifacts"), b""),
        (
            "GET",
            "/flows/ForeachFlow/runs/1/steps/square/tasks/%zz".into(),
            b"",
        ),
        (
            "GET",
            "/flows/ForeachFlow/runs/1/steps/square/filtered_tasks?pattern=%E0".into(),
            b"",
        ),
        (
            "POST",
            "/flows/ForeachFlow/runs/1/steps/square/tasks".into(),
            b"{}",
        ),
        ("GET", "/".into(), b""),
        ("GET", "".into(), b""),
    ];
    for (method, path, body) in cases {
        let response = svc
            .handle(&Request::new(method, &path).body(body.to_vec()))
            .await;
        let json = response.json_body().unwrap_or(Value::Null);
        assert!(
            (400..500).contains(&response.status),
            "{method} {path} {:?}: {} {json}",
            String::from_utf8_lossy(body),
            response.status
        );
        assert!(
            json["error"].is_string() && json["message"].is_string(),
            "{method} {path}: {json}"
        );
    }
    assert_eq!(
        svc.store().len(),
        stored,
        "a malformed request wrote something"
    );
    let huge = json!([{"field_name": "big", "value": "x".repeat(service::MAX_RECORD_BYTES)}]);
    let (status, _) = call(&svc, "POST", &format!("{task}/metadata"), Some(huge)).await;
    assert_eq!(status, 413);
    assert_eq!(svc.store().len(), stored);
}

#[tokio::test]
async fn a_failing_store_is_503_never_500() {
    let svc = service();
    seeded(&svc).await;
    svc.store().set_down(true);
    for (method, path) in [
        ("GET", "/flows"),
        ("POST", "/flows/X"),
        ("GET", "/healthcheck"),
        ("PATCH", "/flows/ForeachFlow/runs/1/tag/mutate"),
    ] {
        let response = svc
            .handle(&Request::new(method, path).body(br#"{"tags_to_add": ["a"]}"#.to_vec()))
            .await;
        assert_eq!(response.status, 503, "{method} {path}");
        assert_eq!(response.json_body().unwrap()["error"], "store_unavailable");
    }
    let error = svc
        .dispatch(&Request::new("GET", "/flows"))
        .await
        .unwrap_err();
    assert_eq!(
        error.source.unwrap().code.as_deref(),
        Some("ServiceUnavailable")
    );
    svc.store().set_down(false);
    // `/ping` needs no store.
    svc.store().set_down(true);
    assert_eq!(svc.handle(&Request::new("GET", "/ping")).await.status, 200);
}

#[tokio::test]
async fn an_api_key_and_a_path_prefix_are_honoured() {
    use sha2::Digest;
    let svc = service_with(ServiceConfig {
        path_prefix: Some("/metadata/".into()),
        api_key_sha256: Some(sha2::Sha256::digest(b"s3cret").into()),
    });
    let without = svc.handle(&Request::new("GET", "/metadata/ping")).await;
    assert_eq!(without.status, 401);
    let wrong = svc
        .handle(&Request::new("GET", "/metadata/ping").header("X-Api-Key", "nope"))
        .await;
    assert_eq!(wrong.status, 401);
    for path in ["/metadata/ping", "/ping"] {
        let right = svc
            .handle(&Request::new("GET", path).header("x-api-key", "s3cret"))
            .await;
        assert_eq!(right.status, 200, "{path}");
    }
    let flows = svc
        .handle(&Request::new("GET", "/metadata/flows").header("x-api-key", "s3cret"))
        .await;
    assert_eq!(flows.json_body(), Some(json!([])));
    // `/metadataX/…` is not the prefix.
    let other = svc
        .handle(&Request::new("GET", "/metadataX/ping").header("x-api-key", "s3cret"))
        .await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn the_step_lambda_can_ensure_runs_and_tasks() {
    let svc = service();
    let sys = vec![
        "runtime:step-functions".to_string(),
        "production:tok-1".to_string(),
    ];
    let new = NewRun {
        run_number: Some(Id::Name("sfn-e1".into())),
        user_name: Some("SFN".into()),
        tags: vec!["nightly".into()],
        system_tags: sys.clone(),
    };
    let run = svc.ensure_run("ForeachFlow", new.clone()).await.unwrap();
    assert_eq!(run.system_tags, sys);
    // Again (a retried start phase), and as Metaflow's task would: the first record stays.
    let again = svc
        .ensure_run(
            "ForeachFlow",
            NewRun {
                system_tags: vec!["runtime:dev".into()],
                ..new
            },
        )
        .await
        .unwrap();
    assert_eq!(again.system_tags, sys);
    let (status, body) = call(
        &svc,
        "POST",
        "/flows/ForeachFlow/run",
        Some(elements(json!({"run_number": "sfn-e1"}))),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    let step = StepPath {
        run: RunPath {
            flow: "ForeachFlow".into(),
            run: Id::Name("sfn-e1".into()),
        },
        step: "square".into(),
    };
    let new_task = NewTask {
        task_id: Some(Id::Name("square-3".into())),
        ..NewTask::default()
    };
    let task = svc.ensure_task(&step, new_task.clone()).await.unwrap();
    assert_eq!(task.task_id, Id::Name("square-3".into()));
    assert_eq!(task.system_tags, sys);
    svc.ensure_task(&step, new_task).await.unwrap();
    let tasks = ok(
        &svc,
        "GET",
        "/flows/ForeachFlow/runs/sfn-e1/steps/square/tasks",
        None,
    )
    .await;
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    let missing = StepPath {
        run: RunPath {
            flow: "ForeachFlow".into(),
            run: Id::Name("sfn-none".into()),
        },
        ..step
    };
    let e = svc
        .ensure_task(
            &missing,
            NewTask {
                task_id: Some(Id::Name("t".into())),
                ..NewTask::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status, 404);
}

#[test]
fn heartbeat_capable_clients_are_recognised() {
    let tags = |v: &str| vec!["runtime:dev".to_string(), format!("metaflow_version:{v}")];
    assert!(sends_heartbeats(&tags("2.19.39")));
    assert!(sends_heartbeats(&tags("2.2.12")));
    assert!(!sends_heartbeats(&tags("2.2.11")));
    assert!(sends_heartbeats(&tags("1.14.2")));
    assert!(!sends_heartbeats(&tags("1.13")));
    assert!(sends_heartbeats(&tags("custom")));
    assert!(sends_heartbeats(&tags("2.19.39+git1234")));
    assert!(!sends_heartbeats(&["runtime:dev".to_string()]));
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("flows".to_string()),
        Just("runs".to_string()),
        Just("run".to_string()),
        Just("steps".to_string()),
        Just("step".to_string()),
        Just("tasks".to_string()),
        Just("task".to_string()),
        Just("artifact".to_string()),
        Just("artifacts".to_string()),
        Just("metadata".to_string()),
        Just("attempt".to_string()),
        Just("heartbeat".to_string()),
        Just("tag".to_string()),
        Just("mutate".to_string()),
        Just("filtered_tasks".to_string()),
        Just("ForeachFlow".to_string()),
        Just("1".to_string()),
        Just("2".to_string()),
        Just("square".to_string()),
        "[a-z0-9%/._-]{0,6}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"{}".to_vec()),
        Just(b"[]".to_vec()),
        Just(b"[{}]".to_vec()),
        Just(b"null".to_vec()),
        Just(br#"{"task_id": "t-1"}"#.to_vec()),
        Just(br#"[{"name": "n"}]"#.to_vec()),
        Just(br#"[{"field_name": "f", "value": "v"}]"#.to_vec()),
        Just(br#"{"tags_to_add": ["a"]}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever arrives, the answer is 2xx or 4xx (never 5xx) with the right body kind.
    #[test]
    fn any_request_is_answered_without_a_server_error(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PATCH"), Just("PUT")],
        segments in proptest::collection::vec(segment(), 0..9),
        body in body(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let svc = service();
            seeded(&svc).await;
            let path = format!("/{}", segments.join("/"));
            let response = svc.handle(&Request::new(method, &path).body(body)).await;
            prop_assert!(response.status < 500, "{} {} -> {}", method, path, response.status);
            if response.status >= 400 {
                let json = response.json_body().unwrap();
                prop_assert!(json["error"].is_string(), "{}", json);
            }
            Ok(())
        })?;
    }
}
