//! Compile: a linted flow graph + deploy options → state machine definition, schedule,
//! Batch job definitions and the deployment manifest. Pure: no AWS calls.

mod batch_settings;
mod decorators;
mod error;
mod exit_hooks;
mod hook_states;
mod job_definition;
mod load;
mod notify_options;
mod parameter_checks;
mod parameters;
mod secrets;
mod state_machine;
mod steps;

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use batch_settings::{BATCH_ATTRIBUTES, RESOURCES_ATTRIBUTES};
pub use dropflow_contract::{
    ComputePlatform, DeployOptions, FlowInfo, MANIFEST_SCHEMA, Manifest, OptionsError,
    OptionsLayer, Platform, ProjectInfo, ScheduleInfo, StepPlan, TaskEnvironment,
};
pub use error::CompileError;
pub use exit_hooks::{ExitHooks, RunOutcome};
pub use job_definition::{
    ContainerProperties, Device, EfsVolume, EphemeralStorage, FargatePlatformConfiguration,
    HostPath, JobDefinition, KeyValue, LinuxParameters, LogConfiguration, MountPoint,
    NetworkConfiguration, ResourceRequirement, Tmpfs, Volume,
};
pub use load::{DefinedFlow, LoadedFlow, check_definitions};
pub use parameter_checks::RESERVED_PARAMETER_NAMES;
pub use parameters::{DeployTimeDefault, ParameterSpec, ParameterType};
pub use state_machine::paths;
pub use steps::{Resources, RetryPlan, StepRuntime};

use crate::asl::{StateMachine, check_limits};
use crate::flow_inputs::{self, ConfigEntry};
use crate::graph::{FlowGraph, NodeType};
use crate::lint::LintedGraph;
use crate::naming::{self, ProjectOptions};
use crate::python::FlowClass;
use crate::schedule;
use dropflow_contract::layout;

pub use dropflow_contract::DROPFLOW_VERSION;

/// What the compiler needs: the parsed flow, its linted graph, and the deployment's settings.
#[derive(Debug, Clone, Copy)]
pub struct CompileInput<'a> {
    /// The flow and its module (constants and functions for parameter defaults), past
    /// Metaflow's load checks.
    pub loaded: &'a LoadedFlow,
    /// Its graph, which passed lint.
    pub graph: &'a LintedGraph,
    /// Digest of the source package (part of the version id).
    pub source_digest: &'a str,
    /// The owner's deploy options.
    pub options: &'a DeployOptions,
    /// The operator's platform settings.
    pub platform: &'a Platform,
    /// Results of deploy-time parameter functions, by parameter name.
    pub deploy_time_values: &'a BTreeMap<String, serde_json::Value>,
    /// The flow's `Config`s as resolved from the package.
    pub configs: &'a [ConfigEntry],
    /// The files at the package's root that Metaflow's uv environment needs
    /// ([`UV_PROJECT_FILES`]) that the package lacks.
    pub missing_uv_files: &'a [&'static str],
}

/// What `environment = "uv"` needs at the package's root, as Metaflow's uv environment
/// ships them (its `add_to_package`).
pub const UV_PROJECT_FILES: [&str; 2] = ["pyproject.toml", "uv.lock"];

/// Everything one deployment creates or updates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// State machine name.
    pub state_machine_name: String,
    /// Content-derived version id: same input, same version.
    pub version: String,
    /// The ASL definition.
    pub definition: StateMachine,
    /// The manifest written next to the version (parameters, schedule, job definitions).
    pub manifest: Manifest,
    /// Things worth knowing that do not stop the deployment.
    pub warnings: Vec<String>,
}

