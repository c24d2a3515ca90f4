//! dropflow's functions with the permissions `infra/template.yaml` gives their roles, on a
//! moto server that enforces IAM (`tests/moto_iam.py`: moto's own enforcement, plus
//! resource ARNs for the services dropflow uses, Batch's action names and `StringEquals`
//! tag conditions; that file's doc says exactly what is and is not evaluated).
//!
//! Set-up runs before enforcement starts: the bucket, the secrets, the metadata table, a
//! state machine that belongs to someone else, and the template's roles (trust and inline
//! policies, resolved with this test's values by `dropflow_tests::cfn`) and `ClientPolicy`
//! (as a user's policy), each role assumed once through STS. Then moto enforces IAM and
//! every call is signed with one role's credentials, through dropflow's real adapters:
//! the client uploads a flow, the compile function deploys it, the step function's start
//! and finish phases run around a real Metaflow task that runs as the job role (reading a
//! secret under `JobSecretsPrefix` with `@secrets`), the trigger API lists, starts,
//! reads and stops a run, and the metadata service reads its key and writes its table.
//! Each role is also refused what it must not do.

mod bucket;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use dropflow_api::TriggerConfig;
use dropflow_api::lambda_http::{self, Body};
use dropflow_compiler::compile::Manifest;
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_deploy::Config;
use dropflow_task::Task;
use dropflow_tests::cfn::{self, Values};
use dropflow_tests::moto::Moto;
use dropflow_tests::{python, repo_root};
use dropflow_trigger::AwsDeps as TriggerDeps;
use serde_json::{Value, json};

const STACK: &str = "dropflow-iam";
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// The template's bucket name: `${AWS::StackName}-${AWS::AccountId}-${AWS::Region}`.
const BUCKET: &str = "dropflow-iam-123456789012-us-east-1";
const TABLE: &str = "dropflow-iam-metadata";
const JOB_QUEUE: &str = "dropflow-iam-queue";
/// The template's default `JobSecretsPrefix`.
const SECRETS_PREFIX: &str = "dropflow/flows/";
/// A secret the tasks may read (under the prefix) and one they may not.
const FLOW_SECRET: &str = "dropflow/flows/iam-test";
const OTHER_SECRET: &str = "elsewhere/iam-test";
const S3_FIXTURE: &str = include_str!("../../functions/compile/fixtures/example-s3-event.json");
const APIGW_FIXTURE: &str =
    include_str!("../../shared/api/fixtures/example-apigw-v2-request-no-authorizer.json");

/// The flow: `start` reads [`FLOW_SECRET`] with Metaflow's `@secrets`; an `iam_go` event
/// starts it too (`POST /events`).
const FLOW: &str = r#"import os

from metaflow import FlowSpec, secrets, step, trigger


@trigger(event="iam_go")
class IamFlow(FlowSpec):
    @secrets(sources=["dropflow/flows/iam-test"])
    @step
    def start(self):
        self.password = os.environ["IAM_TEST_PASSWORD"]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    IamFlow()
"#;

/// The roles the functions and tasks run as (logical ids in the template).
const ROLES: [&str; 8] = [
    "CompileRole",
    "StepRole",
    "TriggerRole",
    "MetadataRole",
    "StateMachineRole",
    "SchedulerRole",
    "JobRole",
    "JobExecutionRole",
];

fn role_arn(logical_id: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{STACK}-{logical_id}")
}

