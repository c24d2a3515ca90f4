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

const DECORATORS: &str = include_str!("../../../../tests/flows/shapes/decorators.py");
const FOREACH: &str = include_str!("../../../../tests/flows/shapes/foreach.py");

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
        choice["Choices"][0]["Next"], "fragile.again",
        "no wait: minutes_between_retries=0"
    );
    // The next attempt has its own start state, whose input is the failed attempt.
    let again = &states["fragile.again"];
    assert_eq!(again["Parameters"]["step"], "fragile");
    assert_eq!(again["Parameters"]["from"], "retry");
    assert_eq!(again["Next"], "fragile.job");
    assert_eq!(states["fragile"]["Parameters"]["from"], "parent");
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
    assert_eq!(inner["square.wait"]["Next"], "square.again");
    assert_eq!(inner["square.again"]["Parameters"]["from"], "retry");
    assert_eq!(inner["square"]["Parameters"]["from"], "foreach_child");
}

#[test]
fn foreach_is_a_distributed_map_reading_its_items_from_s3_by_default() {
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
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["Mode"],
        "DISTRIBUTED"
    );
    assert_eq!(map["MaxConcurrency"], 7);
    assert_eq!(
        map["ItemsPath"],
        Value::Null,
        "items come from S3, not the input"
    );
    assert_eq!(
        map["ItemReader"],
        serde_json::json!({
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.items.Bucket", "Key.$": "$.items.Key"},
        })
    );
    assert_eq!(
        map["ItemSelector"],
        serde_json::json!({"ctx.$": "$.ctx", "index.$": "$$.Map.Item.Value"})
    );
    assert_eq!(map["ResultPath"], Value::Null);
    assert_eq!(map["Catch"][0]["Next"], "TaskFailed");
    // Child executions report their failures and leave them for the parent's fail phase.
    let report = &map["ItemProcessor"]["States"]["TaskFailed.square"];
    assert_eq!(report["Parameters"]["foreach"], "start");
    assert_eq!(report["Next"], "Failed.square");
}

#[test]
fn max_workers_per_step_bounds_one_foreach_and_names_only_foreach_steps() {
    let layer = |table: &[(&str, u32)]| OptionsLayer {
        max_workers: Some(9),
        max_workers_per_step: Some(table.iter().map(|(s, n)| (s.to_string(), *n)).collect()),
        ..Default::default()
    };
    let deployment = compile_source(FOREACH, layer(&[("start", 250)])).unwrap();
    let json = definition_json(&deployment);
    assert_eq!(json["States"]["start.foreach"]["MaxConcurrency"], 250);

    for (table, expected) in [
        (
            vec![("train", 4)],
            "deploy option 'max_workers_per_step': dropflow.toml: [deploy.max_workers_per_step] names train, which is not a foreach step of ForeachFlow (a step with self.next(..., foreach=...)): name one of its foreach steps: start",
        ),
        (
            vec![("square", 4)],
            "deploy option 'max_workers_per_step': dropflow.toml: [deploy.max_workers_per_step] names square, which is not a foreach step of ForeachFlow (a step with self.next(..., foreach=...)): name one of its foreach steps: start",
        ),
        (
            vec![("start", 10_001)],
            "deploy option 'max_workers_per_step.start': 10001 is over Distributed Map's 10000 concurrent child executions: set it to 10000 or less",
        ),
    ] {
        match compile_source(FOREACH, layer(&table)) {
            Err(error) => assert_eq!(error.to_string(), expected),
            Ok(_) => panic!("{table:?} compiled"),
        }
    }
}

