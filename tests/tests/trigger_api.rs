//! The trigger API's handler against a real AWS emulator (moto server on 127.0.0.1): flows
//! deployed by the compile Lambda's handler, then API Gateway HTTP API (payload v2) events
//! built on aws_lambda_events' fixture, answered by `dropflow_api::handle`.
//!
//! Runs start on the `live` alias as in production: the test binary's moto carries the
//! local stack's StartExecution patch (`tests/moto_aliases.py`), since moto 5.2.5 alone
//! answers `StateMachineDoesNotExist` for an alias ARN. Executions are recorded, never run.

mod bucket;

use std::collections::BTreeMap;

use aws_sdk_sfn::types::RoutingConfigurationListItem;
use dropflow_api::TriggerConfig;
use dropflow_api::lambda_http::{self, Body};
use dropflow_compile::AwsDeployer;
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_deploy::{Config, SCHEDULE_INPUT};
use dropflow_task::records::{TaskRecord, TaskStatus, record_key};
use dropflow_tests::deploy_env;
use dropflow_tests::moto::{self, Lease};
use dropflow_tests::repo_root;
use dropflow_trigger::AwsDeps as Deps;
use serde_json::{Value, json};

const BUCKET: &str = "dropflow-test";
const PRINCIPAL: &str = "AWS:AROAEXAMPLE:alice";
const S3_FIXTURE: &str = include_str!("../../functions/compile/fixtures/example-s3-event.json");
const APIGW_FIXTURE: &str =
    include_str!("../../shared/api/fixtures/example-apigw-v2-request-no-authorizer.json");

/// A flow with a required parameter that has no default, and one of each type.
const TYPED_FLOW: &str = r#"from metaflow import FlowSpec, JSONType, Parameter, step

class TypedFlow(FlowSpec):
    # Not `name = ...`: Metaflow never collects an attribute called `name` as a parameter.
    who = Parameter('name', help='Who to greet', required=True)
    count = Parameter('count', default=3)
    ratio = Parameter('ratio', type=float, default=0.5)
    dry_run = Parameter('dry-run', type=bool, default=False)
    config = Parameter('config', type=JSONType, default='{"depth": 1}')

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    TypedFlow()
"#;

fn compile_config() -> Config {
    Config::from_lookup(|name| deploy_env::compile_variable(BUCKET, name))
        .expect("valid test configuration")
}

/// An API answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    allow: Option<String>,
}

/// moto (reset), the bucket, the compile Lambda's deployer and the trigger API's deps.
struct Stack {
    moto: Lease,
    deployer: AwsDeployer,
    deps: Deps,
    s3: aws_sdk_s3::Client,
    sfn: aws_sdk_sfn::Client,
    scheduler: aws_sdk_scheduler::Client,
    sequence: u64,
}

impl Stack {
    async fn new() -> Self {
        let moto = moto::shared();
        let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
        let deployer = dropflow_compile::deployer(compile_config(), &sdk);
        let s3 = deployer.objects.client().clone();
        bucket::versioned(&s3, BUCKET).await;
        Self {
            deps: dropflow_trigger::deps(TriggerConfig::new(BUCKET), &sdk),
            sfn: aws_sdk_sfn::Client::new(&sdk),
            scheduler: aws_sdk_scheduler::Client::new(&sdk),
            s3,
            deployer,
            moto,
            sequence: 0,
        }
    }

    /// Uploads one flow file as a tarball under `flows/<key>` with `metadata`, delivers its
    /// S3 event to the compile handler, and returns the report (expected `deployed`).
    async fn deploy(
        &mut self,
        key: &str,
        file: &str,
        source: &str,
        metadata: &[(&str, &str)],
    ) -> Value {
        let key = format!("flows/{key}");
        let bytes = SourcePackage {
            files: BTreeMap::from([(file.to_string(), source.as_bytes().to_vec())]),
            script_hint: None,
            format: PackageFormat::Directory,
            sha256: String::new(),
        }
        .to_tar_gz();
        let mut request = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(bytes.into());
        for (k, v) in metadata {
            request = request.metadata(*k, *v);
        }
        let output = request.send().await.unwrap();
        self.sequence += 1;
        let mut event: Value = serde_json::from_str(S3_FIXTURE).unwrap();
        let record = &mut event["Records"][0];
        record["userIdentity"]["principalId"] = json!(PRINCIPAL);
        record["s3"]["bucket"]["name"] = json!(BUCKET);
        record["s3"]["object"]["key"] = json!(key);
        record["s3"]["object"]["versionId"] = json!(output.version_id());
        record["s3"]["object"]["sequencer"] = json!(format!("0066F1A2B3{:08X}", self.sequence));
        let response = dropflow_compile::handle(&self.deployer, event)
            .await
            .unwrap_or_else(|e| panic!("compile handler failed: {e}"));
        let report = serde_json::to_value(&response.records[0].report).unwrap();
        assert_eq!(report["status"], "deployed", "{report:#}");
        report
    }

    async fn deploy_example(&mut self, name: &str) -> Value {
        let file = format!("{name}.py");
        let source = std::fs::read_to_string(repo_root().join("examples").join(&file)).unwrap();
        self.deploy(&format!("{name}.tgz"), &file, &source, &[])
            .await
    }