/// What the template's `Ref`s and `GetAtt`s stand for in this test.
fn template_values(metadata_secret_arn: &str) -> Values {
    let mut values = Values::default();
    let prefix = |service: &str| format!("arn:aws:{service}:{REGION}:{ACCOUNT}");
    values
        .set("AWS::StackName", STACK)
        .set("AWS::AccountId", ACCOUNT)
        .set("AWS::Region", REGION)
        .set("AWS::Partition", "aws")
        .set("AWS::URLSuffix", "amazonaws.com")
        .set("JobQueue", JOB_QUEUE)
        .set("DefaultImage", "python:3.12")
        .set("DatastoreRoot", "")
        .set("ExtraJobQueueArns", json!([""]))
        .set("ExtraJobRoleArns", json!([""]))
        .set("FargateJobQueues", json!([""]))
        .set("JobSecretsPrefix", SECRETS_PREFIX)
        .set("AlertTopicPrefix", "dropflow-alerts")
        .set("HttpApi", "iamtestapi")
        .set("MetadataApiKeySecret", metadata_secret_arn)
        .set("MetadataTable", TABLE)
        .set(
            "MetadataTable.Arn",
            format!("{}:table/{TABLE}", prefix("dynamodb")),
        )
        .set(
            "CompileFailures.Arn",
            format!("{}:{STACK}-compile-failures", prefix("sqs")),
        )
        .set(
            "EventFailures.Arn",
            format!("{}:{STACK}-event-failures", prefix("sqs")),
        )
        .set(
            "EventBus.Arn",
            format!("{}:event-bus/{STACK}", prefix("events")),
        )
        .set(
            "StepFunction.Arn",
            format!("{}:function:{STACK}-step", prefix("lambda")),
        );
    for role in ROLES {
        values.set(&format!("{role}.Arn"), role_arn(role));
    }
    for (group, function) in [
        ("CompileLogGroup", "compile"),
        ("StepLogGroup", "step"),
        ("TriggerLogGroup", "trigger"),
        ("MetadataLogGroup", "metadata"),
    ] {
        values.set(
            &format!("{group}.Arn"),
            format!(
                "{}:log-group:/aws/lambda/{STACK}-{function}:*",
                prefix("logs")
            ),
        );
    }
    values
}

/// Creates the roles and users (as IAM's administrator, before enforcement) and assumes
/// each role: boto3, because this is set-up, not what the test checks.
const SETUP_IAM: &str = r#"
import json, sys
import boto3
spec = json.load(sys.stdin)
kw = dict(endpoint_url=spec["endpoint"], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
iam, sts = boto3.client("iam", **kw), boto3.client("sts", **kw)
out = {}
for role in spec["roles"]:
    iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=json.dumps(role["trust"]))
    for name, doc in role["policies"]:
        iam.put_role_policy(RoleName=role["name"], PolicyName=name, PolicyDocument=json.dumps(doc))
    c = sts.assume_role(RoleArn=role["arn"], RoleSessionName="iam-test")["Credentials"]
    out[role["id"]] = [c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]]
for user in spec["users"]:
    iam.create_user(UserName=user["id"])
    iam.put_user_policy(UserName=user["id"], PolicyName="policy", PolicyDocument=json.dumps(user["policy"]))
    k = iam.create_access_key(UserName=user["id"])["AccessKey"]
    out[user["id"]] = [k["AccessKeyId"], k["SecretAccessKey"], None]
print(json.dumps(out))
"#;

/// An SDK configuration per principal (role logical id, `Client`, `Admin`).
struct Principals {
    configs: BTreeMap<String, SdkConfig>,
    credentials: BTreeMap<String, Credentials>,
}

/// An access key id, its secret and (for a role) the session token.
type Credentials = (String, String, Option<String>);

impl Principals {
    fn sdk(&self, id: &str) -> &SdkConfig {
        self.configs
            .get(id)
            .unwrap_or_else(|| panic!("no principal {id}"))
    }

    fn s3(&self, id: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(self.sdk(id))
                .force_path_style(true)
                .build(),
        )
    }

    fn sfn(&self, id: &str) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(self.sdk(id))
    }

    fn secrets(&self, id: &str) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(self.sdk(id))
    }
}

