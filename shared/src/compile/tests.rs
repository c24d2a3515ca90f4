use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::package::{self, Limits};
use crate::pipeline;

fn compile_source(source: &str, layer: OptionsLayer) -> Result<Deployment, pipeline::Error> {
    let package = package::read_bytes("flow.py", source.as_bytes(), &Limits::default())?;
    let checked = pipeline::check(&package)?;
    let mut options = DeployOptions::default();
    layer.apply(&mut options);
    pipeline::compile(&checked, &options, &Platform::default(), &BTreeMap::new())
}

fn compiled(source: &str) -> Deployment {
    compile_source(source, OptionsLayer::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn definition_json(deployment: &Deployment) -> Value {
    serde_json::to_value(&deployment.definition).unwrap()
}

fn job<'a>(deployment: &'a Deployment, step: &str) -> &'a JobDefinition {
    deployment
        .manifest
        .job_definitions
        .iter()
        .find(|j| j.step == step)
        .unwrap()
}

fn requirement(job: &JobDefinition, kind: &str) -> Option<String> {
    job.container_properties
        .resource_requirements
        .iter()
        .find(|r| r.kind == kind)
        .map(|r| r.value.clone())
}

const DECORATORS: &str = include_str!("../../../tests/flows/shapes/decorators.py");
const FOREACH: &str = include_str!("../../../tests/flows/shapes/foreach.py");

