//! `infra/template.yaml`, the SAM template that puts dropflow into an AWS account: it must
//! pass the pinned `cfn-lint`, and the properties that keep it safe and working are checked
//! on its text (no YAML crate: the checks read the template's block structure line by
//! line, which is all they need).
//!
//! - every `iam:PassRole` names the roles it passes, never `*`;
//! - `"*"` resources only for the actions that have no resource-level permissions;
//! - the four functions are `provided.al2023` on arm64 from `cargo lambda build`;
//! - the compile and metadata functions get every `DROPFLOW_*` variable their configs
//!   read, the step function the metadata service's URL;
//! - the bucket is versioned and notifies the compile function of `ObjectCreated` and
//!   `ObjectRemoved` under `flows/`;
//! - every API route exists, behind IAM auth, except the metadata service's (Metaflow
//!   cannot sign requests), which is exactly `ANY /metadata/{proxy+}`.
//!
//! The security properties (closed by default, least privilege) are checked on the
//! template as cfn-lint's own decoder parses it (intrinsic functions as `Fn::*` objects):
//! Step Functions access only to this stack's tagged state machines, `iam:PassRole` only
//! to named services, the metadata API key generated and required, failed compile events
//! kept, API access logs, the tasks' secrets prefix.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use dropflow_tests::repo_root;
use serde_json::{Value, json};

/// The actions that accept only `"Resource": "*"` (no resource-level permissions).
const STAR_ONLY_ACTIONS: [&str; 5] = [
    "states:ListStateMachines",
    "batch:DescribeJobs",
    "batch:DescribeJobDefinitions",
    "batch:ListJobs",
    "ecr:GetAuthorizationToken",
];

/// The Lambdas: resource name and `cargo lambda` binary.
const FUNCTIONS: [(&str, &str); 4] = [
    ("CompileFunction", "dropflow-compile"),
    ("StepFunction", "dropflow-step"),
    ("TriggerFunction", "dropflow-trigger"),
    ("MetadataFunction", "dropflow-metadata"),
];

/// Every route the trigger API serves (its router's own list).
use dropflow_api::route::ROUTES;

fn template_path() -> PathBuf {
    repo_root().join("infra/template.yaml")
}

/// The template's text (compiled in, so editing it rebuilds this test).
const TEMPLATE: &str = include_str!("../../infra/template.yaml");

/// The pinned cfn-lint: `$DROPFLOW_CFN_LINT`, else `<repo>/.venv/bin/cfn-lint`.
fn cfn_lint() -> PathBuf {
    let (path, source) = match std::env::var_os("DROPFLOW_CFN_LINT").filter(|v| !v.is_empty()) {
        Some(value) => (PathBuf::from(value), "from the environment"),
        None => (repo_root().join(".venv/bin/cfn-lint"), "default location"),
    };
    if !path.is_file() {
        panic!(
            "cfn-lint not installed: run `bash tests/run.sh` once (it installs the pinned \
             Python tools); looked for {} ({source})",
            path.display()
        );
    }
    path
}

#[test]
fn cfn_lint_is_clean() {
    let out = Command::new(cfn_lint())
        .arg("--")
        .arg(template_path())
        .output()
        .expect("cfn-lint runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "cfn-lint infra/template.yaml ({}):\n{stdout}{stderr}",
        out.status
    );
}

// ---------------------------------------------------------------------------------------
// A reader for the template's block structure: a node is a line plus every following line
// indented deeper (blank lines and comments skipped).

/// One line of YAML with its indentation.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

fn lines(yaml: &str) -> Vec<Line<'_>> {
    yaml.lines()
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|line| Line {
            indent: line.len() - line.trim_start().len(),
            text: line.trim(),
        })
        .collect()
}

/// The lines of the node that starts at `lines[start]` (that line included).
fn node<'a, 'b>(lines: &'b [Line<'a>], start: usize) -> &'b [Line<'a>] {
    let indent = lines[start].indent;
    let end = lines[start + 1..]
        .iter()
        .position(|line| line.indent <= indent)
        .map_or(lines.len(), |offset| start + 1 + offset);
    &lines[start..end]
}

/// A top-level resource's lines (`  Name:` under `Resources:`).
fn resource<'a>(all: &[Line<'a>], name: &str) -> Vec<Line<'a>> {
    let header = format!("{name}:");
    let resources = all
        .iter()
        .position(|line| line.indent == 0 && line.text == "Resources:")
        .expect("a Resources section");
    let start = (resources + 1..all.len())
        .take_while(|&i| all[i].indent > 0)
        .find(|&i| all[i].indent == 2 && all[i].text == header)
        .unwrap_or_else(|| panic!("no resource {name}"));
    node(all, start).to_vec()
}

