//! Event-triggered flows end to end on the local stack (real Metaflow tasks): Metaflow's
//! own publisher, `ArgoEvent('go').publish()` with `METAFLOW_ARGO_EVENTS_WEBHOOK_URL`
//! pointed at the local trigger API's `/events`, starts `UpFlow` (`@trigger(event='go')`);
//! when UpFlow's end step succeeds, the step function publishes `metaflow.UpFlow.end`,
//! which starts `DownFlow` (`@trigger_on_finish(flow='UpFlow')`), whose tasks see the
//! UpFlow run as Metaflow's `current.trigger.run`. UpFlow's tasks see the `go` event as
//! `current.trigger.event`, and the Client's `Run.trigger` reads it back from the start
//! task's `execution-triggers` metadata; an UpFlow run started through the API has none.
//! The same event put on dropflow's EventBridge bus with boto3 starts UpFlow again
//! (bus → rule → trigger function).

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_tests::python;

mod common;

const UP_FLOW: &str = r#"from metaflow import FlowSpec, current, step, trigger

@trigger(event='go')
class UpFlow(FlowSpec):
    @step
    def start(self):
        # Unset (not None) in a run no event started, as in Metaflow elsewhere.
        self.has_trigger = 'trigger' in current
        trigger = current.get('trigger')
        self.event_name = trigger.event.name if trigger else None
        self.event_id = trigger.event.id if trigger else None
        self.next(self.end)

    @step
    def end(self):
        self.end_event_name = current.trigger.event.name if 'trigger' in current else None

if __name__ == '__main__':
    UpFlow()
"#;

const DOWN_FLOW: &str = r#"from metaflow import FlowSpec, current, step, trigger_on_finish

@trigger_on_finish(flow='UpFlow')
class DownFlow(FlowSpec):
    @step
    def start(self):
        self.upstream = current.trigger.run.pathspec
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    DownFlow()
"#;