/// Compiles a linted flow.
pub fn compile(input: CompileInput<'_>) -> Result<Deployment, CompileError> {
    let CompileInput {
        loaded,
        graph,
        options,
        platform,
        ..
    } = input;
    let input = &input;
    // Metaflow's load checks ran before lint, as Metaflow runs them: `loaded` is their
    // result.
    let (module, flow) = (loaded.module(), loaded.flow());
    check_options(options)?;
    notify_options::check_notify_options(options, platform)?;
    check_foreach_options(options, graph, &flow.name)?;
    if options.environment == TaskEnvironment::Uv && !input.missing_uv_files.is_empty() {
        return Err(CompileError::BadOption {
            option: "environment".into(),
            problem: format!(
                "uv runs each task in the project of the package's pyproject.toml and uv.lock, and the package has no {}: run `uv lock` beside the flow file and upload both with it (dropflow deploy packs them from the flow's directory)",
                input.missing_uv_files.join(" and no ")
            ),
        });
    }
    steps::check_flow_decorators(flow)?;
    let mut warnings = Vec::new();
    let exit_hooks = exit_hooks::exit_hooks(flow, module, &mut warnings)?;
    for ignored in &flow.ignored_parameters {
        warnings.push(format!(
            "{}:{}: {} = {}(...) is not a parameter: Metaflow ignores class attributes named {} or starting with '_', so runs cannot set '{}'. Rename the attribute to make it a parameter.",
            flow.file,
            ignored.line,
            ignored.attribute,
            ignored.kind.class_name(),
            crate::python::NON_PARAMETER_ATTRIBUTES.join(", "),
            ignored.name,
        ));
    }

    let naming_error = |message: String| CompileError::Naming {
        file: flow.file.clone(),
        line: flow.decorator("project").map_or(flow.line, |d| d.line),
        message,
    };
    let name = naming::state_machine_name(
        &flow.name,
        flow.decorator("project"),
        &ProjectOptions {
            branch: options.branch.clone(),
            production: options.production,
            user: options.user.clone(),
        },
        options.name.as_deref(),
    )
    .map_err(|e| naming_error(e.to_string()))?;
    if name.hashed {
        warnings.push(format!(
            "the state machine name was shortened to {} to fit Step Functions' 80-character limit",
            name.name
        ));
    }
    let state_machine_name = name.name.clone();

    let schedule = match flow.decorator("schedule") {
        Some(decorator) => schedule::from_decorator(decorator)
            .map_err(|e| CompileError::Schedule {
                file: flow.file.clone(),
                line: decorator.line,
                message: e.to_string(),
            })?
            .map(|s| ScheduleInfo {
                name: naming::schedule_name(&state_machine_name),
                expression: s.expression(),
                timezone: s.timezone.clone(),
            }),
        None => None,
    };

    let parameters =
        parameters::parameter_specs(flow, module, input.deploy_time_values, schedule.is_some())?;

    let triggers = read_flow_triggers(
        flow,
        &parameters,
        name.project.as_ref(),
        &state_machine_name,
        &mut warnings,
    )?;

    let version = version_id(input.source_digest, options, platform);
    // The platform's prefix is `layout::DEPLOYMENTS_PREFIX` (it is part of the version id).
    let directory = format!(
        "s3://{}/{}{}/{}",
        platform.bucket, platform.deployments_prefix, state_machine_name, version
    );
    let manifest_location = format!("{directory}/{}", layout::MANIFEST_FILE);

    let image = options
        .image
        .clone()
        .unwrap_or_else(|| platform.image.clone());
    let queue = options
        .job_queue
        .clone()
        .unwrap_or_else(|| platform.job_queue.clone());
    let mut static_environment = BTreeMap::from([
        ("METAFLOW_DEFAULT_DATASTORE".to_string(), "s3".to_string()),
        (
            "METAFLOW_DATASTORE_SYSROOT_S3".to_string(),
            platform.datastore_root.clone(),
        ),
        ("METAFLOW_OWNER".to_string(), options.user.clone()),
        ("SFN_STATE_MACHINE".to_string(), state_machine_name.clone()),
    ]);
    if let Some(configs) = flow_inputs::config_environment(input.configs) {
        static_environment.insert(flow_inputs::CONFIG_ENVIRONMENT.to_string(), configs);
    }
    let mut aws_tags = options.aws_tags.clone();
    aws_tags.insert("dropflow:flow".into(), flow.name.clone());
    aws_tags.insert("dropflow:state-machine".into(), state_machine_name.clone());

    let mut plans = BTreeMap::new();
    let mut job_definitions = Vec::new();
    for node in graph.nodes() {
        let mut runtime =
            steps::step_runtime(flow, &node.step, &image, &queue, options.retry_by_default)?;
        if runtime.job_role_arn.is_none() {
            runtime.job_role_arn = platform.job_role_arn.clone();
        }
        // @environment wins over what @secrets needs, as Metaflow's own environment does.
        for (name, value) in secrets::secrets_environment(flow, &node.step, platform)? {
            runtime.environment.entry(name).or_insert(value);
        }
        let container = batch_settings::container_settings(
            flow,
            &node.step,
            &runtime,
            &batch_settings::DeploySettings {
                options,
                platform,
                base_tags: &aws_tags,
            },
            &mut warnings,
        )?;
        let mut definition = job_definition::job_definition(
            &state_machine_name,
            &node.name,
            &runtime,
            &container,
            &static_environment,
            &aws_tags,
        );
        if let (Some(secret), Some(role)) = (
            &platform.metadata_auth_secret_arn,
            &platform.execution_role_arn,
        ) {
            definition = job_definition::with_metadata_auth_secret(
                definition,
                &state_machine_name,
                secret,
                role,
            );
        }
        plans.insert(
            node.name.clone(),
            StepPlan {
                node_type: node.node_type.unwrap_or(NodeType::Linear),
                in_funcs: node.in_funcs.clone(),
                out_funcs: node.out_funcs.clone(),
                split_parents: node.split_parents.clone(),
                matching_join: node.matching_join.clone(),
                is_inside_foreach: node.is_inside_foreach,
                foreach_param: node.foreach_param.clone(),
                condition: node.condition.clone(),
                switch_cases: node.switch_cases.clone(),
                job_definition: definition.job_definition_name.clone(),
                runtime,
                line: node.func_lineno,
            },
        );
        job_definitions.push(definition);
    }

    let comment = format!(
        "dropflow {DROPFLOW_VERSION}: Metaflow flow {} ({}), version {version}",
        flow.name, flow.file
    );
    let definition = state_machine::StateMachineBuilder::new(
        graph,
        &plans,
        options,
        platform,
        &manifest_location,
    )
    .with_exit_hooks(&exit_hooks)
    .build(comment);
    if let Some(error) = check_limits(&definition).into_iter().next() {
        return Err(CompileError::AslLimit {
            file: flow.file.clone(),
            message: error.to_string(),
        });
    }

    let manifest = Manifest {
        schema: MANIFEST_SCHEMA,
        dropflow_version: DROPFLOW_VERSION.to_string(),
        flow: FlowInfo {
            name: flow.name.clone(),
            file: flow.file.clone(),
            start_step: graph.start().to_string(),
            end_step: graph.end().to_string(),
        },
        state_machine: state_machine_name.clone(),
        production_token: naming::production_token(&state_machine_name),
        project: name.project.as_ref().map(|p| ProjectInfo {
            name: p.project.clone(),
            branch: p.branch.clone(),
        }),
        version: version.clone(),
        location: manifest_location,
        code_package: format!("{directory}/{}", layout::CODE_PACKAGE_FILE),
        datastore_root: platform.datastore_root.clone(),
        parameters,
        configs: input
            .configs
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.value.clone()?)))
            .collect(),
        schedule,
        triggers,
        steps: plans,
        exit_hooks,
        job_definitions,
        options: options.clone(),
    };
    Ok(Deployment {
        state_machine_name,
        version,
        definition,
        manifest,
        warnings,
    })
}