fn create_principals(moto: &Moto, template: &Value, values: &Values) -> Principals {
    let roles: Vec<Value> = cfn::roles(template, values)
        .into_iter()
        .map(|role| {
            json!({
                "id": role.logical_id,
                "name": format!("{STACK}-{}", role.logical_id),
                "arn": role_arn(&role.logical_id),
                "trust": role.trust_policy,
                "policies": role.policies,
            })
        })
        .collect();
    let found: Vec<&str> = roles.iter().filter_map(|r| r["id"].as_str()).collect();
    for role in ROLES {
        assert!(
            found.contains(&role),
            "the template has no {role}: {found:?}"
        );
    }
    let spec = json!({
        "endpoint": moto.url(),
        "roles": roles,
        "users": [
            {"id": "Client", "policy": cfn::managed_policy(template, values, "ClientPolicy")},
            {"id": "Admin", "policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
        ],
    });
    let mut child = Command::new(python())
        .args(["-c", SETUP_IAM])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        spec.to_string().as_bytes(),
    )
    .expect("spec written");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "IAM set-up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let credentials: BTreeMap<String, Credentials> =
        serde_json::from_slice(&out.stdout).expect("credentials JSON");
    Principals {
        configs: credentials
            .clone()
            .into_iter()
            .map(|(id, (key, secret, token))| {
                let sdk = dropflow_aws::credentials_sdk_config(
                    &moto.url(),
                    REGION,
                    &key,
                    &secret,
                    token.as_deref(),
                );
                (id, sdk)
            })
            .collect(),
        credentials,
    }
}

/// Asserts that `result` is IAM's refusal (HTTP 403 from the emulator).
fn assert_denied<T: std::fmt::Debug, E: std::fmt::Debug>(
    what: &str,
    result: Result<T, SdkError<E, HttpResponse>>,
) {
    match result {
        Ok(output) => panic!("{what}: allowed ({output:?}), but the role must not allow it"),
        Err(error) => {
            let raw = error.raw_response();
            let status = raw.map(|r| r.status().as_u16());
            let body = raw
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            // Not a bad signature or an unknown key (also 403): a policy's refusal.
            assert!(
                status == Some(403) && body.contains("<Code>AccessDenied</Code>"),
                "{what}: not IAM's refusal: {error:?}"
            );
        }
    }
}

fn compile_config(metadata_secret_arn: &str) -> Config {
    Config::from_lookup(|name| {
        Some(match name {
            "DROPFLOW_BUCKET" => BUCKET.to_string(),
            "DROPFLOW_STEP_FUNCTION_ARN" => {
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-step")
            }
            "DROPFLOW_STATE_MACHINE_ROLE_ARN" => role_arn("StateMachineRole"),
            "DROPFLOW_SCHEDULER_ROLE_ARN" => role_arn("SchedulerRole"),
            "DROPFLOW_JOB_ROLE_ARN" => role_arn("JobRole"),
            "DROPFLOW_JOB_EXECUTION_ROLE_ARN" => role_arn("JobExecutionRole"),
            "DROPFLOW_METADATA_AUTH_SECRET_ARN" => metadata_secret_arn.to_string(),
            "DROPFLOW_JOB_QUEUE" => JOB_QUEUE.to_string(),
            "DROPFLOW_DEFAULT_IMAGE" => "python:3.12".to_string(),
            "DROPFLOW_MANAGED_BY" => STACK.to_string(),
            _ => return None,
        })
    })
    .expect("valid compile configuration")
}

/// Set-up before enforcement: the bucket, the secrets, the table, a foreign state
/// machine; returns the metadata key secret's ARN and the foreign state machine's.
async fn create_resources(sdk: &SdkConfig) -> (String, String) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    bucket::versioned(&s3, BUCKET).await;
    let secret = |name: &'static str, value: String| async move {
        dropflow_metadata_host::secret::create_api_key_secret(sdk, name, &value)
            .await
            .unwrap_or_else(|e| panic!("secret {name}: {e}"))
    };
    let metadata_key = secret(
        "dropflow-iam/metadata-api-key",
        dropflow_metadata_host::secret::generate_api_key(),
    )
    .await;
    secret(
        FLOW_SECRET,
        json!({"IAM_TEST_PASSWORD": "s3cr3t"}).to_string(),
    )
    .await;
    secret(OTHER_SECRET, json!({"OTHER": "nope"}).to_string()).await;
    dropflow_metadata_host::DynamoStore::new(sdk, TABLE)
        .ensure_table()
        .await
        .expect("the metadata table");
    let foreign = aws_sdk_sfn::Client::new(sdk)
        .create_state_machine()
        .name("SomeoneElsesMachine")
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/other-team"))
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    (metadata_key, foreign)
}