/// The names and types of all resources.
fn resources(all: &[Line<'_>]) -> Vec<(String, String)> {
    let start = all
        .iter()
        .position(|line| line.indent == 0 && line.text == "Resources:")
        .expect("a Resources section");
    node(all, start)[1..]
        .iter()
        .filter(|line| line.indent == 2)
        .map(|line| {
            let name = line.text.trim_end_matches(':').to_string();
            let kind = resource(all, &name)
                .iter()
                .filter(|l| l.indent == 4)
                .find_map(|l| l.text.strip_prefix("Type: "))
                .unwrap_or_default()
                .to_string();
            (name, kind)
        })
        .collect()
}

/// A YAML sequence item (`- key: value` and the keys below it) as (key, value) pairs, the
/// value being the key's line remainder plus its nested lines, joined by newlines.
fn item_fields(item: &[Line<'_>]) -> Vec<(String, String)> {
    let key_indent = item[0].indent + 2;
    let mut flat = vec![Line {
        indent: key_indent,
        text: item[0].text.trim_start_matches("- "),
    }];
    flat.extend_from_slice(&item[1..]);
    let mut fields = Vec::new();
    for (i, line) in flat.iter().enumerate() {
        if line.indent != key_indent {
            continue;
        }
        let Some((key, rest)) = line.text.split_once(':') else {
            continue;
        };
        let mut value = vec![rest.trim().to_string()];
        value.extend(node(&flat, i)[1..].iter().map(|l| l.text.to_string()));
        fields.push((key.trim().to_string(), value.join("\n").trim().to_string()));
    }
    fields
}

fn field<'f>(fields: &'f [(String, String)], key: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Every IAM policy statement in the template (sequence items with an `Effect`), with the
/// resource it belongs to.
fn statements(all: &[Line<'_>]) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    let mut owner = String::new();
    for (i, line) in all.iter().enumerate() {
        if line.indent == 2 && line.text.ends_with(':') {
            owner = line.text.trim_end_matches(':').to_string();
        }
        if line.text.starts_with("- ") {
            let fields = item_fields(node(all, i));
            if field(&fields, "Effect").is_some() {
                found.push((owner.clone(), fields));
            }
        }
    }
    found
}

/// The words of an `Action`/`Resource` value: `[a, b]`, `- a` lines, or a single value.
fn words(value: &str) -> Vec<String> {
    value
        .lines()
        .flat_map(|line| {
            line.trim()
                .trim_start_matches("- ")
                .trim_matches(|c| c == '[' || c == ']')
                .split(", ")
                .map(|w| w.trim().trim_matches('"').to_string())
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------

#[test]
fn the_reader_sees_every_role_and_statement() {
    let all = lines(TEMPLATE);
    let roles: BTreeSet<String> = resources(&all)
        .into_iter()
        .filter(|(_, kind)| kind == "AWS::IAM::Role")
        .map(|(name, _)| name)
        .collect();
    let expected: BTreeSet<String> = [
        "CompileRole",
        "StepRole",
        "TriggerRole",
        "StateMachineRole",
        "SchedulerRole",
        "JobRole",
        "JobExecutionRole",
        "MetadataRole",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        roles, expected,
        "one role per function, plus the four service roles"
    );
    // A statement the reader missed would escape the checks below.
    let effects = all.iter().filter(|l| l.text.contains("Effect:")).count();
    assert_eq!(statements(&all).len(), effects);
    assert!(effects > 30, "{effects}");
}

#[test]
fn every_pass_role_names_specific_roles() {
    let text = TEMPLATE;
    let all = lines(text);
    let roles: BTreeSet<String> = resources(&all)
        .into_iter()
        .filter(|(_, kind)| kind == "AWS::IAM::Role")
        .map(|(name, _)| name)
        .collect();
    let mut passed = BTreeSet::new();
    for (owner, fields) in statements(&all) {
        let actions = words(field(&fields, "Action").unwrap_or_default());
        if !actions
            .iter()
            .any(|a| a.eq_ignore_ascii_case("iam:PassRole") || a.starts_with("iam:*"))
        {
            continue;
        }
        assert_eq!(
            owner, "CompileRole",
            "only the compile function passes roles"
        );
        assert_eq!(actions, ["iam:PassRole"], "{fields:?}");
        assert_eq!(field(&fields, "Effect"), Some("Allow"));
        let resource = field(&fields, "Resource").expect("a Resource");
        assert!(
            !resource.contains('*'),
            "PassRole on a wildcard: {resource}"
        );
        let named: Vec<&str> = resource
            .lines()
            .filter_map(|line| {
                line.trim_start_matches("- ")
                    .strip_prefix("!GetAtt ")
                    .and_then(|r| r.strip_suffix(".Arn"))
            })
            .collect();
        if !named.is_empty() {
            for role in named {
                assert!(roles.contains(role), "PassRole on {role}, not a role here");
                passed.insert(role.to_string());
            }
        } else {
            // Operator-listed roles (flows' @batch(iam_role=...)): a parameter, empty by
            // default, whose statement exists only when it is set.
            assert_eq!(resource, "!Ref ExtraJobRoleArns", "{fields:?}");
            assert!(text.contains(
                "HasExtraJobRoles: !Not [!Equals [!Join [\"\", !Ref ExtraJobRoleArns], \"\"]]"
            ));
        }
    }
    let expected: BTreeSet<String> = [
        "StateMachineRole",
        "SchedulerRole",
        "JobRole",
        "JobExecutionRole",
    ]
    .map(String::from)
    .into();
    assert_eq!(passed, expected);
}

#[test]
fn star_resources_only_where_aws_allows_nothing_else() {
    let all = lines(TEMPLATE);
    for (owner, fields) in statements(&all) {
        let resource = field(&fields, "Resource").unwrap_or_default();
        if words(resource).iter().any(|w| w == "*") {
            let actions = words(field(&fields, "Action").unwrap_or_default());
            assert!(
                actions
                    .iter()
                    .all(|a| STAR_ONLY_ACTIONS.contains(&a.as_str())),
                "{owner}: Resource \"*\" for {actions:?}"
            );
        }
        let actions = field(&fields, "Action").unwrap_or_default();
        // A service wildcard is only acceptable in the bucket's deny-insecure-transport rule.
        if words(actions).iter().any(|a| a.ends_with(":*") || a == "*") {
            assert_eq!(owner, "BucketPolicy");
            assert_eq!(field(&fields, "Effect"), Some("Deny"));
        }
    }
}

#[test]
fn functions_are_arm64_provided_al2023_from_cargo_lambda() {
    let all = lines(TEMPLATE);
    let functions: Vec<String> = resources(&all)
        .into_iter()
        .filter(|(_, kind)| kind == "AWS::Serverless::Function")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(functions, FUNCTIONS.map(|(name, _)| name.to_string()));
    for (name, binary) in FUNCTIONS {
        let body: Vec<&str> = resource(&all, name)
            .iter()
            .filter(|l| l.indent == 6)
            .map(|l| l.text)
            .collect();
        for expected in [
            "Runtime: provided.al2023",
            "Architectures: [arm64]",
            "Handler: bootstrap",
            &format!("CodeUri: ../target/lambda/{binary}/"),
        ] {
            assert!(
                body.contains(&expected),
                "{name}: no `{expected}` in {body:?}"
            );
        }
    }
}

#[test]
fn functions_get_the_variables_they_read() {
    let all = lines(TEMPLATE);
    let variables = |name: &str| -> BTreeSet<String> {
        let function = resource(&all, name);
        let start = function
            .iter()
            .position(|l| l.text == "Variables:")
            .unwrap_or_else(|| panic!("{name} has no environment"));
        let block = node(&function, start);
        block[1..]
            .iter()
            .filter(|l| l.indent == block[0].indent + 2)
            .filter_map(|l| l.text.split_once(':'))
            .map(|(key, _)| key.to_string())
            .collect()
    };
    // Every variable a config reads, as its source documents them.
    let read = |path: &str| -> BTreeSet<String> {
        let config = std::fs::read_to_string(repo_root().join(path)).unwrap();
        config
            .split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            // Not a family (`DROPFLOW_METADATA_*`).
            .filter(|w| w.starts_with("DROPFLOW_") && !w.ends_with('_'))
            .map(String::from)
            .collect()
    };
    let mut compile = read("shared/deploy/src/config.rs");
    assert!(compile.len() >= 9, "{compile:?}");
    // Plain-HTTP alert webhooks are for the local stack only; the stack never allows them.
    assert!(compile.remove("DROPFLOW_LOCAL_WEBHOOKS"), "{compile:?}");
    assert!(!TEMPLATE.contains("DROPFLOW_LOCAL_WEBHOOKS"));
    assert_eq!(variables("CompileFunction"), compile);
    let mut metadata = read("shared/metadata-host/src/config.rs");
    assert!(metadata.contains("DROPFLOW_METADATA_TABLE"), "{metadata:?}");
    // The ways to run without the generated key (a fixed digest, or no key at all) exist
    // for tests and hosts of its own; the stack never sets them.
    for never in [
        "DROPFLOW_METADATA_API_KEY_SHA256",
        "DROPFLOW_METADATA_ALLOW_ANONYMOUS",
    ] {
        assert!(metadata.remove(never), "{never} is not read any more");
    }
    assert_eq!(variables("MetadataFunction"), metadata);
    let common = ["DROPFLOW_BUCKET", "DROPFLOW_DATASTORE_ROOT"];
    let trigger: BTreeSet<String> = common.map(String::from).into();
    assert_eq!(variables("TriggerFunction"), trigger);
    let mut step = trigger.clone();
    step.insert("DROPFLOW_METADATA_URL".into());
    // Where a resumed run's clones are registered, read by the step function's main.
    step.insert("DROPFLOW_METADATA_TABLE".into());
    let step_main = std::fs::read_to_string(repo_root().join("functions/step/src/main.rs"))
        .expect("the step function's main");
    assert!(step_main.contains("\"DROPFLOW_METADATA_TABLE\""));
    // Where finish events are posted (signed), read by the step function's main.
    step.insert("DROPFLOW_EVENTS_URL".into());
    assert!(step_main.contains("\"DROPFLOW_EVENTS_URL\""));
    assert_eq!(variables("StepFunction"), step);
    // The step function's URL is this stack's metadata route.
    let step_function: Vec<&str> = resource(&all, "StepFunction")
        .iter()
        .map(|l| l.text)
        .collect();
    assert!(step_function.contains(
        &"DROPFLOW_METADATA_URL: !Sub \"https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/metadata\""
    ));
    // Its events URL is this stack's POST /events, the only API call its role may make.
    assert!(step_function.contains(
        &"DROPFLOW_EVENTS_URL: !Sub \"https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/events\""
    ));
    let step_role: Vec<&str> = resource(&all, "StepRole").iter().map(|l| l.text).collect();
    let invoke = step_role
        .iter()
        .position(|l| l.contains("execute-api:Invoke"))
        .expect("the step role may post finish events");
    assert!(
        step_role[invoke + 1].ends_with("${HttpApi}/*/POST/events\""),
        "{}",
        step_role[invoke + 1]
    );
    assert_eq!(
        step_role
            .iter()
            .filter(|l| l.contains("execute-api"))
            .count(),
        2,
        "one execute-api statement: {step_role:?}"
    );
}

#[test]
fn bucket_is_versioned_and_notifies_compile_for_flows() {
    let all = lines(TEMPLATE);
    let bucket = resource(&all, "Bucket");
    let text: Vec<&str> = bucket.iter().map(|l| l.text).collect();
    let versioning = text
        .iter()
        .position(|t| *t == "VersioningConfiguration:")
        .expect("versioning");
    assert_eq!(text[versioning + 1], "Status: Enabled");

    let start = bucket
        .iter()
        .position(|l| l.text == "LambdaConfigurations:")
        .expect("LambdaConfigurations");
    let configurations = node(&bucket, start);
    let item_indent = configurations[1].indent;
    let mut events = BTreeSet::new();
    for (i, line) in configurations.iter().enumerate() {
        if line.indent != item_indent || !line.text.starts_with("- ") {
            continue;
        }
        let fields = item_fields(node(configurations, i));
        assert_eq!(
            field(&fields, "Function"),
            Some("!GetAtt CompileFunction.Arn")
        );
        let filter = field(&fields, "Filter").expect("a key filter");
        assert!(
            filter.contains("- Name: prefix\nValue: flows/"),
            "not only flows/: {filter}"
        );
        events.insert(
            field(&fields, "Event")
                .unwrap()
                .trim_matches('"')
                .to_string(),
        );
    }
    let expected: BTreeSet<String> = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
        .map(String::from)
        .into();
    assert_eq!(events, expected);

    // The compile function is told the same prefix, and S3 may invoke it only from the bucket.
    let compile: Vec<&str> = resource(&all, "CompileFunction")
        .iter()
        .map(|l| l.text)
        .collect();
    assert!(compile.contains(&"DROPFLOW_FLOWS_PREFIX: flows/"));
    let permission: Vec<&str> = resource(&all, "CompileFunctionS3Permission")
        .iter()
        .map(|l| l.text)
        .collect();
    assert!(permission.contains(&"Principal: s3.amazonaws.com"));
    assert!(permission.iter().any(|t| t.starts_with("SourceArn: ")));
}

#[test]
fn api_routes_are_behind_iam_auth() {
    let all = lines(TEMPLATE);
    let api: Vec<&str> = resource(&all, "HttpApi").iter().map(|l| l.text).collect();
    assert!(api.contains(&"Type: AWS::Serverless::HttpApi"));
    assert!(api.contains(&"EnableIamAuthorizer: true"));
    assert!(api.contains(&"DefaultAuthorizer: AWS_IAM"));
    let trigger = resource(&all, "TriggerFunction");
    let mut routes = BTreeSet::new();
    for (i, line) in trigger.iter().enumerate() {
        if line.text == "Type: HttpApi" {
            let properties = node(&trigger, i + 1);
            let value = |key: &str| {
                properties
                    .iter()
                    .find_map(|l| l.text.strip_prefix(key))
                    .unwrap_or_else(|| panic!("no {key} in {properties:?}"))
                    .to_string()
            };
            assert_eq!(value("ApiId: "), "!Ref HttpApi");
            // No route opts out of the default (IAM) authorizer.
            assert!(!properties.iter().any(|l| l.text.starts_with("Auth:")));
            routes.insert((value("Method: "), value("Path: ")));
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(routes, expected);

    // The one route without IAM auth: the metadata service, under its path prefix only.
    let metadata: Vec<&str> = resource(&all, "MetadataFunction")
        .iter()
        .map(|l| l.text)
        .collect();
    let at = metadata
        .iter()
        .position(|t| *t == "Type: HttpApi")
        .expect("a metadata route");
    assert_eq!(
        metadata.iter().filter(|t| **t == "Type: HttpApi").count(),
        1
    );
    assert_eq!(
        metadata[at + 1..at + 7],
        [
            "Properties:",
            "ApiId: !Ref HttpApi",
            "Method: ANY",
            "Path: /metadata/{proxy+}",
            "Auth:",
            "Authorizer: NONE",
        ]
    );
    assert!(metadata.contains(&"DROPFLOW_METADATA_PATH_PREFIX: /metadata"));
    // No other resource opts out of IAM auth.
    let opt_outs = all
        .iter()
        .filter(|l| l.text.contains("Authorizer: NONE"))
        .count();
    assert_eq!(opt_outs, 1);
}

// ---------------------------------------------------------------------------------------
// The template as cfn-lint parses it.

/// The template decoded by cfn-lint's own parser (the pinned tool's Python), as JSON.
fn parsed() -> Value {
    let lint = cfn_lint();
    let python = lint.with_file_name("python");
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys\n\
             from cfnlint.decode import decode\n\
             template, problems = decode(sys.argv[1])\n\
             assert not problems, problems\n\
             print(json.dumps(template))",
        ])
        .arg(template_path())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", python.display()));
    assert!(
        out.status.success(),
        "decoding the template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn resource_of<'t>(template: &'t Value, name: &str) -> &'t Value {
    let found = &template["Resources"][name];
    assert!(found.is_object(), "no resource {name}");
    found
}

/// A list, or a single value as a one-element list.
fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// The statements of a policy document; a statement under `Fn::If` counts as its
/// true branch (the false branch is `AWS::NoValue` throughout).
fn policy_statements(document: &Value) -> Vec<&Value> {
    list(&document["Statement"])
        .into_iter()
        .map(|statement| match statement.get("Fn::If") {
            Some(branches) => {
                assert_eq!(branches[2], json!({"Ref": "AWS::NoValue"}), "{statement}");
                &branches[1]
            }
            None => statement,
        })
        .collect()
}

/// Every (owner, statement) of the roles' inline policies and the managed policies.
fn all_statements(template: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (name, resource) in template["Resources"].as_object().unwrap() {
        let properties = &resource["Properties"];
        match resource["Type"].as_str() {
            Some("AWS::IAM::Role") => {
                for policy in list(&properties["Policies"]) {
                    for statement in policy_statements(&policy["PolicyDocument"]) {
                        found.push((name.clone(), statement));
                    }
                }
            }
            Some("AWS::IAM::ManagedPolicy") => {
                for statement in policy_statements(&properties["PolicyDocument"]) {
                    found.push((name.clone(), statement));
                }
            }
            _ => {}
        }
    }
    found
}

fn actions(statement: &Value) -> Vec<&str> {
    list(&statement["Action"])
        .into_iter()
        .filter_map(Value::as_str)
        .collect()
}

fn statement_by_sid<'t>(template: &'t Value, role: &str, sid: &str) -> &'t Value {
    all_statements(template)
        .into_iter()
        .find(|(owner, s)| owner == role && s["Sid"] == sid)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{role} has no statement {sid}"))
}

fn environment<'t>(template: &'t Value, function: &str) -> &'t Value {
    &resource_of(template, function)["Properties"]["Environment"]["Variables"]
}

const THIS_STACK: &str = "AWS::StackName";

#[test]
fn step_functions_access_is_limited_to_this_stacks_state_machines() {
    let template = parsed();
    let stack = json!({"Ref": THIS_STACK});
    // The compile function tags what it creates with the stack's name.
    assert_eq!(
        environment(&template, "CompileFunction")["DROPFLOW_MANAGED_BY"],
        stack
    );
    let mut checked = 0;
    for (owner, statement) in all_statements(&template) {
        let on_state_machines = list(&statement["Resource"])
            .iter()
            .any(|r| r.to_string().contains(":stateMachine:"));
        if !on_state_machines {
            continue;
        }
        assert_eq!(statement["Effect"], "Allow", "{owner}: {statement}");
        if actions(statement) == ["states:ListTagsForResource"] {
            // Read-only, and needed on state machines this stack does not own: the
            // compile function reads tags to refuse names it did not create.
            assert_eq!(owner, "CompileRole", "{statement}");
            continue;
        }
        let condition = &statement["Condition"]["StringEquals"];
        let creates = actions(statement)
            .iter()
            .any(|a| *a == "states:CreateStateMachine" || *a == "states:TagResource");
        let key = if creates {
            // Creating (and the tagging it implies) needs the tag in the request, and
            // nothing else is granted with it.
            assert_eq!(
                actions(statement),
                ["states:CreateStateMachine", "states:TagResource"],
                "{owner}"
            );
            "aws:RequestTag/dropflow:managed-by"
        } else {
            "aws:ResourceTag/dropflow:managed-by"
        };
        assert_eq!(condition[key], stack, "{owner}: {statement}");
        checked += 1;
    }
    // Compile (2), trigger, state machines (Distributed Map), schedules.
    assert_eq!(checked, 5);
}

#[test]
fn the_trigger_function_writes_only_event_records_in_the_bucket() {
    let template = parsed();
    let writes: Vec<&Value> = all_statements(&template)
        .into_iter()
        .filter(|(owner, s)| {
            owner == "TriggerRole"
                && s["Effect"] == "Allow"
                && actions(s).iter().any(|a| a.starts_with("s3:Put"))
        })
        .map(|(_, s)| s)
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(actions(writes[0]), ["s3:PutObject"]);
    let resource = writes[0]["Resource"].to_string();
    assert!(
        resource.ends_with(r#"-${AWS::Region}/events/*"}"#),
        "{resource}"
    );
    assert_eq!(
        statement_by_sid(&template, "TriggerRole", "EventRecords")["Resource"],
        writes[0]["Resource"]
    );
}

#[test]
fn every_pass_role_is_limited_to_the_service_it_is_for() {
    let template = parsed();
    let mut seen = 0;
    for (owner, statement) in all_statements(&template) {
        if !actions(statement).contains(&"iam:PassRole") {
            continue;
        }
        let services: Vec<&str> =
            list(&statement["Condition"]["StringEquals"]["iam:PassedToService"])
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
        assert!(!services.is_empty(), "{owner}: {statement}");
        for service in &services {
            assert!(
                [
                    "states.amazonaws.com",
                    "scheduler.amazonaws.com",
                    "batch.amazonaws.com",
                    "ecs-tasks.amazonaws.com",
                ]
                .contains(service),
                "{owner}: {service}"
            );
        }
        seen += 1;
    }
    // State machine role, scheduler role, job roles, flows' extra job roles.
    assert_eq!(seen, 4);
}

#[test]
fn the_state_machine_role_reaches_only_dropflows_function_and_jobs() {
    let template = parsed();
    let statements: Vec<&Value> = all_statements(&template)
        .into_iter()
        .filter(|(owner, _)| owner == "StateMachineRole")
        .map(|(_, s)| s)
        .collect();
    assert!(statements.len() >= 9, "{statements:?}");
    for statement in &statements {
        for action in actions(statement) {
            let resources = list(&statement["Resource"]);
            match action {
                "lambda:InvokeFunction" => assert_eq!(
                    resources,
                    [
                        &json!({"Fn::GetAtt": ["StepFunction", "Arn"]}),
                        &json!({"Fn::Sub": "${StepFunction.Arn}:*"}),
                    ]
                ),
                "batch:SubmitJob" => {
                    for resource in resources {
                        let text = resource.to_string();
                        assert!(
                            text.contains(":job-definition/")
                                || text.contains("JobQueue")
                                || text.contains("ExtraJobQueueArns"),
                            "{text}"
                        );
                    }
                }
                "states:StartExecution" => assert_eq!(
                    statement["Condition"]["StringEquals"]["aws:ResourceTag/dropflow:managed-by"],
                    json!({"Ref": THIS_STACK})
                ),
                "batch:TerminateJob" => {
                    assert!(resources[0].to_string().contains(":job/*"))
                }
                "batch:DescribeJobs"
                | "events:PutTargets"
                | "events:PutRule"
                | "events:DescribeRule"
                | "states:DescribeExecution"
                | "states:StopExecution"
                | "s3:PutObject"
                | "s3:GetObject"
                | "s3:ListMultipartUploadParts"
                | "s3:AbortMultipartUpload" => {}
                other => panic!("the state machine role may {other}"),
            }
        }
    }
}

#[test]
fn compile_events_that_still_fail_are_kept_in_a_queue() {
    let template = parsed();
    let config = &resource_of(&template, "CompileFunction")["Properties"]["EventInvokeConfig"];
    let retries = config["MaximumRetryAttempts"]
        .as_u64()
        .expect("a retry count");
    assert!(retries <= 2, "{retries}");
    let age = config["MaximumEventAgeInSeconds"]
        .as_u64()
        .expect("a maximum age");
    assert!((60..=21_600).contains(&age), "{age}");
    let failure = &config["DestinationConfig"]["OnFailure"];
    assert_eq!(failure["Type"], "SQS");
    assert_eq!(
        failure["Destination"],
        json!({"Fn::GetAtt": ["CompileFailures", "Arn"]})
    );
    let queue = resource_of(&template, "CompileFailures");
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    assert_eq!(queue["Properties"]["SqsManagedSseEnabled"], true);
    // The function's own role (SAM adds nothing to a role it did not create) may send there.
    let send = statement_by_sid(&template, "CompileRole", "ReportFailedEvents");
    assert_eq!(actions(send), ["sqs:SendMessage"]);
    assert_eq!(
        send["Resource"],
        json!({"Fn::GetAtt": ["CompileFailures", "Arn"]})
    );
}

#[test]
fn api_requests_are_logged_to_a_log_group_with_retention() {
    let template = parsed();
    // One HTTP API serves the trigger routes and /metadata: its access log covers both.
    let apis: Vec<&String> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::HttpApi")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(apis, ["HttpApi"]);
    let settings = &resource_of(&template, "HttpApi")["Properties"]["AccessLogSettings"];
    let group = settings["DestinationArn"]["Fn::GetAtt"][0]
        .as_str()
        .expect("a log group of this stack");
    let group = resource_of(&template, group);
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert!(group["Properties"]["RetentionInDays"].as_u64().unwrap() >= 30);
    let format: Value =
        serde_json::from_str(settings["Format"].as_str().unwrap()).expect("the log format is JSON");
    for key in ["requestId", "ip", "user", "routeKey", "status"] {
        assert!(format[key].is_string(), "{key} not logged: {format}");
    }
}

#[test]
fn the_metadata_api_requires_a_generated_key() {
    let template = parsed();
    let secret = json!({"Ref": "MetadataApiKeySecret"});
    let generated = resource_of(&template, "MetadataApiKeySecret");
    assert_eq!(generated["Type"], "AWS::SecretsManager::Secret");
    let generate = &generated["Properties"]["GenerateSecretString"];
    assert!(generate["PasswordLength"].as_u64().unwrap() >= 32);
    assert!(generated["Properties"]["SecretString"].is_null());
    // No parameter can open it (the former MetadataApiKeySha256, empty by default).
    let parameters = template["Parameters"].as_object().unwrap();
    assert!(
        parameters.keys().all(|name| !name.contains("ApiKey")),
        "{:?}",
        parameters.keys()
    );
    let metadata = environment(&template, "MetadataFunction");
    assert_eq!(metadata["DROPFLOW_METADATA_API_KEY_SECRET"], secret);
    assert!(metadata["DROPFLOW_METADATA_ALLOW_ANONYMOUS"].is_null());
    let read = statement_by_sid(&template, "MetadataRole", "ApiKey");
    assert_eq!(actions(read), ["secretsmanager:GetSecretValue"]);
    assert_eq!(read["Resource"], secret);
    // Tasks get it from their job definitions' secrets, resolved by the execution role.
    let compile = environment(&template, "CompileFunction");
    assert_eq!(compile["DROPFLOW_METADATA_AUTH_SECRET_ARN"], secret);
    assert_eq!(
        compile["DROPFLOW_JOB_EXECUTION_ROLE_ARN"],
        json!({"Fn::GetAtt": ["JobExecutionRole", "Arn"]})
    );
    let execution = resource_of(&template, "JobExecutionRole");
    assert_eq!(
        execution["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "ecs-tasks.amazonaws.com"})
    );
    let resolve = statement_by_sid(&template, "JobExecutionRole", "MetadataApiKey");
    assert_eq!(resolve["Resource"], secret);
    // Clients with the managed policy may read it (METAFLOW_SERVICE_AUTH_KEY).
    let client = statement_by_sid(&template, "ClientPolicy", "ReadMetadataApiKey");
    assert_eq!(client["Resource"], secret);
    // Every secretsmanager permission names one secret or the flows' prefix.
    for (owner, statement) in all_statements(&template) {
        if actions(statement)
            .iter()
            .any(|a| a.starts_with("secretsmanager:"))
        {
            assert_eq!(
                actions(statement),
                ["secretsmanager:GetSecretValue"],
                "{owner}"
            );
            let resource = &statement["Resource"];
            assert!(
                *resource == secret || resource.to_string().contains("${JobSecretsPrefix}*"),
                "{owner}: {resource}"
            );
        }
    }
}

#[test]
fn tasks_may_read_only_the_secrets_under_the_prefix() {
    let template = parsed();
    let prefix = &template["Parameters"]["JobSecretsPrefix"];
    assert_eq!(prefix["Type"], "String");
    assert!(!prefix["Default"].as_str().unwrap().is_empty());
    let statements = &resource_of(&template, "JobRole")["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    let conditional = statements
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s.get("Fn::If"))
        .expect("the secrets statement is conditional");
    assert_eq!(conditional[0], "HasJobSecretsPrefix");
    assert_eq!(
        template["Conditions"]["HasJobSecretsPrefix"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "JobSecretsPrefix"}, ""]}]})
    );
    let secrets = &conditional[1];
    assert_eq!(actions(secrets), ["secretsmanager:GetSecretValue"]);
    assert_eq!(
        secrets["Resource"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${JobSecretsPrefix}*"})
    );
}

#[test]
fn bus_events_reach_only_the_trigger_function_and_failures_are_kept() {
    let template = parsed();
    assert_eq!(
        resource_of(&template, "EventBus")["Type"],
        "AWS::Events::EventBus"
    );
    let rule = resource_of(&template, "EventRule");
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    let rule = &rule["Properties"];
    assert_eq!(rule["EventBusName"], json!({"Ref": "EventBus"}));
    // Every event this account puts on the bus (the function does the matching).
    assert_eq!(
        rule["EventPattern"],
        json!({"account": [{"Ref": "AWS::AccountId"}]})
    );
    let targets = list(&rule["Targets"]);
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(
        targets[0]["Arn"],
        json!({"Fn::GetAtt": ["TriggerFunction", "Arn"]})
    );
    assert_eq!(
        targets[0]["DeadLetterConfig"]["Arn"],
        json!({"Fn::GetAtt": ["EventFailures", "Arn"]})
    );

    // Only that rule may invoke the function through EventBridge.
    let permission = &resource_of(&template, "TriggerFunctionEventsPermission")["Properties"];
    assert_eq!(permission["Principal"], "events.amazonaws.com");
    assert_eq!(
        permission["SourceArn"],
        json!({"Fn::GetAtt": ["EventRule", "Arn"]})
    );
    assert_eq!(
        permission["SourceAccount"],
        json!({"Ref": "AWS::AccountId"})
    );

    // A delivery that keeps failing lands in EventFailures, from the function or the rule.
    let config = &resource_of(&template, "TriggerFunction")["Properties"]["EventInvokeConfig"];
    assert!(config["MaximumRetryAttempts"].as_u64().unwrap() <= 2);
    assert_eq!(
        config["DestinationConfig"]["OnFailure"]["Destination"],
        json!({"Fn::GetAtt": ["EventFailures", "Arn"]})
    );
    let queue = resource_of(&template, "EventFailures");
    assert_eq!(queue["Properties"]["SqsManagedSseEnabled"], true);
    let send = statement_by_sid(&template, "TriggerRole", "ReportFailedEvents");
    assert_eq!(actions(send), ["sqs:SendMessage"]);
    assert_eq!(
        send["Resource"],
        json!({"Fn::GetAtt": ["EventFailures", "Arn"]})
    );
    let policy = &resource_of(&template, "EventFailuresPolicy")["Properties"];
    let statements = policy_statements(&policy["PolicyDocument"]);
    assert_eq!(statements.len(), 1);
    assert_eq!(
        statements[0]["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(
        statements[0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!({"Fn::GetAtt": ["EventRule", "Arn"]})
    );

    // Clients may put events on this bus and no other.
    let put = statement_by_sid(&template, "ClientPolicy", "PutEvents");
    assert_eq!(actions(put), ["events:PutEvents"]);
    assert_eq!(put["Resource"], json!({"Fn::GetAtt": ["EventBus", "Arn"]}));
}
