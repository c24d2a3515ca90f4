//! The compile pipeline end to end: package → flow → graph → lint → compile. The compile
//! Lambda and `dropflow compile` both call this; neither repeats any of its steps.

use std::collections::BTreeMap;

use crate::compile::{
    self, CompileInput, DeployOptions, Deployment, LoadedFlow, OptionsLayer, Platform,
};
use crate::discover::{self, DiscoveryError};
use crate::flow_inputs::{self, ConfigEntry, FlowInputError};
use crate::graph::FlowGraph;
use crate::lint::LintedGraph;
use crate::lint::{self, LintError};
use crate::package::{PackageError, SourcePackage};
use crate::python::{FlowClass, ModuleInfo};

/// Name of the deploy options file inside a package.
pub const OPTIONS_FILE: &str = "dropflow.toml";

/// Anything that stops a package from deploying, with a stable code and a location.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The upload is not a safe, readable package.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// No single flow could be found, or its file does not parse.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// `dropflow.toml` is invalid.
    #[error(transparent)]
    Options(#[from] compile::OptionsError),
    /// Metaflow's lint rejects the flow.
    #[error(transparent)]
    Lint(#[from] LintError),
    /// A `Config` or `IncludeFile` cannot be read from the package.
    #[error(transparent)]
    Inputs(#[from] Box<FlowInputError>),
    /// The flow cannot be deployed as written.
    #[error(transparent)]
    Compile(#[from] compile::CompileError),
}

impl Error {
    /// Stable machine-readable code (reports, Lambda `errorType`).
    pub fn code(&self) -> String {
        match self {
            Error::Package(e) => e.code().to_string(),
            Error::Discovery(e) => e.code().to_string(),
            Error::Options(_) => "options.invalid".to_string(),
            Error::Lint(e) => format!("lint.{}", e.check.trim_start_matches("check_")),
            Error::Inputs(e) => e.code().to_string(),
            Error::Compile(e) => e.code().to_string(),
        }
    }

    /// This error as a report entry.
    pub fn finding(&self) -> Finding {
        let (file, line) = match self {
            Error::Lint(e) => (Some(e.file.clone()), e.line),
            Error::Discovery(DiscoveryError::Syntax(e)) => (Some(e.file.clone()), Some(e.line)),
            Error::Inputs(e) => {
                let (file, line) = e.location();
                (Some(file.to_string()), line)
            }
            _ => (None, None),
        };
        Finding {
            code: self.code(),
            message: self.to_string(),
            file,
            line,
        }
    }
}

pub use dropflow_contract::Finding;

/// A flow that parsed and passed lint: ready to compile.
#[derive(Debug, Clone)]
pub struct CheckedFlow {
    /// The flow and its module, past Metaflow's load checks.
    pub loaded: LoadedFlow,
    /// Its graph.
    pub graph: LintedGraph,
    /// The flow's `Config`s, resolved from the package (their uses in decorators and
    /// parameter defaults are already replaced by their values in the flow class).
    pub configs: Vec<ConfigEntry>,
    /// Deploy options from the package's `dropflow.toml` (empty when absent).
    pub package_options: OptionsLayer,
    /// Digest of the package.
    pub source_digest: String,
    /// The uv project files ([`compile::UV_PROJECT_FILES`]) the package's root lacks.
    pub missing_uv_files: Vec<&'static str>,
}

impl CheckedFlow {
    /// The flow class.
    pub fn flow(&self) -> &FlowClass {
        self.loaded.flow()
    }

    /// The flow file's module.
    pub fn module(&self) -> &ModuleInfo {
        self.loaded.module()
    }
}

/// Finds, parses and lints the flow of a package.
pub fn check(package: &SourcePackage) -> Result<CheckedFlow, Error> {
    let files = package
        .files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()));
    let found = discover::find_flow(files, package.script_hint.as_deref())?;
    // What Python refuses while it defines the classes, before anything else.
    let mut defined = compile::check_definitions(found)?;
    // Configs next, as Metaflow resolves them when it loads the flow: the graph's steps
    // carry their decorators with config references already replaced.
    // Defaults computed by the flow file's functions (`default=script_path("x.csv")`)
    // first, as Python evaluates them when it defines the class.
    let found = defined.found_mut();
    flow_inputs::evaluate_computed_defaults(found, package).map_err(Box::new)?;
    let constants = &found.module.constants;
    let configs =
        flow_inputs::resolve_configs(found.flow(), constants, package).map_err(Box::new)?;
    flow_inputs::substitute(found.flow_mut(), &configs).map_err(Box::new)?;
    // Then what Metaflow refuses when it initialises parameters and step decorators,
    // before click reads any included file.
    let loaded = defined.check_initialization()?;
    flow_inputs::check_include_files(loaded.flow(), &loaded.module().constants, package)
        .map_err(Box::new)?;
    let graph = lint::lint(FlowGraph::new(loaded.flow()))?;
    let package_options = match package.file(OPTIONS_FILE) {
        Some(bytes) => OptionsLayer::from_toml(OPTIONS_FILE, &String::from_utf8_lossy(bytes))?,
        None => OptionsLayer::default(),
    };
    Ok(CheckedFlow {
        loaded,
        graph,
        configs,
        package_options,
        source_digest: package.sha256.clone(),
        missing_uv_files: compile::UV_PROJECT_FILES
            .into_iter()
            .filter(|file| package.file(file).is_none())
            .collect(),
    })
}

/// Compiles a checked flow with fully resolved options.
pub fn compile(
    checked: &CheckedFlow,
    options: &DeployOptions,
    platform: &Platform,
    deploy_time_values: &BTreeMap<String, serde_json::Value>,
) -> Result<Deployment, Error> {
    Ok(compile::compile(CompileInput {
        loaded: &checked.loaded,
        graph: &checked.graph,
        source_digest: &checked.source_digest,
        options,
        platform,
        deploy_time_values,
        configs: &checked.configs,
        missing_uv_files: &checked.missing_uv_files,
    })?)
}
