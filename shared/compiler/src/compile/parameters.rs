//! Flow parameters as deployed: name, type, default, required. Mirrors what Metaflow's
//! `step-functions create` records, and what the trigger API checks inputs against.

use std::collections::{BTreeMap, BTreeSet};

use super::error::CompileError;
use crate::python::{DefaultSource, FlowClass, ModuleInfo, ParameterDef, ParameterKind, Value};

pub use dropflow_contract::{DeployTimeDefault, ParameterSpec, ParameterType};

/// Reads every `Parameter` of the flow. `deploy_time_values` holds the results of
/// deploy-time functions, evaluated by the caller (keyed by parameter name).
pub fn parameter_specs(
    flow: &FlowClass,
    module: &ModuleInfo,
    deploy_time_values: &BTreeMap<String, serde_json::Value>,
    has_schedule: bool,
) -> Result<Vec<ParameterSpec>, CompileError> {
    let mut seen = BTreeSet::new();
    let mut specs = Vec::new();
    for def in &flow.parameters {
        // Metaflow checks duplicates over Parameters and Configs alike.
        if !seen.insert(def.name.to_lowercase()) {
            return Err(CompileError::Parameters {
                file: flow.file.clone(),
                line: def.line,
                message: format!(
                    "Parameter {} is specified twice. Note that parameter names are case-insensitive.",
                    def.name
                ),
            });
        }
        // Configs are fixed per deployment, not run inputs (`crate::flow_inputs`).
        if def.kind == ParameterKind::Config {
            continue;
        }
        let spec = parameter_spec(flow, module, def, deploy_time_values)?;
        if spec.required && spec.default.is_none() && spec.deploy_time.is_none() && has_schedule {
            return Err(CompileError::Parameters {
                file: flow.file.clone(),
                line: def.line,
                message: format!(
                    "The parameter {} does not have a default and is required. Scheduling such parameters via AWS Event Bridge is not currently supported.",
                    def.name
                ),
            });
        }
        specs.push(spec);
    }
    Ok(specs)
}

fn bad(flow: &FlowClass, def: &ParameterDef, problem: &str) -> CompileError {
    CompileError::BadParameter {
        file: flow.file.clone(),
        line: def.line,
        parameter: def.name.clone(),
        problem: problem.to_string(),
    }
}

fn parameter_spec(
    flow: &FlowClass,
    module: &ModuleInfo,
    def: &ParameterDef,
    deploy_time_values: &BTreeMap<String, serde_json::Value>,
) -> Result<ParameterSpec, CompileError> {
    let mut deploy_time = None;
    let default = match def.default_source(module) {
        DefaultSource::Absent => None,
        DefaultSource::Literal(value) | DefaultSource::Constant(value) => Some(value.clone()),
        DefaultSource::Function(function) => {
            deploy_time = Some(DeployTimeDefault {
                function: function.name.clone(),
                source: function.source.clone(),
            });
            deploy_time_values.get(&def.name).cloned()
        }
        DefaultSource::Lambda(source) => {
            deploy_time = Some(DeployTimeDefault {
                function: "<lambda>".to_string(),
                source: source.to_string(),
            });
            deploy_time_values.get(&def.name).cloned()
        }
        DefaultSource::UnknownName(name) => {
            return Err(bad(
                flow,
                def,
                &format!(
                    "default={name} is neither a module-level constant nor a function of {}. Use a literal default, or a deploy-time function defined in the flow file.",
                    flow.file
                ),
            ));
        }
        DefaultSource::Expression(source) => {
            return Err(bad(
                flow,
                def,
                &format!(
                    "default={source} cannot be evaluated without running Python. Use a literal, a module-level constant, or a deploy-time function (default=my_function)."
                ),
            ));
        }
    };
    let kind = parameter_type(flow, def, default.as_ref(), deploy_time.is_some())?;
    let required = match def.kwarg("required") {
        None => false,
        Some(value) => value
            .as_bool()
            .ok_or_else(|| bad(flow, def, "required= must be True or False"))?,
    };
    let help = def
        .kwarg("help")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(ParameterSpec {
        name: def.name.clone(),
        attribute: def.attribute.clone(),
        kind,
        default,
        required,
        help,
        deploy_time,
        include_file: def.kind == ParameterKind::IncludeFile,
        line: def.line,
    })
}

/// Metaflow: an explicit `type=` wins; otherwise the default's Python type; else `str`.
fn parameter_type(
    flow: &FlowClass,
    def: &ParameterDef,
    default: Option<&serde_json::Value>,
    deploy_time: bool,
) -> Result<ParameterType, CompileError> {
    if let Some(value) = def.kwarg("type") {
        return match value {
            Value::Name { name } => match name.rsplit('.').next().unwrap_or(name) {
                "str" => Ok(ParameterType::Str),
                "int" => Ok(ParameterType::Int),
                "float" => Ok(ParameterType::Float),
                "bool" => Ok(ParameterType::Bool),
                "JSONType" => Ok(ParameterType::Json),
                other => Err(bad(
                    flow,
                    def,
                    &format!(
                        "type={other} is not supported; use str, int, float, bool or JSONType"
                    ),
                )),
            },
            other => Err(bad(
                flow,
                def,
                &format!(
                    "type={} is not supported; use str, int, float, bool or JSONType",
                    other.describe()
                ),
            )),
        };
    }
    if deploy_time {
        return Ok(ParameterType::Str);
    }
    Ok(match default {
        Some(serde_json::Value::Bool(_)) => ParameterType::Bool,
        Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => ParameterType::Int,
        Some(serde_json::Value::Number(_)) => ParameterType::Float,
        _ => ParameterType::Str,
    })
}
