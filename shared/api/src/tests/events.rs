//! Events delivered to waiting flows: `POST /events` and events from the bus, including
//! concurrent duplicate deliveries.

use std::sync::Arc;

use lambda_http::Context;
use serde_json::json;

use super::*;

/// ParameterFlow with `@trigger(event="data_ready")`, `alpha` from the payload's `alpha`.
fn triggered() -> (MemoryDeps, DeploymentState) {
    let deps = memory::deps(BUCKET);
    let manifest = manifest(|m| {
        m["triggers"] = json!({
            "decorator": "trigger",
            "rule": "ParameterFlow-triggers",
            "events": [{"name": "data_ready", "type": "event", "parameters": {"alpha": "alpha"}}],
        });
    });
    let state = memory::deploy(&deps, &manifest, "team/triggered.tar.gz");
    (deps, state)
}

/// An event as the bus rule's Lambda target receives it.
fn bus_event(id: &str, name: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": name,
        "source": "team.loader",
        "account": "000000000000",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

/// `value` as the Lambda runtime hands a payload over: unparsed JSON.
fn payload(value: &Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).unwrap()
}

/// The outcome of the one flow's delivery in an answer.
fn outcome(answer: &Value) -> &str {
    answer["flows"][0]["delivery"]["outcome"]
        .as_str()
        .unwrap_or("none")
}

#[tokio::test]
async fn a_posted_event_starts_the_flow_waiting_for_it_once() {
    let (deps, state) = triggered();
    // A flow that waits for nothing is not touched.
    memory::deploy(
        &deps,
        &manifest(|m| m["state_machine"] = json!("Other")),
        "team/other.tar.gz",
    );
    let body =
        r#"{"name": "data_ready", "payload": {"name": "data_ready", "id": "e-1", "alpha": "0.5"}}"#;

    let (status, answer) = call(&deps, "POST", "/events", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["flows"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(outcome(&answer), "started", "{answer}");
    let run_id = answer["flows"][0]["run_id"].as_str().unwrap().to_string();
    let [execution] = deps.executions.executions().try_into().unwrap();
    assert!(execution.name.starts_with("ev-"), "{}", execution.name);
    let input: Value = serde_json::from_str(execution.input.as_deref().unwrap()).unwrap();
    let values: Value = serde_json::from_str(input["Parameters"].as_str().unwrap()).unwrap();
    assert_eq!(values, json!({"alpha": 0.5}));

    // Posted again (a retry): the same run, not another.
    let (status, again) = call(&deps, "POST", "/events", Some(body)).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(outcome(&again), "started", "{again}");
    assert_eq!(deps.executions.executions().len(), 1);

    // The run view names the event that started it.
    let (status, view) = call(
        &deps,
        "GET",
        &format!("/flows/ParameterFlow/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["triggered_by"],
        json!([{"id": "e-1", "name": "data_ready"}])
    );
    assert_eq!(view["execution_arn"], execution_arn(&state, &run_id));

    // An event no flow waits for is accepted.
    let (status, answer) = call(&deps, "POST", "/events", Some(r#"{"name": "other"}"#)).await;
    assert_eq!(
        (status, answer["flows"].clone()),
        (200, json!([])),
        "{answer}"
    );
    let (status, answer) = call(&deps, "POST", "/events", Some(r#"{"payload": {}}"#)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_event")),
        "{answer}"
    );
}

#[tokio::test]
async fn a_refused_payload_is_listed_with_its_reason() {
    let (deps, _) = triggered();
    let body = r#"{"name": "data_ready", "payload": {"id": "e-2", "alpha": "fast"}}"#;
    let (status, answer) = call(&deps, "POST", "/events", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(outcome(&answer), "rejected", "{answer}");
    assert!(deps.executions.executions().is_empty());

    let (status, listed) = call(&deps, "GET", "/flows/ParameterFlow/events/rejected", None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["rejections"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_of_one_bus_event_start_one_run() {
    let (deps, _) = triggered();
    let deps = Arc::new(deps);
    let event = bus_event("eb-1", "data_ready", json!({"alpha": "0.25"}));
    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let (deps, event) = (deps.clone(), event.clone());
            tokio::spawn(async move {
                crate::handle_invocation(payload(&event), Context::default(), &*deps).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        let answer = delivery.await.unwrap().expect("delivered");
        assert_eq!(answer["id"], "eb-1", "{answer}");
        outcomes.push(outcome(&answer).to_string());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "started").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o == "started" || o == "already_started"),
        "{outcomes:?}"
    );
    let [execution] = deps.executions.executions().try_into().unwrap();
    let input: Value = serde_json::from_str(execution.input.as_deref().unwrap()).unwrap();
    assert_eq!(input["Parameters"], "{\"alpha\": 0.25}");

    // Another event id is another run.
    let other = bus_event("eb-2", "data_ready", json!({}));
    let answer = crate::handle_invocation(payload(&other), Context::default(), &*deps)
        .await
        .unwrap();
    assert_eq!(outcome(&answer), "started", "{answer}");
    assert_eq!(deps.executions.executions().len(), 2);
}

#[tokio::test]
async fn bus_events_that_cannot_be_delivered_are_errors_by_kind() {
    let (deps, _) = triggered();
    let refused = crate::handle_invocation(
        payload(&bus_event("eb-3", "data_ready", json!([1]))),
        Context::default(),
        &deps,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.error_type, "dropflow.InvalidEvent", "{refused}");
    let neither =
        crate::handle_invocation(payload(&json!({"hello": 1})), Context::default(), &deps)
            .await
            .unwrap_err();
    assert_eq!(neither.error_type, "dropflow.InvalidEvent", "{neither}");

    // Reading the deployments failed: worth a retry.
    deps.objects.fail(Some("s3:list"));
    let failed = crate::handle_invocation(
        payload(&bus_event("eb-4", "data_ready", json!({}))),
        Context::default(),
        &deps,
    )
    .await
    .unwrap_err();
    assert_eq!(failed.error_type, "dropflow.AwsError", "{failed}");
    assert!(deps.executions.executions().is_empty());
}