async fn upload(stack: &Stack, name: &str, source: &str) {
    let bytes = SourcePackage {
        files: [(format!("{name}.py"), source.as_bytes().to_vec())]
            .into_iter()
            .collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz();
    common::s3(stack)
        .put_object()
        .bucket(&stack.endpoints().bucket)
        .key(format!("flows/{name}.tgz"))
        .body(bytes.into())
        .send()
        .await
        .unwrap();
}

/// What the Client's `Run(argv[1]).trigger` holds: `{"trigger": null}` or `{"trigger":
/// [{"name", "id", "type", "timestamp"}, ...], "run": "Flow/run_id" or null}` (the
/// timestamp as `str()` shows it; `run` is `Trigger.run`, for finish events).
const RUN_TRIGGER: &str = r#"
import json, sys
from metaflow import Run, namespace
namespace(None)
trigger = Run(sys.argv[1]).trigger
events = None if trigger is None else [
    {"name": e.name, "id": e.id, "type": e.type, "timestamp": str(e.timestamp)}
    for e in trigger.events
]
run = None if trigger is None or trigger.run is None else trigger.run.pathspec
print(json.dumps({"trigger": events, "run": run}))
"#;

/// [`RUN_TRIGGER`] for `run` (`Flow/run_id`) on the stack's metadata service.
fn run_trigger(stack: &Stack, cwd: &std::path::Path, run: &str) -> serde_json::Value {
    let out = Command::new(python())
        .args(["-c", RUN_TRIGGER, run])
        .envs(common::borrowed(&common::stack_env(stack)))
        .env("USERNAME", common::USER)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Client failed on {run}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The ARN of the first execution of `state_machine`, once there is one (at most
/// `timeout`).
async fn first_execution(stack: &Stack, state_machine: &str, timeout: Duration) -> String {
    execution_besides(stack, state_machine, &[], timeout).await
}

/// The ARN of an execution of `state_machine` not in `seen`, once there is one (at most
/// `timeout`).
async fn execution_besides(
    stack: &Stack,
    state_machine: &str,
    seen: &[&str],
    timeout: Duration,
) -> String {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let alias = common::deployed(stack, state_machine).await.unwrap();
    let machine = alias.trim_end_matches(":live").to_string();
    let started = Instant::now();
    loop {
        let listed = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
        let new = listed
            .executions()
            .iter()
            .find(|e| !seen.contains(&e.execution_arn()));
        if let Some(execution) = new {
            return execution.execution_arn().to_string();
        }
        assert!(
            started.elapsed() < timeout,
            "no execution of {state_machine} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metaflows_published_event_starts_a_flow_whose_end_starts_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = 2;
    let stack = Stack::start(options, Registry::new())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    upload(&stack, "up_flow", UP_FLOW).await;
    upload(&stack, "down_flow", DOWN_FLOW).await;
    common::deployed(&stack, "UpFlow").await.unwrap();
    common::deployed(&stack, "DownFlow").await.unwrap();

    // Metaflow's own publisher, unchanged, pointed at the local API. The API is served
    // on this test's runtime: block in place so another worker answers it.
    let webhook = format!("{}/events", stack.endpoints().api_url);
    let out = tokio::task::block_in_place(|| {
        Command::new(python())
            .args([
                "-c",
                "from metaflow.plugins.argo.argo_events import ArgoEvent\n\
                 print(ArgoEvent('go').publish(ignore_errors=False))",
            ])
            .current_dir(dir.path())
            .env("METAFLOW_ARGO_EVENTS_WEBHOOK_URL", &webhook)
            .env("USERNAME", common::USER)
            .output()
            .unwrap()
    });
    assert!(
        out.status.success(),
        "ArgoEvent.publish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `publish` returns the event's id (a UUID Metaflow made up).
    let event_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(event_id.len(), 36, "not a UUID: {event_id:?}");

    let up = first_execution(&stack, "UpFlow", Duration::from_secs(60)).await;
    let up = common::ended(&stack, &up, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(up.status(), &ExecutionStatus::Succeeded, "{:?}", up.cause());
    assert!(up.name().unwrap().starts_with("ev-"), "{:?}", up.name());

    let down_arn = first_execution(&stack, "DownFlow", Duration::from_secs(60)).await;
    let down = common::ended(&stack, &down_arn, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        down.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        down.cause()
    );
    assert!(down.name().unwrap().starts_with("ev-"), "{:?}", down.name());

    // Inside DownFlow, Metaflow's `current.trigger` is the UpFlow run that finished.
    let envs = common::stack_env(&stack);
    let read = tokio::task::block_in_place(|| {
        common::dump(
            &common::borrowed(&envs),
            dir.path(),
            &format!("DownFlow/sfn-{}", down.name().unwrap()),
            &["start"],
        )
    })
    .unwrap();
    assert_eq!(
        read["data"]["start"]["upstream"],
        format!("UpFlow/sfn-{}", up.name().unwrap()),
        "{read:#}"
    );

    // The Client's `Run.trigger` of DownFlow names the finish event (Argo's `type` `run`,
    // the upstream end task as `id`) and resolves the upstream run.
    let down_run = format!("DownFlow/sfn-{}", down.name().unwrap());
    let trigger = tokio::task::block_in_place(|| run_trigger(&stack, dir.path(), &down_run));
    let events = trigger["trigger"].as_array().expect("Run.trigger is set");
    assert_eq!(events[0]["name"], "metaflow.UpFlow.end", "{trigger:#}");
    assert_eq!(events[0]["type"], "run", "{trigger:#}");
    assert_eq!(
        trigger["run"],
        format!("UpFlow/sfn-{}", up.name().unwrap()),
        "{trigger:#}"
    );

    // The API's run view names the finish event and the upstream run that started it.
    let api = stack.endpoints().api_url.clone();
    let path = format!("/flows/DownFlow/runs/sfn-{}", down.name().unwrap());
    let (status, body) =
        tokio::task::block_in_place(|| common::http(&api, "GET", &path, "")).unwrap();
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    let triggered_by = &view["triggered_by"][0];
    assert_eq!(triggered_by["name"], "metaflow.UpFlow.end", "{view:#}");
    assert_eq!(
        triggered_by["run"],
        format!("UpFlow/sfn-{}", up.name().unwrap()),
        "{view:#}"
    );

    // Inside UpFlow, `current.trigger` is the `go` event, in every task; the Client's
    // `Run.trigger` reads it from the start task's `execution-triggers` metadata.
    let up_run = format!("UpFlow/sfn-{}", up.name().unwrap());
    let read = tokio::task::block_in_place(|| {
        common::dump(
            &common::borrowed(&envs),
            dir.path(),
            &up_run,
            &["start", "end"],
        )
    })
    .unwrap();
    assert_eq!(read["data"]["start"]["has_trigger"], true, "{read:#}");
    assert_eq!(read["data"]["start"]["event_name"], "go", "{read:#}");
    assert_eq!(read["data"]["start"]["event_id"], event_id, "{read:#}");
    assert_eq!(read["data"]["end"]["end_event_name"], "go", "{read:#}");
    let trigger = tokio::task::block_in_place(|| run_trigger(&stack, dir.path(), &up_run));
    let events = trigger["trigger"].as_array().expect("Run.trigger is set");
    assert_eq!(events.len(), 1, "{trigger:#}");
    assert_eq!(events[0]["name"], "go", "{trigger:#}");
    assert_eq!(events[0]["id"], event_id, "{trigger:#}");
    assert_eq!(events[0]["type"], "event", "{trigger:#}");
    // Metaflow's integer timestamp, shown as a datetime.
    assert!(
        events[0]["timestamp"].as_str().unwrap().starts_with("20"),
        "{trigger:#}"
    );

    // An UpFlow run started through the API has no `current.trigger` (Metaflow's
    // `current.get('trigger')` is None) and no `Run.trigger`.
    let (status, body) =
        tokio::task::block_in_place(|| common::http(&api, "POST", "/flows/UpFlow/runs", "{}"))
            .unwrap();
    assert_eq!(status, 201, "{body}");
    let started: serde_json::Value = serde_json::from_str(&body).unwrap();
    let manual = common::ended(
        &stack,
        started["execution_arn"].as_str().unwrap(),
        Duration::from_secs(300),
    )
    .await
    .unwrap();
    assert_eq!(
        manual.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        manual.cause()
    );
    let manual_run = format!("UpFlow/{}", started["run_id"].as_str().unwrap());
    let read = tokio::task::block_in_place(|| {
        common::dump(
            &common::borrowed(&envs),
            dir.path(),
            &manual_run,
            &["start", "end"],
        )
    })
    .unwrap();
    assert_eq!(read["data"]["start"]["has_trigger"], false, "{read:#}");
    assert_eq!(
        read["data"]["start"]["event_name"],
        serde_json::Value::Null,
        "{read:#}"
    );
    assert_eq!(
        read["data"]["end"]["end_event_name"],
        serde_json::Value::Null,
        "{read:#}"
    );
    let trigger = tokio::task::block_in_place(|| run_trigger(&stack, dir.path(), &manual_run));
    assert_eq!(trigger["trigger"], serde_json::Value::Null, "{trigger:#}");

    // Its end started DownFlow again: let that run end before the stack stops.
    let again = execution_besides(&stack, "DownFlow", &[&down_arn], Duration::from_secs(60)).await;
    let again = common::ended(&stack, &again, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        again.cause()
    );

    // The same event put on dropflow's EventBridge bus (boto3, as `aws events put-events`
    // would): the bus's rule invokes the trigger function, which starts UpFlow again.
    let put = tokio::task::block_in_place(|| {
        Command::new(python())
            .args([
                "-c",
                "import boto3, json, sys\n\
                 events = boto3.client('events')\n\
                 answer = events.put_events(Entries=[\n\
                     {'EventBusName': sys.argv[1], 'Source': 'acme.ingest', 'DetailType': 'go', 'Detail': json.dumps({'note': 'bus'})},\n\
                     {'EventBusName': sys.argv[1], 'Source': 'acme.ingest', 'DetailType': 'nobody_waits', 'Detail': '{}'}])\n\
                 print(answer['FailedEntryCount'])",
                &stack.endpoints().event_bus,
            ])
            .envs(common::borrowed(&envs))
            .output()
            .unwrap()
    });
    assert!(
        put.status.success(),
        "put_events failed: {}",
        String::from_utf8_lossy(&put.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&put.stdout).trim(), "0");
    // A new UpFlow run, started by the bus event (its name from EventBridge's event id),
    // runs to its end, and its end starts DownFlow once more.
    let manual_arn = started["execution_arn"].as_str().unwrap();
    let by_bus = execution_besides(
        &stack,
        "UpFlow",
        &[up.execution_arn(), manual_arn],
        Duration::from_secs(60),
    )
    .await;
    let by_bus = common::ended(&stack, &by_bus, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        by_bus.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        by_bus.cause()
    );
    assert!(
        by_bus.name().unwrap().starts_with("ev-"),
        "{:?}",
        by_bus.name()
    );
    let again_arn = again.execution_arn().to_string();
    let last = execution_besides(
        &stack,
        "DownFlow",
        &[&down_arn, &again_arn],
        Duration::from_secs(60),
    )
    .await;
    let last = common::ended(&stack, &last, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        last.status(),
        &ExecutionStatus::Succeeded,
        "{:?}",
        last.cause()
    );
}
