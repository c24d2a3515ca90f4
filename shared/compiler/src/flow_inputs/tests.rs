use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::compile::{DeployOptions, Deployment, Platform};
use crate::package::{PackageFormat, SourcePackage};
use crate::pipeline;
use crate::python::Value;

/// A package of `flow.py` (the flow) and the given other files.
fn package(flow: &str, files: &[(&str, &str)]) -> SourcePackage {
    let mut all = BTreeMap::from([("flow.py".to_string(), flow.as_bytes().to_vec())]);
    for (path, content) in files {
        all.insert(path.to_string(), content.as_bytes().to_vec());
    }
    SourcePackage {
        files: all,
        script_hint: Some("flow.py".into()),
        format: PackageFormat::Directory,
        sha256: "0".repeat(64),
    }
}

fn flow(attributes: &str, start_decorators: &str) -> String {
    format!(
        "from metaflow import FlowSpec, Parameter, IncludeFile, Config, config_expr, step, resources, environment, retry, project, schedule\n\
         \n\
         {{class_decorators}}\n\
         class CfgFlow(FlowSpec):\n\
         {attributes}\n\
         \n\
         {start_decorators}\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
}

fn compile(package: &SourcePackage) -> Result<Deployment, pipeline::Error> {
    let checked = pipeline::check(package)?;
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
}

fn error(package: &SourcePackage) -> String {
    match compile(package) {
        Ok(_) => panic!("compiled, but an error was expected"),
        Err(e) => e.to_string(),
    }
}

const CONFIG_JSON: &str = r#"{"cpu": 4, "memory": 16000, "project": "ml", "retries": [1, 3], "env": {"MODE": "fast"}, "alpha": 0.25}"#;

#[test]
fn config_references_in_decorators_and_defaults_become_their_values() {
    let source = flow(
        "    cfg = Config('settings', default='config.json')\n    alpha = Parameter('alpha', default=cfg.alpha)",
        "    @resources(cpu=cfg.cpu, memory=cfg['memory'])\n    @retry(times=cfg.retries[-1])\n    @environment(vars={'MODE': cfg.env.MODE, 'FIXED': 'x'})",
    )
    .replace(
        "{class_decorators}",
        "@project(name=config_expr('settings.project'))",
    );
    let deployment = compile(&package(&source, &[("config.json", CONFIG_JSON)]))
        .unwrap_or_else(|e| panic!("{e}"));
    let manifest = &deployment.manifest;
    assert_eq!(deployment.state_machine_name, "ml.user.dropflow.CfgFlow");
    let start = &manifest.steps["start"].runtime;
    assert_eq!(
        (start.resources.cpu.as_str(), start.resources.memory),
        ("4", 16000)
    );
    assert_eq!(start.retry.user_code_retries, 3);
    assert_eq!(start.environment["MODE"], "fast");
    assert_eq!(start.environment["FIXED"], "x");
    let alpha = &manifest.parameters[0];
    assert_eq!(
        (alpha.name.as_str(), alpha.default.clone()),
        ("alpha", Some(json!(0.25)))
    );
    // Configs are not run parameters; the manifest records their values.
    assert_eq!(manifest.parameters.len(), 1);
    assert_eq!(manifest.configs["settings"]["cpu"], json!(4));
}

#[test]
fn default_value_and_unpacked_configs_work_too() {
    let source = flow(
        "    res = Config('res', default_value={'cpu': 2, 'memory': 8192})\n    text = Config('text', default_value='{\"n\": 3}')",
        "    @resources(**res)\n    @retry(times=text.n)",
    )
    .replace("{class_decorators}", "");
    let deployment = compile(&package(&source, &[])).unwrap_or_else(|e| panic!("{e}"));
    let start = &deployment.manifest.steps["start"].runtime;
    assert_eq!(
        (start.resources.cpu.as_str(), start.resources.memory),
        ("2", 8192)
    );
    assert_eq!(start.retry.user_code_retries, 3);
    assert_eq!(deployment.manifest.configs["text"], json!({"n": 3}));
}

#[test]
fn config_problems_name_the_line_and_the_fix() {
    let with = |attributes: &str, decorators: &str| {
        flow(attributes, decorators).replace("{class_decorators}", "")
    };
    let missing_file = package(
        &with("    cfg = Config('cfg', default='conf.json')", ""),
        &[],
    );
    assert_eq!(
        error(&missing_file),
        "flow.py:5: Bad values passed for configuration options: default configuration file 'conf.json' could not be read for 'cfg'. Add conf.json to the uploaded package (paths are relative to the package root, where tasks run; `python flow.py package save` keeps only .py files unless given --package-suffixes)."
    );
    let not_json = package(
        &with("    cfg = Config('cfg', default='conf.json')", ""),
        &[("conf.json", "{cpu: 2}")],
    );
    assert!(
        error(&not_json).starts_with("flow.py:5: Bad values passed for configuration options: configuration value for 'cfg' is not valid JSON: key must be a string"),
        "{}",
        error(&not_json)
    );
    let required = package(&with("    cfg = Config('cfg', required=True)", ""), &[]);
    assert!(error(&required).contains("missing configuration for 'cfg'"));
    let both = package(
        &with(
            "    cfg = Config('cfg', default='c.json', default_value={'a': 1})",
            "",
        ),
        &[("c.json", "{}")],
    );
    assert_eq!(
        error(&both),
        "flow.py:5: For config 'cfg', you can only specify default or default_value, not both"
    );
    let function = package(&with("    cfg = Config('cfg', default=pick_file)", ""), &[]);
    assert!(error(&function).contains("cannot be evaluated without running Python"));
    let no_key = package(
        &with(
            "    cfg = Config('cfg', default_value={'cpu': 2})",
            "    @resources(cpu=cfg.cpus)",
        ),
        &[],
    );
    assert_eq!(
        error(&no_key),
        "flow.py:7: cfg.cpus: configuration 'cfg' has no key 'cpus' (it has: cpu). Fix the reference or the configuration."
    );
}

#[test]
fn configs_with_a_parser_are_left_to_the_tasks() {
    let source = flow(
        "    cfg = Config('cfg', default='c.yaml', parser='yaml.safe_load')",
        "    @resources(cpu=3)",
    )
    .replace("{class_decorators}", "");
    let deployment =
        compile(&package(&source, &[("c.yaml", "cpu: 2\n")])).unwrap_or_else(|e| panic!("{e}"));
    assert!(deployment.manifest.configs.is_empty());
    // A decorator that needs such a config's value cannot be compiled.
    let source = flow(
        "    cfg = Config('cfg', default='c.yaml', parser='yaml.safe_load')",
        "    @resources(cpu=cfg.cpu)",
    )
    .replace("{class_decorators}", "");
    assert!(
        error(&package(&source, &[("c.yaml", "cpu: 2\n")]))
            .contains("which dropflow cannot evaluate without running Python")
    );
}

#[test]
fn include_file_defaults_must_be_files_of_the_package() {
    let source = flow(
        "    data = IncludeFile('data', default='./data/input.csv', help='rows')",
        "",
    )
    .replace("{class_decorators}", "");
    let deployment = compile(&package(&source, &[("data/input.csv", "a,b\n")]))
        .unwrap_or_else(|e| panic!("{e}"));
    let data = &deployment.manifest.parameters[0];
    assert!(data.include_file);
    assert_eq!(data.default, Some(Json::from("./data/input.csv")));
    assert_eq!(
        error(&package(&source, &[])),
        "flow.py:5: IncludeFile 'data': could not open file './data/input.csv' for reading. Add ./data/input.csv to the uploaded package (paths are relative to the package root, where tasks run; `python flow.py package save` keeps only .py files unless given --package-suffixes)."
    );
    let computed = flow(
        "    data = IncludeFile('data', default=lambda ctx: 'x.csv')",
        "",
    )
    .replace("{class_decorators}", "");
    assert!(
        error(&package(&computed, &[])).contains("default=lambda ctx: 'x.csv' cannot be evaluated")
    );
}

#[test]
fn arguments_without_configs_are_left_as_written() {
    let source = flow(
        "    cfg = Config('cfg', default_value={'cpu': 2})",
        "    @environment(vars={'A': os.environ['HOME']})",
    )
    .replace("{class_decorators}", "");
    let package = package(&source, &[]);
    let checked = pipeline::check(&package).unwrap_or_else(|e| panic!("{e}"));
    let environment = checked.flow().steps[0].decorator("environment").unwrap();
    assert!(matches!(
        environment.kwarg("vars"),
        Some(Value::Expression { .. })
    ));
}

#[test]
fn package_save_configs_come_from_its_config_file_and_reach_every_task() {
    let source = flow(
        "    cfg = Config('settings', default='settings.json')",
        "    @resources(cpu=cfg.cpu)",
    )
    .replace("{class_decorators}", "");
    // `package save` leaves settings.json out and records the resolved value instead.
    let saved = r#"{"user_configs": {"settings": [{"cpu": 3}, false]}}"#;
    let deployment = compile(&package(
        &source,
        &[(crate::package::METAFLOW_CONFIG, saved)],
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        deployment.manifest.steps["start"].runtime.resources.cpu,
        "3"
    );
    for job in &deployment.manifest.job_definitions {
        let environment = &job.container_properties.environment;
        let configs = environment
            .iter()
            .find(|kv| kv.name == "METAFLOW_FLOW_CONFIG_VALUE")
            .unwrap_or_else(|| panic!("{}: no config environment", job.step));
        assert_eq!(configs.value, r#"{"settings":{"cpu":3}}"#);
    }
}

#[test]
fn configs_too_large_for_a_job_definition_are_refused() {
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(40 * 1024));
    let source =
        flow("    cfg = Config('cfg', default='big.json')", "").replace("{class_decorators}", "");
    let message = error(&package(&source, &[("big.json", &big)]));
    assert!(
        message.starts_with("flow.py: the flow's configurations take 40"),
        "{message}"
    );
}
