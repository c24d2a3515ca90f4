//! Starting, listing, viewing, stopping and resuming runs.

use dropflow_contract::ports::JobEnd;
use dropflow_task::records::record_key;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_start_checks_the_parameters_then_starts_on_the_live_alias() {
    let (deps, state) = deployed();

    for (body, code) in [
        (r#"{"alpha": "fast"}"#, "invalid_parameters"),
        (r#"{"beta": 1}"#, "invalid_parameters"),
        ("not json", "malformed_json"),
        ("[1]", "invalid_body"),
    ] {
        let (status, answer) = call(&deps, "POST", "/flows/ParameterFlow/runs", Some(body)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(code)),
            "{body}: {answer}"
        );
    }
    assert!(
        deps.executions.executions().is_empty(),
        "refused inputs start nothing"
    );

    let (status, answer) = call(
        &deps,
        "POST",
        "/flows/ParameterFlow/runs",
        Some(r#"{"alpha": 0.3}"#),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let run_id = answer["run_id"].as_str().unwrap();
    assert!(run_id.starts_with("sfn-"), "{run_id}");
    assert_eq!(answer["status"], "RUNNING");
    assert_eq!(answer["version"], state.version);
    assert_eq!(answer["parameters"], json!({"alpha": 0.3}));
    let [execution] = deps.executions.executions().try_into().unwrap();
    assert_eq!(execution.execution_arn, execution_arn(&state, run_id));
    assert_eq!(
        execution.alias_arn.as_deref(),
        Some(state.alias_arn.as_str())
    );
    // Metaflow's input form: the values as one JSON string.
    let input: Value = serde_json::from_str(execution.input.as_deref().unwrap()).unwrap();
    let values: Value = serde_json::from_str(input["Parameters"].as_str().unwrap()).unwrap();
    assert_eq!(values, json!({"alpha": 0.3}));

    // Metaflow's own form is taken as well; the default fills what is not given.
    let (status, answer) = call(
        &deps,
        "POST",
        "/flows/ParameterFlow/runs",
        Some(r#"{"Parameters": "{}"}"#),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["parameters"], json!({"alpha": 0.01}));
}

#[tokio::test]
async fn an_idempotency_key_answers_the_run_it_started() {
    let (deps, _) = deployed();
    let post = |body: &'static str, key: &'static str| {
        let deps = &deps;
        async move {
            send(
                deps,
                "POST",
                "/flows/ParameterFlow/runs",
                Some(body),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };

    let first = post(r#"{"alpha": 0.5}"#, "order-42").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post(r#"{"alpha": 0.5}"#, "order-42").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["run_id"], first.body["run_id"]);
    assert_eq!(again.body["status"], "RUNNING");

    let other = post(r#"{"alpha": 0.7}"#, "order-42").await;
    assert_eq!(other.status, 409, "{}", other.body);
    assert_eq!(other.body["error"], "idempotency_conflict");
    assert_eq!(other.body["run_id"], first.body["run_id"]);
    assert_eq!(deps.executions.executions().len(), 1);

    let empty = post(r#"{"alpha": 0.5}"#, "").await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert_eq!(empty.body["error"], "invalid_idempotency_key");
}

#[tokio::test]
async fn runs_are_listed_newest_first_a_page_at_a_time() {
    let (deps, state) = deployed();
    let older = start(&deps, "{}").await;
    let newer = start(&deps, r#"{"alpha": 2}"#).await;
    deps.executions
        .finish(&execution_arn(&state, &older), "SUCCEEDED", None, None);

    let (status, answer) = call(&deps, "GET", "/flows/ParameterFlow/runs", None).await;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<&str> = answer["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [newer.as_str(), older.as_str()]);
    assert_eq!(answer["next_token"], Value::Null);

    let (_, page) = call(&deps, "GET", "/flows/ParameterFlow/runs?limit=1", None).await;
    assert_eq!(page["runs"][0]["run_id"], newer.as_str());
    let token = page["next_token"].as_str().unwrap();
    let (_, rest) = call(
        &deps,
        "GET",
        &format!("/flows/ParameterFlow/runs?limit=1&next_token={token}"),
        None,
    )
    .await;
    assert_eq!(rest["runs"][0]["run_id"], older.as_str());

    let (_, succeeded) = call(
        &deps,
        "GET",
        "/flows/ParameterFlow/runs?status=succeeded",
        None,
    )
    .await;
    assert_eq!(succeeded["runs"].as_array().unwrap().len(), 1);
    assert_eq!(succeeded["runs"][0]["status"], "SUCCEEDED");

    for query in ["status=DONE", "limit=0", "limit=x", "next_token=forged"] {
        let (status, answer) = call(
            &deps,
            "GET",
            &format!("/flows/ParameterFlow/runs?{query}"),
            None,
        )
        .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_query")),
            "{query}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_run_view_shows_its_progress_and_jobs_that_ended_unrecorded() {
    let (deps, state) = deployed();
    let run_id = start(&deps, r#"{"alpha": 0.2}"#).await;
    deps.objects.insert_json(
        &record_key("ParameterFlow", &run_id, "start", "1", 0),
        &task_record(&run_id, "start", "1", "succeeded", "job-start"),
    );
    // The end task's job failed, and no phase of the step Lambda recorded it.
    deps.objects.insert_json(
        &record_key("ParameterFlow", &run_id, "end", "2", 0),
        &task_record(&run_id, "end", "2", "submitted", "job-end"),
    );
    deps.jobs.set(
        "dropflow",
        "job-end",
        JobEnd {
            succeeded: false,
            stopped_at: Some("2026-01-01T00:01:00Z".into()),
            reason: Some("Essential container in task exited".into()),
        },
    );

    let (status, view) = call(
        &deps,
        "GET",
        &format!("/flows/ParameterFlow/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["run_id"], run_id.as_str());
    assert_eq!(view["status"], "RUNNING");
    assert_eq!(view["version"], state.version);
    assert_eq!(view["parameters"], json!({"alpha": 0.2}));
    assert_eq!(view["triggered_by"], Value::Null);
    assert_eq!(view["steps_partial"], false);
    let steps = view["steps"].as_array().unwrap();
    let step = |name: &str| steps.iter().find(|s| s["step"] == name).unwrap();
    assert_eq!(step("start")["status"], json!({"succeeded": 1}));
    assert_eq!(step("end")["status"], json!({"failed": 1}));
    assert_eq!(step("end")["finished_at"], "2026-01-01T00:01:00Z");
    let failed = &step("end")["failed"][0];
    assert_eq!(failed["error"], "Essential container in task exited");
    assert_eq!(
        failed["log"],
        format!("/flows/ParameterFlow/runs/{run_id}/logs?step=end&task=2&attempt=0&stream=stderr")
    );

    // By its flow class name too; an unknown run is a 404.
    let (status, _) = call(
        &deps,
        "GET",
        &format!("/flows/ParameterFlow/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = call(&deps, "GET", "/flows/ParameterFlow/runs/sfn-nope", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("run_not_found")),
        "{answer}"
    );
}

#[tokio::test]
async fn a_running_run_is_stopped_once() {
    let (deps, state) = deployed();
    let run_id = start(&deps, "{}").await;
    let path = format!("/flows/ParameterFlow/runs/{run_id}");

    let (status, answer) = call(&deps, "DELETE", &path, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "ABORTED");
    assert!(answer["stop_date"].is_string(), "{answer}");
    let execution = deps.executions.executions().remove(0);
    assert_eq!(execution.execution_arn, execution_arn(&state, &run_id));
    assert_eq!(execution.status, "ABORTED");
    assert_eq!(execution.error.as_deref(), Some("dropflow.Stopped"));

    let (status, answer) = call(&deps, "DELETE", &path, None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("run_finished")),
        "{answer}"
    );
    assert_eq!(answer["status"], "ABORTED");

    let (status, answer) = call(&deps, "DELETE", "/flows/ParameterFlow/runs/sfn-nope", None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("run_not_found")),
        "{answer}"
    );
}

#[tokio::test]
async fn only_a_failed_run_is_resumed() {
    let (deps, state) = deployed();
    let run_id = start(&deps, r#"{"alpha": 0.4}"#).await;
    let path = format!("/flows/ParameterFlow/runs/{run_id}/resume");

    let (status, answer) = call(&deps, "POST", &path, None).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("resume_conflict")),
        "{answer}"
    );
    assert_eq!(answer["reason"], "still_running");

    let arn = execution_arn(&state, &run_id);
    deps.executions.finish(&arn, "SUCCEEDED", None, None);
    let (status, answer) = call(&deps, "POST", &path, None).await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (409, Some("succeeded")),
        "{answer}"
    );

    deps.executions.finish(
        &arn,
        "FAILED",
        Some("States.TaskFailed"),
        Some("end failed"),
    );
    let (status, answer) = call(&deps, "POST", &path, Some(r#"{"from_step": "nope"}"#)).await;
    assert_eq!(
        (status, answer["reason"].as_str()),
        (409, Some("unknown_step")),
        "{answer}"
    );
    let (status, answer) = call(&deps, "POST", &path, Some(r#"{"step": "end"}"#)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_body")),
        "{answer}"
    );

    let (status, answer) = call(&deps, "POST", &path, Some(r#"{"from_step": "end"}"#)).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["origin_run_id"], run_id.as_str());
    assert_eq!(answer["rerun"], json!(["end"]));
    assert_eq!(answer["parameters"], json!({"alpha": 0.4}));
    assert_ne!(answer["run_id"], run_id.as_str());
    assert_eq!(deps.executions.executions().len(), 2);
}

#[tokio::test]
async fn step_functions_refusals_are_answered() {
    let (deps, state) = deployed();
    deps.executions.limit_reached(true);
    let (status, answer) = call(&deps, "POST", "/flows/ParameterFlow/runs", Some("{}")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("too_many_runs")),
        "{answer}"
    );
    deps.executions.limit_reached(false);

    // Between deploys the alias is gone: retry shortly.
    deps.executions.remove_alias(&state.alias_arn);
    let (status, answer) = call(&deps, "POST", "/flows/ParameterFlow/runs", Some("{}")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("flow_not_found")),
        "{answer}"
    );
}
