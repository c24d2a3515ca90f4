//! Python front end: parses flow files with Astral's `ruff_python_parser` and extracts
//! the flow model (classes, steps, transitions, decorators, parameters).

mod extract;
mod fold;
mod lines;
mod model;
mod parameter_default;
mod value;

pub use fold::{Constants, fold};
pub use model::{
    Decorator, FlowClass, ModuleFunction, ModuleInfo, NON_PARAMETER_ATTRIBUTES, ParameterDef,
    ParameterKind, ParameterProblem, PlainMethod, StepDef, TailNext, TransitionKind,
    is_parameter_attribute,
};
pub use parameter_default::DefaultSource;
pub use value::{Value, literal};

use lines::LineIndex;

/// A flow file that is not valid Python.
#[derive(Debug, Clone, PartialEq, serde::Serialize, thiserror::Error)]
#[error(
    "{file}:{line}: Python syntax error: {message}. Fix the syntax (`python -m py_compile {file}` gives Python's own account, which may point at an earlier line, e.g. an unclosed bracket)."
)]
pub struct SyntaxError {
    /// File inside the package.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// The parser's message.
    pub message: String,
}

/// Parses one Python file and extracts what dropflow needs from it.
pub fn parse_module(file: &str, source: &str) -> Result<ModuleInfo, SyntaxError> {
    let lines = LineIndex::new(source);
    let parsed = ruff_python_parser::parse_module(source).map_err(|error| SyntaxError {
        file: file.to_string(),
        line: lines.line_of(error.location.start()),
        message: error.error.to_string(),
    })?;
    let body = &parsed.syntax().body;
    let extractor = extract::Extractor {
        file,
        source,
        lines,
        constants: extract::module_constants(body),
    };
    Ok(extractor.module(body))
}

#[cfg(test)]
mod tests;
