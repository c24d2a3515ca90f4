//! `POST /events` against a real AWS emulator (moto server on 127.0.0.1, with the local
//! stack's patches: runs start on the `live` alias, S3 conditional writes are atomic):
//! flows with `@trigger` deployed by the compile Lambda's handler, then Metaflow's event
//! body (what `ArgoEvent(name).publish(payload)` posts) sent to the trigger API's handler.
//! Executions are recorded, never run.

mod bucket;

use std::collections::BTreeMap;

use dropflow_api::TriggerConfig;
use dropflow_api::lambda_http::{self, Body};
use dropflow_compile::AwsDeployer;
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_deploy::Config;
use dropflow_events::{Delivered, EventAnswer, Rejections};
use dropflow_tests::deploy_env;
use dropflow_tests::moto::{self, Lease};
use dropflow_trigger::AwsDeps as Deps;
use serde_json::{Value, json};

const BUCKET: &str = "dropflow-test";
const S3_FIXTURE: &str = include_str!("../../functions/compile/fixtures/example-s3-event.json");
const APIGW_FIXTURE: &str =
    include_str!("../../shared/api/fixtures/example-apigw-v2-request-no-authorizer.json");

/// One event, its field `a` mapped to the integer parameter `alpha`.
const EVENT_FLOW: &str = r#"from metaflow import FlowSpec, Parameter, step, trigger

