//! Deploy-time parameter defaults: `Parameter('info', default=deployment_info)` or
//! `default=lambda ctx: ...`, evaluated once when the flow is deployed, as Metaflow's
//! `step-functions create` does with `deploy_time_eval`.
//!
//! dropflow runs no CPython: the function runs in monty, pydantic's sandboxed Python
//! subset. Only the function's own source runs, with the module functions it calls, the
//! standard-library imports of the flow file it uses (`json`, `datetime`, ...) and the
//! module-level literal constants it reads; the rest of the flow file is never executed.
//! The sandbox asks the host for the clock (answered with the current UTC time) and the
//! environment (answered as empty: the deploying machine's variables mean nothing here);
//! files, other modules and the network are refused with an error naming the parameter.
//!
//! [`evaluate_expression`] runs `IncludeFile` / `Config` defaults computed by the flow
//! file's functions (`default=script_path("movies.csv")`) the same way, with `__file__`
//! and `os.path` describing the package (`paths.rs`), for [`crate::flow_inputs`].

// A global allocator is unsafe by definition (`GlobalAlloc`); it only counts and forwards.
#[allow(unsafe_code)]
mod allocator;
mod error;
mod host;
mod paths;
mod program;
mod result;
mod source;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use monty_types::{MontyException, MontyObject};
use serde::{Deserialize, Serialize};

pub use error::{DeployTimeError, RaisedException};
pub use paths::{PACKAGE_ROOT, PackageFiles, package_relative};

use crate::pipeline::CheckedFlow;
use crate::python::{DefaultSource, FlowClass, ModuleInfo, ParameterDef, ParameterKind};
use host::{Failure, Host};
use program::{DefaultFunction, Program};
use result::{Expected, Problem};

/// What a deploy-time function sees of the deployment: the fields of Metaflow's
/// `ParameterContext`, filled by the compile Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployContext {
    /// `context.flow_name`: the flow class name.
    pub flow_name: String,
    /// `context.user_name`: who deploys (Metaflow's `get_username()`); also what
    /// `getpass.getuser()` returns in the sandbox.
    pub user_name: String,
    /// `context.ds_type`: the datastore type (`"s3"`).
    pub datastore: String,
    /// The datastore root (`s3://bucket/metaflow`). Metaflow's `ParameterContext` has no
    /// such field, so functions do not see it; kept for callers and future fields.
    pub datastore_root: String,
}

/// Bounds on one function's evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Execution time per function (time spent answering host calls does not count).
    pub time: Duration,
    /// Memory per function: every byte the evaluation allocates counts (dropflow's
    /// global allocator keeps monty's count for the sandbox's thread), so one large
    /// allocation (`'x' * 10**9`) and many small ones (`[[i] for i in range(10**9)]`)
    /// both stop at it.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(1),
            memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Evaluates every deploy-time default of the checked flow, in parameter order. The
/// result has one entry per deploy-time parameter, keyed by parameter name, ready for
/// [`crate::pipeline::compile`]. The first failure stops the evaluation.
pub fn evaluate_defaults(
    checked: &CheckedFlow,
    context: &DeployContext,
    limits: &Limits,
) -> Result<BTreeMap<String, serde_json::Value>, DeployTimeError> {
    evaluate_flow(checked.module(), checked.flow(), context, limits)
}

/// [`evaluate_defaults`] on a parsed module and one of its flows.
pub fn evaluate_flow(
    module: &ModuleInfo,
    flow: &FlowClass,
    context: &DeployContext,
    limits: &Limits,
) -> Result<BTreeMap<String, serde_json::Value>, DeployTimeError> {
    let mut values = BTreeMap::new();
    for def in &flow.parameters {
        if let Some(function) = deploy_time_function(module, def) {
            let value = evaluate(module, flow, def, &function, context, None, limits)?;
            values.insert(def.name.clone(), value);
        }
    }
    Ok(values)
}

