//! The deployment answers: `GET /flows` and `GET /flows/{flow}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::{ProjectInfo, ScheduleInfo};
use crate::parameters::{ParameterSpec, ParameterType};
use crate::report::{ReportSummary, Status};

/// `GET /flows`: every deployed flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowList {
    /// The deployed flows, one per state machine.
    pub flows: Vec<FlowSummary>,
}

/// One deployed flow in [`FlowList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSummary {
    /// State machine name (`ParameterFlow`, `demo_project.prod.Flow`).
    pub name: String,
    /// Flow class name.
    pub flow: String,
    /// The live version id, as recorded at deploy.
    pub version: String,
    /// The EventBridge Scheduler schedule, as recorded at deploy; `null` without one.
    pub schedule: Option<ScheduleInfo>,
    /// The upload it was deployed from, relative to `flows/`.
    pub source_key: String,
    /// Its upload's last deploy report, in brief.
    pub last_report: LastReport,
}

/// The last deploy report of a flow's upload, in brief; both fields are `null` before
/// there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastReport {
    /// The report's outcome (`deployed`, `unchanged`, `failed`, ...).
    pub status: Option<Status>,
    /// The report's one sentence saying what happened.
    pub summary: Option<String>,
}

/// `GET /flows/{flow}`: one deployment, at the version the `live` alias runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDetail {
    /// State machine name.
    pub name: String,
    /// Flow class name.
    pub flow: String,
    /// The flow's file, relative to the package root.
    pub file: String,
    /// `@project` name and branch; `null` without one.
    pub project: Option<ProjectInfo>,
    /// The version id the `live` alias runs.
    pub version: String,
    /// ARN of that published state machine version.
    pub version_arn: String,
    /// ARN of the `live` alias.
    pub alias_arn: String,
    /// ARN of the state machine.
    pub state_machine_arn: String,
    /// The upload it was deployed from, relative to `flows/`.
    pub source_key: String,
    /// Its parameters, in declaration order.
    pub parameters: Vec<FlowParameter>,
    /// Its `Config` values, by name.
    pub configs: BTreeMap<String, Value>,
    /// The live version's schedule; `null` without one.
    pub schedule: Option<ScheduleInfo>,
    /// The versions whose manifests are in the bucket, newest first.
    pub versions: Vec<FlowVersion>,
    /// Its upload's last deploy report, in short; `null` before there is one.
    pub last_report: Option<ReportSummary>,
}

/// A parameter of a deployed flow, as clients need it (no source line, no deploy-time
/// function source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowParameter {
    /// Name: the execution input's key and the `--name` option.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// Default value (a deploy-time default as evaluated at deploy); `null` without one.
    pub default: Option<Value>,
    /// A run must give a value: required, with no default and no deploy-time default.
    pub required: bool,
    /// `help=`; `null` without one.
    pub help: Option<String>,
    /// The default was computed at deploy time (`default=some_function`).
    pub deploy_time: bool,
    /// An `IncludeFile`: the value is a path in the code package.
    pub include_file: bool,
}

impl From<&ParameterSpec> for FlowParameter {
    fn from(spec: &ParameterSpec) -> Self {
        Self {
            name: spec.name.clone(),
            kind: spec.kind,
            default: spec.default.clone(),
            required: spec.required && spec.default.is_none() && spec.deploy_time.is_none(),
            help: spec.help.clone(),
            deploy_time: spec.deploy_time.is_some(),
            include_file: spec.include_file,
        }
    }
}

/// One version of a deployment in [`FlowDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowVersion {
    /// Version id.
    pub version: String,
    /// When its manifest was written (RFC 3339); `null` when unknown.
    pub deployed_at: Option<String>,
    /// The `live` alias runs it.
    pub live: bool,
}
