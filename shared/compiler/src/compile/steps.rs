//! Per-step runtime settings read from step decorators: resources (`@resources` and
//! `@batch`, merged by max as Metaflow does), retries (`@retry`, `@catch`), `@timeout`,
//! `@environment`. Unsupported decorators are refused here with a clear reason.

use std::collections::BTreeMap;

use super::batch_settings::known_attributes;
use super::error::CompileError;
use crate::python::{Decorator, FlowClass, StepDef, Value};

pub use dropflow_contract::{
    CATCH_ERROR_RETRIES, DEFAULT_TIMEOUT_SECONDS, MAX_ATTEMPTS, Resources, RetryPlan, StepRuntime,
};
/// Metaflow 2.19's attributes (`defaults`) of the other step decorators dropflow reads
/// (`@batch` and `@resources` are checked with the job definition).
const ATTRIBUTES: &[(&str, &[&str])] = &[
    ("retry", &["times", "minutes_between_retries"]),
    ("catch", &["var", "print_exception"]),
    ("timeout", &["seconds", "minutes", "hours"]),
    ("environment", &["vars"]),
    ("secrets", &["sources", "role", "allow_override"]),
];

/// Refuses an attribute a step decorator does not have, as Metaflow does when it
/// creates the decorator (`InvalidDecoratorAttribute`), bottom up.
pub(super) fn check_attributes(flow: &FlowClass, step: &StepDef) -> Result<(), CompileError> {
    for decorator in step.decorators.iter().rev() {
        let attributes = match decorator.name.as_str() {
            "batch" => super::batch_settings::BATCH_ATTRIBUTES,
            "resources" => super::batch_settings::RESOURCES_ATTRIBUTES,
            name => match ATTRIBUTES.iter().find(|(n, _)| *n == name) {
                Some((_, attributes)) => attributes,
                None => continue,
            },
        };
        known_attributes(flow, decorator, attributes)?;
    }
    Ok(())
}

/// Decorators a step may carry that change nothing in how dropflow deploys it.
const RUNTIME_ONLY: &[&str] = &["card", "secrets", "checkpoint", "model", "huggingface_hub"];

/// Reads one step's decorators.
pub fn step_runtime(
    flow: &FlowClass,
    step: &StepDef,
    image: &str,
    job_queue: &str,
    retry_by_default: bool,
) -> Result<StepRuntime, CompileError> {
    let resources = merged_resources(flow, step)?;
    let mut runtime_image = image.to_string();
    let mut runtime_queue = job_queue.to_string();
    let mut job_role_arn = None;
    let mut user_code_retries = 0;
    let mut error_retries = 0;
    let mut wait_seconds = 0;
    let timeout_seconds = timeout_seconds(flow, step)?.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    let mut environment = BTreeMap::new();
    let mut with_decorators = Vec::new();

    let has_retry = step.decorator("retry").is_some();
    check_attributes(flow, step)?;
    for decorator in &step.decorators {
        let arg = |name: &str| DecoratorArgs { flow, decorator }.get(name);
        match decorator.name.as_str() {
            "batch" => {
                if let Some(v) = arg("image")? {
                    runtime_image = string(flow, decorator, "image", v)?;
                }
                if let Some(v) = arg("queue")? {
                    runtime_queue = string(flow, decorator, "queue", v)?;
                }
                if let Some(v) = arg("iam_role")? {
                    job_role_arn = Some(string(flow, decorator, "iam_role", v)?);
                }
            }
            "retry" => {
                let times = match arg("times")? {
                    Some(v) => number(flow, decorator, "times", v)? as u32,
                    None => 3,
                };
                if times + 2 > MAX_ATTEMPTS {
                    return Err(CompileError::BadDecoratorArgument {
                        file: flow.file.clone(),
                        line: decorator.line,
                        decorator: "retry".into(),
                        argument: "times".into(),
                        problem: format!(
                            "is {times}: The maximum number of retries is @retry(times={}).",
                            MAX_ATTEMPTS - 2
                        ),
                    });
                }
                user_code_retries = user_code_retries.max(times);
                let minutes = match arg("minutes_between_retries")? {
                    Some(v) => number(flow, decorator, "minutes_between_retries", v)?,
                    None => 2.0,
                };
                wait_seconds = (minutes * 60.0).round() as u64;
            }
            "catch" => error_retries = error_retries.max(CATCH_ERROR_RETRIES),
            "environment" => {
                if let Some(v) = arg("vars")? {
                    environment = env_vars(flow, decorator, v)?;
                }
            }
            "parallel" => {
                return Err(unsupported(
                    flow,
                    decorator,
                    "multi-node @parallel steps cannot run on Step Functions",
                ));
            }
            "kubernetes" => {
                return Err(unsupported(
                    flow,
                    decorator,
                    "dropflow runs every step on AWS Batch; use @batch or @resources",
                ));
            }
            "slurm" => {
                return Err(unsupported(
                    flow,
                    decorator,
                    "Slurm cannot be used with AWS Step Functions",
                ));
            }
            "conda" | "pypi" => {
                return Err(unsupported(
                    flow,
                    decorator,
                    "dropflow builds no conda or pypi environments: pin the packages in a uv project instead (pyproject.toml and uv.lock in the package, environment = \"uv\") or bake them into the image",
                ));
            }
            name if RUNTIME_ONLY.contains(&name) => {}
            _ => {}
        }
    }
    if retry_by_default && !has_retry {
        user_code_retries = user_code_retries.max(3);
        wait_seconds = 120;
        with_decorators.push("retry".to_string());
    }
    Ok(StepRuntime {
        resources,
        retry: RetryPlan {
            user_code_retries,
            total_retries: user_code_retries + error_retries,
            wait_seconds,
        },
        timeout_seconds,
        environment,
        image: runtime_image,
        job_queue: runtime_queue,
        job_role_arn,
        with_decorators,
    })
}