fn flow_with(decorators: &str, body: &str) -> String {
    format!(
        "from metaflow import *\n{decorators}\nclass F(FlowSpec):\n{body}\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
}

#[test]
fn retry_and_catch_become_a_retry_loop_with_metaflow_attempt_counts() {
    let deployment = compiled(DECORATORS);
    let fragile = &deployment.manifest.steps["fragile"].runtime.retry;
    // @retry(times=2) + @catch's 3 error retries, as Metaflow's step_task_retry_count.
    assert_eq!(
        (
            fragile.user_code_retries,
            fragile.total_retries,
            fragile.wait_seconds
        ),
        (2, 5, 0)
    );
    let states = &definition_json(&deployment)["States"];
    let choice = &states["fragile.retry"];
    assert_eq!(choice["Choices"][0]["Variable"], "$.task.attempt");
    assert_eq!(choice["Choices"][0]["NumericLessThan"], 5.0);
    assert_eq!(
        choice["Choices"][0]["Next"], "fragile",
        "no wait: minutes_between_retries=0"
    );
    assert_eq!(choice["Default"], "TaskFailed");
    assert_eq!(states["fragile.job"]["Catch"][0]["Next"], "fragile.retry");
    assert_eq!(
        states["start.job"]["Catch"][0]["Next"], "TaskFailed",
        "no retries on start"
    );
    assert!(states.get("start.retry").is_none());
}

#[test]
fn resources_merge_like_metaflow_and_land_in_job_definitions() {
    let deployment = compiled(DECORATORS);
    let start = job(&deployment, "start");
    assert_eq!(requirement(start, "VCPU").as_deref(), Some("2"));
    assert_eq!(requirement(start, "MEMORY").as_deref(), Some("8192"));
    assert_eq!(requirement(start, "GPU"), None);
    let env: BTreeMap<_, _> = start
        .container_properties
        .environment
        .iter()
        .map(|kv| (kv.name.as_str(), kv.value.as_str()))
        .collect();
    assert_eq!(env.get("ENV_A"), Some(&"a"));
    assert_eq!(env.get("ENV_B"), Some(&"2"));
    // @batch without @resources replaces the defaults (memory 1024, not max(4096, 1024)).
    let slow = job(&deployment, "slow");
    assert_eq!(requirement(slow, "VCPU").as_deref(), Some("4"));
    assert_eq!(requirement(slow, "MEMORY").as_deref(), Some("1024"));
    assert_eq!(requirement(slow, "GPU").as_deref(), Some("1"));
    assert_eq!(slow.container_properties.image, "python:3.12-slim");
    assert_eq!(slow.timeout.attempt_duration_seconds, 600);
    assert_eq!(
        deployment.manifest.steps["slow"].runtime.job_queue,
        "gpu-queue"
    );
    // Defaults: cpu 1, memory 4096, 5 days.
    let end = job(&deployment, "end");
    assert_eq!(requirement(end, "VCPU").as_deref(), Some("1"));
    assert_eq!(requirement(end, "MEMORY").as_deref(), Some("4096"));
    assert_eq!(end.timeout.attempt_duration_seconds, 5 * 24 * 3600);
}

#[test]
fn resources_and_batch_together_take_the_larger_value() {
    let body = "    @resources(memory=16000)\n    @batch(cpu=3, memory=2000)\n    @step\n    def other(self):\n        self.next(self.end)\n";
    let source = flow_with("", body).replace(
        "self.next(self.end)\n\n    @step\n    def end",
        "self.next(self.other)\n\n    @step\n    def end",
    );
    let deployment = compiled(&source);
    let other = job(&deployment, "other");
    assert_eq!(requirement(other, "VCPU").as_deref(), Some("3"));
    assert_eq!(requirement(other, "MEMORY").as_deref(), Some("16000"));
}

#[test]
fn retry_by_default_adds_metaflows_retry_with_a_two_minute_wait() {
    let deployment = compile_source(
        FOREACH,
        OptionsLayer {
            retry_by_default: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let square = &deployment.manifest.steps["square"].runtime;
    assert_eq!(square.retry.total_retries, 3);
    assert_eq!(square.with_decorators, ["retry"]);
    let json = definition_json(&deployment);
    let inner = &json["States"]["start.foreach"]["ItemProcessor"]["States"];
    assert_eq!(inner["square.wait"]["Seconds"], 120);
    assert_eq!(inner["square.wait"]["Next"], "square");
}

#[test]
fn foreach_is_a_map_bounded_by_max_workers_with_tiny_iteration_results() {
    let deployment = compile_source(
        FOREACH,
        OptionsLayer {
            max_workers: Some(7),
            ..Default::default()
        },
    )
    .unwrap();
    let json = definition_json(&deployment);
    let map = &json["States"]["start.foreach"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(map["MaxConcurrency"], 7);
    assert_eq!(map["ItemsPath"], "$.splits");
    assert_eq!(map["ResultPath"], Value::Null);
    assert_eq!(map["Next"], "collect");
    assert_eq!(map["ItemProcessor"]["ProcessorConfig"]["Mode"], "INLINE");
    let exit = &map["ItemProcessor"]["States"]["square.done"];
    assert_eq!(
        exit["ResultSelector"],
        serde_json::json!({"task.$": "$.ctx.task"})
    );
    assert_eq!(exit["End"], true);
}

#[test]
fn unsupported_decorators_are_refused_with_file_line_and_reason() {
    let on_start = |decorator: &str| {
        flow_with("", "").replace(
            "    @step\n    def start",
            &format!("    {decorator}\n    @step\n    def start"),
        )
    };
    for (source, name) in [
        (flow_with("@trigger(event='x')", ""), "trigger"),
        (flow_with("@trigger_on_finish(flow='Other')", ""), "trigger_on_finish"),
        (flow_with("@exit_hook(on_error=[x])", ""), "exit_hook"),
        (on_start("@kubernetes"), "kubernetes"),
        (
            "from metaflow import *\nclass F(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.train, num_parallel=2)\n\n    @parallel\n    @step\n    def train(self):\n        self.next(self.join)\n\n    @step\n    def join(self, inputs):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n".to_string(),
            "parallel",
        ),
        (on_start("@conda(packages={'x': '1'})"), "conda"),
    ] {
        let message = match compile_source(&source, OptionsLayer::default()) {
            Err(pipeline::Error::Compile(e)) => {
                assert_eq!(e.code(), "compile.unsupported_decorator");
                e.to_string()
            }
            other => panic!("{name}: expected a compile error, got {other:?}"),
        };
        assert!(message.starts_with("flow.py:"), "{message}");
        assert!(message.contains(&format!("@{name} is not supported yet")), "{message}");
    }
}

#[test]
fn parameters_follow_metaflows_rules() {
    let required = "@schedule(daily=True)";
    let body = "    x = Parameter('x', required=True)\n";
    let error = compile_source(&flow_with(required, body), OptionsLayer::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "flow.py:4: The parameter x does not have a default and is required. Scheduling such parameters via AWS Event Bridge is not currently supported."
    );
    let body = "    a = Parameter('Alpha', default=1)\n    b = Parameter('alpha', default=2)\n";
    let error = compile_source(&flow_with("", body), OptionsLayer::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Parameter alpha is specified twice"),
        "{error}"
    );
    let body = "    f = IncludeFile('f', default='data.csv')\n";
    let error = compile_source(&flow_with("", body), OptionsLayer::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("flow.py:4: IncludeFile 'f': could not open file 'data.csv' for reading."),
        "{error}"
    );
    let body = "    n = Parameter('n', default=int(os.environ['N']))\n";
    let error = compile_source(&flow_with("", body), OptionsLayer::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot be evaluated without running Python"),
        "{error}"
    );
}

#[test]
fn parameter_types_come_from_type_or_default() {
    let body = "    a = Parameter('a', default=1)\n    b = Parameter('b', default=0.5)\n    c = Parameter('c', default=True)\n    d = Parameter('d')\n    e = Parameter('e', type=JSONType, default='{}')\n    f = Parameter('f', type=int, required=True, help='count')\n";
    let deployment = compiled(&flow_with("", body));
    let kinds: Vec<_> = deployment
        .manifest
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("a", ParameterType::Int),
            ("b", ParameterType::Float),
            ("c", ParameterType::Bool),
            ("d", ParameterType::Str),
            ("e", ParameterType::Json),
            ("f", ParameterType::Int),
        ]
    );
    let f = &deployment.manifest.parameters[5];
    assert!(f.required && f.default.is_none());
    assert_eq!(f.help.as_deref(), Some("count"));
}

#[test]
fn non_literal_decorator_arguments_are_named() {
    let body =
        "    @retry(times=N)\n    @step\n    def unused(self):\n        self.next(self.end)\n";
    let with_n = |n: &str| {
        format!("import os\nN = {n}\n{}", flow_with("", body)).replace(
            "    def start(self):\n        self.next(self.end)",
            "    def start(self):\n        self.next(self.unused)",
        )
    };
    // A module constant (even a computed one) is what Python passes the decorator.
    let deployment = compile_source(&with_n("1 + 1"), OptionsLayer::default()).unwrap();
    assert_eq!(
        deployment.manifest.steps["unused"]
            .runtime
            .retry
            .user_code_retries,
        2
    );
    // Anything read at run time is not.
    let error =
        compile_source(&with_n("int(os.environ['N'])"), OptionsLayer::default()).unwrap_err();
    assert_eq!(error.code(), "compile.bad_decorator_argument");
    assert!(
        error.to_string().contains("@retry(times=...) is `N`"),
        "{error}"
    );
}

#[test]
fn constant_expressions_in_decorators_and_defaults_are_computed() {
    let decorators = "@schedule(cron=CRON)\n@project(name=PROJECT)";
    let body = "    info = Parameter('info', type=JSONType, default=json.dumps({'depth': DEPTH, 'tags': ['a']}))\n    window = Parameter('window', default=24 * HOUR)\n    label = Parameter('label', default=f'{PROJECT}-v{DEPTH}')\n";
    let source = format!(
        "import json\nGB = 1024\nHOUR = 3600\nDEPTH = 2**3\nCRON = '0 ' + '10 * * ? *'\nPROJECT = 'etl'\n{}",
        flow_with(decorators, body)
    )
    .replace(
        "    @step\n    def start",
        "    @resources(memory=8 * GB, cpu=CPUS)\n    @environment(vars={'MODE': PROJECT.upper() if False else PROJECT})\n    @step\n    def start",
    )
    .replace("import json\n", "import json\nCPUS = 4 // 2\n");
    let deployment =
        compile_source(&source, OptionsLayer::default()).unwrap_or_else(|e| panic!("{e}"));
    let manifest = &deployment.manifest;
    let defaults: Vec<_> = manifest
        .parameters
        .iter()
        .map(|p| p.default.clone())
        .collect();
    assert_eq!(
        defaults,
        [
            Some(Value::from(r#"{"depth": 8, "tags": ["a"]}"#)),
            Some(Value::from(86400)),
            Some(Value::from("etl-v8")),
        ]
    );
    assert_eq!(
        manifest.schedule.as_ref().unwrap().expression,
        "cron(0 10 * * ? *)"
    );
    assert_eq!(deployment.state_machine_name, "etl.user.dropflow.F");
    let start = &manifest.steps["start"].runtime;
    assert_eq!(
        (start.resources.memory, start.resources.cpu.as_str()),
        (8192, "2")
    );
}

#[test]
fn same_input_gives_the_same_version_and_definition() {
    let a = compiled(FOREACH);
    let b = compiled(FOREACH);
    assert_eq!(a.version, b.version);
    assert_eq!(a.definition.to_json(), b.definition.to_json());
    let c = compile_source(
        FOREACH,
        OptionsLayer {
            max_workers: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(a.version, c.version);
    assert!(
        a.manifest
            .location
            .ends_with(&format!("/ForeachFlow/{}/deployment.json", a.version))
    );
}

#[test]
fn project_and_schedule_with_timezone() {
    let source = include_str!("../../../tests/flows/shapes/project_schedule.py");
    let deployment = compile_source(
        source,
        OptionsLayer {
            user: Some("alice".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        deployment.state_machine_name,
        "demo_project.user.alice.ProjectScheduleFlow"
    );
    let schedule = deployment.manifest.schedule.as_ref().unwrap();
    assert_eq!(schedule.expression, "cron(0 10 * * ? *)");
    assert_eq!(schedule.timezone, "Europe/Paris");
    let production = compile_source(
        source,
        OptionsLayer {
            production: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        production.state_machine_name,
        "demo_project.prod.ProjectScheduleFlow"
    );
}

#[test]
fn long_step_names_get_short_unique_state_names() {
    let long = "a".repeat(78);
    let source = format!(
        "from metaflow import *\nclass F(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.{long})\n\n    @step\n    def {long}(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    );
    let deployment = compiled(&source);
    let names: Vec<String> = deployment.definition.states.keys().cloned().collect();
    assert!(names.iter().all(|n| n.chars().count() <= 80), "{names:?}");
    assert!(crate::asl::check_limits(&deployment.definition).is_empty());
}
