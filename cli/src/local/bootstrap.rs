//! The resources a fresh emulator needs before flows can be uploaded: the versioned
//! deployment bucket notifying the compile function, and a Batch compute environment
//! (UNMANAGED: the emulator runs jobs as local processes) with its job queue, and
//! dropflow's EventBridge bus with the rule taking its events to the trigger function.

use aws_config::SdkConfig;
use aws_sdk_batch::types::{CeState, CeType, ComputeEnvironmentOrder, JqState};
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
    NotificationConfiguration, NotificationConfigurationFilter, S3KeyFilter,
    VersioningConfiguration,
};

use super::error::LocalError;
use super::http;
use super::options::{
    ACCOUNT_ID, COMPILE_FUNCTION, EVENT_BUS, EVENT_RULE, JOB_QUEUE, Options, TRIGGER_FUNCTION,
};

/// The Batch service role the compute environment names (the emulator checks it exists).
const BATCH_SERVICE_ROLE: &str = "dropflow-local-batch-service";

/// Creates the bucket, its notification and the Batch queue on the emulator at `port`.
pub async fn create_resources(
    options: &Options,
    sdk: &SdkConfig,
    port: u16,
    flows_prefix: &str,
) -> Result<(), LocalError> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    create_bucket(options, &s3, flows_prefix).await?;
    create_role(options, port, BATCH_SERVICE_ROLE).await?;
    create_queue(&aws_sdk_batch::Client::new(sdk)).await?;
    create_event_bus(options, port).await
}

/// The bus, its rule (every event this account puts on it, the template's pattern) and
/// the rule's target, the trigger function, as plain JSON requests (three calls, not
/// worth an SDK crate).
async fn create_event_bus(options: &Options, port: u16) -> Result<(), LocalError> {
    let pattern = serde_json::json!({"account": [ACCOUNT_ID]}).to_string();
    let calls = [
        ("CreateEventBus", serde_json::json!({"Name": EVENT_BUS})),
        (
            "PutRule",
            serde_json::json!({"Name": EVENT_RULE, "EventBusName": EVENT_BUS, "EventPattern": pattern, "State": "ENABLED"}),
        ),
        (
            "PutTargets",
            serde_json::json!({"Rule": EVENT_RULE, "EventBusName": EVENT_BUS, "Targets": [{"Id": "trigger", "Arn": options.function_arn(TRIGGER_FUNCTION)}]}),
        ),
    ];
    for (action, body) in calls {
        let target = format!("AWSEvents.{action}");
        let headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", target.as_str()),
        ];
        let call = format!("events:{action}");
        emulator_call(options, port, "events", &call, &headers, &body.to_string()).await?;
    }
    Ok(())
}

async fn create_bucket(
    options: &Options,
    s3: &aws_sdk_s3::Client,
    flows_prefix: &str,
) -> Result<(), LocalError> {
    let bucket = &options.bucket;
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| LocalError::setup(format!("s3:CreateBucket {bucket}"), sdk_error(e)))?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| LocalError::setup(format!("s3:PutBucketVersioning {bucket}"), sdk_error(e)))?;
    let prefix = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value(flows_prefix)
        .build();
    let notify = LambdaFunctionConfiguration::builder()
        .id("dropflow-compile")
        .lambda_function_arn(options.function_arn(COMPILE_FUNCTION))
        .events(Event::from("s3:ObjectCreated:*"))
        .events(Event::from("s3:ObjectRemoved:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().filter_rules(prefix).build())
                .build(),
        )
        .build()
        .map_err(|e| LocalError::setup("the bucket notification", e))?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .lambda_function_configurations(notify)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            LocalError::setup(
                format!("s3:PutBucketNotificationConfiguration {bucket}"),
                sdk_error(e),
            )
        })?;
    Ok(())
}

/// IAM's CreateRole as a plain Query request (the only IAM call the stack makes, not worth
/// an SDK crate).
async fn create_role(options: &Options, port: u16, name: &str) -> Result<(), LocalError> {
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"
    );
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let call = format!("iam:CreateRole {name}");
    emulator_call(options, port, "iam", &call, &headers, &body).await
}

/// One request to `service` on the emulator, which accepts any signature (an
/// `Authorization` header naming the service is enough); `call` names it in errors.
async fn emulator_call(
    options: &Options,
    port: u16,
    service: &str,
    call: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(), LocalError> {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
        options.region
    );
    let mut all = headers.to_vec();
    all.push(("Authorization", authorization.as_str()));
    match http::request(port, "POST", "/", &all, body).await {
        Ok((200, _)) => Ok(()),
        Ok((status, answer)) => Err(LocalError::setup(
            call,
            format!("HTTP {status}: {answer:.300}"),
        )),
        Err(error) => Err(LocalError::setup(call, error)),
    }
}

async fn create_queue(batch: &aws_sdk_batch::Client) -> Result<(), LocalError> {
    let environment = batch
        .create_compute_environment()
        .compute_environment_name(JOB_QUEUE)
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role(Options::role_arn(BATCH_SERVICE_ROLE))
        .send()
        .await
        .map_err(|e| LocalError::setup("batch:CreateComputeEnvironment", sdk_error(e)))?;
    let environment_arn = environment
        .compute_environment_arn()
        .unwrap_or(JOB_QUEUE)
        .to_string();
    batch
        .create_job_queue()
        .job_queue_name(JOB_QUEUE)
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(environment_arn)
                .build(),
        )
        .send()
        .await
        .map_err(|e| LocalError::setup("batch:CreateJobQueue", sdk_error(e)))?;
    Ok(())
}

/// An SDK error with the service's code and message (the `Display` of an SDK error is
/// only "service error").
fn sdk_error<E, R>(error: aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("")
        ),
        None => format!("{error:?}"),
    }
}
