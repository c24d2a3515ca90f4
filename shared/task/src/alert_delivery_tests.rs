//! Alert delivery with fake senders: retries, records, failures kept.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::alerts::Alert;
use crate::{Datastore, MemoryDatastore};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_contract::{DeployOptions, Platform};

fn manifest(options: DeployOptions) -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/flows/shapes/exit_hooks.py");
    let package = package::read_path(&path, &Limits::default()).expect("readable flow");
    let checked = pipeline::check(&package).expect("checks");
    let platform = Platform {
        local_webhooks: true,
        ..Platform::default()
    };
    pipeline::compile(&checked, &options, &platform, &BTreeMap::new())
        .expect("compiles")
        .manifest
}

/// Fails its first `failures` calls, then succeeds; keeps what it was given.
#[derive(Default)]
struct Flaky {
    failures: usize,
    calls: Mutex<Vec<String>>,
}

impl SnsPublisher for Flaky {
    fn publish<'a>(&'a self, topic: &'a str, subject: &'a str, message: &'a str) -> SendFuture<'a> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(format!("{topic}|{subject}|{message}"));
        let fail = calls.len() <= self.failures;
        Box::pin(async move {
            if fail {
                Err("Throttled".to_string())
            } else {
                Ok(())
            }
        })
    }
}

impl WebhookPoster for Flaky {
    fn post_json<'a>(&'a self, url: &'a str, body: Vec<u8>) -> SendFuture<'a> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(format!("{url}|{}", String::from_utf8(body).unwrap()));
        let fail = calls.len() <= self.failures;
        Box::pin(async move {
            if fail {
                Err("HTTP 500".to_string())
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn targets_are_retried_and_every_delivery_recorded() {
    let manifest = manifest(DeployOptions {
        notify_on_error: vec![
            "arn:aws:sns:us-east-1:123456789012:alerts".into(),
            "http://127.0.0.1:9/secret-path".into(),
        ],
        ..Default::default()
    });
    let sns = Arc::new(Flaky {
        failures: 1,
        ..Default::default()
    });
    let hooks = Arc::new(Flaky {
        failures: usize::MAX,
        ..Default::default()
    });
    let senders = AlertSenders {
        sns: sns.clone(),
        webhooks: hooks.clone(),
    };
    let mut alert = Alert::success(&manifest, "sfn-x", None);
    alert.on = RunOutcome::Error;
    alert.error = Some("States.TaskFailed".into());
    let store = MemoryDatastore::new();
    let record = send_alert(
        &alert,
        &manifest,
        &senders,
        &store,
        Duration::from_millis(1),
    )
    .await
    .expect("targets")
    .expect("recorded");
    assert_eq!(
        sns.calls.lock().unwrap().len(),
        2,
        "one retry after a failure"
    );
    assert_eq!(hooks.calls.lock().unwrap().len(), ATTEMPTS);
    assert!(
        hooks.calls.lock().unwrap()[0].contains(r#"{"text":"dropflow: "#),
        "a Slack-compatible body"
    );
    assert_eq!(
        record.deliveries,
        [
            Delivery {
                target: "arn:aws:sns:us-east-1:123456789012:alerts".into(),
                status: DeliveryStatus::Sent,
                attempts: 2,
                error: None,
            },
            Delivery {
                target: "http://127.0.0.1:9/…".into(),
                status: DeliveryStatus::Failed,
                attempts: ATTEMPTS,
                error: Some("HTTP 500".into()),
            },
        ]
    );
    let key = alert_key(&manifest.state_machine, "sfn-x", RunOutcome::Error);
    let stored = store
        .get(&format!("s3://dropflow-bucket/{key}"))
        .await
        .unwrap()
        .expect("the run's alert record");
    let stored: AlertRecord = serde_json::from_slice(&stored).unwrap();
    assert_eq!(stored, record);
}

#[tokio::test]
async fn no_targets_sends_nothing() {
    let manifest = manifest(DeployOptions::default());
    let flaky = Arc::new(Flaky::default());
    let senders = AlertSenders {
        sns: flaky.clone(),
        webhooks: flaky.clone(),
    };
    let alert = Alert::success(&manifest, "sfn-x", None);
    let store = MemoryDatastore::new();
    assert!(
        send_alert(&alert, &manifest, &senders, &store, Duration::ZERO)
            .await
            .is_none()
    );
    assert!(flaky.calls.lock().unwrap().is_empty());
    assert!(store.urls().is_empty());
}
