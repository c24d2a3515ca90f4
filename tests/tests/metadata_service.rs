//! The metadata service (`dropflow-metadata-host`) as Metaflow 2.19.39 uses it: the handler on a
//! local HTTP listener (as the local stack serves it), DynamoDB on moto behind it, and the
//! real `python flow.py --metadata=service ...` and Client API in front of it.
//!
//! The service is mounted under `/metadata` with an API key, as behind API Gateway:
//! `METAFLOW_SERVICE_URL=http://127.0.0.1:<port>/metadata` and
//! `METAFLOW_SERVICE_AUTH_KEY` (Metaflow sends it as `x-api-key`). The key is read from a
//! Secrets Manager secret on moto at start-up, as the Lambda reads the template's secret.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use dropflow_metadata_host::secret::create_api_key_secret;
use dropflow_metadata_host::{
    DynamoService, LocalServer, MetadataConfig, SecretError, dynamo_service, resolve_api_key,
};
use dropflow_metadata_service::body::NewRun;
use dropflow_metadata_service::model::Id;
use dropflow_tests::{moto, python, repo_root};
use serde_json::{Value, json};

const API_KEY: &str = "s3cret";
const TABLE: &str = "dropflow-metadata";
const PREFIX: &str = "/metadata";

/// moto (DynamoDB), the table, and the service on 127.0.0.1.
struct Stack {
    _moto: moto::Lease,
    sdk: aws_config::SdkConfig,
    server: LocalServer,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    config: MetadataConfig,
}

/// The settings of a service whose key is in secret `secret`.
fn config(secret: &str) -> MetadataConfig {
    MetadataConfig::from_lookup(|name| {
        Some(
            match name {
                "DROPFLOW_METADATA_TABLE" => TABLE,
                "DROPFLOW_METADATA_API_KEY_SECRET" => secret,
                _ => return None,
            }
            .to_string(),
        )
    })
    .expect("valid settings")
}

/// [`API_KEY`] in a new secret on moto (a name of its own: moto is shared), read back as
/// the Lambda reads it at cold start.
fn config_from_a_secret(
    runtime: &tokio::runtime::Runtime,
    sdk: &aws_config::SdkConfig,
) -> MetadataConfig {
    runtime.block_on(async {
        let name = format!(
            "dropflow-test/{}",
            dropflow_metadata_host::secret::generate_api_key()
        );
        let arn = create_api_key_secret(sdk, &name, API_KEY)
            .await
            .expect("the secret on moto");
        let mut config = config(&arn);
        assert_eq!(config.service.api_key_sha256, None);
        resolve_api_key(&mut config, sdk)
            .await
            .expect("the key read back");
        config
    })
}