    /// Sends an API Gateway HTTP API (v2) event to the trigger handler.
    async fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut event: Value = serde_json::from_str(APIGW_FIXTURE).unwrap();
        event["routeKey"] = json!("ANY /{proxy+}");
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["routeKey"] = json!("ANY /{proxy+}");
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        let id = uuid_like();
        event["requestContext"]["requestId"] = json!(id);
        let object = event["headers"].as_object_mut().unwrap();
        object.remove("content-length");
        object.insert("content-type".into(), json!("application/json"));
        for (name, value) in headers {
            object.insert(name.to_ascii_lowercase(), json!(value));
        }
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = dropflow_api::handle(request, &self.deps).await;
        let status = response.status().as_u16();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{target}"
        );
        let text = match response.body() {
            Body::Text(text) => text.clone(),
            other => panic!("not a text body: {other:?}"),
        };
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        if status >= 400 {
            assert!(body["error"].is_string(), "{body:#}");
            assert!(body["message"].is_string(), "{body:#}");
            assert_eq!(body["request_id"], id.as_str(), "{body:#}");
        }
        Answer {
            status,
            body,
            allow,
        }
    }

    async fn post(&self, target: &str, body: &str) -> Answer {
        self.call("POST", target, &[], Some(body)).await
    }

    /// Writes `record` where the step Lambda keeps it.
    async fn put_record(&self, record: &TaskRecord) {
        self.s3
            .put_object()
            .bucket(BUCKET)
            .key(record_key(
                &record.flow,
                &record.run,
                &record.step,
                &record.task,
                record.attempt,
            ))
            .body(serde_json::to_vec(record).unwrap().into())
            .send()
            .await
            .unwrap();
    }

    async fn get(&self, target: &str) -> Answer {
        self.call("GET", target, &[], None).await
    }

    async fn state_machine_arn(&self, name: &str) -> String {
        let list = self.sfn.list_state_machines().send().await.unwrap();
        list.state_machines()
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.state_machine_arn().to_string())
            .unwrap_or_else(|| panic!("no state machine {name}"))
    }

    /// How many executions the state machine has (straight from Step Functions).
    async fn execution_count(&self, name: &str) -> usize {
        let arn = self.state_machine_arn(name).await;
        let list = self
            .sfn
            .list_executions()
            .state_machine_arn(arn)
            .send()
            .await
            .unwrap();
        list.executions().len()
    }

    async fn execution_input(&self, execution_arn: &str) -> String {
        let output = self
            .sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap();
        output.input().unwrap().to_string()
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test]
async fn a_valid_trigger_starts_a_run_whose_input_carries_the_parameters() {
    let mut stack = Stack::new().await;
    let report = stack.deploy_example("parameter_flow").await;
    let version = report["version"].as_str().unwrap();

    let answer = stack
        .post("/flows/ParameterFlow/runs", r#"{"alpha": 0.5}"#)
        .await;
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    let run = &answer.body;
    let run_id = run["run_id"].as_str().unwrap();
    let name = run_id
        .strip_prefix("sfn-")
        .expect("run ids are sfn-<execution name>");
    let arn = run["execution_arn"].as_str().unwrap();
    assert!(
        arn.ends_with(&format!(":execution:ParameterFlow:{name}")),
        "{arn}"
    );
    assert_eq!(run["flow"], "ParameterFlow");
    assert_eq!(run["state_machine"], "ParameterFlow");
    assert_eq!(run["version"], version);
    assert_eq!(run["status"], "RUNNING");
    assert_eq!(run["parameters"], json!({"alpha": 0.5}));
    assert_eq!(
        stack.execution_input(arn).await,
        r#"{"Parameters": "{\"alpha\": 0.5}"}"#
    );

    // Metaflow's form gives the same input; an empty body runs with the defaults.
    let metaflow = stack
        .post(
            "/flows/ParameterFlow/runs",
            r#"{"Parameters": "{\"alpha\": 0.5}"}"#,
        )
        .await;
    assert_eq!(metaflow.status, 201, "{:#}", metaflow.body);
    assert_eq!(
        stack
            .execution_input(metaflow.body["execution_arn"].as_str().unwrap())
            .await,
        r#"{"Parameters": "{\"alpha\": 0.5}"}"#
    );
    let defaults = stack
        .call("POST", "/flows/ParameterFlow/runs", &[], None)
        .await;
    assert_eq!(defaults.status, 201, "{:#}", defaults.body);
    assert_eq!(defaults.body["parameters"], json!({"alpha": 0.01}));
    assert_eq!(
        stack
            .execution_input(defaults.body["execution_arn"].as_str().unwrap())
            .await,
        SCHEDULE_INPUT
    );
    // Click's conversions: a number in a string is a fine float; sent as a number.
    let text = stack
        .post("/flows/ParameterFlow/runs", r#"{"alpha": "2"}"#)
        .await;
    assert_eq!(text.status, 201, "{:#}", text.body);
    assert_eq!(
        stack
            .execution_input(text.body["execution_arn"].as_str().unwrap())
            .await,
        r#"{"Parameters": "{\"alpha\": 2.0}"}"#
    );
    assert_eq!(stack.execution_count("ParameterFlow").await, 4);
}

#[tokio::test]
async fn every_bad_input_is_refused_and_starts_nothing() {
    let mut stack = Stack::new().await;
    stack.deploy_example("parameter_flow").await;
    stack
        .deploy("typed.tgz", "typed_flow.py", TYPED_FLOW, &[])
        .await;

    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "ParameterFlow",
            r#"{"alpha": "fast"}"#.into(),
            400,
            "invalid_parameters",
        ),
        (
            "ParameterFlow",
            r#"{"alpha": true}"#.into(),
            400,
            "invalid_parameters",
        ),
        (
            "ParameterFlow",
            r#"{"beta": 1}"#.into(),
            400,
            "invalid_parameters",
        ),
        (
            "ParameterFlow",
            r#"{"Parameters": "{\"beta\": 1}"}"#.into(),
            400,
            "invalid_parameters",
        ),
        ("TypedFlow", "{}".into(), 400, "invalid_parameters"),
        (
            "TypedFlow",
            r#"{"name": "x", "count": 1.5}"#.into(),
            400,
            "invalid_parameters",
        ),
        (
            "TypedFlow",
            r#"{"name": "x", "dry-run": "maybe"}"#.into(),
            400,
            "invalid_parameters",
        ),
        (
            "TypedFlow",
            r#"{"name": "x", "config": "{not json"}"#.into(),
            400,
            "invalid_parameters",
        ),
        (
            "ParameterFlow",
            r#"{"alpha": "#.into(),
            400,
            "malformed_json",
        ),
        (
            "ParameterFlow",
            r#"{"Parameters": "{\"alpha\": "}"#.into(),
            400,
            "malformed_json",
        ),
        ("ParameterFlow", "[0.5]".into(), 400, "invalid_body"),
        ("ParameterFlow", r#""alpha""#.into(), 400, "invalid_body"),
        (
            "TypedFlow",
            format!(r#"{{"name": "{}"}}"#, "x".repeat(21 * 1024)),
            413,
            "input_too_large",
        ),
        (
            "ParameterFlow",
            format!(r#"{{"alpha": 0.5, "pad": "{}"}}"#, " ".repeat(200 * 1024)),
            413,
            "input_too_large",
        ),
        (
            "NoSuchFlow",
            r#"{"alpha": 0.5}"#.into(),
            404,
            "flow_not_found",
        ),
        ("no such flow", "{}".into(), 404, "flow_not_found"),
    ];
    for (flow, body, status, code) in &cases {
        let answer = stack.post(&format!("/flows/{flow}/runs"), body).await;
        let shown: String = body.chars().take(60).collect();
        assert_eq!(answer.status, *status, "{flow} {shown}: {:#}", answer.body);
        assert_eq!(
            answer.body["error"], *code,
            "{flow} {shown}: {:#}",
            answer.body
        );
    }

    // The 400 says what is wrong and lists the valid names.
    let unknown = stack
        .post("/flows/ParameterFlow/runs", r#"{"beta": 1}"#)
        .await;
    assert_eq!(unknown.body["valid_parameters"], json!(["alpha"]));
    assert_eq!(
        unknown.body["problems"],
        json!([{"parameter": "beta", "problem": "unknown parameter \"beta\""}])
    );
    assert!(
        unknown.body["message"]
            .as_str()
            .unwrap()
            .contains("valid parameters: alpha"),
        "{:#}",
        unknown.body
    );
    let missing = stack.post("/flows/TypedFlow/runs", "{}").await;
    assert_eq!(
        missing.body["problems"],
        json!([{"parameter": "name", "problem": "\"name\" is required and has no default (Who to greet)"}])
    );
    let wrong = stack
        .post("/flows/ParameterFlow/runs", r#"{"alpha": "fast"}"#)
        .await;
    assert_eq!(
        wrong.body["problems"][0]["problem"],
        "expected a number, got string \"fast\""
    );

    assert_eq!(stack.execution_count("ParameterFlow").await, 0);
    assert_eq!(stack.execution_count("TypedFlow").await, 0);

    // And the same flow takes valid values of every type.
    let answer = stack
        .post(
            "/flows/TypedFlow/runs",
            r#"{"name": "ada", "count": "7", "ratio": 1, "dry-run": "yes", "config": {"depth": 2}}"#,
        )
        .await;
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    assert_eq!(
        stack
            .execution_input(answer.body["execution_arn"].as_str().unwrap())
            .await,
        r#"{"Parameters": "{\"name\": \"ada\", \"count\": 7, \"ratio\": 1.0, \"dry-run\": true, \"config\": {\"depth\": 2}}"}"#
    );
}

#[tokio::test]
async fn an_idempotency_key_starts_one_run_for_two_requests() {
    let mut stack = Stack::new().await;
    stack.deploy_example("parameter_flow").await;
    let key = [("Idempotency-Key", "nightly-2026-11-02")];

    let first = stack
        .call(
            "POST",
            "/flows/ParameterFlow/runs",
            &key,
            Some(r#"{"alpha": 0.5}"#),
        )
        .await;
    assert_eq!(first.status, 201, "{:#}", first.body);
    assert_eq!(first.body["run_id"], "sfn-nightly-2026-11-02");
    // The retry (same key, same parameters, in the other form) is the same run.
    let retry = stack
        .call(
            "POST",
            "/flows/ParameterFlow/runs",
            &key,
            Some(r#"{"Parameters": "{\"alpha\": 0.5}"}"#),
        )
        .await;
    assert_eq!(retry.status, 200, "{:#}", retry.body);
    assert_eq!(retry.body["run_id"], first.body["run_id"]);
    assert_eq!(retry.body["execution_arn"], first.body["execution_arn"]);
    assert_eq!(stack.execution_count("ParameterFlow").await, 1);

    // The same key with other parameters is a conflict.
    let other = stack
        .call(
            "POST",
            "/flows/ParameterFlow/runs",
            &key,
            Some(r#"{"alpha": 0.7}"#),
        )
        .await;
    assert_eq!(other.status, 409, "{:#}", other.body);
    assert_eq!(other.body["error"], "idempotency_conflict");
    assert_eq!(other.body["run_id"], "sfn-nightly-2026-11-02");

    // Still the same run once it has finished (Step Functions then answers
    // ExecutionAlreadyExists even for the same input).
    let stopped = stack
        .call(
            "DELETE",
            "/flows/ParameterFlow/runs/sfn-nightly-2026-11-02",
            &[],
            None,
        )
        .await;
    assert_eq!(stopped.status, 200, "{:#}", stopped.body);
    let after = stack
        .call(
            "POST",
            "/flows/ParameterFlow/runs",
            &key,
            Some(r#"{"alpha": 0.5}"#),
        )
        .await;
    assert_eq!(after.status, 200, "{:#}", after.body);
    assert_eq!(after.body["status"], "ABORTED");
    assert_eq!(stack.execution_count("ParameterFlow").await, 1);

    // A key that is not a valid execution name is cleaned and hashed, deterministically.
    let odd = [("Idempotency-Key", "order 42 / retry: 1")];
    let a = stack
        .call("POST", "/flows/ParameterFlow/runs", &odd, Some("{}"))
        .await;
    assert_eq!(a.status, 201, "{:#}", a.body);
    let run_id = a.body["run_id"].as_str().unwrap();
    assert!(run_id.starts_with("sfn-order-42---retry--1-"), "{run_id}");
    let b = stack
        .call("POST", "/flows/ParameterFlow/runs", &odd, Some("{}"))
        .await;
    assert_eq!(b.status, 200, "{:#}", b.body);
    assert_eq!(b.body["run_id"], run_id);
    assert_eq!(stack.execution_count("ParameterFlow").await, 2);

    let empty = stack
        .call(
            "POST",
            "/flows/ParameterFlow/runs",
            &[("Idempotency-Key", " ")],
            Some("{}"),
        )
        .await;
    assert_eq!(empty.status, 400, "{:#}", empty.body);
    assert_eq!(empty.body["error"], "invalid_idempotency_key");
}

#[tokio::test]
async fn runs_are_listed_described_and_stopped() {
    let mut stack = Stack::new().await;
    let report = stack.deploy_example("parameter_flow").await;
    let version = report["version"].as_str().unwrap().to_string();
    let mut run_ids = Vec::new();
    for alpha in ["0.1", "0.2", "0.3"] {
        let answer = stack
            .post(
                "/flows/ParameterFlow/runs",
                &format!(r#"{{"alpha": {alpha}}}"#),
            )
            .await;
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        run_ids.push(answer.body["run_id"].as_str().unwrap().to_string());
    }

    // Listed newest first, a page at a time.
    let all = stack.get("/flows/ParameterFlow/runs").await;
    assert_eq!(all.status, 200, "{:#}", all.body);
    let listed: Vec<&str> = all.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = run_ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(listed, expected);
    assert!(all.body["next_token"].is_null());
    let page = stack.get("/flows/ParameterFlow/runs?limit=2").await;
    assert_eq!(page.body["runs"].as_array().unwrap().len(), 2);
    let token = page.body["next_token"].as_str().expect("a next page");
    let rest = stack
        .get(&format!(
            "/flows/ParameterFlow/runs?limit=2&next_token={}",
            form_encode(token)
        ))
        .await;
    assert_eq!(rest.status, 200, "{:#}", rest.body);
    assert_eq!(rest.body["runs"][0]["run_id"], run_ids[0].as_str());
    assert!(rest.body["next_token"].is_null());

    // One run: status, dates, parameters, per-step progress from the run records.
    let run_id = &run_ids[1];
    let record =
        |step: &str, attempt: u32, status: TaskStatus, started: &str, finished: Option<&str>| {
            TaskRecord {
                flow: "ParameterFlow".into(),
                state_machine: "ParameterFlow".into(),
                version: version.clone(),
                run: run_id.clone(),
                step: step.into(),
                task: step.into(),
                attempt,
                pathspec: format!("ParameterFlow/{run_id}/{step}/{step}"),
                status,
                foreach: Vec::new(),
                job_name: format!("{step}-{attempt}"),
                batch_job_id: None,
                started_at: started.into(),
                finished_at: finished.map(String::from),
                duration_ms: None,
                splits: None,
                next: None,
                error: (status == TaskStatus::Failed).then(|| "States.TaskFailed".to_string()),
                cause: None,
            }
        };
    let records = [
        record(
            "start",
            0,
            TaskStatus::Failed,
            "2026-11-02T10:00:00Z",
            Some("2026-11-02T10:01:00Z"),
        ),
        record(
            "start",
            1,
            TaskStatus::Succeeded,
            "2026-11-02T10:02:00Z",
            Some("2026-11-02T10:03:00Z"),
        ),
        record(
            "end",
            0,
            TaskStatus::Submitted,
            "2026-11-02T10:04:00Z",
            None,
        ),
    ];
    for record in &records {
        stack.put_record(record).await;
    }
    let run = stack
        .get(&format!("/flows/ParameterFlow/runs/{run_id}"))
        .await;
    assert_eq!(run.status, 200, "{:#}", run.body);
    assert_eq!(run.body["run_id"], run_id.as_str());
    assert_eq!(run.body["status"], "RUNNING");
    assert_eq!(run.body["parameters"], json!({"alpha": 0.2}));
    assert!(run.body["start_date"].is_string());
    assert!(run.body["stop_date"].is_null());
    assert_eq!(
        run.body["steps"],
        json!([
            {"step": "start", "tasks": 1, "attempts": 2, "status": {"succeeded": 1},
             "started_at": "2026-11-02T10:02:00Z", "finished_at": "2026-11-02T10:03:00Z"},
            {"step": "end", "tasks": 1, "attempts": 1, "status": {"submitted": 1},
             "started_at": "2026-11-02T10:04:00Z", "finished_at": null},
        ]),
        "{:#}",
        run.body
    );
    assert_eq!(run.body["steps_partial"], false);
    // moto starts runs on the base state machine (no version ARN): the records name it.
    assert_eq!(run.body["version"], version.as_str());
    // The bare execution name works too.
    let bare = run_id.strip_prefix("sfn-").unwrap();
    assert_eq!(
        stack
            .get(&format!("/flows/ParameterFlow/runs/{bare}"))
            .await
            .body["run_id"],
        run_id.as_str()
    );

    // Stopped once; then it has finished.
    let stop = stack
        .call(
            "DELETE",
            &format!("/flows/ParameterFlow/runs/{run_id}"),
            &[],
            None,
        )
        .await;
    assert_eq!(stop.status, 200, "{:#}", stop.body);
    assert_eq!(stop.body["status"], "ABORTED");
    assert!(stop.body["stop_date"].is_string());
    let again = stack
        .call(
            "DELETE",
            &format!("/flows/ParameterFlow/runs/{run_id}"),
            &[],
            None,
        )
        .await;
    assert_eq!(again.status, 409, "{:#}", again.body);
    assert_eq!(again.body["error"], "run_finished");
    assert_eq!(again.body["status"], "ABORTED");
    let stopped = stack
        .get(&format!("/flows/ParameterFlow/runs/{run_id}"))
        .await;
    assert_eq!(stopped.body["status"], "ABORTED");
    assert!(stopped.body["stop_date"].is_string());

    // Filtered by status.
    let aborted = stack.get("/flows/ParameterFlow/runs?status=ABORTED").await;
    assert_eq!(aborted.body["runs"].as_array().unwrap().len(), 1);
    assert_eq!(aborted.body["runs"][0]["run_id"], run_id.as_str());
    let running = stack.get("/flows/ParameterFlow/runs?status=running").await;
    assert_eq!(running.body["runs"].as_array().unwrap().len(), 2);

    // Unknown runs and bad queries.
    for (method, target, status, code) in [
        (
            "GET",
            "/flows/ParameterFlow/runs/sfn-nope",
            404,
            "run_not_found",
        ),
        (
            "DELETE",
            "/flows/ParameterFlow/runs/sfn-nope",
            404,
            "run_not_found",
        ),
        (
            "GET",
            "/flows/ParameterFlow/runs/sfn-a%3Ab",
            404,
            "run_not_found",
        ),
        ("GET", "/flows/NoSuchFlow/runs", 404, "flow_not_found"),
        (
            "GET",
            "/flows/ParameterFlow/runs?status=DONE",
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/flows/ParameterFlow/runs?limit=0",
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/flows/ParameterFlow/runs?limit=lots",
            400,
            "invalid_query",
        ),
    ] {
        let answer = stack.call(method, target, &[], None).await;
        assert_eq!(
            answer.status, status,
            "{method} {target}: {:#}",
            answer.body
        );
        assert_eq!(answer.body["error"], code, "{method} {target}");
    }
}

#[tokio::test]
async fn flows_are_listed_and_described() {
    let mut stack = Stack::new().await;
    let first = stack.deploy_example("parameter_flow").await;
    stack.deploy_example("hourly_flow").await;

    let flows = stack.get("/flows").await;
    assert_eq!(flows.status, 200, "{:#}", flows.body);
    let list = flows.body["flows"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["HourlyFlow", "ParameterFlow"]);
    assert_eq!(list[0]["flow"], "HourlyFlow");
    assert_eq!(list[0]["schedule"]["expression"], "cron(0 * * * ? *)");
    assert_eq!(list[0]["last_report"]["status"], "deployed");
    assert_eq!(list[1]["version"], first["version"]);
    assert!(list[1]["schedule"].is_null());

    // A new version: the flow shows it live, and both versions.
    let source = std::fs::read_to_string(repo_root().join("examples/parameter_flow.py")).unwrap();
    let second = stack
        .deploy(
            "parameter_flow.tgz",
            "parameter_flow.py",
            &source.replace("default=0.01", "default=0.02"),
            &[],
        )
        .await;
    let flow = stack.get("/flows/ParameterFlow").await;
    assert_eq!(flow.status, 200, "{:#}", flow.body);
    let body = &flow.body;
    assert_eq!(body["name"], "ParameterFlow");
    assert_eq!(body["flow"], "ParameterFlow");
    assert_eq!(body["file"], "parameter_flow.py");
    assert_eq!(body["version"], second["version"]);
    assert_eq!(
        body["parameters"],
        json!([{"name": "alpha", "type": "float", "default": 0.02, "required": false,
                "help": "Learning rate", "deploy_time": false, "include_file": false}])
    );
    assert_eq!(body["configs"], json!({}));
    assert!(body["schedule"].is_null());
    assert_eq!(body["last_report"]["status"], "deployed");
    assert_eq!(body["last_report"]["version"], second["version"]);
    let versions = body["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{body:#}");
    let live: Vec<&Value> = versions.iter().filter(|v| v["live"] == true).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["version"], second["version"]);

    let hourly = stack.get("/flows/HourlyFlow").await;
    assert_eq!(hourly.body["schedule"]["name"], "HourlyFlow");
    assert_eq!(hourly.body["parameters"], json!([]));

    let missing = stack.get("/flows/NoSuchFlow").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"], "flow_not_found");
}

#[tokio::test]
async fn project_flows_are_found_by_state_machine_or_unambiguous_class_name() {
    let mut stack = Stack::new().await;
    let source =
        std::fs::read_to_string(repo_root().join("tests/flows/shapes/project_schedule.py"))
            .unwrap();
    let user = stack
        .deploy("project_user.tgz", "project_schedule.py", &source, &[])
        .await;
    assert_eq!(
        user["state_machine"],
        "demo_project.user.alice.ProjectScheduleFlow"
    );

    // By class name, while only one state machine runs it.
    let by_class = stack.post("/flows/ProjectScheduleFlow/runs", "").await;
    assert_eq!(by_class.status, 201, "{:#}", by_class.body);
    assert_eq!(
        by_class.body["state_machine"],
        "demo_project.user.alice.ProjectScheduleFlow"
    );

    let prod = stack
        .deploy(
            "project_prod.tgz",
            "project_schedule.py",
            &source,
            &[("dropflow-production", "true")],
        )
        .await;
    assert_eq!(
        prod["state_machine"],
        "demo_project.prod.ProjectScheduleFlow"
    );
    let ambiguous = stack.post("/flows/ProjectScheduleFlow/runs", "").await;
    assert_eq!(ambiguous.status, 400, "{:#}", ambiguous.body);
    assert_eq!(ambiguous.body["error"], "ambiguous_flow");
    assert_eq!(
        ambiguous.body["candidates"],
        json!([
            "demo_project.prod.ProjectScheduleFlow",
            "demo_project.user.alice.ProjectScheduleFlow"
        ])
    );
    let exact = stack
        .post("/flows/demo_project.prod.ProjectScheduleFlow/runs", "")
        .await;
    assert_eq!(exact.status, 201, "{:#}", exact.body);
    assert_eq!(exact.body["flow"], "ProjectScheduleFlow");
    let described = stack
        .get("/flows/demo_project.prod.ProjectScheduleFlow")
        .await;
    assert_eq!(
        described.body["project"],
        json!({"name": "demo_project", "branch": "prod"})
    );
    assert_eq!(described.body["schedule"]["timezone"], "Europe/Paris");
}

#[tokio::test]
async fn the_schedule_input_passes_the_same_validation_with_defaults() {
    let mut stack = Stack::new().await;
    stack.deploy_example("hourly_flow").await;
    let schedule = stack
        .scheduler
        .get_schedule()
        .name("HourlyFlow")
        .send()
        .await
        .unwrap();
    let target = schedule.target().unwrap();
    let input = target.input().unwrap();
    assert_eq!(input, SCHEDULE_INPUT);
    assert!(
        target.arn().ends_with(":stateMachine:HourlyFlow:live"),
        "{}",
        target.arn()
    );

    // Fired as EventBridge Scheduler would: exactly that input, through the same checks.
    let fired = stack.post("/flows/HourlyFlow/runs", input).await;
    assert_eq!(fired.status, 201, "{:#}", fired.body);
    assert_eq!(fired.body["parameters"], json!({}));
    assert_eq!(
        stack
            .execution_input(fired.body["execution_arn"].as_str().unwrap())
            .await,
        input
    );

    // A scheduled flow with parameters: every default applies.
    let hourly = std::fs::read_to_string(repo_root().join("examples/hourly_flow.py")).unwrap();
    let with_parameters = hourly
        .replace(
            "from metaflow import FlowSpec, schedule, step",
            "from metaflow import FlowSpec, Parameter, schedule, step",
        )
        .replace(
            "class HourlyFlow(FlowSpec):\n",
            "class HourlyFlow(FlowSpec):\n    alpha = Parameter('alpha', default=0.01)\n    label = Parameter('label', default='hourly')\n",
        );
    assert_ne!(with_parameters, hourly);
    let report = stack
        // The same upload key: another key deploying HourlyFlow would be refused as not
        // its owner (dropflow-takeover).
        .deploy("hourly_flow.tgz", "hourly_flow.py", &with_parameters, &[])
        .await;
    let manifest: dropflow_compiler::compile::Manifest = {
        let key = format!(
            "deployments/HourlyFlow/{}/deployment.json",
            report["version"].as_str().unwrap()
        );
        let object = stack
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
    };
    let checked = dropflow_api::params::validate(input.as_bytes(), &manifest.parameters).unwrap();
    assert_eq!(checked.input, input);
    assert_eq!(
        Value::Object(checked.effective.clone()),
        json!({"alpha": 0.01, "label": "hourly"})
    );
    let fired = stack.post("/flows/HourlyFlow/runs", input).await;
    assert_eq!(fired.status, 201, "{:#}", fired.body);
    assert_eq!(
        fired.body["parameters"],
        json!({"alpha": 0.01, "label": "hourly"})
    );
    assert_eq!(fired.body["version"], report["version"]);
}

#[tokio::test]
async fn a_rollback_of_the_alias_is_what_runs_are_checked_against() {
    let mut stack = Stack::new().await;
    let first = stack.deploy_example("parameter_flow").await;
    let source = std::fs::read_to_string(repo_root().join("examples/parameter_flow.py")).unwrap();
    let with_beta = source.replace(
        "    @step\n    def start",
        "    beta = Parameter('beta', required=True)\n\n    @step\n    def start",
    );
    assert_ne!(with_beta, source);
    let second = stack
        .deploy("parameter_flow.tgz", "parameter_flow.py", &with_beta, &[])
        .await;
    let refused = stack.post("/flows/ParameterFlow/runs", "{}").await;
    assert_eq!(refused.status, 400, "{:#}", refused.body);
    assert_eq!(refused.body["valid_parameters"], json!(["alpha", "beta"]));

    // Roll back by moving the alias to the first version: the API checks against it.
    let alias_arn = second["changes"]["alias"]["arn"].as_str().unwrap();
    let first_version_arn = first["changes"]["alias"]["version_arn"].as_str().unwrap();
    stack
        .sfn
        .update_state_machine_alias()
        .state_machine_alias_arn(alias_arn)
        .routing_configuration(
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(first_version_arn)
                .weight(100)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let started = stack.post("/flows/ParameterFlow/runs", "{}").await;
    assert_eq!(started.status, 201, "{:#}", started.body);
    assert_eq!(started.body["version"], first["version"]);
    let flow = stack.get("/flows/ParameterFlow").await;
    assert_eq!(flow.body["version"], first["version"]);
    assert_eq!(flow.body["version_arn"], first_version_arn);
}

#[tokio::test]
async fn routing_errors_and_aws_failures_are_json_without_aws_text() {
    let mut stack = Stack::new().await;
    stack.deploy_example("parameter_flow").await;
    for (method, target, status, code, allow) in [
        (
            "PUT",
            "/flows/ParameterFlow/runs",
            405,
            "method_not_allowed",
            Some("GET, POST"),
        ),
        (
            "POST",
            "/flows/ParameterFlow",
            405,
            "method_not_allowed",
            Some("GET"),
        ),
        (
            "PATCH",
            "/flows/ParameterFlow/runs/sfn-x",
            405,
            "method_not_allowed",
            Some("GET, DELETE"),
        ),
        ("GET", "/", 404, "not_found", None),
        ("GET", "/flows/ParameterFlow/steps", 404, "not_found", None),
    ] {
        let answer = stack.call(method, target, &[], None).await;
        assert_eq!(
            answer.status, status,
            "{method} {target}: {:#}",
            answer.body
        );
        assert_eq!(answer.body["error"], code);
        assert_eq!(answer.allow.as_deref(), allow, "{method} {target}");
    }

    // A bucket that does not exist: S3 fails; the client sees a generic 500.
    let sdk = dropflow_aws::static_sdk_config(&stack.moto.url(), "us-east-1");
    let broken = Stack {
        deps: dropflow_trigger::deps(TriggerConfig::new("no-such-bucket"), &sdk),
        ..stack
    };
    for target in ["/flows", "/flows/ParameterFlow"] {
        let answer = broken.get(target).await;
        assert_eq!(answer.status, 500, "{:#}", answer.body);
        assert_eq!(answer.body["error"], "internal");
        let text = answer.body.to_string();
        assert!(
            !text.contains("NoSuchBucket")
                && !text.contains("no-such-bucket")
                && !text.contains("s3:"),
            "{text}"
        );
    }
}

/// `application/x-www-form-urlencoded` encoding of a query value.
fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[tokio::test]
async fn null_bodies_nul_bytes_and_floods_of_unknown_names_are_refused_briefly() {
    let mut stack = Stack::new().await;
    stack.deploy_example("parameter_flow").await;
    stack
        .deploy("typed.tgz", "typed_flow.py", TYPED_FLOW, &[])
        .await;

    // `null` is not "no parameters": it says what shape is expected.
    let null = stack.post("/flows/ParameterFlow/runs", "null").await;
    assert_eq!(null.status, 400, "{:#}", null.body);
    assert_eq!(null.body["error"], "invalid_body");
    let message = null.body["message"].as_str().unwrap();
    assert!(
        message.starts_with("the body is null") && message.contains("JSON object"),
        "{message}"
    );

    // A NUL byte cannot reach Metaflow's command line: refused, naming the parameter,
    // in either input form.
    for body in [
        r#"{"name": "ada\u0000"}"#,
        r#"{"Parameters": "{\"name\": \"ada\\u0000\"}"}"#,
    ] {
        let nul = stack.post("/flows/TypedFlow/runs", body).await;
        assert_eq!(nul.status, 400, "{body}: {:#}", nul.body);
        assert_eq!(nul.body["error"], "invalid_parameters");
        assert_eq!(
            nul.body["problems"][0]["parameter"], "name",
            "{:#}",
            nul.body
        );
        assert!(
            nul.body["message"].as_str().unwrap().contains("NUL byte"),
            "{:#}",
            nul.body
        );
    }

    // 10,000 unknown names: the answer lists ten, counts the rest, names the valid ones.
    let flood: serde_json::Map<String, Value> =
        (0..10_000).map(|i| (format!("p{i}"), json!(1))).collect();
    let flood = Value::Object(flood).to_string();
    let answer = stack.post("/flows/ParameterFlow/runs", &flood).await;
    assert_eq!(answer.status, 400, "{:.300}", answer.body.to_string());
    assert_eq!(answer.body["error"], "invalid_parameters");
    assert_eq!(answer.body["problems"].as_array().unwrap().len(), 10);
    assert_eq!(answer.body["problems_not_listed"], 9_990);
    assert_eq!(answer.body["valid_parameters"], json!(["alpha"]));
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .ends_with("and 9990 more problems (valid parameters: alpha)"),
        "{:#}",
        answer.body
    );
    let size = answer.body.to_string().len();
    assert!(size < 4_096, "a {size}-byte error");

    assert_eq!(stack.execution_count("ParameterFlow").await, 0);
    assert_eq!(stack.execution_count("TypedFlow").await, 0);

    // An empty body still means every default.
    let defaults = stack.post("/flows/ParameterFlow/runs", "").await;
    assert_eq!(defaults.status, 201, "{:#}", defaults.body);
    assert_eq!(stack.execution_count("ParameterFlow").await, 1);
}

#[tokio::test]
async fn a_stopped_run_reports_when_it_stopped() {
    let mut stack = Stack::new().await;
    stack.deploy_example("parameter_flow").await;
    let started = stack.post("/flows/ParameterFlow/runs", "{}").await;
    assert_eq!(started.status, 201, "{:#}", started.body);
    let run_id = started.body["run_id"].as_str().unwrap().to_string();
    let execution_arn = started.body["execution_arn"].as_str().unwrap().to_string();

    let stop = stack
        .call(
            "DELETE",
            &format!("/flows/ParameterFlow/runs/{run_id}"),
            &[],
            None,
        )
        .await;
    assert_eq!(stop.status, 200, "{:#}", stop.body);
    let stop_date = stop.body["stop_date"].as_str().expect("a stop date");
    assert!(!stop_date.starts_with("1970-"), "{stop_date}");
    // The date Step Functions recorded, as every later read shows it.
    let described = stack
        .sfn
        .describe_execution()
        .execution_arn(&execution_arn)
        .send()
        .await
        .unwrap();
    let recorded = described.stop_date().expect("a recorded stop date");
    assert_eq!(
        stop_date,
        recorded
            .fmt(aws_sdk_sfn::primitives::DateTimeFormat::DateTime)
            .unwrap()
    );
    let start = described.start_date().secs();
    assert!(recorded.secs() >= start, "stopped before it started");
    let read = stack
        .get(&format!("/flows/ParameterFlow/runs/{run_id}"))
        .await;
    assert_eq!(read.body["stop_date"], stop_date);
}

#[tokio::test]
async fn a_task_whose_job_ended_shows_the_end_before_its_record_does() {
    use aws_sdk_batch::types::{CeState, CeType, ComputeEnvironmentOrder, JobStatus, JqState};
    let mut stack = Stack::new().await;
    let report = stack.deploy_example("parameter_flow").await;
    let version = report["version"].as_str().unwrap().to_string();
    let started = stack
        .post("/flows/ParameterFlow/runs", r#"{"alpha": 0.3}"#)
        .await;
    let run_id = started.body["run_id"].as_str().unwrap().to_string();

    // The deployment's queue, and the job of `start`'s first attempt on it, which ends
    // (moto's Batch fails every job: it has no Docker here) with no step Lambda phase
    // left to record it: a retry wait, or a stopped run.
    let sdk = dropflow_aws::static_sdk_config(&stack.moto.url(), "us-east-1");
    create_iam_role(stack.moto.port(), "dropflow-test-batch");
    let batch = aws_sdk_batch::Client::new(&sdk);
    let environment = batch
        .create_compute_environment()
        .compute_environment_name("dropflow-test")
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role("arn:aws:iam::123456789012:role/dropflow-test-batch")
        .send()
        .await
        .unwrap();
    batch
        .create_job_queue()
        .job_queue_name("dropflow-queue")
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(environment.compute_environment_arn().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let manifest: Value = serde_json::from_slice(
        &stack
            .s3
            .get_object()
            .bucket(BUCKET)
            .key(format!(
                "deployments/ParameterFlow/{version}/deployment.json"
            ))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();
    let plan = &manifest["steps"]["start"];
    assert_eq!(plan["runtime"]["job_queue"], "dropflow-queue");
    let job_name = dropflow_task::ids::job_name("ParameterFlow", &run_id, "start", 0);
    let job = batch
        .submit_job()
        .job_name(&job_name)
        .job_queue("dropflow-queue")
        .job_definition(plan["job_definition"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // Wait for the job's end (not a timing assertion: the check below needs it ended).
    let job_id = job.job_id().unwrap().to_string();
    let mut status = None;
    for _ in 0..600 {
        let described = batch.describe_jobs().jobs(&job_id).send().await.unwrap();
        status = described.jobs()[0].status().cloned();
        if matches!(status, Some(JobStatus::Failed | JobStatus::Succeeded)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(JobStatus::Failed));

    let record = start_record(
        &run_id,
        &version,
        TaskStatus::Submitted,
        job_name.clone(),
        None,
    );
    stack.put_record(&record).await;

    let run = stack
        .get(&format!("/flows/ParameterFlow/runs/{run_id}"))
        .await;
    assert_eq!(run.status, 200, "{:#}", run.body);
    let start = &run.body["steps"][0];
    assert_eq!(start["step"], "start");
    assert_eq!(start["status"], json!({"failed": 1}), "{:#}", run.body);
    assert_eq!(start["failed"][0]["task"], "start");
    assert_eq!(start["failed"][0]["attempt"], 0);
    assert!(start["failed"][0]["error"].is_string(), "{:#}", run.body);
    // The failed task links to its stderr; this job never ran, so nothing was saved and
    // the 404 names the task.
    let link = start["failed"][0]["log"].as_str().expect("a log link");
    assert_eq!(
        link,
        format!(
            "/flows/ParameterFlow/runs/{run_id}/logs?step=start&task=start&attempt=0&stream=stderr"
        )
    );
    let log = stack.get(link).await;
    assert_eq!(log.status, 404, "{:#}", log.body);
    assert_eq!(log.body["error"], "task_not_found");
    let message = log.body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "task ParameterFlow/{run_id}/start/start has no files in the datastore"
        )),
        "{message}"
    );

    // A job still running (none by that name yet) keeps the record's word.
    let next = TaskRecord {
        attempt: 1,
        job_name: dropflow_task::ids::job_name("ParameterFlow", &run_id, "start", 1),
        ..record
    };
    stack.put_record(&next).await;
    let run = stack
        .get(&format!("/flows/ParameterFlow/runs/{run_id}"))
        .await;
    assert_eq!(
        run.body["steps"][0]["status"],
        json!({"submitted": 1}),
        "{:#}",
        run.body
    );
}

/// ParameterFlow's `start` task record, attempt 0, in `run_id` of `version`, started at
/// 10:00 and finished at `finished_at`.
fn start_record(
    run_id: &str,
    version: &str,
    status: TaskStatus,
    job_name: impl Into<String>,
    finished_at: Option<&str>,
) -> TaskRecord {
    TaskRecord {
        flow: "ParameterFlow".into(),
        state_machine: "ParameterFlow".into(),
        version: version.into(),
        run: run_id.into(),
        step: "start".into(),
        task: "start".into(),
        attempt: 0,
        pathspec: format!("ParameterFlow/{run_id}/start/start"),
        status,
        foreach: Vec::new(),
        job_name: job_name.into(),
        batch_job_id: None,
        started_at: "2026-11-02T10:00:00Z".into(),
        finished_at: finished_at.map(String::from),
        duration_ms: None,
        splits: None,
        next: None,
        error: None,
        cause: None,
    }
}

/// `iam:CreateRole` on moto (Batch checks a compute environment's service role exists);
/// a raw query request, as the local stack's bootstrap sends it (no IAM client here).
fn create_iam_role(port: u16, name: &str) {
    use std::io::{Read, Write};
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.300}");
}

#[tokio::test]
async fn a_run_that_ended_without_success_is_resumed_once_per_key_with_its_parameters() {
    let mut stack = Stack::new().await;
    let report = stack.deploy_example("parameter_flow").await;
    let version = report["version"].as_str().unwrap().to_string();
    let started = stack
        .post("/flows/ParameterFlow/runs", r#"{"alpha": 0.25}"#)
        .await;
    assert_eq!(started.status, 201, "{:#}", started.body);
    let run_id = started.body["run_id"].as_str().unwrap().to_string();
    // moto runs on the base state machine: the run's records name its version.
    let record = start_record(
        &run_id,
        &version,
        TaskStatus::Succeeded,
        "start-0",
        Some("2026-11-02T10:01:00Z"),
    );
    stack.put_record(&record).await;
    let resume = format!("/flows/ParameterFlow/runs/{run_id}/resume");

    let running = stack.post(&resume, "").await;
    assert_eq!(running.status, 409, "{:#}", running.body);
    assert_eq!(running.body["error"], "resume_conflict");
    assert_eq!(running.body["reason"], "still_running");
    let stopped = stack
        .call(
            "DELETE",
            &format!("/flows/ParameterFlow/runs/{run_id}"),
            &[],
            None,
        )
        .await;
    assert_eq!(stopped.status, 200, "{:#}", stopped.body);

    let unknown = stack
        .post("/flows/ParameterFlow/runs/sfn-no-such-run/resume", "")
        .await;
    assert_eq!(unknown.status, 404, "{:#}", unknown.body);
    let bad_step = stack.post(&resume, r#"{"from_step": "train"}"#).await;
    assert_eq!(bad_step.status, 409, "{:#}", bad_step.body);
    assert_eq!(bad_step.body["reason"], "unknown_step");
    assert!(
        bad_step.body["message"]
            .as_str()
            .unwrap()
            .contains("its steps: end, start"),
        "{:#}",
        bad_step.body
    );
    let bad_body = stack.post(&resume, r#"{"alpha": 1}"#).await;
    assert_eq!(bad_body.status, 400, "{:#}", bad_body.body);
    let before = stack.execution_count("ParameterFlow").await;

    // Two requests with one key: one new run, the origin's parameters, the plan.
    let key = [("Idempotency-Key", "retry-me")];
    let body = Some(r#"{"from_step": "end"}"#);
    let first = stack.call("POST", &resume, &key, body).await;
    assert_eq!(first.status, 201, "{:#}", first.body);
    let again = stack.call("POST", &resume, &key, body).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    assert_eq!(again.body["run_id"], first.body["run_id"]);
    assert_ne!(first.body["run_id"], run_id.as_str());
    assert_eq!(first.body["origin_run_id"], run_id.as_str());
    assert_eq!(first.body["rerun"], json!(["end"]));
    assert_eq!(first.body["parameters"], json!({"alpha": 0.25}));
    assert_eq!(stack.execution_count("ParameterFlow").await, before + 1);
    let input: Value = serde_json::from_str(
        &stack
            .execution_input(first.body["execution_arn"].as_str().unwrap())
            .await,
    )
    .unwrap();
    assert_eq!(
        input,
        json!({"Parameters": "{\"alpha\": 0.25}",
               "Resume": {"origin_run": run_id, "rerun": ["end"]}})
    );
    // The resumed run shows the origin's parameter values.
    let resumed = stack
        .get(&format!(
            "/flows/ParameterFlow/runs/{}",
            first.body["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(resumed.body["parameters"], json!({"alpha": 0.25}));

    // Another graph is live: the run cannot be resumed on it.
    let source = std::fs::read_to_string(repo_root().join("examples/parameter_flow.py")).unwrap();
    let longer = source
        .replace("self.next(self.end)", "self.next(self.middle)")
        .replace(
            "    @step\n    def end",
            "    @step\n    def middle(self):\n        self.next(self.end)\n\n    @step\n    def end",
        );
    stack
        .deploy("parameter_flow.tgz", "parameter_flow.py", &longer, &[])
        .await;
    let changed = stack.post(&resume, "").await;
    assert_eq!(changed.status, 409, "{:#}", changed.body);
    assert_eq!(changed.body["reason"], "graph_changed");
    assert!(
        changed.body["message"]
            .as_str()
            .unwrap()
            .contains("step middle was added"),
        "{:#}",
        changed.body
    );
}
