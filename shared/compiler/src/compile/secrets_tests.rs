//! `@secrets` at deploy time: the job's backend settings, and the sources the stack's job
//! role could never read refused with `file:line`.

use std::collections::BTreeMap;

use super::*;
use crate::package::{self, Limits};
use crate::pipeline;

const STEP_ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:dropflow-step";

fn flow(secrets: &str) -> String {
    format!(
        "from metaflow import FlowSpec, secrets, step\n\n\nclass F(FlowSpec):\n    {secrets}\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
}

fn compile(secrets: &str, prefix: Option<&str>) -> Result<Deployment, String> {
    let source = flow(secrets);
    let package = package::read_bytes("flow.py", source.as_bytes(), &Limits::default())
        .map_err(|e| e.to_string())?;
    let checked = pipeline::check(&package).map_err(|e| e.to_string())?;
    let platform = Platform {
        step_function_arn: STEP_ARN.into(),
        job_secrets_prefix: prefix.map(String::from),
        ..Platform::default()
    };
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &platform,
        &BTreeMap::new(),
    )
    .map_err(|e| e.to_string())
}

fn environment(deployment: &Deployment, step: &str) -> BTreeMap<String, String> {
    let job = deployment
        .manifest
        .job_definitions
        .iter()
        .find(|j| j.step == step)
        .unwrap();
    job.container_properties
        .environment
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

#[test]
fn a_step_with_secrets_gets_the_aws_backend_and_the_stacks_region() {
    let deployment = compile(
        r#"@secrets(sources=["dropflow/flows/db", {"id": "dropflow/flows/api", "options": {"json": False}}])"#,
        Some("dropflow/flows/"),
    )
    .unwrap();
    let start = environment(&deployment, "start");
    assert_eq!(
        start["METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"],
        "aws-secrets-manager"
    );
    assert_eq!(
        start["METAFLOW_AWS_SECRETS_MANAGER_DEFAULT_REGION"],
        "eu-west-1"
    );
    let end = environment(&deployment, "end");
    assert!(
        !end.contains_key("METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"),
        "{end:?}"
    );
}

#[test]
fn the_prefix_does_not_change_the_version() {
    let source = r#"@secrets(sources=["dropflow/flows/db"])"#;
    let checked = compile(source, Some("dropflow/flows/")).unwrap();
    let unchecked = compile(source, None).unwrap();
    assert_eq!(checked.manifest.version, unchecked.manifest.version);
}

#[test]
fn sources_the_job_role_cannot_read_are_refused_with_file_line_and_fix() {
    let prefix = Some("dropflow/flows/");
    let cases = [
        (
            r#"@secrets(sources=["prod/db"])"#,
            prefix,
            "outside the stack's JobSecretsPrefix \"dropflow/flows/\"",
        ),
        (
            r#"@secrets(sources=["aws-secrets-manager.prod/db"])"#,
            prefix,
            "names secret \"prod/db\", outside",
        ),
        (
            r#"@secrets(sources=[{"type": "gcp-secret-manager", "id": "dropflow/flows/x"}])"#,
            prefix,
            "asks for secrets backend \"gcp-secret-manager\"",
        ),
        (
            r#"@secrets(sources=["dropflow/flows/db.password"])"#,
            prefix,
            "asks for secrets backend \"dropflow/flows/db\"",
        ),
        (
            r#"@secrets(sources=["dropflow/flows/db"], role="arn:aws:iam::1:role/r")"#,
            prefix,
            "the stack's job role may not assume roles",
        ),
        (
            r#"@secrets(sources=[{"id": "dropflow/flows/db", "role": "arn:aws:iam::1:role/r"}])"#,
            prefix,
            "the stack's job role may not assume roles",
        ),
        (
            r#"@secrets(sources=["arn:aws:secretsmanager:us-east-1:123456789012:secret:dropflow/flows/db-AbCdEf"])"#,
            prefix,
            "in another account or region than the stack (123456789012:eu-west-1)",
        ),
        (
            r#"@secrets(sources=["dropflow/flows/db"])"#,
            Some(""),
            "this stack gives tasks no secrets (JobSecretsPrefix is empty)",
        ),
        (
            r#"@secrets(sources=SOURCES)"#,
            prefix,
            "which dropflow cannot evaluate without running Python",
        ),
        (
            r#"@secrets(source=["dropflow/flows/db"])"#,
            prefix,
            "Decorator 'secrets' does not support the attribute 'source'",
        ),
        (
            r#"@secrets(sources=[3])"#,
            prefix,
            "each must be a string or a dict",
        ),
    ];
    for (decorator, prefix, expected) in cases {
        let error = compile(decorator, prefix).expect_err(decorator);
        assert!(error.starts_with("flow.py:5: "), "{decorator}: {error}");
        assert!(error.contains("@secrets"), "{decorator}: {error}");
        assert!(error.contains(expected), "{decorator}: {error}");
    }
}

#[test]
fn sources_under_the_prefix_by_name_or_arn_deploy() {
    for decorator in [
        r#"@secrets(sources=["dropflow/flows/db"])"#,
        r#"@secrets(sources=["aws-secrets-manager.dropflow/flows/db"])"#,
        r#"@secrets(sources=[{"type": "aws-secrets-manager", "id": "dropflow/flows/db"}])"#,
        r#"@secrets(sources=["arn:aws:secretsmanager:eu-west-1:123456789012:secret:dropflow/flows/db-AbCdEf"])"#,
        r#"@secrets(sources=[], allow_override=True)"#,
    ] {
        compile(decorator, Some("dropflow/flows/")).unwrap_or_else(|e| panic!("{decorator}: {e}"));
    }
    // Without a stack (`dropflow compile`), nothing is checked against a prefix.
    compile(r#"@secrets(sources=["prod/db"])"#, None).unwrap();
}
