//! `@batch`/`@resources` → Batch job definitions: every attribute of Metaflow's
//! `BatchDecorator` (read from the test venv's Metaflow, so a new attribute fails here)
//! is mapped, warned about or refused with `file:line`; values Batch would refuse are
//! refused at compile time; every job definition shape is a valid `RegisterJobDefinition`
//! request for botocore's service model and registers on the emulator (moto).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use dropflow_compiler::compile::{
    BATCH_ATTRIBUTES, ComputePlatform, DeployOptions, Deployment, JobDefinition, Platform,
    RESOURCES_ATTRIBUTES,
};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_deploy::JobDefinitions;
use dropflow_tests::moto;
use serde_json::Value;

const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/dropflow-fargate-execution";

/// A flow whose `start` step carries `decorators` (each on its own line, from line 3).
fn flow(decorators: &[&str]) -> String {
    let mut lines = vec![
        "from metaflow import *".to_string(),
        "class F(FlowSpec):".to_string(),
    ];
    lines.extend(decorators.iter().map(|d| format!("    {d}")));
    lines.extend(
        [
            "    @step",
            "    def start(self):",
            "        self.next(self.end)",
            "    @step",
            "    def end(self):",
            "        pass",
        ]
        .map(String::from),
    );
    lines.join("\n") + "\n"
}

fn compile(source: &str, platform: ComputePlatform) -> Result<Deployment, String> {
    let package = package::read_bytes("flow.py", source.as_bytes(), &Limits::default())
        .map_err(|e| e.to_string())?;
    let checked = pipeline::check(&package).map_err(|e| e.to_string())?;
    let options = DeployOptions {
        platform,
        ..DeployOptions::default()
    };
    let settings = Platform {
        execution_role_arn: Some(EXECUTION_ROLE.into()),
        ..Platform::default()
    };
    pipeline::compile(&checked, &options, &settings, &BTreeMap::new()).map_err(|e| e.to_string())
}

fn start_job(deployment: &Deployment) -> &JobDefinition {
    deployment
        .manifest
        .job_definitions
        .iter()
        .find(|j| j.step == "start")
        .expect("a start job definition")
}

/// What the compiled step is: its runtime settings and its job definition without its
/// content-hashed name.
fn step_view(deployment: &Deployment) -> Value {
    let mut job = serde_json::to_value(start_job(deployment)).unwrap();
    job.as_object_mut().unwrap().remove("jobDefinitionName");
    serde_json::json!({
        "runtime": deployment.manifest.steps["start"].runtime,
        "job": job,
    })
}

/// A Python expression's value, printed as JSON by the test venv's Python.
fn python_json(code: &str) -> Value {
    let output = Command::new(dropflow_tests::python())
        .args(["-c", code])
        .env("USERNAME", "dropflow-ci")
        .output()
        .expect("the test venv's python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from python")
}

fn metaflow_defaults(module: &str, class: &str) -> Vec<String> {
    let value = python_json(&format!(
        "import json; from {module} import {class} as D; print(json.dumps(list(D.defaults)))"
    ));
    serde_json::from_value(value).unwrap()
}

/// How dropflow treats an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handling {
    /// It changes the step's job definition or runtime settings.
    Mapped,
    /// It is not acted on, and the compile output says so with `flow.py:3`.
    Warned,
}