/// AWS Batch's shortest job timeout, which Metaflow's `@batch` enforces.
const MIN_TIMEOUT_SECONDS: u64 = 60;

/// `@timeout` as Metaflow reads it (`TimeoutDecorator.init`): `int()` of each of
/// `seconds`, `minutes` and `hours`, added up; `None` without `@timeout`. Refuses what
/// Metaflow refuses: no duration (`@timeout`'s `step_init`) and, as every step runs on
/// AWS Batch, less than a minute (`@batch`'s `step_init`, which runs first when an
/// explicit `@batch` sits below `@timeout`).
pub(super) fn timeout_seconds(
    flow: &FlowClass,
    step: &StepDef,
) -> Result<Option<u64>, CompileError> {
    let Some(decorator) = step.decorator("timeout") else {
        return Ok(None);
    };
    let args = DecoratorArgs { flow, decorator };
    let mut seconds = 0;
    for (unit, factor) in [("seconds", 1), ("minutes", 60), ("hours", 3600)] {
        if let Some(v) = args.get(unit)? {
            seconds = python_int(flow, decorator, unit, v)?
                .saturating_mul(factor)
                .saturating_add(seconds);
        }
    }
    let batch_first = step
        .decorator("batch")
        .is_some_and(|batch| batch.line > decorator.line);
    if seconds == 0 && !batch_first {
        return Err(CompileError::TimeoutMissing {
            file: flow.file.clone(),
            line: decorator.line,
        });
    }
    if seconds < MIN_TIMEOUT_SECONDS {
        return Err(CompileError::TimeoutTooShort {
            file: flow.file.clone(),
            line: decorator.line,
            step: step.name.clone(),
            seconds,
        });
    }
    Ok(Some(seconds))
}

/// Python's `int()` of a literal: floats truncate toward zero, strings must be whole
/// numbers. Negative values are refused.
pub(super) fn python_int(
    flow: &FlowClass,
    decorator: &Decorator,
    name: &str,
    value: &Value,
) -> Result<u64, CompileError> {
    let bad = |problem: String| CompileError::BadDecoratorArgument {
        file: flow.file.clone(),
        line: decorator.line,
        decorator: decorator.name.clone(),
        argument: name.to_string(),
        problem,
    };
    let literal = value.as_literal().expect("checked literal");
    let parsed = match literal {
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i as f64,
            (None, Some(f)) => f.trunc(),
            (None, None) => f64::NAN,
        },
        serde_json::Value::String(s) => match python_int_text(s) {
            Ok(i) => i as f64,
            Err(_) => {
                return Err(bad(format!(
                    "is {literal}, which Metaflow reads with int() and fails (ValueError: invalid literal for int() with base 10: '{s}'); write a whole number"
                )));
            }
        },
        _ => f64::NAN,
    };
    if parsed >= 0.0 && parsed.is_finite() {
        Ok(parsed as u64)
    } else {
        Err(bad(format!(
            "is {literal}; it must be a non-negative number"
        )))
    }
}

/// `int(text)` for base 10: surrounding whitespace, a sign, and single `_` between digits.
fn python_int_text(text: &str) -> Result<i64, std::num::ParseIntError> {
    let trimmed = text.trim();
    let digits = trimmed.trim_start_matches(['+', '-']);
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return "_".parse();
    }
    trimmed.replace('_', "").parse()
}

/// Refuses flow-level decorators dropflow cannot deploy yet.
pub fn check_flow_decorators(flow: &FlowClass) -> Result<(), CompileError> {
    for decorator in &flow.decorators {
        let reason = match decorator.name.as_str() {
            "conda_base" | "pypi_base" => {
                "dropflow builds no conda or pypi environments: pin the packages in a uv project instead (pyproject.toml and uv.lock in the package, environment = \"uv\") or bake them into the image"
            }
            _ => continue,
        };
        return Err(unsupported(flow, decorator, reason));
    }
    Ok(())
}

pub(super) fn unsupported(flow: &FlowClass, decorator: &Decorator, reason: &str) -> CompileError {
    CompileError::UnsupportedDecorator {
        file: flow.file.clone(),
        line: decorator.line,
        decorator: decorator.name.clone(),
        reason: reason.to_string(),
    }
}

