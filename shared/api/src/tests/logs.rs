//! Task logs, read from Metaflow's datastore (in memory).

use super::*;

#[tokio::test]
async fn the_failed_tasks_log_is_read_a_page_at_a_time() {
    let (deps, state) = deployed();
    let run_id = start(&deps, "{}").await;
    deps.objects.insert_json(
        &dropflow_task::records::record_key("ParameterFlow", &run_id, "end", "2", 0),
        &task_record(&run_id, "end", "2", "failed", "job-end"),
    );
    let stderr = format!("s3://{BUCKET}/metaflow/ParameterFlow/{run_id}/end/2/0.task_stderr.log");
    deps.datastore
        .insert(&stderr, b"line one\nTraceback: boom\n".to_vec());
    deps.executions.finish(
        &execution_arn(&state, &run_id),
        "FAILED",
        Some("States.TaskFailed"),
        None,
    );
    let logs = format!("/flows/ParameterFlow/runs/{run_id}/logs");

    // No step: the run's one failed task.
    let (status, page) = call(&deps, "GET", &format!("{logs}?stream=stderr"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["step"].as_str(), page["task"].as_str()),
        (Some("end"), Some("2"))
    );
    assert_eq!(page["text"], "line one\nTraceback: boom\n");
    assert_eq!(page["next_offset"], page["size"]);

    // A page cut back to whole lines, then the rest.
    let (_, first) = call(
        &deps,
        "GET",
        &format!("{logs}?step=end&task=2&stream=stderr&max_bytes=12"),
        None,
    )
    .await;
    assert_eq!(first["text"], "line one\n", "{first}");
    let (_, rest) = call(
        &deps,
        "GET",
        &format!(
            "{logs}?step=end&task=2&stream=stderr&offset={}",
            first["next_offset"]
        ),
        None,
    )
    .await;
    assert_eq!(rest["text"], "Traceback: boom\n", "{rest}");

    for (query, code) in [
        ("step=end&task=2", "log_not_found"), // no stdout saved
        ("step=end&task=2&attempt=3", "log_not_found"),
        ("step=nope", "task_not_found"),
    ] {
        let (status, answer) = call(&deps, "GET", &format!("{logs}?{query}"), None).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (404, Some(code)),
            "{query}: {answer}"
        );
    }
}
