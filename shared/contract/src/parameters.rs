//! Flow parameters as deployed: name, type, default, required (what Metaflow's
//! `step-functions create` records, and what the trigger API checks inputs against).

use serde::{Deserialize, Serialize};

/// A parameter's type, as Metaflow's click types map them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterType {
    /// `str` (also the type of deploy-time and `None` defaults).
    Str,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `JSONType`: any JSON value.
    Json,
}

/// A default evaluated when the flow is deployed (`default=some_function`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployTimeDefault {
    /// Function name (or `<lambda>`).
    pub function: String,
    /// The function's source, for the sandboxed evaluator.
    pub source: String,
}

/// One deployed parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterSpec {
    /// Parameter name (CLI and execution input key).
    pub name: String,
    /// Python attribute (artifact name).
    pub attribute: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// Default value (after deploy-time evaluation), if any.
    pub default: Option<serde_json::Value>,
    /// `required=True`.
    pub required: bool,
    /// `help=`.
    pub help: Option<String>,
    /// Set when the default is computed at deploy time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_time: Option<DeployTimeDefault>,
    /// An `IncludeFile`: the value is a path in the code package (the default is one),
    /// whose content the run's `init` task stores as the parameter's artifact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_file: bool,
    /// Line of the definition.
    pub line: u32,
}
