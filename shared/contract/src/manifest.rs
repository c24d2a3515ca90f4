//! The deployment manifest: everything about one deployed version that the step, trigger
//! and compile Lambdas need at run time, written next to the state machine version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::exit_hooks::ExitHooks;
use crate::job_definition::JobDefinition;
use crate::node_type::NodeType;
use crate::options::DeployOptions;
use crate::parameters::ParameterSpec;
use crate::step_runtime::StepRuntime;

/// Manifest format version; bump on incompatible changes.
pub const MANIFEST_SCHEMA: u32 = 1;

/// One deployed version of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA`].
    pub schema: u32,
    /// dropflow version that compiled it.
    pub dropflow_version: String,
    /// Flow class and file.
    pub flow: FlowInfo,
    /// State machine name.
    pub state_machine: String,
    /// Metaflow's production token ([`crate::production_token`] of the state
    /// machine): tasks get it as `METAFLOW_PRODUCTION_TOKEN`, runs are tagged
    /// `production:<token>`. Empty in manifests written before it existed (the step
    /// Lambda then derives it; see [`Manifest::production_token`]).
    #[serde(default)]
    pub production_token: String,
    /// `@project` name and branch, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectInfo>,
    /// Content-derived version id.
    pub version: String,
    /// `s3://` URI of this manifest.
    pub location: String,
    /// `s3://` URI of the code package tasks download.
    pub code_package: String,
    /// Metaflow datastore root the tasks use.
    pub datastore_root: String,
    /// Parameters, with defaults after deploy-time evaluation.
    pub parameters: Vec<ParameterSpec>,
    /// `Config` values by config name, as resolved from the package (configs whose
    /// `parser=` only the tasks run are left out). Fixed per version, as in Metaflow.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, serde_json::Value>,
    /// Schedule, if the flow has `@schedule`.
    pub schedule: Option<ScheduleInfo>,
    /// `@trigger` / `@trigger_on_finish`: the events that start a run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<crate::triggers::Triggers>,
    /// Per-step graph facts and runtime settings.
    pub steps: BTreeMap<String, StepPlan>,
    /// `@exit_hook` functions, run after the run ends.
    #[serde(default, skip_serializing_if = "ExitHooks::is_empty")]
    pub exit_hooks: ExitHooks,
    /// Batch job definitions to register (one per step).
    pub job_definitions: Vec<JobDefinition>,
    /// Deploy options in effect.
    pub options: DeployOptions,
}

impl Manifest {
    /// The production token: the recorded one, or (an older manifest) the state machine's.
    pub fn production_token(&self) -> String {
        if self.production_token.is_empty() {
            crate::production_token(&self.state_machine)
        } else {
            self.production_token.clone()
        }
    }
}

/// Which flow this is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowInfo {
    /// Flow (class) name.
    pub name: String,
    /// Flow file inside the package.
    pub file: String,
    /// Start step name.
    pub start_step: String,
    /// End step name.
    pub end_step: String,
}

/// `@project` placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectInfo {
    /// Project name.
    pub name: String,
    /// Branch (`prod`, `test.x`, `user.alice`).
    pub branch: String,
}

impl ProjectInfo {
    /// Metaflow's `current.is_production`.
    pub fn is_production(&self) -> bool {
        self.branch == "prod" || self.branch.starts_with("prod.")
    }

    /// Metaflow's `current.is_user_branch`.
    pub fn is_user_branch(&self) -> bool {
        self.branch.starts_with("user.")
    }

    /// Metaflow's `current.project_flow_name`: `<project>.<branch>.<flow>`.
    pub fn flow_name(&self, flow: &str) -> String {
        format!("{}.{}.{}", self.name, self.branch, flow)
    }
}

/// The EventBridge Scheduler schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// Schedule name.
    pub name: String,
    /// `cron(...)` expression.
    pub expression: String,
    /// IANA time zone.
    pub timezone: String,
}

/// One step as the step Lambda sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepPlan {
    /// Metaflow node type.
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// Parent steps.
    pub in_funcs: Vec<String>,
    /// Child steps.
    pub out_funcs: Vec<String>,
    /// Enclosing split steps, outermost first.
    pub split_parents: Vec<String>,
    /// The join closing this split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matching_join: Option<String>,
    /// Inside at least one foreach.
    pub is_inside_foreach: bool,
    /// Foreach artifact name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach_param: Option<String>,
    /// Switch condition artifact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Switch cases.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub switch_cases: BTreeMap<String, String>,
    /// Job definition name.
    pub job_definition: String,
    /// Resources, retries, timeout, environment, image, queue.
    pub runtime: StepRuntime,
    /// Line of the step's `def`.
    pub line: u32,
}
