//! The compile Lambda's handler against a real AWS emulator (moto server on 127.0.0.1):
//! S3 event JSON in, state machines, versions, aliases, schedules, job definitions and
//! reports out. moto 5.2.5 has no `ListStateMachineVersions`, so versions are checked
//! through the alias and `DescribeStateMachine` on the version ARN.

mod bucket;

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::SdkConfig;
use dropflow_compile::AwsDeployer;
use dropflow_compile::Response;
use dropflow_compiler::compile::{DeployOptions, OptionsLayer};
use dropflow_compiler::package::{self, Limits, PackageFormat, SourcePackage};
use dropflow_compiler::pipeline;
use dropflow_deploy::{Config, metadata::options_from_metadata};
use dropflow_tests::deploy_env;
use dropflow_tests::moto::{self, Lease};
use dropflow_tests::repo_root;
use serde_json::{Value, json};

const BUCKET: &str = "dropflow-test";
const PRINCIPAL: &str = "AWS:AROAEXAMPLE:alice";
const FARGATE_EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/dropflow-fargate";
const FIXTURE: &str = include_str!("../../functions/compile/fixtures/example-s3-event.json");

fn config() -> Config {
    Config::from_lookup(|name| match name {
        "DROPFLOW_JOB_EXECUTION_ROLE_ARN" => Some(FARGATE_EXECUTION_ROLE.to_string()),
        _ => deploy_env::compile_variable(BUCKET, name),
    })
    .expect("valid test configuration")
}

/// A local AWS: moto (reset), the bucket, clients and the deployer.
struct Stack {
    _moto: Lease,
    deployer: AwsDeployer,
    s3: aws_sdk_s3::Client,
    sfn: aws_sdk_sfn::Client,
    batch: aws_sdk_batch::Client,
    scheduler: aws_sdk_scheduler::Client,
    sequence: u64,
}

/// An upload: its S3 event and what was uploaded.
struct Upload {
    event: Value,
    bytes: Vec<u8>,
    metadata: BTreeMap<String, String>,
}

impl Stack {
    async fn new() -> Self {
        let moto = moto::shared();
        let sdk: SdkConfig = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
        let deployer = dropflow_compile::deployer(config(), &sdk);
        let s3 = deployer.objects.client().clone();
        bucket::versioned(&s3, BUCKET).await;
        Self {
            _moto: moto,
            s3,
            sfn: aws_sdk_sfn::Client::new(&sdk),
            batch: aws_sdk_batch::Client::new(&sdk),
            scheduler: aws_sdk_scheduler::Client::new(&sdk),
            deployer,
            sequence: 0,
        }
    }

    fn next_sequencer(&mut self) -> String {
        self.sequence += 1;
        format!("0066F1A2B3{:08X}", self.sequence)
    }