/// The function behind a parameter's default, when it is one: a module function's name
/// or a lambda ([`ParameterDef::default_source`], the classification the compiler's
/// parameter specs use).
fn deploy_time_function<'a>(
    module: &'a ModuleInfo,
    def: &'a ParameterDef,
) -> Option<DefaultFunction<'a>> {
    if def.kind != ParameterKind::Parameter {
        return None;
    }
    match def.default_source(module) {
        DefaultSource::Function(f) => Some(DefaultFunction::Named {
            name: &f.name,
            line: f.line,
            source: &f.source,
        }),
        DefaultSource::Lambda(source) => Some(DefaultFunction::Lambda {
            source,
            line: def.line,
        }),
        _ => None,
    }
}

/// Evaluates an expression default of `def` (`IncludeFile(default=script_path("x.csv"))`,
/// `Config(default=config_path())`) once, with no context, as Python does when it
/// defines the flow class: the module functions it calls run in the sandbox with
/// `__file__` set to the flow file under [`PACKAGE_ROOT`] and `os.path.exists` and
/// friends answered from `files`. Returns the value, which must be a `str`.
pub fn evaluate_expression(
    module: &ModuleInfo,
    flow: &FlowClass,
    def: &ParameterDef,
    source: &str,
    files: &PackageFiles,
    context: &DeployContext,
    limits: &Limits,
) -> Result<String, DeployTimeError> {
    let function = DefaultFunction::Expression {
        source,
        line: def.line,
    };
    let value = evaluate(module, flow, def, &function, context, Some(files), limits)?;
    match value {
        serde_json::Value::String(text) => Ok(text),
        other => Err(DeployTimeError::WrongType {
            parameter: def.name.clone(),
            function: source.to_string(),
            file: flow.file.clone(),
            line: def.line,
            expected: "str",
            found: other.to_string(),
        }),
    }
}

/// Where a failure is reported: parameter, function, file.
struct Origin<'a> {
    parameter: &'a str,
    function: &'a str,
    file: &'a str,
    line: u32,
}

fn evaluate(
    module: &ModuleInfo,
    flow: &FlowClass,
    def: &ParameterDef,
    function: &DefaultFunction<'_>,
    context: &DeployContext,
    files: Option<&PackageFiles>,
    limits: &Limits,
) -> Result<serde_json::Value, DeployTimeError> {
    let origin = Origin {
        parameter: &def.name,
        function: function.label(),
        file: &flow.file,
        line: function.line(),
    };
    let program =
        program::build(module, function).map_err(|e| DeployTimeError::UnsupportedSyntax {
            parameter: origin.parameter.to_string(),
            function: origin.function.to_string(),
            file: origin.file.to_string(),
            line: e.line,
            message: e.message,
        })?;
    let mut inputs: Vec<(String, MontyObject)> = program::CONTEXT_INPUTS
        .iter()
        .zip([
            &context.flow_name,
            &context.user_name,
            &def.name,
            &context.datastore,
        ])
        .map(|(name, value)| (name.to_string(), MontyObject::String(value.clone())))
        .collect();
    inputs.extend(program::HOST_FUNCTIONS.iter().map(|name| {
        (
            name.to_string(),
            MontyObject::Function {
                name: name.to_string(),
                docstring: None,
            },
        )
    }));
    inputs.push((
        paths::FILE_INPUT.to_string(),
        MontyObject::String(paths::flow_file_path(&flow.file)),
    ));
    inputs.push((
        paths::CWD_INPUT.to_string(),
        MontyObject::String(PACKAGE_ROOT.to_string()),
    ));
    let host = Host {
        user_name: match function {
            DefaultFunction::Expression { .. } => None,
            _ => Some(&context.user_name),
        },
        constants: &module.constants,
        files,
    };
    let value = host::run(&program.code, &flow.file, inputs, &host, limits)
        .map_err(|failure| failure_error(&origin, &program, limits, failure))?;
    result::convert(value, Expected::of(def), |v| host::json_dumps(v, limits)).map_err(|problem| {
        let (parameter, function, file, line) = (
            origin.parameter.to_string(),
            origin.function.to_string(),
            origin.file.to_string(),
            origin.line,
        );
        match problem {
            Problem::WrongType { expected, found } => DeployTimeError::WrongType {
                parameter,
                function,
                file,
                line,
                expected,
                found,
            },
            Problem::InvalidJson { value, message } => DeployTimeError::InvalidJson {
                parameter,
                function,
                file,
                line,
                value,
                message,
            },
        }
    })
}

