//! Metaflow's decorator rules, checked as Python applies decorators when it defines a
//! flow class (`metaflow/decorators.py`, `_base_step_decorator` and
//! `_base_flow_decorator`): bottom up, so the decorator closest to the `def` or `class`
//! comes first. A step decorator must sit above `@step`, on a step, and appear once
//! unless it allows several; a flow decorator must sit on a class, once.

use std::collections::BTreeMap;

use super::error::CompileError;
use crate::python::{Decorator, FlowClass, PlainMethod, StepDef};

/// Metaflow 2.19's step decorators (`plugins.STEP_DECORATORS`) and their
/// `allow_multiple`.
const STEP_DECORATORS: &[(&str, bool)] = &[
    ("airflow_internal", false),
    ("argo_workflows_internal", false),
    ("batch", false),
    ("card", true),
    ("catch", false),
    ("conda", false),
    ("environment", false),
    ("kubernetes", false),
    ("parallel", false),
    ("pypi", false),
    ("pytorch_parallel", false),
    ("resources", false),
    ("retry", false),
    ("secrets", false),
    ("step_functions_internal", false),
    ("timeout", false),
    ("unbounded_test_foreach_internal", false),
];

/// Metaflow 2.19's flow decorators (`plugins.FLOW_DECORATORS`) and their `allow_multiple`.
const FLOW_DECORATORS: &[(&str, bool)] = &[
    ("airflow_external_task_sensor", true),
    ("airflow_s3_key_sensor", true),
    ("conda_base", false),
    ("exit_hook", true),
    ("project", false),
    ("pypi_base", false),
    ("schedule", false),
    ("trigger", false),
    ("trigger_on_finish", false),
];

/// `Some(allow_multiple)` for a Metaflow decorator of the given list.
fn lookup(list: &[(&str, bool)], name: &str) -> Option<bool> {
    list.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// The error Metaflow raises while applying a step's decorators, if any.
pub(super) fn check_step(flow: &FlowClass, step: &StepDef) -> Result<(), CompileError> {
    let mut applied: BTreeMap<&str, u32> = BTreeMap::new();
    for decorator in step.decorators.iter().rev() {
        flow_decorator_on_method(flow, decorator, &step.name)?;
        let Some(allow_multiple) = lookup(STEP_DECORATORS, &decorator.name) else {
            continue;
        };
        if decorator.line > step.step_line {
            return Err(CompileError::BadStepDecorator {
                file: flow.file.clone(),
                line: decorator.line,
                decorator: decorator.name.clone(),
                target: step.name.clone(),
                hint: format!(
                    "Move @step down to the line just above `def {}`.",
                    step.name
                ),
            });
        }
        match applied.get(decorator.name.as_str()) {
            Some(&other_line) if !allow_multiple => {
                return Err(CompileError::DuplicateStepDecorator {
                    file: flow.file.clone(),
                    line: decorator.line,
                    step: step.name.clone(),
                    decorator: decorator.name.clone(),
                    other_line,
                });
            }
            Some(_) => {}
            None => {
                applied.insert(&decorator.name, decorator.line);
            }
        }
    }
    Ok(())
}

/// The error Metaflow raises for a decorated method that has no `@step`, if any.
pub(super) fn check_plain_method(
    flow: &FlowClass,
    method: &PlainMethod,
) -> Result<(), CompileError> {
    for decorator in method.decorators.iter().rev() {
        flow_decorator_on_method(flow, decorator, &method.name)?;
        if lookup(STEP_DECORATORS, &decorator.name).is_some() {
            return Err(CompileError::BadStepDecorator {
                file: flow.file.clone(),
                line: decorator.line,
                decorator: decorator.name.clone(),
                target: method.name.clone(),
                hint: format!(
                    "Add @step just above `def {}` if it is a step, or remove @{}.",
                    method.name, decorator.name
                ),
            });
        }
    }
    Ok(())
}

/// The error Metaflow raises while applying the class's own decorators, if any.
pub(super) fn check_flow(flow: &FlowClass) -> Result<(), CompileError> {
    let mut applied: BTreeMap<&str, u32> = BTreeMap::new();
    for decorator in flow.decorators.iter().rev() {
        if lookup(STEP_DECORATORS, &decorator.name).is_some() {
            return Err(CompileError::BadStepDecorator {
                file: flow.file.clone(),
                line: decorator.line,
                decorator: decorator.name.clone(),
                target: flow.name.clone(),
                hint: format!(
                    "Step decorators go on steps: move @{} to above the @step of each step it is for.",
                    decorator.name
                ),
            });
        }
        let Some(allow_multiple) = lookup(FLOW_DECORATORS, &decorator.name) else {
            continue;
        };
        match applied.get(decorator.name.as_str()) {
            Some(&other_line) if !allow_multiple => {
                return Err(CompileError::DuplicateFlowDecorator {
                    file: flow.file.clone(),
                    line: decorator.line,
                    decorator: decorator.name.clone(),
                    other_line,
                });
            }
            Some(_) => {}
            None => {
                applied.insert(&decorator.name, decorator.line);
            }
        }
    }
    Ok(())
}

fn flow_decorator_on_method(
    flow: &FlowClass,
    decorator: &Decorator,
    method: &str,
) -> Result<(), CompileError> {
    if lookup(FLOW_DECORATORS, &decorator.name).is_some() {
        return Err(CompileError::BadFlowDecorator {
            file: flow.file.clone(),
            line: decorator.line,
            decorator: decorator.name.clone(),
            method: method.to_string(),
        });
    }
    Ok(())
}
