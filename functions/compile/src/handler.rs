//! The handler: every record handled on its own, a report each, one response.

use dropflow_deploy::{
    Deployer, JobDefinitions, ObjectStore, Report, Schedules, StateMachines, Status,
};
use lambda_runtime::Diagnostic;
use serde::Serialize;

use crate::event::{RecordKind, records};

/// What the Lambda returns: one entry per record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    /// Outcomes, in record order.
    pub records: Vec<RecordOutcome>,
}

/// One record's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordOutcome {
    /// The object key (decoded).
    pub key: String,
    /// `deployed`, `unchanged`, `ignored`, `failed` or `undeployed`.
    pub status: Status,
    /// What happened, in a sentence.
    pub summary: String,
    /// The state machine, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_machine: Option<String>,
    /// The version, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The full report.
    pub report: Report,
}

/// A handler failure, with a stable `errorType` (`Retry`/`Catch`able, greppable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct HandlerError {
    /// `dropflow.InvalidEvent` (not an S3 event), `dropflow.AwsError` (an AWS call failed
    /// for at least one record; the others were handled; the event is retried) or
    /// `dropflow.Busy` (another handler kept a record's key or state machine claimed for
    /// longer than the wait; the others were handled; the event is retried).
    pub error_type: &'static str,
    /// What went wrong.
    pub message: String,
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type.to_string(),
            error_message: error.message,
        }
    }
}

/// Handles an S3 notification (or S3's `s3:TestEvent`, answered with no records).
pub async fn handle<O, M, J, S>(
    deployer: &Deployer<O, M, J, S>,
    payload: serde_json::Value,
) -> Result<Response, HandlerError>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    if payload.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        tracing::info!("S3 test event: notifications reach the compile Lambda");
        return Ok(Response {
            records: Vec::new(),
        });
    }
    let event: aws_lambda_events::event::s3::S3Event =
        serde_json::from_value(payload).map_err(|e| HandlerError {
            error_type: "dropflow.InvalidEvent",
            message: format!("not an S3 notification: {e}"),
        })?;
    let mut outcomes = Vec::new();
    let mut retryable = Vec::new();
    let mut all_busy = true;
    for record in records(&event) {
        let record = match record {
            Ok(record) => record,
            Err(message) => {
                tracing::error!(error_type = "dropflow.InvalidEvent", "{message}");
                continue;
            }
        };
        let key = record.object.key.clone();
        if record.bucket != deployer.config.bucket {
            tracing::warn!(key = %key, bucket = %record.bucket, "event from another bucket ignored");
            continue;
        }
        if deployer.config.flow_key(&key).is_none() {
            tracing::info!(key = %key, "key outside the flows prefix ignored");
            continue;
        }
        let report = match record.kind {
            // Boxed: a deploy is a deep chain of futures, too large to nest inline.
            RecordKind::Created => Box::pin(deployer.handle_created(&record.object)).await,
            RecordKind::Removed => Box::pin(deployer.handle_removed(&record.object)).await,
            RecordKind::Other => {
                tracing::info!(key = %key, event = %record.event_name, "event type ignored");
                continue;
            }
        };
        log(&report);
        if report.retryable {
            all_busy &= report.error_code() == Some("dropflow.Busy");
            retryable.push(format!(
                "{key}: {}",
                report.errors.first().map_or("", |e| e.message.as_str())
            ));
        }
        outcomes.push(RecordOutcome {
            key,
            status: report.status,
            summary: report.summary.clone(),
            state_machine: report.state_machine.clone(),
            version: report.version.clone(),
            report,
        });
    }
    if !retryable.is_empty() {
        return Err(HandlerError {
            error_type: if all_busy {
                "dropflow.Busy"
            } else {
                "dropflow.AwsError"
            },
            message: retryable.join("; "),
        });
    }
    Ok(Response { records: outcomes })
}