#[test]
fn foreach_is_a_map_bounded_by_max_workers_with_tiny_iteration_results() {
    let deployment = compile_source(
        FOREACH,
        OptionsLayer {
            max_workers: Some(7),
            distributed_map: Some(false),
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
fn triggers_are_recorded_in_the_manifest_with_mapped_parameters() {
    let source = flow_with(
        "@project(name='proj')\n@trigger(event={'name': 'data_ready', 'parameters': {'alpha': 'a'}}, options={'x': 1})",
        "    alpha = Parameter('alpha', default=1)\n",
    );
    let deployment = compile_source(
        &source,
        OptionsLayer {
            production: Some(true),
            ..OptionsLayer::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let triggers = deployment.manifest.triggers.as_ref().unwrap();
    assert_eq!(triggers.decorator, "trigger");
    assert_eq!(triggers.rule, "proj.prod.F");
    assert_eq!(triggers.event_names(), ["data_ready"]);
    assert_eq!(triggers.events[0].parameters["alpha"], "a");
    assert!(
        deployment
            .warnings
            .iter()
            .any(|w| w.starts_with("flow.py:3: @trigger(options=")),
        "{:?}",
        deployment.warnings
    );
    let json = serde_json::to_value(&deployment.manifest).unwrap();
    assert_eq!(json["triggers"]["events"][0]["type"], "event");

    let downstream = compiled(&flow_with("@trigger_on_finish(flow='Upstream')", ""));
    let triggers = downstream.manifest.triggers.unwrap();
    assert_eq!(triggers.event_names(), ["metaflow.Upstream.end"]);
    assert!(compiled(&flow_with("", "")).manifest.triggers.is_none());
}

#[test]
fn bad_triggers_are_refused_with_file_line_and_metaflows_message() {
    let source = flow_with(
        "@trigger(event={'name': 'e', 'parameters': {'gamma': 'g'}})",
        "    alpha = Parameter('alpha', default=1)\n",
    );
    match compile_source(&source, OptionsLayer::default()) {
        Err(pipeline::Error::Compile(e)) => {
            assert_eq!(e.code(), "compile.trigger");
            assert_eq!(
                e.to_string(),
                "flow.py:2: Parameter gamma defined in the event mappings for @trigger decorator not found in the flow. The flow's parameters: alpha."
            );
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
    let both = flow_with("@trigger(event='e')\n@trigger_on_finish(flow='A')", "");
    match compile_source(&both, OptionsLayer::default()) {
        Err(pipeline::Error::Compile(e)) => {
            assert!(
                e.to_string().starts_with(
                    "flow.py:3: dropflow doesn't support both @trigger and @trigger_on_finish"
                ),
                "{e}"
            );
        }
        other => panic!("expected a compile error, got {other:?}"),
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
    let source = include_str!("../../../../tests/flows/shapes/project_schedule.py");
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

/// The code and message a flow is refused with.
fn refusal(source: &str) -> (String, String) {
    match compile_source(source, OptionsLayer::default()) {
        Ok(_) => panic!("expected a refusal:\n{source}"),
        Err(e) => (e.code(), e.to_string()),
    }
}

/// A two-step flow `F`: line 1 imports, then `class_decorators` (one a line), the class
/// line, `body` (one a line, indented by the caller), `start_decorators` right above
/// `def start` (indented here), then the steps.
fn flow_lines(class_decorators: &[&str], body: &[&str], start_decorators: &[&str]) -> String {
    let mut lines = vec!["from metaflow import *".to_string()];
    lines.extend(class_decorators.iter().map(|d| d.to_string()));
    lines.push("class F(FlowSpec):".into());
    lines.extend(body.iter().map(|b| b.to_string()));
    lines.extend(start_decorators.iter().map(|d| format!("    {d}")));
    lines.push("    def start(self):\n        self.next(self.end)\n".into());
    lines.push("    @step\n    def end(self):\n        pass\n".into());
    lines.join("\n")
}

const STEP_ABOVE_DECORATOR: &str = r#"from metaflow import FlowSpec, step, retry


class StepAboveDecoratorFlow(FlowSpec):
    @step
    @retry(times=2)
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StepAboveDecoratorFlow()
"#;

#[test]
fn a_step_decorator_below_step_is_refused_with_metaflows_text() {
    let (code, message) = refusal(STEP_ABOVE_DECORATOR);
    assert_eq!(code, "compile.bad_step_decorator");
    assert_eq!(
        message,
        "flow.py:6: You tried to apply decorator 'retry' on 'start' which is not declared as a @step. Make sure you apply this decorator on a function which has @step on the line just before the function name and @retry is above @step. Move @step down to the line just above `def start`."
    );
    // Decorators apply bottom up: Metaflow names the one closest to the `def` (line 5).
    let source = flow_lines(&[], &[], &["@step", "@retry", "@catch"]);
    let (_, message) = refusal(&source);
    assert!(
        message.starts_with("flow.py:5: You tried to apply decorator 'catch' on 'start'"),
        "{message}"
    );
    // Decorators Metaflow does not know (plain Python ones) may sit below @step.
    let source = flow_lines(&[], &[], &["@retry", "@step", "@my_wrapper"])
        .replace("class F", "def my_wrapper(f):\n    return f\nclass F");
    compiled(&source);
}

#[test]
fn step_decorators_off_steps_and_flow_decorators_on_steps_are_refused() {
    // A method without @step.
    let source = flow_lines(
        &[],
        &["    @retry", "    def helper(self):", "        pass"],
        &["@step"],
    );
    assert_eq!(
        refusal(&source),
        (
            "compile.bad_step_decorator".to_string(),
            "flow.py:3: You tried to apply decorator 'retry' on 'helper' which is not declared as a @step. Make sure you apply this decorator on a function which has @step on the line just before the function name and @retry is above @step. Add @step just above `def helper` if it is a step, or remove @retry.".to_string()
        )
    );
    // On the class.
    let (code, message) = refusal(&flow_lines(&["@retry"], &[], &["@step"]));
    assert_eq!(code, "compile.bad_step_decorator");
    assert!(
        message.starts_with("flow.py:2: You tried to apply decorator 'retry' on 'F' which is not declared as a @step."),
        "{message}"
    );
    // A flow decorator on a step.
    let (code, message) = refusal(&flow_lines(&[], &[], &["@schedule(daily=True)", "@step"]));
    assert_eq!(code, "compile.bad_flow_decorator");
    assert_eq!(
        message,
        "flow.py:3: Decorator 'schedule' can be applied only to FlowSpecs. Make sure the decorator is above a class definition. Move @schedule from `def start` to above the flow's `class` line."
    );
}

const DUPLICATE_DECORATOR: &str = r#"from metaflow import FlowSpec, step, resources


class DuplicateDecoratorFlow(FlowSpec):
    @resources(cpu=2)
    @resources(memory=8000)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DuplicateDecoratorFlow()
"#;

#[test]
fn a_step_decorator_twice_is_refused_unless_metaflow_allows_several() {
    let (code, message) = refusal(DUPLICATE_DECORATOR);
    assert_eq!(code, "compile.duplicate_step_decorator");
    assert_eq!(
        message,
        "flow.py:5: Step 'start' already has a decorator 'resources'. You can specify this decorator only once. Merge it with the @resources on line 6 into one @resources(...)."
    );
    // @card allows several (allow_multiple).
    compiled(&flow_lines(
        &[],
        &[],
        &["@card", "@card(type='blank')", "@step"],
    ));
    // Bottom up: the misplaced @catch (line 6) is applied before the second @retry.
    let source = flow_lines(&[], &[], &["@retry", "@retry", "@step", "@catch"]);
    assert!(
        refusal(&source)
            .1
            .starts_with("flow.py:6: You tried to apply decorator 'catch'"),
        "{source}"
    );
}

#[test]
fn a_flow_decorator_twice_is_refused_unless_metaflow_allows_several() {
    let source = flow_lines(
        &["@schedule(daily=True)", "@schedule(hourly=True)"],
        &[],
        &["@step"],
    );
    assert_eq!(
        refusal(&source),
        (
            "compile.duplicate_flow_decorator".to_string(),
            "flow.py:2: Flow already has a decorator 'schedule'. You can specify each decorator only once. Keep one @schedule (the other is on line 3).".to_string()
        )
    );
}

#[test]
fn metaflows_load_errors_come_before_lint_and_in_source_order() {
    // A lint error (no transition out of start) and a duplicate decorator: Metaflow
    // fails while defining the class, before it lints.
    let source = DUPLICATE_DECORATOR.replace("        self.next(self.end)\n", "        pass\n");
    assert_eq!(refusal(&source).0, "compile.duplicate_step_decorator");
    // The class body runs top to bottom: the parameter on line 3 fails first.
    let source = flow_lines(
        &[],
        &["    size = Parameter(default=3)"],
        &["@step", "@retry"],
    );
    assert_eq!(refusal(&source).0, "compile.parameter_call");
    // Every class of the file is defined, not only the deployed one.
    let source = format!(
        "{}\nclass Other(FlowSpec):\n    @timeout\n    @timeout\n    @step\n    def start(self):\n        pass\n\nif __name__ == '__main__':\n    F()\n",
        flow_lines(&[], &[], &["@step"])
    );
    assert_eq!(refusal(&source).0, "compile.duplicate_step_decorator");
}

const PARAM_NO_NAME: &str = r#"from metaflow import FlowSpec, step, Parameter


class ParamNoNameFlow(FlowSpec):
    size = Parameter(default=3)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamNoNameFlow()
"#;

#[test]
fn a_parameter_call_python_refuses_is_refused_with_pythons_type_error() {
    let (code, message) = refusal(PARAM_NO_NAME);
    assert_eq!(code, "compile.parameter_call");
    assert_eq!(
        message,
        "flow.py:5: TypeError: Parameter.__init__() missing 1 required positional argument: 'name'. Give the parameter its name as the first argument: size = Parameter('size', ...)."
    );
    for (body, expected) in [
        (
            "    data = IncludeFile(default='x.csv')",
            "flow.py:3: TypeError: IncludeFile.__init__() missing 1 required positional argument: 'name'.",
        ),
        (
            "    cfg = Config(default_value={})",
            "flow.py:3: TypeError: Config.__init__() missing 1 required positional argument: 'name'.",
        ),
        // Metaflow ignores the attribute `_x`, but Python still makes the call.
        (
            "    _x = Parameter(default=1)",
            "flow.py:3: TypeError: Parameter.__init__() missing 1 required positional argument: 'name'. Give the parameter its name as the first argument: _x = Parameter('x', ...).",
        ),
        (
            "    t = Parameter('t', 1, int, 'h', False, True, 7)",
            "flow.py:3: TypeError: Parameter.__init__() takes from 2 to 7 positional arguments but 8 were given. Pass the arguments after the name",
        ),
        (
            "    t = Parameter('t', 1, default=2)",
            "flow.py:3: TypeError: Parameter.__init__() got multiple values for argument 'default'. Give each argument once",
        ),
        (
            "    t = Parameter('t', name='u')",
            "flow.py:3: TypeError: Parameter.__init__() got multiple values for argument 'name'.",
        ),
        (
            "    t = Parameter(make_name(), default=1)",
            "flow.py:3: parameter 't': the name `make_name()` cannot be read without running Python. Write the name as a string literal (t = Parameter('t', ...)) or a module-level string constant.",
        ),
    ] {
        let (_, message) = refusal(&flow_lines(&[], &[body], &["@step"]));
        assert!(message.starts_with(expected), "{body}\n{message}");
    }
}

#[test]
fn parameter_names_from_constants_and_positional_arguments_are_read() {
    let source = format!(
        "NAME = 'alpha'\n{}",
        flow_lines(
            &[],
            &[
                "    a = Parameter(NAME, 0.5)",
                "    b = Parameter('beta', 2, int, 'Beta', True)"
            ],
            &["@step"]
        )
    );
    let deployment = compiled(&source);
    let parameters = &deployment.manifest.parameters;
    assert_eq!(
        (
            parameters[0].name.as_str(),
            parameters[0].kind,
            &parameters[0].default
        ),
        ("alpha", ParameterType::Float, &Some(serde_json::json!(0.5)))
    );
    let beta = &parameters[1];
    assert_eq!(
        (beta.name.as_str(), beta.kind),
        ("beta", ParameterType::Int)
    );
    assert_eq!(beta.default, Some(serde_json::json!(2)));
    assert_eq!(beta.help.as_deref(), Some("Beta"));
    assert!(beta.required);
}

const PARAM_RESERVED: &str = r#"from metaflow import FlowSpec, step, Parameter


class ParamReservedFlow(FlowSpec):
    tags = Parameter("tags", default="a")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamReservedFlow()
"#;

#[test]
fn reserved_parameter_names_are_refused_with_metaflows_text() {
    let (code, message) = refusal(PARAM_RESERVED);
    assert_eq!(code, "compile.reserved_parameter");
    assert_eq!(
        message,
        "flow.py:5: Parameter name 'tags' is a reserved word. Please use a different name for your parameter. Metaflow's command line uses it (reserved: params, with, tag, namespace, obj, tags, decospecs, run-id-file, max-num-splits, max-workers, max-log-size, user-namespace, run-id, task-id, runner-attribute-file, also with _ for -); the attribute can keep its name, e.g. tags = Parameter('tags_value', ...)."
    );
    for body in [
        "    r = Parameter('run_id', default='x')",
        "    r = Parameter('max-workers', default=1)",
        "    r = IncludeFile('with', default='x')",
        "    r = Config('obj', default_value={})",
    ] {
        let (code, message) = refusal(&flow_lines(&[], &[body], &["@step"]));
        assert_eq!(code, "compile.reserved_parameter", "{body}: {message}");
        assert!(
            message.starts_with("flow.py:3: Parameter name '"),
            "{message}"
        );
    }
    // Names are case-sensitive, and attributes Metaflow ignores are never checked.
    compiled(&flow_lines(
        &[],
        &[
            "    t = Parameter('Tags', default='a')",
            "    _t = Parameter('tags', default='a')",
        ],
        &["@step"],
    ));
}

const PARAM_SEPARATOR_INT: &str = r#"from metaflow import FlowSpec, step, Parameter


class ParamSeparatorIntFlow(FlowSpec):
    ids = Parameter("ids", type=int, default=1, separator=",")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParamSeparatorIntFlow()
"#;

#[test]
fn a_separator_on_a_parameter_that_is_not_a_string_is_refused() {
    let (code, message) = refusal(PARAM_SEPARATOR_INT);
    assert_eq!(code, "compile.parameter_separator");
    assert_eq!(
        message,
        "flow.py:5: Parameter ids: Separator is only allowed for string parameters. Remove separator=, or make ids a string parameter (type=str or no type, and a literal string default) and convert the items in the step."
    );
    // As real Metaflow 2.19.39 decides each (`is_string_type`).
    for (body, refused) in [
        (
            "    t = Parameter('t', type=str, default=1, separator=',')",
            true,
        ),
        (
            "    t = Parameter('t', type=JSONType, default='[]', separator=',')",
            true,
        ),
        ("    t = Parameter('t', type=int, separator=',')", true),
        ("    t = Parameter('t', default=True, separator=',')", true),
        (
            "    t = Parameter('t', type=str, default=lambda ctx: 'a', separator=',')",
            true,
        ),
        ("    t = Parameter('t', separator=',')", false),
        (
            "    t = Parameter('t', default='a,b', separator=',')",
            false,
        ),
        (
            "    t = Parameter('t', type=str, default=None, separator=',')",
            false,
        ),
        (
            "    t = Parameter('t', type=int, default=1, separator='')",
            false,
        ),
    ] {
        let result = compile_source(
            &flow_lines(&[], &[body], &["@step"]),
            OptionsLayer::default(),
        );
        match result {
            Err(e) if refused => assert_eq!(e.code(), "compile.parameter_separator", "{body}: {e}"),
            Ok(_) if !refused => {}
            other => panic!("{body}: {:?}", other.map(|_| ())),
        }
    }
}

const TIMEOUT_ZERO: &str = r#"from metaflow import FlowSpec, step, timeout


class TimeoutZeroFlow(FlowSpec):
    @timeout
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TimeoutZeroFlow()
"#;

#[test]
fn a_timeout_without_a_duration_is_refused() {
    let (code, message) = refusal(TIMEOUT_ZERO);
    assert_eq!(code, "compile.timeout_missing");
    assert_eq!(
        message,
        "flow.py:5: Specify a duration for @timeout. Give it seconds=, minutes= or hours= adding up to at least 60 seconds (Metaflow reads each with int(), so minutes=0.5 is 0)."
    );
    // Metaflow's int() truncates each value.
    let (code, _) = refusal(&flow_lines(&[], &[], &["@timeout(minutes=0.5)", "@step"]));
    assert_eq!(code, "compile.timeout_missing");
    let (code, message) = refusal(&flow_lines(&[], &[], &["@timeout(minutes='1.5')", "@step"]));
    assert_eq!(code, "compile.bad_decorator_argument");
    assert!(
        message.contains("invalid literal for int() with base 10: '1.5'"),
        "{message}"
    );
}

#[test]
fn a_timeout_under_a_minute_is_refused_not_raised() {
    let source = TIMEOUT_ZERO.replace("@timeout\n", "@timeout(seconds=30)\n");
    let (code, message) = refusal(&source);
    assert_eq!(code, "compile.timeout_too_short");
    assert_eq!(
        message,
        "flow.py:5: The timeout for step start should be at least 60 seconds for execution on AWS Batch. @timeout adds up to 30 seconds here; dropflow runs every step on AWS Batch, so raise it to 60 seconds or more."
    );
    let (code, _) = refusal(&flow_lines(&[], &[], &["@timeout(seconds=59.9)", "@step"]));
    assert_eq!(code, "compile.timeout_too_short");
    // An explicit @batch below @timeout runs its check first, as in Metaflow.
    let source = flow_lines(&[], &[], &["@timeout(seconds=0)", "@batch", "@step"]);
    assert_eq!(refusal(&source).0, "compile.timeout_too_short");
    // Whole minutes and hours as Metaflow counts them: int(1.5) hours is one hour.
    let deployment = compiled(&flow_lines(
        &[],
        &[],
        &["@timeout(hours=1.5, seconds=' 30 ')", "@step"],
    ));
    assert_eq!(
        job(&deployment, "start").timeout.attempt_duration_seconds,
        3630
    );
    let deployment = compiled(&flow_lines(&[], &[], &["@timeout(seconds=60)", "@step"]));
    assert_eq!(
        job(&deployment, "start").timeout.attempt_duration_seconds,
        60
    );
}

#[test]
fn attributes_metaflow_ignores_are_not_parameters() {
    let source = flow_lines(
        &[],
        &[
            "    name = Parameter('model_name', default='resnet')",
            "    _token = Parameter('token', default='abc')",
            "    input = Parameter('inp', default=1)",
            "    visible = Parameter('visible', default=1)",
        ],
        &["@step"],
    );
    let deployment = compiled(&source);
    let names: Vec<_> = deployment
        .manifest
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["visible"]);
    assert_eq!(deployment.warnings.len(), 3, "{:?}", deployment.warnings);
    assert_eq!(
        deployment.warnings[0],
        "flow.py:3: name = Parameter(...) is not a parameter: Metaflow ignores class attributes named cmd, foreach_stack, index, input, script_name, name or starting with '_', so runs cannot set 'model_name'. Rename the attribute to make it a parameter."
    );
    assert!(deployment.warnings[1].starts_with("flow.py:4: _token = Parameter(...)"));
}

#[test]
fn an_attribute_metaflow_does_not_know_is_refused_with_its_list() {
    for (decorator, attribute) in [
        ("@retry(time=2)", "time"),
        ("@catch(variable='e')", "variable"),
        ("@timeout(mins=5)", "mins"),
        ("@environment(env={'A': 'b'})", "env"),
        ("@batch(memroy=4096)", "memroy"),
    ] {
        let body = format!(
            "    {decorator}\n    @step\n    def other(self):\n        self.next(self.end)\n"
        );
        let source = flow_with("", &body).replace(
            "self.next(self.end)\n\n    @step\n    def end",
            "self.next(self.other)\n\n    @step\n    def end",
        );
        let error = compile_source(&source, OptionsLayer::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("flow.py:4: @")
                && error.contains(&format!("does not support the attribute '{attribute}'")),
            "{decorator}: {error}"
        );
    }
}

#[test]
fn platform_fargate_from_dropflow_toml_gives_fargate_job_definitions() {
    let layer = OptionsLayer::from_toml(
        "dropflow.toml",
        "[deploy]\nplatform = \"fargate\"\nassign_public_ip = false\n",
    )
    .unwrap();
    let package =
        package::read_bytes("flow.py", DECORATORS.as_bytes(), &Limits::default()).unwrap();
    let checked = pipeline::check(&package).unwrap();
    let mut options = DeployOptions::default();
    layer.apply(&mut options);
    let platform = Platform {
        execution_role_arn: Some("arn:aws:iam::123456789012:role/exec".into()),
        ..Platform::default()
    };
    // DECORATORS asks for a GPU on one step: Fargate has none.
    let error = pipeline::compile(&checked, &options, &platform, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot run on Fargate, which has no GPUs"),
        "{error}"
    );

    let deployment = compile_source(&flow_with("", ""), OptionsLayer::default()).unwrap();
    assert_eq!(job(&deployment, "start").platform_capabilities, ["EC2"]);
    let package =
        package::read_bytes("flow.py", flow_with("", "").as_bytes(), &Limits::default()).unwrap();
    let checked = pipeline::check(&package).unwrap();
    let deployment = pipeline::compile(&checked, &options, &platform, &BTreeMap::new()).unwrap();
    let start = job(&deployment, "start");
    assert_eq!(start.platform_capabilities, ["FARGATE"]);
    let container = serde_json::to_value(&start.container_properties).unwrap();
    assert_eq!(
        container["networkConfiguration"]["assignPublicIp"],
        "DISABLED"
    );
    assert_eq!(
        container["executionRoleArn"],
        "arn:aws:iam::123456789012:role/exec"
    );
}

#[test]
fn a_uv_environment_needs_the_project_files_and_names_what_is_missing() {
    let layer =
        OptionsLayer::from_toml("dropflow.toml", "[deploy]\nenvironment = \"uv\"\n").unwrap();
    let mut options = DeployOptions::default();
    layer.apply(&mut options);
    assert_eq!(options.environment, TaskEnvironment::Uv);
    let source = flow_with("", "");
    let package = package::read_bytes("flow.py", source.as_bytes(), &Limits::default()).unwrap();
    let checked = pipeline::check(&package).unwrap();
    assert_eq!(checked.missing_uv_files, ["pyproject.toml", "uv.lock"]);
    let error = pipeline::compile(&checked, &options, &Platform::default(), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no pyproject.toml and no uv.lock") && error.contains("uv lock"),
        "{error}"
    );

    // With both files the flow compiles, and the manifest tells the tasks.
    let mut with_project = checked.clone();
    with_project.missing_uv_files.clear();
    let deployment = pipeline::compile(
        &with_project,
        &options,
        &Platform::default(),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(deployment.manifest.options.environment, TaskEnvironment::Uv);
    // The image's environment is the default and leaves the options as before.
    let local = compile_source(&source, OptionsLayer::default()).unwrap();
    assert!(
        !serde_json::to_string(&local.manifest.options)
            .unwrap()
            .contains("environment")
    );

    // Metaflow's other environments are refused with the way out.
    for other in ["pypi", "conda"] {
        let refused = OptionsLayer::from_toml(
            "dropflow.toml",
            &format!("[deploy]\nenvironment = \"{other}\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("environment"), "{refused}");
        let refused = other.parse::<TaskEnvironment>().unwrap_err();
        assert!(refused.contains("use uv"), "{refused}");
    }
}
