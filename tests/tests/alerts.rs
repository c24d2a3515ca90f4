//! `notify_on_error` / `notify_on_success` through the step Lambda's handler against moto
//! (127.0.0.1): a real Metaflow task fails (FailingFlow, run with `sh` exactly as the
//! start phase built its job, `--datastore=s3` on moto), the test plays the state
//! machine's `TaskFailed` state, and the fail phase's alert reaches a tiny local hyper
//! server twice: as the webhook POST (`{"text": ...}`) and through an SNS topic on moto
//! whose HTTP subscription points at the same server (so SNS `Publish` is verified
//! end to end). The run's alert record says what was sent where.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dropflow_aws::{HttpWebhooks, S3Datastore, SnsAlerts};
use dropflow_compiler::compile::{DeployOptions, Manifest, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_contract::exit_hooks::RunOutcome;
use dropflow_step::{Deps, handle_invocation};
use dropflow_task::Task;
use dropflow_task::alert_delivery::{AlertRecord, AlertSenders, DeliveryStatus, alert_key};
use dropflow_tests::{moto, python, repo_root};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const BUCKET: &str = "dropflow-bucket";
const STEP_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:dropflow-step";

/// A local HTTP server keeping every request body; answers 200.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let kept = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let kept = kept.clone();
                    async move {
                        let path = request.uri().path().to_string();
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        kept.lock()
                            .unwrap()
                            .push((path, String::from_utf8_lossy(&body).into_owned()));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, received)
}

fn run_job(manifest: &Manifest, task: &Task, moto_url: &str, scratch: &std::path::Path) -> bool {
    let definition = manifest
        .job_definitions
        .iter()
        .find(|d| d.job_definition_name == task.job.job_definition)
        .expect("the job definition is in the manifest");
    let overrides = &task.job.container_overrides;
    let venv_bin = python().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(&overrides.command[0])
        .args(&overrides.command[1..])
        .env_clear()
        .envs(
            definition
                .container_properties
                .environment
                .iter()
                .map(|e| (&e.name, &e.value)),
        )
        .envs(overrides.environment.iter().map(|e| (&e.name, &e.value)))
        .env("PATH", path)
        .env("HOME", scratch)
        .env("TMPDIR", scratch)
        .env("METAFLOW_DATASTORE_SYSROOT_LOCAL", scratch)
        .env("METAFLOW_S3_ENDPOINT_URL", moto_url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("sh runs")
        .status
        .success()
}

#[tokio::test]
async fn a_failed_run_alerts_a_webhook_and_an_sns_topic() {
    let started = Instant::now();
    let moto = moto::shared();
    let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let (server, received) = receiver().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name("dropflow-alerts-test")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(format!("{server}/sns"))
        .send()
        .await
        .unwrap();

    let options = DeployOptions {
        notify_on_error: vec![topic.clone(), format!("{server}/hook")],
        ..Default::default()
    };
    let platform = Platform {
        local_webhooks: true,
        alert_topic_prefix: Some("dropflow-alerts".into()),
        ..Default::default()
    };
    let flow = repo_root().join("tests/fixtures/metaflow_datastore/failing_flow.py");
    let package = package::read_path(&flow, &Limits::default()).unwrap();
    let checked = pipeline::check(&package).unwrap();
    let manifest = pipeline::compile(&checked, &options, &platform, &BTreeMap::new())
        .unwrap()
        .manifest;
    for (url, bytes) in [
        (&manifest.location, serde_json::to_vec(&manifest).unwrap()),
        (&manifest.code_package, package.to_tar_gz()),
    ] {
        let key = url.strip_prefix(&format!("s3://{BUCKET}/")).unwrap();
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }
    let deps = Deps::new(S3Datastore::new(&sdk)).with_alerts(AlertSenders {
        sns: Arc::new(SnsAlerts::new(&sdk)),
        webhooks: Arc::new(HttpWebhooks::new().unwrap()),
    });
    let call = async |request: Value| {
        handle_invocation(request, Some(STEP_ARN), &deps)
            .await
            .unwrap()
    };

    let start = call(
        json!({"phase": "start", "step": "start", "from": "execution", "input": {},
                            "manifest": manifest.location, "execution": "it-alert"}),
    )
    .await;
    let task: Task = serde_json::from_value(start["task"].clone()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    assert!(
        !run_job(&manifest, &task, &moto.url(), scratch.path()),
        "the task fails"
    );
    let batch_cause = json!({"JobId": "local-1", "Status": "FAILED",
                             "Container": {"ExitCode": 1}});
    let failed = call(json!({"phase": "fail", "input": {
        "task": task,
        "error": {"Error": "States.TaskFailed", "Cause": batch_cause.to_string()},
    }}))
    .await;
    assert_eq!(
        failed["error"], "States.TaskFailed",
        "the run's error is unchanged"
    );

    // The webhook got the Slack-compatible body at once; SNS delivered to its HTTP
    // subscription (moto posts from its own thread).
    let deadline = Instant::now() + Duration::from_secs(10);
    let (hook, notification) = loop {
        let got = received.lock().unwrap().clone();
        let hook = got.iter().find(|(path, _)| path == "/hook").cloned();
        let note = got
            .iter()
            .filter(|(path, _)| path == "/sns")
            .filter_map(|(_, body)| serde_json::from_str::<Value>(body).ok())
            .find(|body| body["Type"] == "Notification");
        if let (Some(hook), Some(note)) = (hook, note) {
            break (hook.1, note);
        }
        assert!(Instant::now() < deadline, "alerts not received: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = serde_json::from_str::<Value>(&hook).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in [
        "dropflow: FailingFlow/sfn-it-alert failed",
        "Failing task: FailingFlow/sfn-it-alert/start/start",
        "Error: States.TaskFailed",
        "ValueError: boom: item 60 is broken",
        "#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:FailingFlow:it-alert",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert_eq!(notification["Message"], text.as_str());
    assert_eq!(
        notification["Subject"],
        "dropflow: FailingFlow/sfn-it-alert failed"
    );

    let key = alert_key(&manifest.state_machine, "sfn-it-alert", RunOutcome::Error);
    let record = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    let record: AlertRecord =
        serde_json::from_slice(&record.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(record.deliveries.len(), 2);
    assert!(
        record
            .deliveries
            .iter()
            .all(|d| d.status == DeliveryStatus::Sent && d.attempts == 1),
        "{record:?}"
    );
    eprintln!("alert test took {:?}", started.elapsed());
}
