//! Event-triggered flows end to end on the local stack (real Metaflow tasks): Metaflow's
//! own publisher, `ArgoEvent('go').publish()` with `METAFLOW_ARGO_EVENTS_WEBHOOK_URL`
//! pointed at the local trigger API's `/events`, starts `UpFlow` (`@trigger(event='go')`);
//! when UpFlow's end step succeeds, the step function publishes `metaflow.UpFlow.end`,
//! which starts `DownFlow` (`@trigger_on_finish(flow='UpFlow')`), whose tasks see the
//! UpFlow run as Metaflow's `current.trigger.run`. The same event put on dropflow's
//! EventBridge bus with boto3 starts UpFlow again (bus → rule → trigger function).

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_tests::python;

mod common;

const UP_FLOW: &str = r#"from metaflow import FlowSpec, step, trigger

@trigger(event='go')
class UpFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

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

/// The ARN of the first execution of `state_machine`, once there is one (at most
/// `timeout`).
async fn first_execution(stack: &Stack, state_machine: &str, timeout: Duration) -> String {
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
        if let Some(execution) = listed.executions().first() {
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

    let up = first_execution(&stack, "UpFlow", Duration::from_secs(60)).await;
    let up = common::ended(&stack, &up, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(up.status(), &ExecutionStatus::Succeeded, "{:?}", up.cause());
    assert!(up.name().unwrap().starts_with("ev-"), "{:?}", up.name());

    let down = first_execution(&stack, "DownFlow", Duration::from_secs(60)).await;
    let down = common::ended(&stack, &down, Duration::from_secs(300))
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
    let sfn = aws_sdk_sfn::Client::new(stack.sdk());
    let machine = common::deployed(&stack, "UpFlow")
        .await
        .unwrap()
        .trim_end_matches(":live")
        .to_string();
    let waited = Instant::now();
    let second = loop {
        let listed = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
        let names: Vec<String> = listed
            .executions()
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        if names.len() >= 2 {
            break names;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the bus event started no UpFlow run: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        second.iter().all(|name| name.starts_with("ev-")),
        "{second:?}"
    );
}