fn log(report: &Report) {
    let flow = report.flow.as_deref().unwrap_or("");
    let state_machine = report.state_machine.as_deref().unwrap_or("");
    let version = report.version.as_deref().unwrap_or("");
    let status = report.status.as_str();
    let total_ms = report.timings_ms.get("total").copied().unwrap_or_default();
    let error = report.error_code().unwrap_or("");
    match report.status {
        Status::Failed if report.retryable => tracing::error!(
            key = %report.key, flow, state_machine, version, status, error, total_ms, "{report}"
        ),
        Status::Failed => tracing::warn!(
            key = %report.key, flow, state_machine, version, status, error, total_ms, "{report}"
        ),
        _ => tracing::info!(
            key = %report.key, flow, state_machine, version, status, total_ms, "{report}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use dropflow_deploy::{Config, memory};
    use serde_json::{Value, json};

    use super::*;

    fn config() -> Config {
        Config::from_lookup(|name| {
            Some(
                match name {
                    "DROPFLOW_BUCKET" => "bucket",
                    "DROPFLOW_STEP_FUNCTION_ARN" => "arn:aws:lambda:us-east-1:1:function:step",
                    "DROPFLOW_STATE_MACHINE_ROLE_ARN" => "arn:aws:iam::1:role/sfn",
                    "DROPFLOW_SCHEDULER_ROLE_ARN" => "arn:aws:iam::1:role/scheduler",
                    "DROPFLOW_JOB_QUEUE" => "queue",
                    "DROPFLOW_DEFAULT_IMAGE" => "python:3.12",
                    _ => return None,
                }
                .to_string(),
            )
        })
        .unwrap()
    }

    fn event(records: &[(&str, &str, &str)]) -> Value {
        let fixture: Value =
            serde_json::from_str(include_str!("../fixtures/example-s3-event.json")).unwrap();
        let records: Vec<Value> = records
            .iter()
            .map(|(name, bucket, key)| {
                let mut record = fixture["Records"][0].clone();
                record["eventName"] = json!(name);
                record["s3"]["bucket"]["name"] = json!(bucket);
                record["s3"]["object"]["key"] = json!(key);
                record["s3"]["object"]["sequencer"] = json!("0A");
                record["s3"]["object"]["versionId"] = json!(null);
                record
            })
            .collect();
        json!({ "Records": records })
    }

    #[tokio::test]
    async fn the_s3_test_event_is_answered_without_work() {
        let (deployer, log) = memory::deployer(config());
        let test_event =
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bucket"});
        let response = handle(&deployer, test_event).await.unwrap();
        assert!(response.records.is_empty());
        assert!(log.writes().is_empty());
    }

    #[tokio::test]
    async fn a_payload_that_is_not_an_s3_event_has_a_stable_error_type() {
        let (deployer, _) = memory::deployer(config());
        let error = handle(&deployer, json!({"detail": 1})).await.unwrap_err();
        assert_eq!(error.error_type, "dropflow.InvalidEvent");
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "dropflow.InvalidEvent");
    }

    #[tokio::test]
    async fn each_record_is_handled_on_its_own() {
        let (deployer, _) = memory::deployer(config());
        deployer
            .objects
            .upload("flows/a b.py", b"not python at all (", &[]);
        let payload = event(&[
            ("ObjectCreated:Put", "bucket", "flows/a+b.py"),
            ("ObjectCreated:Put", "other-bucket", "flows/x.py"),
            ("ObjectCreated:Put", "bucket", "elsewhere/x.py"),
            ("ObjectCreated:Put", "bucket", "flows/%zz"),
            ("ObjectRestore:Completed", "bucket", "flows/y.py"),
            ("ObjectRemoved:Delete", "bucket", "flows/never.py"),
        ]);
        let response = handle(&deployer, payload).await.unwrap();
        let seen: Vec<(&str, Status)> = response
            .records
            .iter()
            .map(|r| (r.key.as_str(), r.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("flows/a b.py", Status::Failed),
                ("flows/never.py", Status::Ignored)
            ]
        );
        assert!(
            response.records[0].report.errors[0]
                .code
                .starts_with("python."),
            "{:?}",
            response.records[0].report.errors
        );
    }

    #[tokio::test]
    async fn an_aws_failure_fails_the_invocation_so_s3_retries() {
        let (deployer, log) = memory::deployer(config());
        deployer.objects.upload("flows/a.py", b"x = 1\n", &[]);
        log.fail(Some("s3:get flows/"));
        let error = handle(
            &deployer,
            event(&[("ObjectCreated:Put", "bucket", "flows/a.py")]),
        )
        .await
        .unwrap_err();
        assert_eq!(error.error_type, "dropflow.AwsError");
        assert!(error.message.contains("flows/a.py"), "{error}");
    }
}