/// Per attribute: the decorator without it, with it, the platform, and what dropflow
/// does. A Metaflow attribute missing here fails the test.
fn batch_samples() -> BTreeMap<&'static str, (&'static str, &'static str, ComputePlatform, Handling)>
{
    use ComputePlatform::{Ec2, Fargate};
    use Handling::{Mapped, Warned};
    BTreeMap::from([
        ("cpu", ("@batch()", "@batch(cpu=2)", Ec2, Mapped)),
        ("gpu", ("@batch()", "@batch(gpu=1)", Ec2, Mapped)),
        ("memory", ("@batch()", "@batch(memory=8192)", Ec2, Mapped)),
        (
            "image",
            ("@batch()", "@batch(image='python:3.13')", Ec2, Mapped),
        ),
        ("queue", ("@batch()", "@batch(queue='big')", Ec2, Mapped)),
        (
            "iam_role",
            (
                "@batch()",
                "@batch(iam_role='arn:aws:iam::123456789012:role/task')",
                Ec2,
                Mapped,
            ),
        ),
        (
            "execution_role",
            (
                "@batch()",
                "@batch(execution_role='arn:aws:iam::123456789012:role/other')",
                Fargate,
                Mapped,
            ),
        ),
        (
            "shared_memory",
            ("@batch()", "@batch(shared_memory=1024)", Ec2, Mapped),
        ),
        (
            "max_swap",
            ("@batch()", "@batch(max_swap=2048)", Ec2, Mapped),
        ),
        (
            "swappiness",
            ("@batch()", "@batch(swappiness=60)", Ec2, Mapped),
        ),
        (
            "inferentia",
            ("@batch()", "@batch(inferentia=2)", Ec2, Mapped),
        ),
        ("trainium", ("@batch()", "@batch(trainium=1)", Ec2, Mapped)),
        ("efa", ("@batch()", "@batch(efa=1)", Ec2, Mapped)),
        (
            "host_volumes",
            (
                "@batch()",
                "@batch(host_volumes=['/data:/mnt/data'])",
                Ec2,
                Mapped,
            ),
        ),
        (
            "efs_volumes",
            ("@batch()", "@batch(efs_volumes='fs-0123abcd')", Ec2, Mapped),
        ),
        (
            "use_tmpfs",
            ("@batch()", "@batch(use_tmpfs=True)", Ec2, Mapped),
        ),
        (
            "aws_batch_tags",
            (
                "@batch()",
                "@batch(aws_batch_tags={'team': 'ml'})",
                Ec2,
                Mapped,
            ),
        ),
        (
            "tmpfs_tempdir",
            (
                "@batch(use_tmpfs=True)",
                "@batch(use_tmpfs=True, tmpfs_tempdir=False)",
                Ec2,
                Mapped,
            ),
        ),
        (
            "tmpfs_size",
            ("@batch()", "@batch(tmpfs_size=512)", Ec2, Mapped),
        ),
        (
            "tmpfs_path",
            (
                "@batch(use_tmpfs=True)",
                "@batch(use_tmpfs=True, tmpfs_path='/scratch')",
                Ec2,
                Mapped,
            ),
        ),
        (
            "ephemeral_storage",
            ("@batch()", "@batch(ephemeral_storage=100)", Fargate, Mapped),
        ),
        (
            "log_driver",
            ("@batch()", "@batch(log_driver='awslogs')", Ec2, Mapped),
        ),
        (
            "log_options",
            (
                "@batch(log_driver='awslogs')",
                "@batch(log_driver='awslogs', log_options=['awslogs-group:aws/batch/job'])",
                Ec2,
                Mapped,
            ),
        ),
        (
            "executable",
            ("@batch()", "@batch(executable='python3')", Ec2, Warned),
        ),
        (
            "privileged",
            ("@batch()", "@batch(privileged=True)", Ec2, Mapped),
        ),
    ])
}

/// Compiles `without` and `with` and says what `with` changed.
fn handling(without: &str, with: &str, platform: ComputePlatform) -> Result<Handling, String> {
    let base = compile(&flow(&[without]), platform).map_err(|e| format!("{without}: {e}"))?;
    let sample = compile(&flow(&[with]), platform)?;
    let warned = sample
        .warnings
        .iter()
        .any(|w| w.starts_with("flow.py:3:") && !base.warnings.contains(w));
    let mapped = step_view(&base) != step_view(&sample);
    match (mapped, warned) {
        (true, false) => Ok(Handling::Mapped),
        (false, true) => Ok(Handling::Warned),
        (m, w) => Err(format!(
            "{with}: changed the job definition: {m}, warned with flow.py:3: {w}"
        )),
    }
}

#[test]
fn every_metaflow_batch_attribute_is_mapped_or_warned_about() {
    let metaflow = metaflow_defaults(
        "metaflow.plugins.aws.batch.batch_decorator",
        "BatchDecorator",
    );
    assert_eq!(
        metaflow, BATCH_ATTRIBUTES,
        "Metaflow's @batch attributes changed: map, warn about or refuse each new one in shared/compiler/src/compile/batch_settings.rs"
    );
    let samples = batch_samples();
    for attribute in &metaflow {
        let Some(&(without, with, platform, expected)) = samples.get(attribute.as_str()) else {
            panic!("@batch({attribute}=...) has no sample here: decide how dropflow handles it");
        };
        let found = handling(without, with, platform)
            .unwrap_or_else(|e| panic!("@batch({attribute}=...): {e}"));
        assert_eq!(found, expected, "@batch({attribute}=...)");
    }
}