    /// Uploads `bytes` to `key` with `metadata`; returns its `ObjectCreated:Put` event,
    /// with the key encoded as S3 encodes it (`raw_key` when given).
    async fn upload(
        &mut self,
        key: &str,
        bytes: Vec<u8>,
        metadata: &[(&str, &str)],
        raw_key: Option<&str>,
    ) -> Upload {
        let mut request = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.clone().into());
        for (k, v) in metadata {
            request = request.metadata(*k, *v);
        }
        let output = request.send().await.unwrap();
        let sequencer = self.next_sequencer();
        let encoded = raw_key.map_or_else(|| encode_key(key), String::from);
        Upload {
            event: s3_event(
                "ObjectCreated:Put",
                &encoded,
                output.version_id(),
                &sequencer,
            ),
            bytes,
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Deletes `key`; returns its `ObjectRemoved:DeleteMarkerCreated` event.
    async fn delete(&mut self, key: &str) -> Value {
        self.s3
            .delete_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        let sequencer = self.next_sequencer();
        s3_event(
            "ObjectRemoved:DeleteMarkerCreated",
            &encode_key(key),
            None,
            &sequencer,
        )
    }

    /// Uploads one flow file as a tarball and expects it to deploy.
    async fn deploy_source(&mut self, key: &str, file: &str, source: &str) -> Value {
        let upload = self
            .upload(key, tarball(&[(file, source)]), &[], None)
            .await;
        let report = self.deliver_one(&upload.event).await;
        assert_eq!(report["status"], "deployed", "{report:#}");
        report
    }

    async fn deliver(&self, event: &Value) -> Response {
        dropflow_compile::handle(&self.deployer, event.clone())
            .await
            .unwrap_or_else(|e| panic!("handler failed: {e}"))
    }

    /// Delivers `event` and returns the one record's report as JSON.
    async fn deliver_one(&self, event: &Value) -> Value {
        let response = self.deliver(event).await;
        assert_eq!(response.records.len(), 1, "{response:?}");
        serde_json::to_value(&response.records[0].report).unwrap()
    }

    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        match self.s3.get_object().bucket(BUCKET).key(key).send().await {
            Ok(output) => Some(output.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(error) => panic!("get {key}: {error:?}"),
        }
    }

    async fn json(&self, key: &str) -> Value {
        let bytes = self
            .object(key)
            .await
            .unwrap_or_else(|| panic!("{key} is missing"));
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn state_machine_arn(&self, name: &str) -> Option<String> {
        let list = self.sfn.list_state_machines().send().await.unwrap();
        list.state_machines()
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.state_machine_arn().to_string())
    }

    /// The deployed definition, the alias's version ARN and that version's definition.
    async fn deployed(&self, name: &str) -> Deployed {
        let arn = self
            .state_machine_arn(name)
            .await
            .unwrap_or_else(|| panic!("state machine {name} is missing"));
        let machine = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .unwrap();
        let alias = self
            .sfn
            .describe_state_machine_alias()
            .state_machine_alias_arn(format!("{arn}:live"))
            .send()
            .await
            .unwrap();
        let routes = alias.routing_configuration();
        assert_eq!(routes.len(), 1, "{routes:?}");
        assert_eq!(routes[0].weight(), 100);
        let version_arn = routes[0].state_machine_version_arn().to_string();
        let version = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(&version_arn)
            .send()
            .await
            .unwrap();
        Deployed {
            definition: serde_json::from_str(machine.definition()).unwrap(),
            version_definition: serde_json::from_str(version.definition()).unwrap(),
            version_arn,
            role_arn: machine.role_arn().to_string(),
        }
    }

    async fn schedule(
        &self,
        name: &str,
    ) -> Option<aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput> {
        match self.scheduler.get_schedule().name(name).send().await {
            Ok(output) => Some(output),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(error) => panic!("get schedule {name}: {error:?}"),
        }
    }

    async fn job_definition_active(&self, name: &str) -> bool {
        let output = self
            .batch
            .describe_job_definitions()
            .job_definition_name(name)
            .status("ACTIVE")
            .send()
            .await
            .unwrap();
        !output.job_definitions().is_empty()
    }
}

#[derive(Debug, PartialEq)]
struct Deployed {
    definition: Value,
    version_definition: Value,
    version_arn: String,
    role_arn: String,
}

/// An S3 notification built on aws_lambda_events' fixture.
fn s3_event(name: &str, encoded_key: &str, version_id: Option<&str>, sequencer: &str) -> Value {
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    let record = &mut event["Records"][0];
    record["eventName"] = json!(name);
    record["userIdentity"]["principalId"] = json!(PRINCIPAL);
    record["s3"]["bucket"]["name"] = json!(BUCKET);
    record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{BUCKET}"));
    let object = &mut record["s3"]["object"];
    object["key"] = json!(encoded_key);
    object["sequencer"] = json!(sequencer);
    match version_id {
        Some(id) => object["versionId"] = json!(id),
        None => {
            object.as_object_mut().unwrap().remove("versionId");
        }
    }
    event
}

/// Form-encodes a key as S3 notifications do (`/` kept, space as `+`).
fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A deterministic `.tar.gz` of `files`.
fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    SourcePackage {
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz()
}

fn flow_file(path: &Path) -> Vec<u8> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let source = std::fs::read_to_string(path).unwrap();
    tarball(&[(&name, &source)])
}

/// What the upload should have deployed: the pipeline run here with the same options,
/// and the deploy-time values recorded in the manifest.
fn expected(
    upload: &Upload,
    key: &str,
    manifest: &Value,
) -> dropflow_compiler::compile::Deployment {
    let package = package::read_bytes(key, &upload.bytes, &Limits::default()).unwrap();
    let checked = pipeline::check(&package).unwrap();
    let mut options = DeployOptions {
        user: "alice".into(),
        ..Default::default()
    };
    checked.package_options.clone().apply(&mut options);
    let layer: OptionsLayer = options_from_metadata(&upload.metadata).unwrap();
    layer.apply(&mut options);
    let values: BTreeMap<String, Value> = manifest["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["deploy_time"].is_null() && !p["default"].is_null())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["default"].clone(),
            )
        })
        .collect();
    pipeline::compile(&checked, &options, &config().platform(), &values).unwrap()
}