/// The flow's `@trigger` / `@trigger_on_finish`, read with Metaflow's checks.
fn read_flow_triggers(
    flow: &FlowClass,
    parameters: &[ParameterSpec],
    project: Option<&naming::ProjectBranch>,
    state_machine: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<crate::events::Triggers>, CompileError> {
    let source = crate::events::TriggerSource {
        trigger: flow.decorator("trigger"),
        on_finish: flow.decorator("trigger_on_finish"),
        parameters,
        project,
        state_machine,
    };
    let (triggers, found) =
        crate::events::read_triggers(&source).map_err(|e| CompileError::Trigger {
            file: flow.file.clone(),
            line: e.line,
            error: e.error,
        })?;
    warnings.extend(
        found
            .into_iter()
            .map(|(line, warning)| format!("{}:{line}: {warning}", flow.file)),
    );
    Ok(triggers)
}

fn check_options(options: &DeployOptions) -> Result<(), CompileError> {
    let bad = |option: &str, problem: &str| {
        Err(CompileError::BadOption {
            option: option.to_string(),
            problem: problem.to_string(),
        })
    };
    if options.max_workers == 0 {
        return bad("max_workers", "must be at least 1");
    }
    if options.workflow_timeout == Some(0) {
        return bad("workflow_timeout", "must be a positive number of seconds");
    }
    for tag in &options.tags {
        if tag.is_empty() || tag.len() > 512 {
            return bad("tags", "each tag must be 1 to 512 characters");
        }
    }
    Ok(())
}

/// Distributed Map's highest `MaxConcurrency` (child executions at once).
pub const MAX_DISTRIBUTED_CONCURRENCY: u32 = 10_000;

/// `max_workers` and `[deploy.max_workers_per_step]`: within Distributed Map's bound, and
/// each entry naming a foreach step of the flow.
fn check_foreach_options(
    options: &DeployOptions,
    graph: &FlowGraph,
    flow: &str,
) -> Result<(), CompileError> {
    let bad = |option: &str, problem: String| {
        Err(CompileError::BadOption {
            option: option.to_string(),
            problem,
        })
    };
    let foreach_steps: Vec<&str> = graph
        .nodes()
        .filter(|n| n.node_type == Some(NodeType::Foreach))
        .map(|n| n.name.as_str())
        .collect();
    for (step, workers) in &options.max_workers_per_step {
        if !foreach_steps.contains(&step.as_str()) {
            let valid = if foreach_steps.is_empty() {
                format!("{flow} has no foreach step, so remove the table")
            } else {
                format!(
                    "name one of its foreach steps: {}",
                    foreach_steps.join(", ")
                )
            };
            return bad(
                "max_workers_per_step",
                format!(
                    "dropflow.toml: [deploy.max_workers_per_step] names {step}, which is not a foreach step of {flow} (a step with self.next(..., foreach=...)): {valid}"
                ),
            );
        }
        if *workers == 0 {
            return bad(
                "max_workers_per_step",
                format!(
                    "dropflow.toml: [deploy.max_workers_per_step] {step} = 0: must be at least 1"
                ),
            );
        }
    }
    if options.distributed_map {
        let widest = std::iter::once(("max_workers".to_string(), options.max_workers)).chain(
            options
                .max_workers_per_step
                .iter()
                .map(|(s, n)| (format!("max_workers_per_step.{s}"), *n)),
        );
        for (option, workers) in widest {
            if workers > MAX_DISTRIBUTED_CONCURRENCY {
                return bad(
                    &option,
                    format!(
                        "{workers} is over Distributed Map's {MAX_DISTRIBUTED_CONCURRENCY} concurrent child executions: set it to {MAX_DISTRIBUTED_CONCURRENCY} or less"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// The version id of a deployment: the first 16 hex characters of a SHA-256 over
/// dropflow's version, the package's content digest
/// ([`crate::package::SourcePackage::sha256`]: paths, bytes and executable bits, not the
/// archive's format, order, timestamps or compression), the deploy options and the
/// platform, each length-prefixed. Same content and settings, same id: the compiler names
/// versions with it and the deployer compares it with what is deployed before compiling.
/// Deploy-time parameter values are left out on purpose: they may read the clock, and
/// uploading the same package again (or S3 delivering its event twice) must not make a
/// new version.
pub fn version_id(source_digest: &str, options: &DeployOptions, platform: &Platform) -> String {
    let mut hasher = Sha256::new();
    for part in [
        DROPFLOW_VERSION.as_bytes(),
        source_digest.as_bytes(),
        &serde_json::to_vec(options).expect("serialisable"),
        &serde_json::to_vec(platform).expect("serialisable"),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    data_encoding::HEXLOWER.encode(&hasher.finalize())[..16].to_string()
}

#[cfg(test)]
mod secrets_tests;
#[cfg(test)]
mod tests;