/// A decorator's keyword arguments, read as literals.
pub(super) struct DecoratorArgs<'a> {
    /// The flow (for its file name in errors).
    pub flow: &'a FlowClass,
    /// The decorator.
    pub decorator: &'a Decorator,
}

impl<'a> DecoratorArgs<'a> {
    /// A keyword argument; `None` (the literal) counts as absent, as Metaflow's defaults.
    pub(super) fn get(&self, name: &str) -> Result<Option<&'a Value>, CompileError> {
        match self.decorator.kwarg(name) {
            Some(Value::Literal {
                value: serde_json::Value::Null,
            })
            | None => Ok(None),
            Some(value @ Value::Literal { .. }) => Ok(Some(value)),
            Some(other) => Err(CompileError::BadDecoratorArgument {
                file: self.flow.file.clone(),
                line: self.decorator.line,
                decorator: self.decorator.name.clone(),
                argument: name.to_string(),
                problem: format!(
                    "is `{}`, which dropflow cannot evaluate without running Python; write a literal value",
                    other.describe()
                ),
            }),
        }
    }
}

pub(super) fn number(
    flow: &FlowClass,
    decorator: &Decorator,
    name: &str,
    value: &Value,
) -> Result<f64, CompileError> {
    let literal = value.as_literal().expect("checked literal");
    let parsed = match literal {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if n >= 0.0 && n.is_finite() => Ok(n),
        _ => Err(CompileError::BadDecoratorArgument {
            file: flow.file.clone(),
            line: decorator.line,
            decorator: decorator.name.clone(),
            argument: name.to_string(),
            problem: format!("is {literal}; it must be a non-negative number"),
        }),
    }
}

pub(super) fn string(
    flow: &FlowClass,
    decorator: &Decorator,
    name: &str,
    value: &Value,
) -> Result<String, CompileError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| CompileError::BadDecoratorArgument {
            file: flow.file.clone(),
            line: decorator.line,
            decorator: decorator.name.clone(),
            argument: name.to_string(),
            problem: format!("is {}; it must be a string", value.describe()),
        })
}

fn env_vars(
    flow: &FlowClass,
    decorator: &Decorator,
    value: &Value,
) -> Result<BTreeMap<String, String>, CompileError> {
    let problem = |p: String| CompileError::BadDecoratorArgument {
        file: flow.file.clone(),
        line: decorator.line,
        decorator: "environment".into(),
        argument: "vars".into(),
        problem: p,
    };
    let Some(serde_json::Value::Object(map)) = value.as_literal() else {
        return Err(problem(
            "must be a dict of strings, e.g. vars={'KEY': 'value'}".into(),
        ));
    };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
            serde_json::Value::Bool(b) => {
                Ok((k.clone(), if *b { "True" } else { "False" }.to_string()))
            }
            other => Err(problem(format!(
                "value of {k} is {other}; values must be strings"
            ))),
        })
        .collect()
}

/// Metaflow's `compute_resource_attributes` with `@batch` as the compute decorator (Step
/// Functions runs every step as if `@batch` were on it): defaults cpu 1, gpu 0, memory
/// 4096; with `@resources`, each value is the larger of `@resources` (with its own
/// defaults cpu 1, memory 4096) and `@batch`; without it, `@batch` values replace defaults.
fn merged_resources(flow: &FlowClass, step: &StepDef) -> Result<Resources, CompileError> {
    const KEYS: [&str; 4] = ["cpu", "gpu", "memory", "shared_memory"];
    let read = |decorator: Option<&Decorator>| -> Result<[Option<f64>; 4], CompileError> {
        let mut values = [None; 4];
        if let Some(decorator) = decorator {
            let args = DecoratorArgs { flow, decorator };
            for (slot, key) in values.iter_mut().zip(KEYS) {
                if let Some(value) = args.get(key)? {
                    *slot = Some(number(flow, decorator, key, value)?);
                }
            }
        }
        Ok(values)
    };
    let batch = read(step.decorator("batch"))?;
    let mut result = [Some(1.0), Some(0.0), Some(4096.0), None];
    match step.decorator("resources") {
        Some(resources) => {
            let mut requested = read(Some(resources))?;
            // @resources' own defaults.
            requested[0] = requested[0].or(Some(1.0));
            requested[2] = requested[2].or(Some(4096.0));
            for i in 0..KEYS.len() {
                result[i] = match (batch[i], requested[i]) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (Some(a), None) | (None, Some(a)) => Some(a),
                    (None, None) => result[i],
                };
            }
        }
        None => {
            for i in 0..KEYS.len() {
                if batch[i].is_some() {
                    result[i] = batch[i];
                }
            }
        }
    }
    Ok(Resources {
        cpu: format_cpu(result[0].unwrap_or(1.0)),
        gpu: result[1].unwrap_or(0.0) as u64,
        memory: result[2].unwrap_or(4096.0) as u64,
        shared_memory: result[3].map(|v| v as u64),
    })
}

fn format_cpu(cpu: f64) -> String {
    if cpu.fract() == 0.0 {
        format!("{}", cpu as u64)
    } else {
        format!("{cpu}")
    }
}