#[test]
fn every_resources_attribute_is_mapped_or_warned_about() {
    let metaflow = metaflow_defaults("metaflow.plugins.resources_decorator", "ResourcesDecorator");
    assert_eq!(metaflow, RESOURCES_ATTRIBUTES);
    let samples = BTreeMap::from([
        ("cpu", ("@resources(cpu=8)", Handling::Mapped)),
        ("gpu", ("@resources(gpu=2)", Handling::Mapped)),
        ("memory", ("@resources(memory=16384)", Handling::Mapped)),
        (
            "shared_memory",
            ("@resources(shared_memory=256)", Handling::Mapped),
        ),
        ("disk", ("@resources(disk=10240)", Handling::Warned)),
    ]);
    for attribute in &metaflow {
        let &(with, expected) = samples
            .get(attribute.as_str())
            .unwrap_or_else(|| panic!("@resources({attribute}=...) has no sample here"));
        let found = handling("@resources()", with, ComputePlatform::Ec2)
            .unwrap_or_else(|e| panic!("@resources({attribute}=...): {e}"));
        assert_eq!(found, expected, "@resources({attribute}=...)");
    }
}

#[test]
fn values_batch_would_refuse_are_refused_at_compile_time_with_the_line_and_fix() {
    use ComputePlatform::{Ec2, Fargate};
    let cases: &[(&[&str], ComputePlatform, &str)] = &[
        (&["@batch(memory=-1)"], Ec2, "non-negative"),
        (&["@batch(memory=0)"], Ec2, "Invalid memory value"),
        (&["@batch(cpu=0)"], Ec2, "Invalid CPU value"),
        (&["@batch(cpu=0.5)"], Ec2, "only on Fargate"),
        (
            &["@batch(memroy=4096)"],
            Ec2,
            "does not support the attribute 'memroy'",
        ),
        (
            &["@batch(log_driver='syslogx')"],
            Ec2,
            "AWS Batch does not know",
        ),
        (&["@batch(log_driver='gelf')"], Fargate, "awslogs or splunk"),
        (
            &["@batch(log_options=['awslogs-group:g'])"],
            Ec2,
            "needs a log_driver",
        ),
        (
            &["@batch(log_driver='awslogs', log_options=['group'])"],
            Ec2,
            "'key:value'",
        ),
        (&["@batch(efa=1)"], Fargate, "Elastic Fabric Adapter"),
        (&["@batch(inferentia=1)"], Fargate, "Neuron devices"),
        (&["@batch(inferentia=1, trainium=1)"], Ec2, "not both"),
        (&["@batch(ephemeral_storage=10)"], Fargate, "21 to 200 GiB"),
        (&["@batch(ephemeral_storage=201)"], Fargate, "21 to 200 GiB"),
        (
            &["@batch(ephemeral_storage=100)"],
            Ec2,
            "only available for FARGATE",
        ),
        (&["@batch(gpu=1)"], Fargate, "no GPUs"),
        (
            &["@batch(use_tmpfs=True)"],
            Fargate,
            "not available for Fargate",
        ),
        (
            &["@batch(tmpfs_size=100)"],
            Fargate,
            "not available for Fargate",
        ),
        (&["@batch(max_swap=100)"], Fargate, "swap"),
        (&["@batch(swappiness=10)"], Fargate, "swap"),
        (&["@batch(swappiness=100)"], Ec2, "less than 100"),
        (&["@batch(shared_memory=64)"], Fargate, "/dev/shm"),
        (&["@batch(privileged=True)"], Fargate, "privileged"),
        (&["@batch(host_volumes='/data')"], Fargate, "host path"),
        (&["@batch(host_volumes='data')"], Ec2, "absolute paths"),
        (&["@batch(efs_volumes='nfs-1')"], Ec2, "EFS file system id"),
        (
            &["@batch(tmpfs_path='tmp', use_tmpfs=True)"],
            Ec2,
            "absolute path",
        ),
        (&["@batch(privileged='yes')"], Ec2, "True or False"),
        (
            &["@batch(aws_batch_tags={'aws:team': 'ml'})"],
            Ec2,
            "'aws:' is not an allowed prefix",
        ),
        (&["@batch(aws_batch_tags=['team'])"], Ec2, "Dict[str, str]"),
        (
            &["@batch(aws_batch_tags={'dropflow:flow': 'x'})"],
            Ec2,
            "dropflow's own",
        ),
        (&["@batch(cpu=3)"], Fargate, "not a Fargate size"),
        (
            &["@batch(cpu=1, memory=10240)"],
            Fargate,
            "2048 to 8192 MiB in steps of 1024",
        ),
        (
            &["@resources(cpu=0.25, memory=1000)", "@batch()"],
            Fargate,
            "512 to 2048",
        ),
        (
            &["@resources(disk=1, size=2)"],
            Ec2,
            "does not support the attribute 'size'",
        ),
    ];
    for (decorators, platform, expected) in cases {
        let error = match compile(&flow(decorators), *platform) {
            Ok(_) => panic!("{decorators:?} on {platform:?} compiled"),
            Err(e) => e,
        };
        assert!(
            error.starts_with("flow.py:3:") || error.starts_with("flow.py:4:"),
            "{decorators:?}: {error}"
        );
        assert!(error.contains(expected), "{decorators:?}: {error}");
    }
    // Fargate without an execution role from the platform or the step.
    let package = package::read_bytes(
        "flow.py",
        flow(&["@batch()"]).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let checked = pipeline::check(&package).unwrap();
    let options = DeployOptions {
        platform: ComputePlatform::Fargate,
        ..DeployOptions::default()
    };
    let error = pipeline::compile(&checked, &options, &Platform::default(), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("flow.py:")
            && error.contains(": step end: No AWS Fargate task execution IAM role found")
            && error.contains("DROPFLOW_JOB_EXECUTION_ROLE_ARN"),
        "{error}"
    );
}

/// The job definitions of the shapes dropflow generates: EC2 defaults, EC2 with every
/// EC2 attribute, Fargate with every Fargate attribute, Fargate on a Fargate queue.
fn shapes() -> Vec<JobDefinition> {
    let ec2_everything = "@batch(cpu=4, memory=16384, gpu=1, shared_memory=2048, max_swap=4096, swappiness=10, inferentia=1, efa=1, host_volumes=['/data', '/scratch:/mnt/s'], efs_volumes=['fs-0123abcd', 'fs-4567:/shared'], use_tmpfs=True, tmpfs_size=1024, tmpfs_path='/fast', log_driver='awslogs', log_options=['awslogs-group:aws/batch/job', 'awslogs-stream-prefix:mf'], aws_batch_tags={'team': 'ml'}, privileged=True, iam_role='arn:aws:iam::123456789012:role/task')";
    let fargate_everything = "@batch(cpu=0.5, memory=2048, ephemeral_storage=50, log_driver='awslogs', log_options=['awslogs-group:g'], efs_volumes='fs-0123abcd', execution_role='arn:aws:iam::123456789012:role/exec', aws_batch_tags={'team': 'ml'})";
    let mut definitions = Vec::new();
    for (decorator, platform) in [
        ("@batch()", ComputePlatform::Ec2),
        (ec2_everything, ComputePlatform::Ec2),
        (fargate_everything, ComputePlatform::Fargate),
        ("@batch()", ComputePlatform::Fargate),
    ] {
        let deployment =
            compile(&flow(&[decorator]), platform).unwrap_or_else(|e| panic!("{decorator}: {e}"));
        definitions.push(start_job(&deployment).clone());
    }
    // A queue the operator listed as Fargate makes its steps Fargate steps.
    let package = package::read_bytes(
        "flow.py",
        flow(&["@batch(queue='fargate-queue', cpu=2, memory=4096)"]).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let checked = pipeline::check(&package).unwrap();
    let settings = Platform {
        execution_role_arn: Some(EXECUTION_ROLE.into()),
        fargate_queues: vec!["fargate-queue".into()],
        ..Platform::default()
    };
    let deployment = pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &settings,
        &BTreeMap::new(),
    )
    .unwrap();
    let queued = start_job(&deployment).clone();
    assert_eq!(queued.platform_capabilities, ["FARGATE"]);
    let end = deployment
        .manifest
        .job_definitions
        .iter()
        .find(|j| j.step == "end")
        .unwrap();
    assert_eq!(
        end.platform_capabilities,
        ["EC2"],
        "end runs on the default queue"
    );
    definitions.push(queued);
    definitions
}

/// The request body: the job definition without dropflow's own `step` field.
fn request(definition: &JobDefinition) -> Value {
    let mut value = serde_json::to_value(definition).unwrap();
    value.as_object_mut().unwrap().remove("step");
    value
}

#[test]
fn job_definitions_are_exactly_botocores_register_job_definition_shape() {
    let definitions = shapes();
    let fargate = &definitions[2];
    let container = serde_json::to_value(&fargate.container_properties).unwrap();
    assert_eq!(fargate.platform_capabilities, ["FARGATE"]);
    assert_eq!(
        container["executionRoleArn"],
        "arn:aws:iam::123456789012:role/exec"
    );
    assert_eq!(
        container["networkConfiguration"]["assignPublicIp"],
        "ENABLED"
    );
    assert_eq!(
        container["fargatePlatformConfiguration"]["platformVersion"],
        "LATEST"
    );
    assert_eq!(container["ephemeralStorage"]["sizeInGiB"], 50);
    assert_eq!(
        definitions[3]
            .container_properties
            .execution_role_arn
            .as_deref(),
        Some(EXECUTION_ROLE)
    );
    let ec2 = serde_json::to_value(&definitions[1].container_properties).unwrap();
    assert_eq!(ec2["privileged"], true);
    assert_eq!(ec2["linuxParameters"]["tmpfs"][0]["containerPath"], "/fast");
    assert_eq!(
        ec2["linuxParameters"]["devices"][1]["hostPath"],
        "/dev/infiniband/uverbs0"
    );
    assert_eq!(ec2["mountPoints"][3]["containerPath"], "/shared");
    assert!(
        definitions[1]
            .container_properties
            .environment
            .iter()
            .any(|v| v.name == "METAFLOW_TEMPDIR" && v.value == "/fast")
    );

    let requests: Vec<Value> = definitions.iter().map(request).collect();
    let validator = r#"
import json, sys
import botocore.session
from botocore.validate import ParamValidator
shape = botocore.session.get_session().get_service_model("batch").operation_model("RegisterJobDefinition").input_shape
reports = [ParamValidator().validate(r, shape) for r in json.load(sys.stdin)]
print(json.dumps([r.generate_report() for r in reports if r.has_errors()]))
"#;
    let mut child = Command::new(dropflow_tests::python())
        .args(["-c", validator])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&requests).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let errors: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// `expected` is contained in `actual`: every key with the same value, lists item by item.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|found| contains(found, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| contains(x, y))
        }
        _ => actual == expected,
    }
}