/// Deploys `path` under `key` and checks everything a deployment creates.
async fn deploy_and_check(
    stack: &mut Stack,
    path: &Path,
    key: &str,
) -> (Value, dropflow_compiler::compile::Deployment) {
    let upload = stack.upload(key, flow_file(path), &[], None).await;
    let report = stack.deliver_one(&upload.event).await;
    assert_eq!(
        report["status"],
        "deployed",
        "{}: {report:#}",
        path.display()
    );
    let name = report["state_machine"].as_str().unwrap().to_string();
    let version = report["version"].as_str().unwrap().to_string();

    let manifest = stack
        .json(&format!("deployments/{name}/{version}/deployment.json"))
        .await;
    let expected = expected(&upload, key, &manifest);
    assert_eq!(
        expected.version,
        version,
        "{}: same input, same version",
        path.display()
    );
    assert_eq!(expected.state_machine_name, name);
    assert_eq!(manifest, serde_json::to_value(&expected.manifest).unwrap());
    let code = stack
        .object(&format!("deployments/{name}/{version}/code.tar.gz"))
        .await
        .unwrap();
    let package = package::read_bytes(key, &upload.bytes, &Limits::default()).unwrap();
    assert_eq!(code, package.to_tar_gz());

    let deployed = stack.deployed(&name).await;
    let definition: Value = serde_json::from_str(&expected.definition.to_json()).unwrap();
    assert_eq!(deployed.definition, definition, "{}", path.display());
    assert_eq!(deployed.version_definition, definition);
    assert_eq!(
        deployed.role_arn,
        "arn:aws:iam::123456789012:role/dropflow-sfn"
    );
    assert_eq!(
        report["changes"]["state_machine"]["version_arn"],
        deployed.version_arn.as_str()
    );
    assert_eq!(
        report["changes"]["alias"]["version_arn"],
        deployed.version_arn.as_str()
    );

    for definition in &expected.manifest.job_definitions {
        assert!(
            stack
                .job_definition_active(&definition.job_definition_name)
                .await,
            "{} is not registered",
            definition.job_definition_name
        );
    }
    let registered = report["changes"]["job_definitions"]["registered"]
        .as_array()
        .unwrap();
    assert_eq!(registered.len(), expected.manifest.job_definitions.len());

    match &expected.manifest.schedule {
        Some(info) => {
            let schedule = stack.schedule(&info.name).await.expect("schedule created");
            assert_eq!(
                schedule.schedule_expression(),
                Some(info.expression.as_str())
            );
            assert_eq!(
                schedule.schedule_expression_timezone(),
                Some(info.timezone.as_str())
            );
            let target = schedule.target().unwrap();
            assert_eq!(target.input(), Some(r#"{"Parameters": "{}"}"#));
            assert_eq!(
                target.arn(),
                report["changes"]["alias"]["arn"].as_str().unwrap()
            );
            assert_eq!(
                target.role_arn(),
                "arn:aws:iam::123456789012:role/dropflow-scheduler"
            );
            assert_eq!(report["changes"]["schedule"]["action"], "created");
        }
        None => assert!(report["changes"]["schedule"].is_null(), "{report:#}"),
    }

    let relative = key.strip_prefix("flows/").unwrap();
    let written = stack.json(&format!("reports/{relative}.json")).await;
    assert_eq!(written, report);
    let flow = report["flow"].as_str().unwrap();
    assert_eq!(
        stack.json(&format!("reports/latest/{flow}.json")).await,
        report
    );
    (report, expected)
}

#[tokio::test]
async fn the_seed_examples_deploy() {
    let mut stack = Stack::new().await;
    for name in ["parameter_flow", "deployment_info_flow", "hourly_flow"] {
        let path = repo_root().join(format!("examples/{name}.py"));
        deploy_and_check(&mut stack, &path, &format!("flows/{name}.tar.gz")).await;
    }
    // The deploy-time default ran in the sandbox with the uploader as `context.user_name`.
    let report = stack.json("reports/deployment_info_flow.tar.gz.json").await;
    let version = report["version"].as_str().unwrap();
    let manifest = stack
        .json(&format!(
            "deployments/DeploymentInfoFlow/{version}/deployment.json"
        ))
        .await;
    let default = &manifest["parameters"][0]["default"];
    let info: Value = match default {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(info["who"], "alice", "{manifest:#}");
    assert!(info["when"].is_string(), "{manifest:#}");

    let hourly = stack
        .schedule("HourlyFlow")
        .await
        .expect("HourlyFlow's schedule");
    assert_eq!(hourly.schedule_expression(), Some("cron(0 * * * ? *)"));
    assert_eq!(hourly.schedule_expression_timezone(), Some("UTC"));
}

#[tokio::test]
async fn every_shape_deploys() {
    let mut stack = Stack::new().await;
    let dir = repo_root().join("tests/flows/shapes");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 15, "{paths:?}");
    for path in &paths {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        deploy_and_check(&mut stack, path, &format!("flows/shapes/{stem}.tgz")).await;
    }
    let report = stack.json("reports/shapes/project_schedule.tgz.json").await;
    let name = report["state_machine"].as_str().unwrap();
    assert_eq!(name, "demo_project.user.alice.ProjectScheduleFlow");
    let schedule = stack.schedule(name).await.expect("project schedule");
    assert_eq!(schedule.schedule_expression(), Some("cron(0 10 * * ? *)"));
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("Europe/Paris")
    );
}

#[tokio::test]
async fn duplicates_same_content_and_older_events_change_nothing() {
    let mut stack = Stack::new().await;
    let source = std::fs::read_to_string(repo_root().join("examples/parameter_flow.py")).unwrap();
    let key = "flows/parameter.tgz";
    let old = stack
        .upload(key, tarball(&[("parameter_flow.py", &source)]), &[], None)
        .await;
    let changed = source.replace("default=0.01", "default=0.02");
    let new = stack
        .upload(key, tarball(&[("parameter_flow.py", &changed)]), &[], None)
        .await;

    let report = stack.deliver_one(&new.event).await;
    assert_eq!(report["status"], "deployed", "{report:#}");
    let deployed = stack.deployed("ParameterFlow").await;
    let current = stack
        .object("deployments/ParameterFlow/current.json")
        .await
        .unwrap();

    // The same event again.
    let again = stack.deliver_one(&new.event).await;
    assert_eq!(again["status"], "unchanged", "{again:#}");
    // The older upload's event, delivered late: a newer one won.
    let late = stack.deliver_one(&old.event).await;
    assert_eq!(late["status"], "superseded", "{late:#}");
    // The same bytes uploaded again (a new S3 version, a newer sequencer).
    let same = stack
        .upload(key, tarball(&[("parameter_flow.py", &changed)]), &[], None)
        .await;
    let unchanged = stack.deliver_one(&same.event).await;
    assert_eq!(unchanged["status"], "unchanged", "{unchanged:#}");
    assert_eq!(unchanged["version"], report["version"]);

    assert_eq!(stack.deployed("ParameterFlow").await, deployed);
    assert_eq!(
        stack
            .object("deployments/ParameterFlow/current.json")
            .await
            .unwrap(),
        current
    );
    let written = stack.json("reports/parameter.tgz.json").await;
    assert_eq!(written["status"], "unchanged");
    assert_eq!(written["version"], report["version"]);
}

#[tokio::test]
async fn failures_report_and_leave_the_deployment_untouched() {
    let mut stack = Stack::new().await;
    let key = "flows/hourly.tgz";
    let path = repo_root().join("examples/hourly_flow.py");
    let (report, _) = deploy_and_check(&mut stack, &path, key).await;
    let deployed = stack.deployed("HourlyFlow").await;
    let schedule = stack.schedule("HourlyFlow").await.unwrap();

    // A truncated tarball.
    let mut broken = flow_file(&path);
    broken.truncate(broken.len() / 2);
    let upload = stack.upload(key, broken, &[], None).await;
    let failed = stack.deliver_one(&upload.event).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["errors"][0]["code"], "package.corrupt_archive");
    assert_eq!(stack.json("reports/hourly.tgz.json").await, failed);

    // A flow Metaflow's lint rejects.
    let source = std::fs::read_to_string(&path).unwrap();
    let lint = source.replace(
        "    def end(self):\n        pass",
        "    def end(self):\n        self.next(self.start)",
    );
    assert_ne!(lint, source);
    let upload = stack
        .upload(key, tarball(&[("hourly_flow.py", &lint)]), &[], None)
        .await;
    let failed = stack.deliver_one(&upload.event).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let error = &failed["errors"][0];
    assert!(
        error["code"].as_str().unwrap().starts_with("lint."),
        "{failed:#}"
    );
    assert_eq!(error["file"], "hourly_flow.py");
    assert!(error["line"].as_u64().is_some(), "{failed:#}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("hourly_flow.py:"),
        "{failed:#}"
    );
    assert_eq!(stack.json("reports/latest/HourlyFlow.json").await, failed);

    // Nothing deployed changed.
    assert_eq!(stack.deployed("HourlyFlow").await, deployed);
    let now = stack.schedule("HourlyFlow").await.unwrap();
    assert_eq!(now.schedule_expression(), schedule.schedule_expression());
    assert_eq!(now.target(), schedule.target());
    let current = stack.json("deployments/HourlyFlow/current.json").await;
    assert_eq!(current["version"], report["version"]);
}