@trigger(event={'name': 'data_ready', 'parameters': {'alpha': 'a'}})
class EventFlow(FlowSpec):
    alpha = Parameter('alpha', type=int, default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    EventFlow()
"#;

/// Two events: a run starts once both have arrived.
const TWO_EVENT_FLOW: &str = r#"from metaflow import FlowSpec, step, trigger

@trigger(events=['first', 'second'])
class TwoEventFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    TwoEventFlow()
"#;

struct Stack {
    _moto: Lease,
    deployer: AwsDeployer,
    deps: Deps,
    s3: aws_sdk_s3::Client,
    sfn: aws_sdk_sfn::Client,
    sequence: u64,
}

impl Stack {
    async fn new() -> Self {
        let moto = moto::shared();
        let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
        let config = Config::from_lookup(|name| deploy_env::compile_variable(BUCKET, name))
            .expect("valid test configuration");
        let deployer = dropflow_compile::deployer(config, &sdk);
        let s3 = deployer.objects.client().clone();
        bucket::versioned(&s3, BUCKET).await;
        Self {
            deps: dropflow_trigger::deps(TriggerConfig::new(BUCKET), &sdk),
            sfn: aws_sdk_sfn::Client::new(&sdk),
            s3,
            deployer,
            _moto: moto,
            sequence: 0,
        }
    }

    /// Deploys one flow file through the compile Lambda's handler.
    async fn deploy(&mut self, name: &str, source: &str) {
        let key = format!("flows/{name}.tgz");
        let file = format!("{name}.py");
        let bytes = SourcePackage {
            files: BTreeMap::from([(file, source.as_bytes().to_vec())]),
            script_hint: None,
            format: PackageFormat::Directory,
            sha256: String::new(),
        }
        .to_tar_gz();
        let output = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
        self.sequence += 1;
        let mut event: Value = serde_json::from_str(S3_FIXTURE).unwrap();
        let record = &mut event["Records"][0];
        record["userIdentity"]["principalId"] = json!("AWS:AROAEXAMPLE:alice");
        record["s3"]["bucket"]["name"] = json!(BUCKET);
        record["s3"]["object"]["key"] = json!(key);
        record["s3"]["object"]["versionId"] = json!(output.version_id());
        record["s3"]["object"]["sequencer"] = json!(format!("0066F1A2B3{:08X}", self.sequence));
        let response = dropflow_compile::handle(&self.deployer, event)
            .await
            .unwrap_or_else(|e| panic!("compile handler failed: {e}"));
        let report = serde_json::to_value(&response.records[0].report).unwrap();
        assert_eq!(report["status"], "deployed", "{report:#}");
    }

    /// Removes a deployed flow's upload, as `aws s3 rm` does, through the compile handler.
    async fn undeploy(&mut self, name: &str) {
        let key = format!("flows/{name}.tgz");
        self.s3
            .delete_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
        self.sequence += 1;
        let mut event: Value = serde_json::from_str(S3_FIXTURE).unwrap();
        let record = &mut event["Records"][0];
        record["eventName"] = json!("ObjectRemoved:DeleteMarkerCreated");
        record["userIdentity"]["principalId"] = json!("AWS:AROAEXAMPLE:alice");
        record["s3"]["bucket"]["name"] = json!(BUCKET);
        record["s3"]["object"]["key"] = json!(key);
        record["s3"]["object"]
            .as_object_mut()
            .unwrap()
            .retain(|field, _| field == "key" || field == "sequencer");
        record["s3"]["object"]["sequencer"] = json!(format!("0066F1A2B3{:08X}", self.sequence));
        let response = dropflow_compile::handle(&self.deployer, event)
            .await
            .unwrap_or_else(|e| panic!("compile handler failed: {e}"));
        let report = serde_json::to_value(&response.records[0].report).unwrap();
        assert_eq!(report["status"], "undeployed", "{report:#}");
    }

    async fn executions(&self, state_machine: &str) -> Vec<(String, String)> {
        let list = self.sfn.list_state_machines().send().await.unwrap();
        let arn = list
            .state_machines()
            .iter()
            .find(|m| m.name() == state_machine)
            .map(|m| m.state_machine_arn().to_string())
            .unwrap_or_else(|| panic!("no state machine {state_machine}"));
        let executions = self
            .sfn
            .list_executions()
            .state_machine_arn(arn)
            .send()
            .await
            .unwrap();
        let mut found = Vec::new();
        for execution in executions.executions() {
            let described = self
                .sfn
                .describe_execution()
                .execution_arn(execution.execution_arn())
                .send()
                .await
                .unwrap();
            found.push((
                execution.name().to_string(),
                described.input().unwrap_or_default().to_string(),
            ));
        }
        found
    }
}

/// An API Gateway HTTP API (v2) request, as the trigger Lambda receives it.
fn request(method: &str, path: &str, body: Option<&str>) -> lambda_http::Request {
    let mut event: Value = serde_json::from_str(APIGW_FIXTURE).unwrap();
    event["routeKey"] = json!("ANY /{proxy+}");
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["requestContext"]["routeKey"] = json!("ANY /{proxy+}");
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("content-length");
    headers.insert("content-type".into(), json!("application/json"));
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

async fn call(deps: &Deps, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let response = dropflow_api::handle(request(method, path, body), deps).await;
    let status = response.status().as_u16();
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        other => panic!("not a text body: {other:?}"),
    };
    (status, serde_json::from_str(&text).unwrap())
}

/// Metaflow's body for `ArgoEvent(name).publish(payload)`: the name twice, a UUID id, a
/// timestamp, the date, `generated-by-metaflow`, then the payload.
fn metaflow_event(name: &str, id: &str, payload: Value) -> String {
    let mut fields = json!({
        "name": name,
        "id": id,
        "timestamp": 1_765_000_000,
        "utc_date": "20251206",
        "generated-by-metaflow": true,
    });
    for (key, value) in payload.as_object().unwrap() {
        fields[key] = value.clone();
    }
    json!({"name": name, "payload": fields}).to_string()
}

async fn publish(deps: &Deps, body: &str) -> EventAnswer {
    let (status, answer) = call(deps, "POST", "/events", Some(body)).await;
    assert_eq!(status, 200, "{answer:#}");
    serde_json::from_value(answer).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_copies_of_one_event_start_one_run_with_the_mapped_parameter() {
    let mut stack = Stack::new().await;
    stack.deploy("event_flow", EVENT_FLOW).await;

    let body = metaflow_event(
        "data_ready",
        "5c1e0a3e-7d4b-4a43-9a52-1f0c7f2b9d11",
        json!({"a": "5"}),
    );
    let mut sends = Vec::new();
    for _ in 0..10 {
        let (deps, body) = (stack.deps.clone(), body.clone());
        sends.push(tokio::spawn(async move { publish(&deps, &body).await }));
    }
    let mut started = 0;
    let mut run_ids = Vec::new();
    for send in sends {
        let answer = send.await.unwrap();
        assert_eq!(answer.flows.len(), 1, "{answer:?}");
        let flow = &answer.flows[0];
        assert_eq!(flow.state_machine, "EventFlow");
        match &flow.delivery {
            Delivered::Started { .. } => started += 1,
            Delivered::AlreadyStarted { .. } => {}
            other => panic!("{other:?}"),
        }
        run_ids.push(flow.run_id.clone().unwrap());
    }
    assert_eq!(started, 1, "exactly one delivery started the run");
    run_ids.dedup();
    assert_eq!(
        run_ids.len(),
        1,
        "every answer names the same run: {run_ids:?}"
    );

    let executions = stack.executions("EventFlow").await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(format!("sfn-{}", executions[0].0), run_ids[0]);
    assert_eq!(executions[0].1, r#"{"Parameters": "{\"alpha\": 5}"}"#);
    // The run view names the event that started it.
    let (status, run) = call(
        &stack.deps,
        "GET",
        &format!("/flows/EventFlow/runs/{}", run_ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        run["triggered_by"],
        json!([{"id": "5c1e0a3e-7d4b-4a43-9a52-1f0c7f2b9d11", "name": "data_ready"}])
    );

    // An event no flow waits for is accepted and ignored.
    let other = publish(&stack.deps, &metaflow_event("unrelated", "x-1", json!({}))).await;
    assert!(other.flows.is_empty(), "{other:?}");
    assert_eq!(stack.executions("EventFlow").await.len(), 1);
}

#[tokio::test]
async fn a_two_event_flow_starts_only_after_both_events() {
    let mut stack = Stack::new().await;
    stack.deploy("two_event_flow", TWO_EVENT_FLOW).await;

    let first = publish(&stack.deps, &metaflow_event("first", "id-1", json!({}))).await;
    assert_eq!(
        first.flows[0].delivery,
        Delivered::Waiting {
            missing: vec!["second".into()]
        }
    );
    // Sent again, the first event is not counted twice.
    let again = publish(&stack.deps, &metaflow_event("first", "id-1", json!({}))).await;
    assert_eq!(again.flows[0].delivery, Delivered::Duplicate);
    assert!(stack.executions("TwoEventFlow").await.is_empty());

    let second = publish(&stack.deps, &metaflow_event("second", "id-2", json!({}))).await;
    let Delivered::Started { execution_name } = &second.flows[0].delivery else {
        panic!("{second:?}")
    };
    assert_eq!(stack.executions("TwoEventFlow").await.len(), 1);
    // The record the step Lambda reads for the run's `current.trigger`: both events.
    let record = stack
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(dropflow_contract::layout::triggered_run_key(
            "TwoEventFlow",
            execution_name,
        ))
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let record: dropflow_events::TriggeredRun = serde_json::from_slice(&record).unwrap();
    assert_eq!(
        serde_json::to_value(
            record.triggering_events(dropflow_contract::triggers::TriggerKind::Event)
        )
        .unwrap(),
        json!([
            {"name": "first", "id": "id-1", "timestamp": 1_765_000_000},
            {"name": "second", "id": "id-2", "timestamp": 1_765_000_000},
        ])
    );

    // The record was reset: another `second` waits for a new `first`.
    let third = publish(&stack.deps, &metaflow_event("second", "id-3", json!({}))).await;
    assert_eq!(
        third.flows[0].delivery,
        Delivered::Waiting {
            missing: vec!["first".into()]
        }
    );
    assert_eq!(stack.executions("TwoEventFlow").await.len(), 1);
}

#[tokio::test]
async fn a_wrong_typed_parameter_starts_nothing_and_the_rejection_is_readable() {
    let mut stack = Stack::new().await;
    stack.deploy("event_flow", EVENT_FLOW).await;

    let answer = publish(
        &stack.deps,
        &metaflow_event("data_ready", "id-bad", json!({"a": "many"})),
    )
    .await;
    let Delivered::Rejected(rejection) = &answer.flows[0].delivery else {
        panic!("{answer:?}")
    };
    assert!(
        rejection
            .reason
            .contains(r#"alpha: expected an integer, got string "many""#),
        "{}",
        rejection.reason
    );
    assert!(stack.executions("EventFlow").await.is_empty());

    let (status, listed) = call(&stack.deps, "GET", "/flows/EventFlow/events/rejected", None).await;
    assert_eq!(status, 200, "{listed:#}");
    let listed: Rejections = serde_json::from_value(listed).unwrap();
    assert_eq!(listed.rejections.len(), 1, "{listed:?}");
    assert_eq!(&listed.rejections[0].rejection, rejection);
    assert_eq!(listed.rejections[0].rejection.events[0].id, "id-bad");
    assert!(listed.rejections[0].rejected_at.is_some());

    // A body that is not an event is refused with the form to send.
    let (status, refused) = call(&stack.deps, "POST", "/events", Some(r#"{"payload": {}}"#)).await;
    assert_eq!(status, 400, "{refused:#}");
    assert_eq!(refused["error"], "invalid_event");
}

#[tokio::test]
async fn a_claim_whose_writer_died_is_started_by_the_next_delivery_once_stale() {
    let mut stack = Stack::new().await;
    stack.deploy("event_flow", EVENT_FLOW).await;
    let name = dropflow_events::execution_name(["fresh-id"].into_iter());
    let stale_name = dropflow_events::execution_name(["stale-id"].into_iter());
    // Claims written by deliveries that died before StartExecution: one just now, one
    // long ago.
    for (execution, claimed_at_ms) in [
        (&name, dropflow_contract::records::now_ms()),
        (&stale_name, 0),
    ] {
        let claim = dropflow_events::TriggeredRun {
            state_machine: "EventFlow".into(),
            execution_name: execution.clone(),
            claimed_at_ms,
            events: vec![],
        };
        dropflow_contract::records::write_json(
            &stack.deps.objects,
            &dropflow_contract::layout::triggered_run_key("EventFlow", execution),
            &claim,
        )
        .await
        .unwrap();
    }

    // The fresh claim's writer may still be starting it: left to it.
    let fresh = publish(
        &stack.deps,
        &metaflow_event("data_ready", "fresh-id", json!({})),
    )
    .await;
    assert_eq!(
        fresh.flows[0].delivery,
        Delivered::AlreadyStarted {
            execution_name: name.clone()
        }
    );
    assert!(stack.executions("EventFlow").await.is_empty());

    // The stale one is started by this delivery, once.
    let stale = publish(
        &stack.deps,
        &metaflow_event("data_ready", "stale-id", json!({})),
    )
    .await;
    assert_eq!(
        stale.flows[0].delivery,
        Delivered::Started {
            execution_name: stale_name.clone()
        }
    );
    let again = publish(
        &stack.deps,
        &metaflow_event("data_ready", "stale-id", json!({})),
    )
    .await;
    assert_eq!(
        again.flows[0].delivery,
        Delivered::AlreadyStarted {
            execution_name: stale_name.clone()
        }
    );
    let executions = stack.executions("EventFlow").await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].0, stale_name);
}

/// An event from dropflow's EventBridge bus, as the bus rule's Lambda target receives it:
/// `DetailType` the event name, `Detail` the payload.
fn bus_event(id: &str, name: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": name,
        "source": "acme.ingest",
        "account": "123456789012",
        "time": "2026-12-07T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail
    })
}

/// `value` as the Lambda runtime hands a payload over: unparsed JSON.
fn raw(value: &Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).unwrap()
}

async fn invoke(deps: &Deps, payload: Value) -> Value {
    dropflow_api::handle_invocation(raw(&payload), Default::default(), deps)
        .await
        .unwrap_or_else(|e| panic!("the trigger function failed: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bus_events_delivered_concurrently_twice_and_out_of_order_start_one_run_each() {
    let mut stack = Stack::new().await;
    stack.deploy("event_flow", EVENT_FLOW).await;
    stack.deploy("two_event_flow", TWO_EVENT_FLOW).await;

    // EventBridge delivers at least once: eight concurrent copies of one event (one id).
    let event = bus_event("0b6e-bus-1", "data_ready", json!({"a": 7}));
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (deps, event) = (stack.deps.clone(), event.clone());
            tokio::spawn(async move { invoke(&deps, event).await })
        })
        .collect();
    let mut started = 0;
    for copy in copies {
        let answer: EventAnswer = serde_json::from_value(copy.await.unwrap()).unwrap();
        assert_eq!(answer.id, "0b6e-bus-1");
        match &answer.flows[..] {
            [flow] if matches!(flow.delivery, Delivered::Started { .. }) => started += 1,
            [flow] if matches!(flow.delivery, Delivered::AlreadyStarted { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started, 1, "one copy started the run");
    let executions = stack.executions("EventFlow").await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(executions[0].1, r#"{"Parameters": "{\"alpha\": 7}"}"#);

    // Two events, the second arriving first, each delivered twice at once: one run.
    let mut deliveries = Vec::new();
    for (id, name) in [("bus-2", "second"), ("bus-1", "first")] {
        let round: Vec<_> = (0..2)
            .map(|_| {
                let (deps, event) = (stack.deps.clone(), bus_event(id, name, json!({})));
                tokio::spawn(async move { invoke(&deps, event).await })
            })
            .collect();
        for delivery in round {
            deliveries.push(delivery.await.unwrap());
        }
    }
    let runs = stack.executions("TwoEventFlow").await;
    assert_eq!(runs.len(), 1, "{runs:?} after {deliveries:#?}");

    // A payload that does not fit starts nothing and is readable with its reason.
    let bad = invoke(
        &stack.deps,
        bus_event("bus-bad", "data_ready", json!({"a": "seven"})),
    )
    .await;
    let bad: EventAnswer = serde_json::from_value(bad).unwrap();
    assert!(
        matches!(bad.flows[0].delivery, Delivered::Rejected(_)),
        "{bad:?}"
    );
    assert_eq!(stack.executions("EventFlow").await.len(), 1);
    let (status, rejected) =
        call(&stack.deps, "GET", "/flows/EventFlow/events/rejected", None).await;
    assert_eq!(status, 200, "{rejected}");
    let rejected: Rejections = serde_json::from_value(rejected).unwrap();
    assert!(
        rejected.rejections[0].rejection.reason.contains("alpha"),
        "{rejected:?}"
    );

    // A detail that is not an object is refused, naming the fix (not retried as an AWS error).
    let refused = dropflow_api::handle_invocation(
        raw(&bus_event("bus-list", "data_ready", json!([1]))),
        Default::default(),
        &stack.deps,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.error_type, "dropflow.InvalidEvent");
    assert!(refused.message.contains("not a JSON object"), "{refused}");

    // The same entry point answers the HTTP API (payload v2) with API Gateway's form.
    let mut request: Value = serde_json::from_str(APIGW_FIXTURE).unwrap();
    request["rawPath"] = json!("/flows");
    request["rawQueryString"] = json!("");
    request["requestContext"]["http"]["method"] = json!("GET");
    request["requestContext"]["http"]["path"] = json!("/flows");
    let response = invoke(&stack.deps, request).await;
    assert_eq!(response["statusCode"], 200, "{response:#}");
    let flows: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        flows["flows"].as_array().map(Vec::len),
        Some(2),
        "{flows:#}"
    );
}

#[tokio::test]
async fn an_undeployed_flow_is_started_by_no_event() {
    let mut stack = Stack::new().await;
    stack.deploy("event_flow", EVENT_FLOW).await;
    let first = publish(&stack.deps, &metaflow_event("data_ready", "u-1", json!({}))).await;
    assert!(
        matches!(first.flows[0].delivery, Delivered::Started { .. }),
        "{first:?}"
    );

    stack.undeploy("event_flow").await;
    // Neither way of publishing reaches it any more; the event is accepted and ignored.
    let posted = publish(&stack.deps, &metaflow_event("data_ready", "u-2", json!({}))).await;
    assert!(posted.flows.is_empty(), "{posted:?}");
    let put = invoke(&stack.deps, bus_event("u-3", "data_ready", json!({}))).await;
    let put: EventAnswer = serde_json::from_value(put).unwrap();
    assert!(put.flows.is_empty(), "{put:?}");
}
