//! Metaflow's rules for one parameter definition: the call Python must accept when the
//! class is defined (the `__init__` signature), and what `Parameter.init` refuses
//! (reserved names, `separator=` on a parameter that is not a string parameter).
//! `Config` runs `init` inside its `__init__`, so its names are checked when the class
//! is defined; `Parameter` and `IncludeFile` when Metaflow initialises the flow.

use super::error::CompileError;
use crate::python::{FlowClass, ModuleInfo, ParameterDef, ParameterKind, ParameterProblem, Value};

/// Metaflow's reserved parameter names (`Parameter.init`'s `reserved_params`); each is
/// also reserved with `_` for `-`.
pub const RESERVED_PARAMETER_NAMES: &[&str] = &[
    "params",
    "with",
    "tag",
    "namespace",
    "obj",
    "tags",
    "decospecs",
    "run-id-file",
    "max-num-splits",
    "max-workers",
    "max-log-size",
    "user-namespace",
    "run-id",
    "task-id",
    "runner-attribute-file",
];

/// What Python refuses in the call itself (and, for a `Config`, what its `__init__`
/// refuses).
pub(super) fn check_call(
    flow: &FlowClass,
    module: &ModuleInfo,
    def: &ParameterDef,
) -> Result<(), CompileError> {
    match &def.problem {
        Some(ParameterProblem::TypeError { message }) => {
            let hint = if message.contains("missing") {
                let suggested = match def.attribute.trim_start_matches('_') {
                    "" => "name",
                    name => name,
                };
                format!(
                    "Give the parameter its name as the first argument: {} = {}('{suggested}', ...).",
                    def.attribute,
                    def.kind.class_name()
                )
            } else if message.contains("multiple values") {
                "Give each argument once, by position or by keyword.".to_string()
            } else {
                "Pass the arguments after the name as keywords (default=..., help=...).".to_string()
            };
            Err(CompileError::ParameterCall {
                file: flow.file.clone(),
                line: def.line,
                message: message.clone(),
                hint,
            })
        }
        Some(ParameterProblem::NameNotLiteral { source }) => Err(CompileError::BadParameter {
            file: flow.file.clone(),
            line: def.line,
            parameter: def.attribute.clone(),
            problem: format!(
                "the name `{source}` cannot be read without running Python. Write the name as a string literal ({} = {}('{}', ...)) or a module-level string constant.",
                def.attribute,
                def.kind.class_name(),
                def.attribute.trim_start_matches('_'),
            ),
        }),
        None if def.kind == ParameterKind::Config => check_init(flow, module, def),
        None => Ok(()),
    }
}

/// What `Parameter.init` refuses: a reserved name, `separator=` on a non-string parameter.
pub(super) fn check_init(
    flow: &FlowClass,
    module: &ModuleInfo,
    def: &ParameterDef,
) -> Result<(), CompileError> {
    if is_reserved(&def.name) {
        return Err(CompileError::ReservedParameter {
            file: flow.file.clone(),
            line: def.line,
            parameter: def.name.clone(),
            attribute: def.attribute.clone(),
            constructor: def.kind.class_name(),
        });
    }
    let truthy_separator = def
        .kwarg("separator")
        .and_then(|v| resolved(module, v))
        .is_some_and(is_truthy);
    if truthy_separator && is_string_type(module, def) == Some(false) {
        return Err(CompileError::ParameterSeparator {
            file: flow.file.clone(),
            line: def.line,
            parameter: def.name.clone(),
        });
    }
    Ok(())
}

fn is_reserved(name: &str) -> bool {
    RESERVED_PARAMETER_NAMES
        .iter()
        .any(|r| *r == name || r.replace('-', "_") == name)
}

/// A literal, or a module constant's value; `None` when it needs Python.
fn resolved<'a>(module: &'a ModuleInfo, value: &'a Value) -> Option<&'a serde_json::Value> {
    match value {
        Value::Literal { value } => Some(value),
        Value::Name { name } => module.constants.get(name),
        _ => None,
    }
}

/// Python's truth value of a literal.
fn is_truthy(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
    }
}

/// Metaflow's `is_string_type`: the type (explicit, else the default's, else `str`) is
/// `str` and the default, if any, is a string. `None` when dropflow cannot tell.
fn is_string_type(module: &ModuleInfo, def: &ParameterDef) -> Option<bool> {
    if def.kind == ParameterKind::IncludeFile {
        // IncludeFile's type is its FilePath type, never `str`.
        return Some(false);
    }
    let present = |name: &str| {
        def.kwarg(name).filter(|v| {
            !matches!(
                v,
                Value::Literal {
                    value: serde_json::Value::Null
                }
            )
        })
    };
    // Config passes type=str and makes `default_value` its default.
    let default = match def.kind {
        ParameterKind::Config => present("default").or_else(|| present("default_value")),
        _ => present("default"),
    };
    let default_is_str = match default {
        None => true,
        Some(Value::Lambda { .. }) => false,
        Some(Value::Name { name }) if !module.constants.contains_key(name) => {
            // A function: a deploy-time default, never a `str` instance.
            if module.functions.iter().any(|f| &f.name == name) {
                false
            } else {
                return None;
            }
        }
        Some(value) => resolved(module, value)?.is_string(),
    };
    let type_is_str = match (def.kind, present("type")) {
        (ParameterKind::Config, _) => true,
        (_, Some(Value::Name { name })) => name.rsplit('.').next() == Some("str"),
        (_, Some(_)) => return None,
        // The default's type, which is `str` exactly when the default is a string (or
        // absent, or a function): `default_is_str` decides.
        (_, None) => true,
    };
    Some(type_is_str && default_is_str)
}