#[tokio::test]
async fn removing_the_upload_undeploys() {
    let mut stack = Stack::new().await;
    let key = "flows/hourly.tgz";
    deploy_and_check(
        &mut stack,
        &repo_root().join("examples/hourly_flow.py"),
        key,
    )
    .await;
    let removal = stack.delete(key).await;
    let report = stack.deliver_one(&removal).await;
    assert_eq!(report["status"], "undeployed", "{report:#}");
    assert_eq!(report["changes"]["schedule"]["action"], "deleted");
    assert_eq!(report["changes"]["state_machine"]["action"], "deleted");
    assert!(stack.state_machine_arn("HourlyFlow").await.is_none());
    assert!(stack.schedule("HourlyFlow").await.is_none());
    assert!(
        stack
            .object("deployments/HourlyFlow/current.json")
            .await
            .is_none()
    );
    assert_eq!(stack.json("reports/hourly.tgz.json").await, report);

    // Removing a key that never deployed anything.
    let unknown = stack.delete("flows/never.tgz").await;
    let report = stack.deliver_one(&unknown).await;
    assert_eq!(report["status"], "ignored", "{report:#}");
}

#[tokio::test]
async fn keys_are_decoded_and_metadata_sets_options() {
    let mut stack = Stack::new().await;
    let source = std::fs::read_to_string(repo_root().join("examples/parameter_flow.py")).unwrap();
    let key = "flows/team a/param flow.tgz";
    // As moto sends it: `/` as %2F, space as +.
    let upload = stack
        .upload(
            key,
            tarball(&[("parameter_flow.py", &source)]),
            &[
                ("dropflow-max-workers", "7"),
                ("dropflow-tags", "team:ml, nightly"),
                ("dropflow-with-retry", "true"),
                ("user", "bob"),
            ],
            Some("flows%2Fteam+a%2Fparam+flow.tgz"),
        )
        .await;
    let report = stack.deliver_one(&upload.event).await;
    assert_eq!(report["status"], "deployed", "{report:#}");
    assert_eq!(report["key"], key);
    let version = report["version"].as_str().unwrap();
    let manifest = stack
        .json(&format!(
            "deployments/ParameterFlow/{version}/deployment.json"
        ))
        .await;
    assert_eq!(manifest["options"]["max_workers"], 7);
    assert_eq!(manifest["options"]["tags"], json!(["team:ml", "nightly"]));
    assert_eq!(manifest["options"]["retry_by_default"], true);
    assert_eq!(manifest["options"]["user"], "bob");
    assert_eq!(
        stack.json("reports/team a/param flow.tgz.json").await,
        report
    );

    // Keys outside the flows prefix are not handled at all.
    let outside = stack.upload("other/x.tgz", vec![1, 2, 3], &[], None).await;
    assert!(stack.deliver(&outside.event).await.records.is_empty());
}