fn failure_error(
    origin: &Origin<'_>,
    program: &Program,
    limits: &Limits,
    failure: Failure,
) -> DeployTimeError {
    let parameter = origin.parameter.to_string();
    let function = origin.function.to_string();
    let file = origin.file.to_string();
    match failure {
        Failure::Compile(e) => DeployTimeError::UnsupportedSyntax {
            parameter,
            function,
            file,
            line: flow_frames(origin, program, &e)
                .last()
                .map_or(origin.line, |f| f.start.line),
            message: e.summary(),
        },
        Failure::TimeLimit => DeployTimeError::TimeLimit {
            parameter,
            function,
            file,
            line: origin.line,
            limit_ms: u64::try_from(limits.time.as_millis()).unwrap_or(u64::MAX),
        },
        Failure::MemoryLimit(e) => DeployTimeError::MemoryLimit {
            line: raising_line(origin, program, &e),
            parameter,
            function,
            file,
            limit_bytes: limits.memory_bytes,
        },
        Failure::Unsupported { reason, exception } => DeployTimeError::Unsupported {
            line: raising_line(origin, program, &exception),
            parameter,
            function,
            file,
            reason,
        },
        Failure::UndefinedName { name, exception } => {
            let mut reason = format!(
                "it uses the name '{name}', which is not a builtin, a module-level literal constant, a function of the flow file, or a name imported from a standard-library module the sandbox provides (import aliases such as `import x as y` are not followed"
            );
            if !program.unavailable_imports.is_empty() {
                reason.push_str(&format!(
                    "; the flow file's imports of {} cannot be loaded",
                    program.unavailable_imports.join(", ")
                ));
            }
            reason.push(')');
            DeployTimeError::Unsupported {
                line: raising_line(origin, program, &exception),
                parameter,
                function,
                file,
                reason,
            }
        }
        Failure::Exception(e) => DeployTimeError::Exception {
            line: raising_line(origin, program, &e),
            raised: Box::new(RaisedException {
                exception: e.exc_type().to_string(),
                message: e.message().unwrap_or_default().to_string(),
                traceback: traceback(origin, program, &e),
            }),
            parameter,
            function,
            file,
        },
    }
}

/// The traceback frames that are flow-file code (not the call dropflow adds).
fn flow_frames<'e>(
    origin: &Origin<'_>,
    program: &Program,
    exception: &'e MontyException,
) -> Vec<&'e monty_types::StackFrame> {
    exception
        .traceback()
        .iter()
        .filter(|frame| {
            frame.filename == origin.file
                && program
                    .flow_lines
                    .iter()
                    .any(|lines| lines.contains(&frame.start.line))
        })
        .collect()
}

/// The innermost flow-file line of the exception, else the function's line.
fn raising_line(origin: &Origin<'_>, program: &Program, exception: &MontyException) -> u32 {
    flow_frames(origin, program, exception)
        .last()
        .map_or(origin.line, |frame| frame.start.line)
}

/// A Python-style traceback through the flow file's frames.
fn traceback(origin: &Origin<'_>, program: &Program, exception: &MontyException) -> String {
    let mut text = String::from("Traceback (most recent call last):\n");
    for frame in flow_frames(origin, program, exception) {
        text.push_str(&format!(
            "  File \"{}\", line {}, in {}\n",
            frame.filename,
            frame.start.line,
            frame.frame_name.as_deref().unwrap_or("<module>")
        ));
        if let Some(preview) = &frame.preview_line {
            let preview = preview.trim();
            // A lambda runs as `_dropflow_default = (<lambda>)`: show the lambda.
            let preview = preview
                .strip_prefix(program::LAMBDA_PREFIX)
                .and_then(|p| p.strip_suffix(')'))
                .unwrap_or(preview);
            text.push_str(&format!("    {preview}\n"));
        }
    }
    text.push_str(&exception.summary());
    text
}