#[tokio::test]
async fn every_job_definition_shape_registers_on_the_emulator() {
    let moto = moto::shared();
    let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
    let batch = dropflow_aws::BatchJobDefinitions::new(&sdk);
    for definition in shapes() {
        let name = &definition.job_definition_name;
        let arn = batch
            .register(&definition)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(arn.contains(name), "{arn}");
        assert!(batch.is_active(name).await.unwrap(), "{name} is active");
        // Read back with botocore, so what the emulator stored is compared as JSON.
        let described = python_json(&format!(
            "import boto3, json; c = boto3.client('batch', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing'); print(json.dumps(c.describe_job_definitions(jobDefinitionName='{name}', status='ACTIVE')))",
            moto.url()
        ));
        let registered = &described["jobDefinitions"][0];
        let mut sent = request(&definition);
        // DescribeJobDefinitions returns the tags under `tags` and the name as sent;
        // `propagateTags` and the rest must come back as registered.
        sent.as_object_mut().unwrap().remove("jobDefinitionName");
        assert!(
            contains(registered, &sent),
            "{name}: sent {sent:#}\nregistered {registered:#}"
        );
    }
}

/// Creates, on the emulator, queues `fargate` and `fargate-spot` (managed Fargate compute
/// environments) and `ec2` (an unmanaged one), with botocore.
fn create_queues(endpoint: &str) {
    let script = r#"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
ec2, iam, batch = (boto3.client(s, **kw) for s in ("ec2", "iam", "batch"))
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName="dropflow-test", Description="test", VpcId=vpc)["GroupId"]
role = iam.create_role(RoleName="dropflow-batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
for name, kind in [("fargate", "FARGATE"), ("fargate-spot", "FARGATE_SPOT")]:
    ce = batch.create_compute_environment(computeEnvironmentName=name + "-ce", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": kind, "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [sg]})["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
ce = batch.create_compute_environment(computeEnvironmentName="ec2-ce", type="UNMANAGED", state="ENABLED", serviceRole=role)["computeEnvironmentArn"]
batch.create_job_queue(jobQueueName="ec2", state="ENABLED", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
"#;
    let output = Command::new(dropflow_tests::python())
        .args(["-c", script, endpoint])
        .output()
        .expect("the test venv's python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_queues_platform_is_read_from_its_compute_environment() {
    let moto = moto::shared();
    create_queues(&moto.url());
    let sdk = dropflow_aws::static_sdk_config(&moto.url(), "us-east-1");
    let batch = dropflow_aws::BatchJobDefinitions::new(&sdk);
    for (queue, expected) in [
        ("fargate", ComputePlatform::Fargate),
        ("fargate-spot", ComputePlatform::Fargate),
        ("ec2", ComputePlatform::Ec2),
    ] {
        let found = batch
            .queue_platform(queue)
            .await
            .unwrap_or_else(|e| panic!("{queue}: {e}"));
        assert_eq!(found, expected, "{queue}");
    }
    let missing = batch
        .queue_platform("nowhere")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("AWS Batch Job Queue nowhere not found."),
        "{missing}"
    );
}