#[tokio::test]
async fn the_schedule_follows_the_flow_across_versions() {
    let mut stack = Stack::new().await;
    let key = "flows/hourly.tgz";
    let source = std::fs::read_to_string(repo_root().join("examples/hourly_flow.py")).unwrap();
    let first = stack.deploy_source(key, "hourly_flow.py", &source).await;
    assert_eq!(first["changes"]["schedule"]["action"], "created");
    eprintln!("{first:#}");

    // New code, same schedule: the schedule is left alone, and now targets the same alias.
    let second = stack
        .deploy_source(
            key,
            "hourly_flow.py",
            &source.replace("time is", "the time is"),
        )
        .await;
    assert_eq!(
        second["changes"]["schedule"]["action"], "unchanged",
        "{second:#}"
    );
    assert_eq!(second["changes"]["alias"]["action"], "updated");
    assert_ne!(
        second["changes"]["alias"]["version_arn"],
        first["changes"]["alias"]["version_arn"]
    );

    let daily = source.replace(
        "@schedule(hourly=True)",
        "@schedule(cron='30 6 * * ? *', timezone='America/New_York')",
    );
    let third = stack.deploy_source(key, "hourly_flow.py", &daily).await;
    assert_eq!(
        third["changes"]["schedule"]["action"], "updated",
        "{third:#}"
    );
    let schedule = stack.schedule("HourlyFlow").await.unwrap();
    assert_eq!(schedule.schedule_expression(), Some("cron(30 6 * * ? *)"));
    assert_eq!(
        schedule.schedule_expression_timezone(),
        Some("America/New_York")
    );

    let unscheduled = source.replace("@schedule(hourly=True)\n", "");
    let fourth = stack
        .deploy_source(key, "hourly_flow.py", &unscheduled)
        .await;
    assert_eq!(
        fourth["changes"]["schedule"]["action"], "deleted",
        "{fourth:#}"
    );
    assert!(stack.schedule("HourlyFlow").await.is_none());
}

