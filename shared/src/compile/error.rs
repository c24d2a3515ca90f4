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
            CompileError::Naming { .. } => "compile.naming",
            CompileError::BadOption { .. } => "compile.bad_option",
            CompileError::AslLimit { .. } => "compile.asl_limit",
        }
    }
}
