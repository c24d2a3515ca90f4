//! Why a deploy-time default could not be evaluated: each variant names the parameter,
//! the function and its `file:line`, says what went wrong, and what to do instead.

use serde::Serialize;

use crate::pipeline::Finding;

/// A deploy-time parameter default (`default=my_function` or `default=lambda ctx: ...`)
/// that could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum DeployTimeError {
    /// The function needs something the sandbox does not give deploy-time code: a module
    /// outside the supported standard library, the file system, a name that only
    /// running the whole flow file would define.
    #[error(
        "{file}:{line}: the deploy-time default of parameter '{parameter}' ({function}) cannot run in dropflow's sandbox: {reason}. Compute the value in the start step instead, or use a literal default."
    )]
    Unsupported {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line of the offending code (the function's line when unknown).
        line: u32,
        /// What the function tried to do.
        reason: String,
    },
    /// The function uses Python the sandbox (monty) cannot compile.
    #[error(
        "{file}:{line}: the deploy-time default of parameter '{parameter}' ({function}) uses Python that dropflow's sandbox does not support: {message}. Simplify the function, compute the value in the start step instead, or use a literal default."
    )]
    UnsupportedSyntax {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line of the function.
        line: u32,
        /// The sandbox's message.
        message: String,
    },
    /// The function ran past the time limit (e.g. `while True: pass`).
    #[error(
        "{file}:{line}: the deploy-time default of parameter '{parameter}' ({function}) ran past the {limit_ms} ms time limit. Deploy-time functions must return quickly: compute the value in the start step instead, or use a literal default."
    )]
    TimeLimit {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line of the function.
        line: u32,
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// The function asked for more memory than allowed.
    #[error(
        "{file}:{line}: the deploy-time default of parameter '{parameter}' ({function}) needs more than {limit} of memory. Compute the value in the start step instead, or use a literal default.",
        limit = bytes_text(.limit_bytes)
    )]
    MemoryLimit {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line of the offending code (the function's line when unknown).
        line: u32,
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The function raised a Python exception.
    #[error(
        "{file}:{line}: the deploy-time default of parameter '{parameter}' ({function}) raised {exception}: {message}. Fix the function, or use a literal default.",
        exception = .raised.exception,
        message = .raised.message
    )]
    Exception {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line that raised (innermost frame in the flow file; the function's line when unknown).
        line: u32,
        /// The exception (boxed: it is the largest part of any error).
        #[serde(flatten)]
        raised: Box<RaisedException>,
    },
    /// The function returned a value of the wrong type for the parameter (Metaflow's
    /// `ParameterFieldTypeMismatch`).
    #[error(
        "{file}:{line}: the value returned by the deploy-time function {function} for the parameter '{parameter}' has a wrong type: expected {expected}, got {found}. Return {expected}, or change the parameter's type=."
    )]
    WrongType {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line of the function.
        line: u32,
        /// What the parameter's type needs.
        expected: &'static str,
        /// The Python type returned (and a short repr when useful).
        found: String,
    },
    /// A `JSONType` parameter's function returned a string that is not JSON.
    #[error(
        "{file}:{line}: the deploy-time function {function} for the JSONType parameter '{parameter}' returned a string that is not valid JSON ({message}): {value}. Return json.dumps(value), or the value itself."
    )]
    InvalidJson {
        /// Parameter name.
        parameter: String,
        /// Function name, or `<lambda>`.
        function: String,
        /// Flow file.
        file: String,
        /// Line of the function.
        line: u32,
        /// The returned string (shortened).
        value: String,
        /// The JSON parser's message.
        message: String,
    },
}

/// `64 MiB`, `1500 bytes`.
fn bytes_text(bytes: &usize) -> String {
    const MIB: usize = 1024 * 1024;
    if *bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A Python exception raised by a deploy-time function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RaisedException {
    /// Exception type (`ValueError`).
    pub exception: String,
    /// Exception message.
    pub message: String,
    /// Python-style traceback through the flow file's frames.
    pub traceback: String,
}

impl DeployTimeError {
    /// Stable machine-readable code (reports, Lambda `errorType`).
    pub fn code(&self) -> &'static str {
        match self {
            DeployTimeError::Unsupported { .. } => "deploy_time.unsupported",
            DeployTimeError::UnsupportedSyntax { .. } => "deploy_time.unsupported_syntax",
            DeployTimeError::TimeLimit { .. } => "deploy_time.time_limit",
            DeployTimeError::MemoryLimit { .. } => "deploy_time.memory_limit",
            DeployTimeError::Exception { .. } => "deploy_time.exception",
            DeployTimeError::WrongType { .. } => "deploy_time.wrong_type",
            DeployTimeError::InvalidJson { .. } => "deploy_time.invalid_json",
        }
    }

    /// The parameter whose default failed.
    pub fn parameter(&self) -> &str {
        self.location().0
    }

    /// The flow file.
    pub fn file(&self) -> &str {
        self.location().1
    }

    /// The line the error points at.
    pub fn line(&self) -> u32 {
        self.location().2
    }

    /// This error as a report entry.
    pub fn finding(&self) -> Finding {
        Finding {
            code: self.code().to_string(),
            message: self.to_string(),
            file: Some(self.file().to_string()),
            line: Some(self.line()),
        }
    }

    fn location(&self) -> (&str, &str, u32) {
        match self {
            DeployTimeError::Unsupported {
                parameter,
                file,
                line,
                ..
            }
            | DeployTimeError::UnsupportedSyntax {
                parameter,
                file,
                line,
                ..
            }
            | DeployTimeError::TimeLimit {
                parameter,
                file,
                line,
                ..
            }
            | DeployTimeError::MemoryLimit {
                parameter,
                file,
                line,
                ..
            }
            | DeployTimeError::Exception {
                parameter,
                file,
                line,
                ..
            }
            | DeployTimeError::WrongType {
                parameter,
                file,
                line,
                ..
            }
            | DeployTimeError::InvalidJson {
                parameter,
                file,
                line,
                ..
            } => (parameter, file, *line),
        }
    }
}