#[tokio::test]
async fn platform_metadata_deploys_fargate_job_definitions_and_refuses_what_fargate_lacks() {
    let mut stack = Stack::new().await;
    let key = "flows/fargate.tgz";
    let flow = |decorator: &str| {
        format!(
            "from metaflow import FlowSpec, step, batch\n\nclass FargateFlow(FlowSpec):\n    {decorator}\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n\nif __name__ == '__main__':\n    FargateFlow()\n"
        )
    };
    let metadata = [
        ("dropflow-platform", "fargate"),
        ("dropflow-assign-public-ip", "false"),
    ];
    let source =
        flow("@batch(cpu=0.5, memory=2048, ephemeral_storage=30, aws_batch_tags={'team': 'ml'})");
    let upload = stack
        .upload(
            key,
            tarball(&[("fargate_flow.py", &source)]),
            &metadata,
            None,
        )
        .await;
    let report = stack.deliver_one(&upload.event).await;
    assert_eq!(report["status"], "deployed", "{report:#}");
    let described = stack
        .batch
        .describe_job_definitions()
        .status("ACTIVE")
        .send()
        .await
        .unwrap();
    let start = described
        .job_definitions()
        .iter()
        .find(|d| {
            d.job_definition_name()
                .is_some_and(|n| n.starts_with("FargateFlow-start-"))
        })
        .expect("the start step's job definition is registered");
    assert_eq!(
        start.platform_capabilities(),
        [aws_sdk_batch::types::PlatformCapability::Fargate]
    );
    let container = start.container_properties().unwrap();
    assert_eq!(container.execution_role_arn(), Some(FARGATE_EXECUTION_ROLE));
    assert_eq!(
        container.ephemeral_storage().and_then(|e| e.size_in_gib()),
        Some(30)
    );
    assert_eq!(
        container
            .network_configuration()
            .and_then(|n| n.assign_public_ip()),
        Some(&aws_sdk_batch::types::AssignPublicIp::Disabled)
    );
    assert_eq!(
        start.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("ml")
    );

    // EFA on Fargate: refused at deploy time with the line, nothing new registered.
    let before = described.job_definitions().len();
    let source = flow("@batch(efa=1)");
    let upload = stack
        .upload(
            key,
            tarball(&[("fargate_flow.py", &source)]),
            &metadata,
            None,
        )
        .await;
    let failed = stack.deliver_one(&upload.event).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(
        failed["errors"][0]["code"],
        "compile.bad_decorator_argument"
    );
    let message = failed["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("fargate_flow.py:4: @batch(efa=...)")
            && message.contains("does not support on Fargate"),
        "{message}"
    );
    let after = stack
        .batch
        .describe_job_definitions()
        .status("ACTIVE")
        .send()
        .await
        .unwrap();
    assert_eq!(after.job_definitions().len(), before);
}
