//! What Metaflow refuses while it loads a flow file, before its lint runs, in
//! Metaflow's order. A flow refused here fails every task at its first line on a real
//! run, so dropflow refuses to deploy it.
//!
//! The stages hand on types: [`check_definitions`] makes a [`DefinedFlow`], whose
//! [`DefinedFlow::check_initialization`] makes the [`LoadedFlow`] compile requires, so each
//! check runs once per compile and none can be skipped.
//!
//! 1. [`check_definitions`]: Python defines the classes (source order; inside a class,
//!    its body top to bottom, then its decorators bottom up): parameter calls that do
//!    not match the signature, `Config` names, step and flow decorator placement and
//!    duplicates.
//! 2. [`DefinedFlow::check_initialization`] (after configs are resolved): `Parameter.init` for the
//!    parameters Metaflow collects (attribute order, as `dir()` lists them), then each
//!    step's decorators' `step_init` (`@timeout`, and `@batch`'s 60-second minimum).

use super::decorators;
use super::error::CompileError;
use super::parameter_checks;
use super::steps;
use crate::discover::FoundFlow;
use crate::python::{FlowClass, ModuleInfo, ParameterKind};

/// A flow file whose classes Python defines ([`check_definitions`] passed). Its deployed
/// flow may still change (configs resolved) before [`DefinedFlow::check_initialization`].
#[derive(Debug, Clone)]
pub struct DefinedFlow(FoundFlow);

impl DefinedFlow {
    /// The flow and its module.
    pub fn found(&self) -> &FoundFlow {
        &self.0
    }

    /// The flow and its module, mutable: config substitution ([`crate::flow_inputs`]).
    pub fn found_mut(&mut self) -> &mut FoundFlow {
        &mut self.0
    }

    /// Checks the deployed flow as Metaflow initialises it, once its configs are
    /// resolved: `Parameter.init` for the parameters Metaflow collects (attribute order,
    /// as `dir()` lists them), then each step's decorators' `step_init`.
    pub fn check_initialization(self) -> Result<LoadedFlow, CompileError> {
        check_initialization(self.0.flow(), &self.0.module)?;
        Ok(LoadedFlow(self.0))
    }
}

/// The deployed flow after all of Metaflow's load checks: what compile requires.
#[derive(Debug, Clone)]
pub struct LoadedFlow(FoundFlow);

impl LoadedFlow {
    /// The flow and its module.
    pub fn found(&self) -> &FoundFlow {
        &self.0
    }

    /// The flow file's module.
    pub fn module(&self) -> &ModuleInfo {
        &self.0.module
    }

    /// The deployed flow class.
    pub fn flow(&self) -> &FlowClass {
        self.0.flow()
    }
}

/// Checks every flow class of the module as Python defines it: Python runs them all
/// when it imports the file, whichever one is deployed.
pub fn check_definitions(found: FoundFlow) -> Result<DefinedFlow, CompileError> {
    for flow in &found.module.flows {
        check_class(&found.module, flow)?;
    }
    Ok(DefinedFlow(found))
}

fn check_class(module: &ModuleInfo, flow: &FlowClass) -> Result<(), CompileError> {
    // The class body runs top to bottom: the first failing statement wins.
    let mut failures: Vec<(u32, CompileError)> = Vec::new();
    for def in flow.parameters.iter().chain(&flow.ignored_parameters) {
        if let Err(error) = parameter_checks::check_call(flow, module, def) {
            failures.push((def.line, error));
        }
    }
    for step in &flow.steps {
        if let Err(error) = decorators::check_step(flow, step) {
            failures.push((error_line(&error, step.line), error));
        }
    }
    for method in &flow.plain_methods {
        if let Err(error) = decorators::check_plain_method(flow, method) {
            failures.push((error_line(&error, method.line), error));
        }
    }
    if let Some((_, error)) = failures.into_iter().min_by_key(|(line, _)| *line) {
        return Err(error);
    }
    decorators::check_flow(flow)
}

fn error_line(error: &CompileError, fallback: u32) -> u32 {
    match error {
        CompileError::BadStepDecorator { line, .. }
        | CompileError::BadFlowDecorator { line, .. }
        | CompileError::DuplicateStepDecorator { line, .. } => *line,
        _ => fallback,
    }
}

fn check_initialization(flow: &FlowClass, module: &ModuleInfo) -> Result<(), CompileError> {
    let mut parameters: Vec<_> = flow
        .parameters
        .iter()
        .filter(|def| def.kind != ParameterKind::Config)
        .collect();
    parameters.sort_by(|a, b| a.attribute.cmp(&b.attribute));
    for def in parameters {
        parameter_checks::check_init(flow, module, def)?;
    }
    for step in &flow.steps {
        steps::check_attributes(flow, step)?;
        match steps::timeout_seconds(flow, step) {
            // A value dropflow cannot read is its own limit, not Metaflow's refusal:
            // compiling the step reports it, with the step's other arguments.
            Ok(_) | Err(CompileError::BadDecoratorArgument { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
