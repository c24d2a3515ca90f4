//! Why a flow cannot be compiled: each variant says what is wrong, where, and what to do.

use serde::Serialize;

/// A flow that lints clean but cannot be deployed as written.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CompileError {
    /// A decorator dropflow does not deploy.
    #[error(
        "{file}:{line}: @{decorator} is not supported yet by dropflow ({reason}). Remove @{decorator} to deploy this flow."
    )]
    UnsupportedDecorator {
        /// Flow file.
        file: String,
        /// Line of the decorator (or of the transition using it).
        line: u32,
        /// Decorator name.
        decorator: String,
        /// Why, or what to use instead.
        reason: String,
    },
    /// A decorator argument that must be a literal is not, or has the wrong type.
    #[error("{file}:{line}: @{decorator}({argument}=...) {problem}")]
    BadDecoratorArgument {
        /// Flow file.
        file: String,
        /// Line of the decorator.
        line: u32,
        /// Decorator name.
        decorator: String,
        /// Argument name.
        argument: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A parameter dropflow cannot deploy.
    #[error("{file}:{line}: parameter '{parameter}': {problem}")]
    BadParameter {
        /// Flow file.
        file: String,
        /// Line of the assignment.
        line: u32,
        /// Parameter name.
        parameter: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// Metaflow's rules on parameters (duplicates, required with a schedule).
    #[error("{file}:{line}: {message}")]
    Parameters {
        /// Flow file.
        file: String,
        /// Line.
        line: u32,
        /// Metaflow's message.
        message: String,
    },
    /// The `@schedule` decorator is invalid.
    #[error("{file}:{line}: {message}")]
    Schedule {
        /// Flow file.
        file: String,
        /// Line of `@schedule`.
        line: u32,
        /// What is wrong with it.
        message: String,
    },
    /// `@trigger` / `@trigger_on_finish` Metaflow refuses (its message), or dropflow does.
    #[error("{file}:{line}: {error}")]
    Trigger {
        /// Flow file.
        file: String,
        /// Line of the decorator.
        line: u32,
        /// What is wrong.
        #[serde(serialize_with = "as_text")]
        error: crate::events::TriggerError,
    },
    /// The state machine name cannot be formed.
    #[error("{file}:{line}: {message}")]
    Naming {
        /// Flow file.
        file: String,
        /// Line of the class or `@project`.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// `@exit_hook` used as Metaflow refuses it, or with what dropflow cannot run.
    #[error("{file}:{line}: @exit_hook: {message}")]
    ExitHook {
        /// Flow file.
        file: String,
        /// Line of the decorator.
        line: u32,
        /// Metaflow's message, or what dropflow cannot do, and the fix.
        message: String,
    },
    /// A step decorator where Metaflow refuses it: below `@step`, on a method without
    /// `@step`, or on the flow class (Metaflow's `BadStepDecoratorException`).
    #[error(
        "{file}:{line}: You tried to apply decorator '{decorator}' on '{target}' which is not declared as a @step. Make sure you apply this decorator on a function which has @step on the line just before the function name and @{decorator} is above @step. {hint}"
    )]
    BadStepDecorator {
        /// Flow file.
        file: String,
        /// Line of the decorator.
        line: u32,
        /// Decorator name.
        decorator: String,
        /// The method or class it is applied to.
        target: String,
        /// How to fix it.
        hint: String,
    },
    /// A flow decorator on a method (Metaflow's `BadFlowDecoratorException`).
    #[error(
        "{file}:{line}: Decorator '{decorator}' can be applied only to FlowSpecs. Make sure the decorator is above a class definition. Move @{decorator} from `def {method}` to above the flow's `class` line."
    )]
    BadFlowDecorator {
        /// Flow file.
        file: String,
        /// Line of the decorator.
        line: u32,
        /// Decorator name.
        decorator: String,
        /// The method it is applied to.
        method: String,
    },
    /// The same step decorator twice on one step, where Metaflow allows it once
    /// (`DuplicateStepDecoratorException`).
    #[error(
        "{file}:{line}: Step '{step}' already has a decorator '{decorator}'. You can specify this decorator only once. Merge it with the @{decorator} on line {other_line} into one @{decorator}(...)."
    )]
    DuplicateStepDecorator {
        /// Flow file.
        file: String,
        /// Line of the decorator Metaflow refuses (the upper one: decorators apply bottom up).
        line: u32,
        /// Step name.
        step: String,
        /// Decorator name.
        decorator: String,
        /// Line of the one applied first.
        other_line: u32,
    },
    /// The same flow decorator twice on one class (`DuplicateFlowDecoratorException`).
    #[error(
        "{file}:{line}: Flow already has a decorator '{decorator}'. You can specify each decorator only once. Keep one @{decorator} (the other is on line {other_line})."
    )]
    DuplicateFlowDecorator {
        /// Flow file.
        file: String,
        /// Line of the decorator Metaflow refuses (the upper one).
        line: u32,
        /// Decorator name.
        decorator: String,
        /// Line of the one applied first.
        other_line: u32,
    },
    /// A `Parameter(...)` call Python refuses when the class is defined.
    #[error("{file}:{line}: TypeError: {message}. {hint}")]
    ParameterCall {
        /// Flow file.
        file: String,
        /// Line of the assignment.
        line: u32,
        /// Python's message.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// A parameter named like one of Metaflow's own command-line options.
    #[error(
        "{file}:{line}: Parameter name '{parameter}' is a reserved word. Please use a different name for your parameter. Metaflow's command line uses it (reserved: {reserved}, also with _ for -); the attribute can keep its name, e.g. {attribute} = {constructor}('{attribute}_value', ...).",
        reserved = super::RESERVED_PARAMETER_NAMES.join(", ")
    )]
    ReservedParameter {
        /// Flow file.
        file: String,
        /// Line of the assignment.
        line: u32,
        /// Parameter name.
        parameter: String,
        /// The Python attribute.
        attribute: String,
        /// `Parameter`, `IncludeFile` or `Config`.
        constructor: &'static str,
    },
    /// `separator=` on a parameter that is not a string parameter.
    #[error(
        "{file}:{line}: Parameter {parameter}: Separator is only allowed for string parameters. Remove separator=, or make {parameter} a string parameter (type=str or no type, and a literal string default) and convert the items in the step."
    )]
    ParameterSeparator {
        /// Flow file.
        file: String,
        /// Line of the assignment.
        line: u32,
        /// Parameter name.
        parameter: String,
    },
    /// `@timeout` that adds up to no time (Metaflow's `@timeout` step_init).
    #[error(
        "{file}:{line}: Specify a duration for @timeout. Give it seconds=, minutes= or hours= adding up to at least 60 seconds (Metaflow reads each with int(), so minutes=0.5 is 0)."
    )]
    TimeoutMissing {
        /// Flow file.
        file: String,
        /// Line of `@timeout`.
        line: u32,
    },
    /// A timeout under AWS Batch's 60-second minimum (Metaflow's `@batch` step_init).
    #[error(
        "{file}:{line}: The timeout for step {step} should be at least 60 seconds for execution on AWS Batch. @timeout adds up to {seconds} seconds here; dropflow runs every step on AWS Batch, so raise it to 60 seconds or more."
    )]
    TimeoutTooShort {
        /// Flow file.
        file: String,
        /// Line of `@timeout`.
        line: u32,
        /// Step name.
        step: String,
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// A step's `@batch`/`@resources` settings that AWS Batch would refuse on the step's
    /// compute platform (Fargate's vCPU/memory pairs, a missing execution role, ...).
    #[error("{file}:{line}: step {step}: {problem}")]
    JobDefinition {
        /// Flow file.
        file: String,
        /// Line of `@batch` or `@resources` (the step's when neither is there).
        line: u32,
        /// Step name.
        step: String,
        /// What Batch would refuse, and the fix.
        problem: String,
    },
    /// A deploy option is invalid.
    #[error("deploy option '{option}': {problem}")]
    BadOption {
        /// Option name.
        option: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The generated definition breaks a Step Functions limit.
    #[error("{file}: {message}")]
    AslLimit {
        /// Flow file.
        file: String,
        /// The limit that was exceeded.
        message: String,
    },
}

impl CompileError {
    /// Stable machine-readable code (report `code`, Lambda `errorType` suffix).
    pub fn code(&self) -> &'static str {
        match self {
            CompileError::UnsupportedDecorator { .. } => "compile.unsupported_decorator",
            CompileError::BadDecoratorArgument { .. } => "compile.bad_decorator_argument",
            CompileError::BadParameter { .. } => "compile.bad_parameter",
            CompileError::Parameters { .. } => "compile.parameters",
            CompileError::Schedule { .. } => "compile.schedule",
            CompileError::ExitHook { .. } => "compile.exit_hook",
            CompileError::Naming { .. } => "compile.naming",
            CompileError::Trigger { .. } => "compile.trigger",
            CompileError::BadStepDecorator { .. } => "compile.bad_step_decorator",
            CompileError::BadFlowDecorator { .. } => "compile.bad_flow_decorator",
            CompileError::DuplicateStepDecorator { .. } => "compile.duplicate_step_decorator",
            CompileError::DuplicateFlowDecorator { .. } => "compile.duplicate_flow_decorator",
            CompileError::ParameterCall { .. } => "compile.parameter_call",
            CompileError::ReservedParameter { .. } => "compile.reserved_parameter",
            CompileError::ParameterSeparator { .. } => "compile.parameter_separator",
            CompileError::TimeoutMissing { .. } => "compile.timeout_missing",
            CompileError::TimeoutTooShort { .. } => "compile.timeout_too_short",
            CompileError::JobDefinition { .. } => "compile.job_definition",
            CompileError::BadOption { .. } => "compile.bad_option",
            CompileError::AslLimit { .. } => "compile.asl_limit",
        }
    }
}

/// Serialises an error as its message.
fn as_text<S: serde::Serializer>(
    error: &crate::events::TriggerError,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(error)
}
