//! Why a flow's configs or included files cannot be read at deploy time.

use serde::Serialize;

/// A `Config` or `IncludeFile` that cannot be deployed as written. Texts in quotes are
/// Metaflow's own where Metaflow has one.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FlowInputError {
    /// Both `default=` (a file) and `default_value=` are given.
    #[error(
        "{file}:{line}: For config '{config}', you can only specify default or default_value, not both"
    )]
    ConfigTwoDefaults {
        /// Flow file.
        file: String,
        /// Line of the `Config(...)`.
        line: u32,
        /// Config name.
        config: String,
    },
    /// A required config has no default, and a deployment cannot be given one.
    #[error(
        "{file}:{line}: Bad values passed for configuration options: missing configuration for '{config}'. Give Config('{config}') a default file (default='{config}.json') or a default_value."
    )]
    ConfigMissing {
        /// Flow file.
        file: String,
        /// Line of the `Config(...)`.
        line: u32,
        /// Config name.
        config: String,
    },
    /// The default configuration file is not in the package.
    #[error(
        "{file}:{line}: Bad values passed for configuration options: default configuration file '{path}' could not be read for '{config}'. Add {path} to the uploaded package (paths are relative to the package root, where tasks run; `python flow.py package save` keeps only .py files unless given --package-suffixes)."
    )]
    ConfigFileMissing {
        /// Flow file.
        file: String,
        /// Line of the `Config(...)`.
        line: u32,
        /// Config name.
        config: String,
        /// The default path.
        path: String,
    },
    /// The configuration is not JSON (and no parser is given).
    #[error(
        "{file}:{line}: Bad values passed for configuration options: configuration value for '{config}' is not valid JSON: {problem}. Fix {source_name}, or pass parser= for another format."
    )]
    ConfigNotJson {
        /// Flow file.
        file: String,
        /// Line of the `Config(...)`.
        line: u32,
        /// Config name.
        config: String,
        /// Where the value came from (a file name or `default_value`).
        source_name: String,
        /// The JSON parser's message.
        problem: String,
    },
    /// A `Config(...)` form dropflow cannot evaluate without running Python.
    #[error("{file}:{line}: Config '{config}': {problem}")]
    ConfigUnsupported {
        /// Flow file.
        file: String,
        /// Line of the `Config(...)`.
        line: u32,
        /// Config name.
        config: String,
        /// What is not supported and what to write instead.
        problem: String,
    },
    /// A reference to a key the configuration does not have.
    #[error(
        "{file}:{line}: {reference}: configuration '{config}' has no {key} (it has: {available}). Fix the reference or the configuration."
    )]
    ConfigKey {
        /// Flow file.
        file: String,
        /// Line of the decorator or parameter using it.
        line: u32,
        /// The expression as written.
        reference: String,
        /// Config name.
        config: String,
        /// The missing key or index, quoted.
        key: String,
        /// The keys there are.
        available: String,
    },
    /// The resolved configurations do not fit in a job definition's environment.
    #[error(
        "{file}: the flow's configurations take {bytes} bytes as JSON; dropflow passes them to every task in its environment, which holds at most {limit}. Keep large data out of Config (read it from a file in a step)."
    )]
    ConfigsTooLarge {
        /// Flow file.
        file: String,
        /// Their size as JSON.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// An `IncludeFile` default that is not in the package.
    #[error(
        "{file}:{line}: IncludeFile '{parameter}': could not open file '{path}' for reading. Add {path} to the uploaded package (paths are relative to the package root, where tasks run; `python flow.py package save` keeps only .py files unless given --package-suffixes)."
    )]
    IncludeFileMissing {
        /// Flow file.
        file: String,
        /// Line of the `IncludeFile(...)`.
        line: u32,
        /// Parameter name.
        parameter: String,
        /// The default path.
        path: String,
    },
    /// An `IncludeFile` default that is not a path literal.
    #[error(
        "{file}:{line}: IncludeFile '{parameter}': default={default} cannot be evaluated without running Python. Write the file's path in the package as a string, e.g. default='data.csv'."
    )]
    IncludeFileDefault {
        /// Flow file.
        file: String,
        /// Line of the `IncludeFile(...)`.
        line: u32,
        /// Parameter name.
        parameter: String,
        /// The default as written.
        default: String,
    },
    /// An `IncludeFile` or `Config` default computed by the flow file's functions
    /// (`default=script_path("movies.csv")`) that the sandbox could not evaluate.
    #[error("{error}")]
    ComputedDefault {
        /// What went wrong, with the file and line.
        error: Box<crate::deploy_time::DeployTimeError>,
    },
    /// A computed `IncludeFile` or `Config` default that names a path outside the package.
    #[error(
        "{file}:{line}: {kind} '{parameter}': default={default} evaluates to '{path}', which is outside the uploaded package (in the sandbox the package root is {root} and __file__ is the flow file under it). Return a path inside the package, e.g. os.path.join(os.path.dirname(__file__), 'data.csv').",
        root = crate::deploy_time::PACKAGE_ROOT
    )]
    ComputedDefaultOutside {
        /// Flow file.
        file: String,
        /// Line of the `IncludeFile(...)` or `Config(...)`.
        line: u32,
        /// `IncludeFile` or `Config`.
        kind: &'static str,
        /// Parameter name.
        parameter: String,
        /// The default as written.
        default: String,
        /// What it evaluated to.
        path: String,
    },
}

impl FlowInputError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FlowInputError::ConfigTwoDefaults { .. } => "config.two_defaults",
            FlowInputError::ConfigMissing { .. } => "config.missing",
            FlowInputError::ConfigFileMissing { .. } => "config.file_missing",
            FlowInputError::ConfigNotJson { .. } => "config.not_json",
            FlowInputError::ConfigUnsupported { .. } => "config.unsupported",
            FlowInputError::ConfigKey { .. } => "config.no_such_key",
            FlowInputError::ConfigsTooLarge { .. } => "config.too_large",
            FlowInputError::IncludeFileMissing { .. } => "include_file.missing",
            FlowInputError::IncludeFileDefault { .. } => "include_file.default",
            FlowInputError::ComputedDefault { error } => error.code(),
            FlowInputError::ComputedDefaultOutside { .. } => "flow_input.outside_package",
        }
    }

    /// The flow file and line the error points at.
    pub fn location(&self) -> (&str, Option<u32>) {
        match self {
            FlowInputError::ConfigTwoDefaults { file, line, .. }
            | FlowInputError::ConfigMissing { file, line, .. }
            | FlowInputError::ConfigFileMissing { file, line, .. }
            | FlowInputError::ConfigNotJson { file, line, .. }
            | FlowInputError::ConfigUnsupported { file, line, .. }
            | FlowInputError::ConfigKey { file, line, .. }
            | FlowInputError::IncludeFileMissing { file, line, .. }
            | FlowInputError::IncludeFileDefault { file, line, .. }
            | FlowInputError::ComputedDefaultOutside { file, line, .. } => (file, Some(*line)),
            FlowInputError::ComputedDefault { error } => (error.file(), Some(error.line())),
            FlowInputError::ConfigsTooLarge { file, .. } => (file, None),
        }
    }
}