/// The S3 event of an upload.
fn s3_event(key: &str, version_id: Option<&str>) -> Value {
    let mut event: Value = serde_json::from_str(S3_FIXTURE).unwrap();
    let record = &mut event["Records"][0];
    record["userIdentity"]["principalId"] = json!("AWS:AROAEXAMPLE:client");
    record["s3"]["bucket"]["name"] = json!(BUCKET);
    record["s3"]["object"]["key"] = json!(key);
    record["s3"]["object"]["versionId"] = json!(version_id);
    record["s3"]["object"]["sequencer"] = json!("0066F1A2B300000001");
    event
}

/// An API Gateway (payload v2) request to the trigger handler: status and JSON body.
async fn trigger(deps: &TriggerDeps, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
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
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = dropflow_api::handle(request, deps).await;
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or(json!(text)),
        other => panic!("not a text body: {other:?}"),
    };
    (status, body)
}

/// Runs the task's Batch job as a local process with the job role's credentials, as a
/// Batch container would (the job definition's environment, then the overrides').
fn run_job(
    manifest: &Manifest,
    task: &Task,
    moto: &Moto,
    job: &Credentials,
    scratch: &std::path::Path,
) {
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
    let output = Command::new(&overrides.command[0])
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
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("METAFLOW_S3_ENDPOINT_URL", moto.url())
        .env("AWS_ACCESS_KEY_ID", &job.0)
        .env("AWS_SECRET_ACCESS_KEY", &job.1)
        .env("AWS_SESSION_TOKEN", job.2.as_deref().unwrap_or_default())
        .env("AWS_DEFAULT_REGION", REGION)
        .env("USERNAME", "dropflow-ci")
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "{} failed as the job role ({}):\n{}\n{}",
        task.pathspec,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_works_with_its_template_role_and_is_refused_the_rest() {
    let started = Instant::now();
    let moto = Moto::start_script(&repo_root().join("tests/moto_iam.py"));
    let admin = dropflow_aws::static_sdk_config(&moto.url(), REGION);
    let (metadata_secret, foreign) = create_resources(&admin).await;
    let template = cfn::decoded_template();
    let values = template_values(&metadata_secret);
    let who = create_principals(&moto, &template, &values);
    // From here on, every request needs credentials IAM allows.
    let (status, body) = moto.request("POST", "/moto-api/reset-auth", "0");
    assert_eq!(status, 200, "{body}");
    let anonymous = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&admin)
            .force_path_style(true)
            .build(),
    )
    .list_objects_v2()
    .bucket(BUCKET)
    .send()
    .await
    .expect_err("credentials IAM does not know are refused");
    assert_eq!(
        anonymous.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{anonymous:?}"
    );

    // The client (ClientPolicy) uploads the flow; it may write only under flows/.
    let tarball = SourcePackage {
        files: BTreeMap::from([("iam_flow.py".to_string(), FLOW.as_bytes().to_vec())]),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz();
    let client = who.s3("Client");
    let upload = client
        .put_object()
        .bucket(BUCKET)
        .key("flows/iam_flow.tgz")
        .body(tarball.into())
        .send()
        .await
        .expect("ClientPolicy allows uploads under flows/");
    assert_denied(
        "the client writing deployments/",
        client
            .put_object()
            .bucket(BUCKET)
            .key("deployments/IamFlow/x")
            .body(Vec::new().into())
            .send()
            .await,
    );

    // The compile function deploys it with CompileRole.
    let deployer =
        dropflow_compile::deployer(compile_config(&metadata_secret), who.sdk("CompileRole"));
    let response = dropflow_compile::handle(
        &deployer,
        s3_event("flows/iam_flow.tgz", upload.version_id()),
    )
    .await
    .unwrap_or_else(|e| panic!("compile handler failed: {e}"));
    let report = serde_json::to_value(&response.records[0].report).unwrap();
    assert_eq!(report["status"], "deployed", "{report:#}");
    let own = report["changes"]["state_machine"]["arn"]
        .as_str()
        .unwrap_or_else(|| panic!("no state machine ARN: {report:#}"))
        .to_string();
    let manifest_url = report["changes"]["manifest"]
        .as_str()
        .unwrap_or_else(|| panic!("no manifest: {report:#}"))
        .to_string();
    let compile_sfn = who.sfn("CompileRole");
    assert_denied(
        "CompileRole updating a state machine it did not create",
        compile_sfn
            .update_state_machine()
            .state_machine_arn(&foreign)
            .definition(r#"{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}"#)
            .send()
            .await,
    );
    assert_denied(
        "CompileRole deleting a state machine it did not create",
        compile_sfn
            .delete_state_machine()
            .state_machine_arn(&foreign)
            .send()
            .await,
    );
    assert_denied(
        "CompileRole creating an untagged state machine",
        compile_sfn
            .create_state_machine()
            .name("Untagged")
            .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
            .role_arn(role_arn("StateMachineRole"))
            .send()
            .await,
    );
    assert_denied(
        "CompileRole starting a run",
        compile_sfn
            .start_execution()
            .state_machine_arn(&own)
            .send()
            .await,
    );
    assert_denied(
        "CompileRole writing under flows/",
        who.s3("CompileRole")
            .put_object()
            .bucket(BUCKET)
            .key("flows/again.tgz")
            .body(Vec::new().into())
            .send()
            .await,
    );
    println!(
        "deployed as CompileRole: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The step function's phases (StepRole) around the task's job (JobRole).
    let step_s3 = who.s3("StepRole");
    let manifest_key = manifest_url
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .expect("the manifest is in the bucket");
    let manifest: Manifest = serde_json::from_slice(
        &step_s3
            .get_object()
            .bucket(BUCKET)
            .key(manifest_key)
            .send()
            .await
            .expect("StepRole reads deployments")
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();
    let step = dropflow_step::Deps::new(dropflow_aws::S3Datastore::new(who.sdk("StepRole")));
    let started_task = dropflow_step::handle(
        json!({
            "phase": "start",
            "step": "start",
            "from": "execution",
            "input": {},
            "manifest": manifest_url,
            "execution": "iam-run",
        }),
        &step,
    )
    .await
    .unwrap_or_else(|e| panic!("start phase as StepRole: {e}"));
    let task: Task = serde_json::from_value(started_task["task"].clone()).unwrap();
    // The task reads IAM_TEST_PASSWORD, which only @secrets sets: it fails without it.
    let scratch = tempfile::tempdir().unwrap();
    run_job(
        &manifest,
        &task,
        &moto,
        &who.credentials["JobRole"],
        scratch.path(),
    );
    let finished = dropflow_step::handle(
        json!({
            "phase": "finish",
            "step": "start",
            "task": task,
            "batch": {"JobId": "iam-job"},
        }),
        &step,
    )
    .await
    .unwrap_or_else(|e| panic!("finish phase as StepRole: {e}"));
    assert!(finished.is_object(), "{finished:#}");
    assert_denied(
        "StepRole writing under flows/ (the template's explicit Deny)",
        step_s3
            .put_object()
            .bucket(BUCKET)
            .key("flows/from-step.tgz")
            .body(Vec::new().into())
            .send()
            .await,
    );
    assert_denied(
        "StepRole starting a state machine",
        who.sfn("StepRole")
            .start_execution()
            .state_machine_arn(&own)
            .send()
            .await,
    );
    let job_secrets = who.secrets("JobRole");
    assert_denied(
        "JobRole reading a secret outside JobSecretsPrefix",
        job_secrets
            .get_secret_value()
            .secret_id(OTHER_SECRET)
            .send()
            .await,
    );
    assert_denied(
        "JobRole reading the metadata API key",
        job_secrets
            .get_secret_value()
            .secret_id(&metadata_secret)
            .send()
            .await,
    );
    assert_denied(
        "JobRole reading uploads",
        who.s3("JobRole")
            .get_object()
            .bucket(BUCKET)
            .key("flows/iam_flow.tgz")
            .send()
            .await,
    );
    println!(
        "ran a task as StepRole + JobRole: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The trigger API (TriggerRole): list, start, read, stop.
    let trigger_deps = dropflow_trigger::deps(TriggerConfig::new(BUCKET), who.sdk("TriggerRole"));
    let (status, flows) = trigger(&trigger_deps, "GET", "/flows", None).await;
    assert_eq!(status, 200, "{flows:#}");
    assert!(flows.to_string().contains("IamFlow"), "{flows:#}");
    let (status, run) = trigger(&trigger_deps, "POST", "/flows/IamFlow/runs", Some("{}")).await;
    assert_eq!(status, 201, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap_or_else(|| panic!("{run:#}"));
    let (status, read) = trigger(
        &trigger_deps,
        "GET",
        &format!("/flows/IamFlow/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{read:#}");
    let (status, stopped) = trigger(
        &trigger_deps,
        "DELETE",
        &format!("/flows/IamFlow/runs/{run_id}"),
        None,
    )
    .await;
    assert!(status == 200 || status == 409, "{status}: {stopped:#}");
    let trigger_sfn = who.sfn("TriggerRole");
    assert_denied(
        "TriggerRole starting a state machine it did not create",
        trigger_sfn
            .start_execution()
            .state_machine_arn(&foreign)
            .send()
            .await,
    );
    assert_denied(
        "TriggerRole creating a state machine",
        trigger_sfn
            .create_state_machine()
            .name("FromTrigger")
            .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
            .role_arn(role_arn("StateMachineRole"))
            .tags(
                aws_sdk_sfn::types::Tag::builder()
                    .key("dropflow:managed-by")
                    .value(STACK)
                    .build(),
            )
            .send()
            .await,
    );
    // An event (TriggerRole): matched against the deployments, the run claimed under
    // events/ (the only prefix it may write), started on the live alias.
    let (status, delivered) = trigger(
        &trigger_deps,
        "POST",
        "/events",
        Some(r#"{"name": "iam_go", "payload": {"name": "iam_go", "id": "iam-event-1"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{delivered:#}");
    assert_eq!(
        delivered["flows"][0]["delivery"]["outcome"], "started",
        "{delivered:#}"
    );
    assert_denied(
        "TriggerRole writing to the bucket",
        who.s3("TriggerRole")
            .put_object()
            .bucket(BUCKET)
            .key("reports/x.json")
            .body(Vec::new().into())
            .send()
            .await,
    );

    // The metadata service (MetadataRole): its key, then its table.
    let mut config = dropflow_metadata_host::MetadataConfig::from_lookup(|name| {
        Some(
            match name {
                "DROPFLOW_METADATA_TABLE" => TABLE,
                "DROPFLOW_METADATA_API_KEY_SECRET" => &metadata_secret,
                _ => return None,
            }
            .to_string(),
        )
    })
    .expect("metadata settings");
    dropflow_metadata_host::resolve_api_key(&mut config, who.sdk("MetadataRole"))
        .await
        .expect("MetadataRole reads the API key");
    let service = dropflow_metadata_host::dynamo_service(&config, who.sdk("MetadataRole"));
    let key = who
        .secrets("Admin")
        .get_secret_value()
        .secret_id(&metadata_secret)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_string();
    let headers = || vec![("x-api-key".to_string(), key.clone())];
    for (method, path, expected) in [
        ("POST", "/flows/IamFlow", 200),
        ("POST", "/flows/IamFlow/run", 200),
        ("GET", "/flows/IamFlow/runs", 200),
    ] {
        let (status, _, body) =
            dropflow_metadata_host::handle(&service, method, path, "", headers(), b"{}".to_vec())
                .await;
        assert_eq!(
            status,
            expected,
            "{method} {path} as MetadataRole: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_denied(
        "MetadataRole reading the bucket",
        who.s3("MetadataRole")
            .get_object()
            .bucket(BUCKET)
            .key(manifest_key)
            .send()
            .await,
    );
    assert_denied(
        "MetadataRole reading the flows' secrets",
        who.secrets("MetadataRole")
            .get_secret_value()
            .secret_id(FLOW_SECRET)
            .send()
            .await,
    );
    println!(
        "all roles checked: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