impl Stack {
    fn start() -> Self {
        let moto = moto::shared();
        let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = config_from_a_secret(&runtime, &sdk);
        let service = dynamo_service(&config, &sdk);
        runtime
            .block_on(service.store().ensure_table())
            .expect("the table on moto");
        let server = LocalServer::start("127.0.0.1:0", service).expect("a listener");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo_root().join("tests/flows/shapes/foreach.py"),
            dir.path().join("foreach.py"),
        )
        .unwrap();
        Self {
            _moto: moto,
            sdk,
            server,
            dir,
            runtime,
            config,
        }
    }

    /// A second service over the same table: what a cold-started Lambda (or the step
    /// Lambda) sees.
    fn fresh_service(&self) -> DynamoService {
        dynamo_service(&self.config, &self.sdk)
    }

    fn service_url(&self) -> String {
        format!("{}{PREFIX}", self.server.url())
    }

    /// `python <args>` in the flow's directory, with Metaflow pointed at the service.
    fn python(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let home = self.dir.path().join("metaflow-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut command = Command::new(python());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("METAFLOW_HOME", &home)
            .env("METAFLOW_SERVICE_URL", self.service_url())
            .env("METAFLOW_SERVICE_AUTH_KEY", API_KEY)
            .env("METAFLOW_DEFAULT_METADATA", "service")
            .env("METAFLOW_DEFAULT_DATASTORE", "local")
            .env("USERNAME", "alice")
            .env("USER", "alice")
            .env_remove("METAFLOW_PROFILE")
            .env_remove("METAFLOW_PRODUCTION_TOKEN")
            .env_remove("METAFLOW_RUNTIME_NAME");
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command.output().expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "python {args:?} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs a Client script whose last stdout line is JSON.
    fn client(&self, script: &str) -> Value {
        let stdout = self.python(&["-c", script], &[]);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    fn request(&self, method: &str, path: &str, body: &str) -> Http {
        http(
            self.server.addr(),
            method,
            &format!("{PREFIX}{path}"),
            &[("x-api-key", API_KEY)],
            body,
        )
    }
}

/// A response: status, raw header block (lower-case names) and body.
struct Http {
    status: u16,
    headers: String,
    body: String,
}

impl Http {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Http {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {response}"));
    Http {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

const CLIENT: &str = r#"
import json
from metaflow import Flow, namespace
namespace(None)
run = Flow('ForeachFlow').latest_run
steps = {step.id: sorted(task.id for task in step) for step in run}
values = sorted(task.data.value for task in run['square'])
squares = run['end'].task.data.squares
square = run['square'].task
parents = sorted(run['collect'].task.parent_task_pathspecs)
run.add_tag('x')
print(json.dumps({
    "parents": parents,
    "run": run.id, "successful": run.successful, "steps": steps, "values": values,
    "squares": squares, "attempt": square.current_attempt, "finished": square.finished,
    "system_tags": sorted(run.system_tags), "user_tags": sorted(run.user_tags),
}))
"#;

#[test]
fn metaflow_runs_against_the_service_and_the_client_reads_it_back() {
    let stack = Stack::start();
    stack.python(
        &[
            "foreach.py",
            "--no-pylint",
            "--metadata=service",
            "--datastore=local",
            "run",
            "--width",
            "4",
        ],
        &[],
    );
    let seen = stack.client(CLIENT);
    // The runtime asked the service for ids: run 1, tasks numbered in the run.
    assert_eq!(seen["run"], "1", "{seen}");
    assert_eq!(seen["successful"], true);
    let steps = seen["steps"].as_object().unwrap();
    let mut names: Vec<&String> = steps.keys().collect();
    names.sort();
    assert_eq!(names, ["collect", "end", "square", "start"], "{seen}");
    assert_eq!(steps["square"].as_array().unwrap().len(), 4, "{seen}");
    assert_eq!(seen["values"], json!([1, 4, 9, 16]));
    assert_eq!(seen["squares"], json!([1, 4, 9, 16]));
    // `parent_task_pathspecs` goes through `filtered_tasks` (foreach-execution-path).
    let squares: Vec<String> = steps["square"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("ForeachFlow/1/square/{}", t.as_str().unwrap()))
        .collect();
    assert_eq!(seen["parents"], json!(squares), "{seen}");
    assert_eq!(
        (seen["attempt"].clone(), seen["finished"].clone()),
        (json!(0), json!(true))
    );
    let system_tags = seen["system_tags"].as_array().unwrap();
    assert!(system_tags.contains(&json!("runtime:dev")), "{seen}");
    assert!(system_tags.contains(&json!("user:alice")), "{seen}");
    assert!(
        system_tags.contains(&json!("metaflow_version:2.19.39")),
        "{seen}"
    );
    assert_eq!(seen["user_tags"], json!(["x"]));

    // The tag the Client added is visible through the API, on the run and below it.
    let run = stack.request("GET", "/flows/ForeachFlow/runs/1", "");
    assert_eq!(run.status, 200, "{}", run.body);
    assert_eq!(run.json()["tags"], json!(["x"]));
    assert!(run.json()["last_heartbeat_ts"].is_i64(), "{}", run.body);
    let tasks = stack.request("GET", "/flows/ForeachFlow/runs/1/steps/square/tasks", "");
    let tasks = tasks.json();
    assert_eq!(tasks.as_array().unwrap().len(), 4);
    assert!(
        tasks
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["tags"] == json!(["x"]))
    );
    let artifacts = stack.request(
        "GET",
        &format!(
            "/flows/ForeachFlow/runs/1/steps/square/tasks/{}/artifacts/value",
            tasks[0]["task_id"]
        ),
        "",
    );
    assert_eq!(artifacts.status, 200, "{}", artifacts.body);
    assert_eq!(artifacts.json()["ds_type"], "local");

    // The records live in DynamoDB: a cold-started service reads them.
    let fresh = stack.fresh_service();
    let answer = stack.runtime.block_on(
        fresh.handle(
            &dropflow_metadata_service::Request::new("GET", "/metadata/flows/ForeachFlow/runs/1")
                .header("x-api-key", API_KEY),
        ),
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json_body().unwrap()["tags"], json!(["x"]));
}

/// The commands a deployed state machine's Batch jobs run (one process per task, run
/// and task ids chosen by dropflow, the production token in the environment), after the
/// step Lambda recorded the run.
#[test]
fn step_functions_tasks_register_named_runs_in_the_production_namespace() {
    let stack = Stack::start();
    let token = "foreachflow-0-abcd";
    let run = "sfn-e2e-1";
    // The step Lambda's start phase: the run exists, with Step Functions' system tags,
    // before any task registers it (Metaflow's own registration then gets a 409).
    let fresh = stack.fresh_service();
    let recorded = stack
        .runtime
        .block_on(fresh.ensure_run(
            "ForeachFlow",
            NewRun {
                run_number: Some(Id::Name(run.into())),
                user_name: Some("SFN".into()),
                tags: vec![],
                system_tags: vec![
                    "runtime:step-functions".into(),
                    format!("production:{token}"),
                    "user:alice".into(),
                ],
            },
        ))
        .unwrap();
    assert_eq!(recorded.run_number, Id::Name(run.into()));

    let env = [
        ("METAFLOW_RUNTIME_NAME", "step-functions"),
        ("METAFLOW_PRODUCTION_TOKEN", token),
        ("METAFLOW_USER", "SFN"),
    ];
    let top = [
        "foreach.py",
        "--no-pylint",
        "--quiet",
        "--metadata=service",
        "--environment=local",
        "--datastore=local",
    ];
    let task = |step: &str, id: &str, inputs: &str, split: Option<&str>| {
        let mut args: Vec<&str> = top.to_vec();
        args.extend([
            "step",
            step,
            "--run-id",
            run,
            "--task-id",
            id,
            "--retry-count",
            "0",
            "--max-user-code-retries",
            "0",
            "--input-paths",
            inputs,
        ]);
        if let Some(split) = split {
            args.extend(["--split-index", split]);
        }
        stack.python(&args, &env);
    };
    let mut init: Vec<&str> = top.to_vec();
    init.extend([
        "init",
        "--run-id",
        run,
        "--task-id",
        "params",
        "--width",
        "3",
    ]);
    stack.python(&init, &env);
    task("start", "start", &format!("{run}/_parameters/params"), None);
    // The foreach's children at once, as the Map runs them: they race to register the
    // `square` step (one create wins, the others get 409 and read it).
    std::thread::scope(|scope| {
        for i in ["0", "1", "2"] {
            let task = &task;
            scope.spawn(move || {
                task(
                    "square",
                    &format!("square-{i}"),
                    &format!("{run}/start/start"),
                    Some(i),
                )
            });
        }
    });
    task(
        "collect",
        "collect",
        &format!("{run}/square/:square-0,square-1,square-2"),
        None,
    );
    task("end", "end", &format!("{run}/collect/collect"), None);

    let seen = stack.client(&format!(
        r#"
import json
from metaflow import Flow, namespace
namespace('production:{token}')
run = Flow('ForeachFlow').latest_run
print(json.dumps({{
    "run": run.id, "successful": run.successful,
    "steps": {{s.id: sorted(t.id for t in s) for s in run}},
    "squares": run['end'].task.data.squares, "system_tags": sorted(run.system_tags),
}}))
"#
    ));
    assert_eq!(seen["run"], run, "{seen}");
    assert_eq!(seen["successful"], true);
    assert_eq!(
        seen["steps"],
        json!({"start": ["start"], "square": ["square-0", "square-1", "square-2"],
               "collect": ["collect"], "end": ["end"]})
    );
    assert_eq!(seen["squares"], json!([1, 4, 9]));
    assert_eq!(
        seen["system_tags"],
        json!([
            format!("production:{token}"),
            "runtime:step-functions",
            "user:alice"
        ])
    );
    // Every task's metadata was recorded by Metaflow itself.
    let metadata = stack.request(
        "GET",
        &format!("/flows/ForeachFlow/runs/{run}/steps/square/tasks/square-2/metadata"),
        "",
    );
    let fields: Vec<Value> = metadata
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field_name"].clone())
        .collect();
    for field in [
        "attempt",
        "attempt_ok",
        "attempt-done",
        "ds-root",
        "runtime",
    ] {
        assert!(
            fields.contains(&json!(field)),
            "{field} missing: {fields:?}"
        );
    }
    let found = stack.request(
        "GET",
        &format!(
            "/flows/ForeachFlow/runs/{run}/steps/square/filtered_tasks?metadata_field_name=foreach-execution-path&pattern=%5E%28%3F%3Asquare%3A1%29%24"
        ),
        "",
    );
    assert_eq!(
        found.json(),
        json!([format!("ForeachFlow/{run}/square/square-1")])
    );
}

#[test]
fn a_missing_secret_stops_the_service_with_the_fix() {
    let moto = moto::shared();
    let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = config("dropflow-test/no-such-secret");
    let error = runtime
        .block_on(resolve_api_key(&mut config, &sdk))
        .unwrap_err();
    assert!(
        matches!(&error, SecretError::Unreadable { code, .. } if code == "ResourceNotFoundException"),
        "{error:?}"
    );
    assert_eq!(error.code(), "config.secret_unreadable");
    assert!(
        error.to_string().contains("secretsmanager:GetSecretValue"),
        "{error}"
    );
    assert_eq!(config.service.api_key_sha256, None);
}

#[test]
fn malformed_and_unauthenticated_requests_are_4xx() {
    let stack = Stack::start();
    let addr = stack.server.addr();
    let ping = http(addr, "GET", "/metadata/ping", &[], "");
    assert_eq!(ping.status, 401, "{}", ping.body);
    // Anonymous writes (the issue: a tag on a production run, a fake run, attempt
    // metadata on a finished task) are refused before they reach the store.
    for (method, path, body) in [
        (
            "PATCH",
            "/metadata/flows/F/runs/1/tag/mutate",
            r#"{"tags_to_add": ["x"]}"#,
        ),
        (
            "POST",
            "/metadata/flows/F/run",
            r#"{"tags": ["production:fake"]}"#,
        ),
        (
            "POST",
            "/metadata/flows/F/runs/1/steps/s/tasks/1/metadata",
            r#"[{"field_name": "attempt", "value": "3", "type": "attempt"}]"#,
        ),
    ] {
        for headers in [&[][..], &[("x-api-key", "guess")][..]] {
            let denied = http(addr, method, path, headers, body);
            assert_eq!(denied.status, 401, "{method} {path}: {}", denied.body);
            assert_eq!(denied.json()["error"], "unauthorized", "{}", denied.body);
        }
    }
    let ping = http(addr, "GET", "/metadata/ping", &[("X-Api-Key", API_KEY)], "");
    assert_eq!((ping.status, ping.body.as_str()), (200, "pong"));
    assert!(
        ping.headers.contains("metadata_service_version: 2.5.0"),
        "{}",
        ping.headers
    );

    assert_eq!(stack.request("POST", "/flows/F", "{}").status, 200);
    let cases = [
        ("POST", "/flows/F/run", "{not json", 400),
        ("POST", "/flows/F/run", r#"{"run_number": "42"}"#, 400),
        ("POST", "/flows/F/run", r#"{"tags": "x"}"#, 400),
        ("POST", "/flows/G/run", "{}", 404),
        ("DELETE", "/flows/F", "", 405),
        ("GET", "/flows/F/runs/1/nonsense", "", 404),
        ("GET", "/flows/F/runs/1/steps/s/tasks/%2F", "", 400),
        (
            "POST",
            "/flows/F/runs/1/steps/s/tasks/t/artifact",
            r#"[{"name": "a"}]"#,
            400,
        ),
        (
            "PATCH",
            "/flows/F/runs/1/tag/mutate",
            r#"{"tags_to_add": "x"}"#,
            400,
        ),
    ];
    for (method, path, body, status) in cases {
        let answer = stack.request(method, path, body);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        let error = answer.json();
        assert!(
            error["error"].is_string() && error["message"].is_string(),
            "{error}"
        );
    }
    let run = stack.request(
        "POST",
        "/flows/F/run",
        r#"{"system_tags": ["runtime:dev"]}"#,
    );
    assert_eq!(run.json()["run_number"], 1);
    let remove = stack.request(
        "PATCH",
        "/flows/F/runs/1/tag/mutate",
        r#"{"tags_to_remove": ["runtime:dev"]}"#,
    );
    assert_eq!(remove.status, 422, "{}", remove.body);
    let not_allowed = stack.request("GET", "/flows/F/run", "");
    assert_eq!(not_allowed.status, 405);
    assert!(
        not_allowed.headers.contains("allow: post"),
        "{}",
        not_allowed.headers
    );
    // Nothing malformed reached the table: one flow, one run.
    assert_eq!(
        stack
            .request("GET", "/flows", "")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        stack
            .request("GET", "/flows/F/runs", "")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn concurrent_tag_mutations_are_all_kept() {
    let stack = Stack::start();
    assert_eq!(stack.request("POST", "/flows/F", "{}").status, 200);
    let run = stack.request("POST", "/flows/F/run", r#"{"run_number": "sfn-tags"}"#);
    assert_eq!(run.status, 200, "{}", run.body);
    std::thread::scope(|scope| {
        for writer in ["a", "b", "c"] {
            let stack = &stack;
            scope.spawn(move || {
                for i in 0..8 {
                    let body = json!({"tags_to_add": [format!("{writer}{i}")]}).to_string();
                    let answer = stack.request("PATCH", "/flows/F/runs/sfn-tags/tag/mutate", &body);
                    // 409 is Metaflow's "retry": its client retries it, so do we (a few
                    // times, as contention on a loaded 2-core machine can outlast one retry).
                    let mut answer = answer;
                    for _ in 0..20 {
                        if answer.status != 409 {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        answer = stack.request("PATCH", "/flows/F/runs/sfn-tags/tag/mutate", &body);
                    }
                    assert_eq!(answer.status, 200, "{}", answer.body);
                }
            });
        }
    });
    let tags = stack.request("GET", "/flows/F/runs/sfn-tags", "").json()["tags"].clone();
    let mut tags: Vec<String> = serde_json::from_value(tags).unwrap();
    tags.sort();
    let mut expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .flat_map(|w| (0..8).map(move |i| format!("{w}{i}")))
        .collect();
    expected.sort();
    assert_eq!(tags, expected);
}
