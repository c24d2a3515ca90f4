//! The trigger API's answers as the client reads them (README "The HTTP API";
//! `shared/api/src/{flows,runs,progress}.rs` write them), and what each command
//! prints: every type is both `Serialize` (`--json`) and `Display` (people).

use std::collections::BTreeMap;
use std::fmt;

use dropflow_compiler::compile::{ParameterType, ScheduleInfo};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A run status that will not change any more.
pub fn is_final(status: &str) -> bool {
    !matches!(status, "RUNNING" | "PENDING_REDRIVE")
}

/// The status of a flow's last report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastReport {
    /// `deployed`, `unchanged`, `failed`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// Its summary.
    #[serde(default)]
    pub summary: Option<String>,
}

/// One deployed flow (`GET /flows`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSummary {
    /// State machine name.
    pub name: String,
    /// Flow class.
    pub flow: String,
    /// Live version id.
    pub version: String,
    /// Its schedule.
    #[serde(default)]
    pub schedule: Option<ScheduleInfo>,
    /// The upload it was deployed from.
    #[serde(default)]
    pub source_key: Option<String>,
    /// The last report.
    #[serde(default)]
    pub last_report: LastReport,
}

/// `dropflow flows`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowList {
    /// Deployed flows.
    pub flows: Vec<FlowSummary>,
}

impl fmt::Display for FlowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flows.is_empty() {
            return write!(
                f,
                "no flows deployed (deploy one with `dropflow deploy PATH`)"
            );
        }
        let width = self.flows.iter().map(|x| x.name.len()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for flow in &self.flows {
            let schedule = flow
                .schedule
                .as_ref()
                .map(|s| format!("  {} ({})", s.expression, s.timezone))
                .unwrap_or_default();
            let status = flow.last_report.status.as_deref().unwrap_or("?");
            lines.push(format!(
                "{:width$}  version {}  last deploy: {status}{schedule}",
                flow.name, flow.version
            ));
        }
        write!(f, "{}", lines.join("\n"))
    }
}

/// A parameter of a deployed flow (`GET /flows/{flow}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowParameter {
    /// Name (the `--name` option).
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// Deployed default.
    #[serde(default)]
    pub default: Option<Value>,
    /// Required without a default.
    #[serde(default)]
    pub required: bool,
    /// `help=`.
    #[serde(default)]
    pub help: Option<String>,
    /// The default is computed at deploy time.
    #[serde(default)]
    pub deploy_time: bool,
    /// An `IncludeFile`.
    #[serde(default)]
    pub include_file: bool,
}

/// One deployed flow in detail (`GET /flows/{flow}`), the fields the client uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowDetail {
    /// State machine name.
    pub name: String,
    /// Flow class.
    pub flow: String,
    /// Live version id.
    pub version: String,
    /// The upload it was deployed from.
    #[serde(default)]
    pub source_key: Option<String>,
    /// Parameters, in declaration order.
    #[serde(default)]
    pub parameters: Vec<FlowParameter>,
    /// Schedule.
    #[serde(default)]
    pub schedule: Option<ScheduleInfo>,
}

/// A started run (`POST /flows/{flow}/runs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    /// Metaflow run id (`sfn-...`).
    pub run_id: String,
    /// Execution ARN.
    pub execution_arn: String,
    /// Flow class.
    pub flow: String,
    /// State machine.
    pub state_machine: String,
    /// Version it runs.
    pub version: String,
    /// Status.
    pub status: String,
    /// Start date.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Every parameter's value for the run.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

impl fmt::Display for RunStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "started {}/{} (state machine {} version {})",
            self.flow, self.run_id, self.state_machine, self.version
        )?;
        if !self.parameters.is_empty() {
            let values: Vec<String> = self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, "\n  parameters: {}", values.join(", "))?;
        }
        Ok(())
    }
}

/// One run in a list (`GET /flows/{flow}/runs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run id.
    pub run_id: String,
    /// Status.
    pub status: String,
    /// Start date.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Stop date.
    #[serde(default)]
    pub stop_date: Option<String>,
    /// Execution ARN.
    pub execution_arn: String,
}

/// `dropflow runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunList {
    /// Flow class.
    pub flow: String,
    /// State machine.
    pub state_machine: String,
    /// Runs, newest first.
    pub runs: Vec<RunSummary>,
    /// More runs: pass as `--next-token`.
    #[serde(default)]
    pub next_token: Option<String>,
}

impl fmt::Display for RunList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.runs.is_empty() {
            return write!(f, "{} has no runs", self.state_machine);
        }
        let width = self.runs.iter().map(|r| r.run_id.len()).max().unwrap_or(0);
        let lines: Vec<String> = self
            .runs
            .iter()
            .map(|r| {
                format!(
                    "{:width$}  {:9}  {}  {}",
                    r.run_id,
                    r.status,
                    r.start_date.as_deref().unwrap_or("-"),
                    r.stop_date.as_deref().unwrap_or("-")
                )
            })
            .collect();
        write!(f, "{}", lines.join("\n"))?;
        if let Some(token) = &self.next_token {
            write!(f, "\n(more: --next-token {token})")?;
        }
        Ok(())
    }
}

/// A task whose newest attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedTask {
    /// Task id.
    pub task: String,
    /// Attempt.
    pub attempt: u32,
    /// Error name.
    #[serde(default)]
    pub error: Option<String>,
    /// The API path of its stderr log.
    #[serde(default)]
    pub log: Option<String>,
}

/// One step's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    /// Step name.
    pub step: String,
    /// Tasks with a record.
    pub tasks: usize,
    /// Attempts over its tasks.
    #[serde(default)]
    pub attempts: usize,
    /// Tasks by the status of their newest attempt.
    #[serde(default)]
    pub status: BTreeMap<String, usize>,
    /// Failed tasks.
    #[serde(default)]
    pub failed: Vec<FailedTask>,
}

impl fmt::Display for StepProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self
            .status
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        write!(f, "{}: {}", self.step, counts.join(", "))
    }
}

/// One run (`GET /flows/{flow}/runs/{run_id}`): `dropflow status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    /// Run id.
    pub run_id: String,
    /// Flow class.
    pub flow: String,
    /// State machine.
    pub state_machine: String,
    /// Execution ARN.
    pub execution_arn: String,
    /// Status.
    pub status: String,
    /// Start date.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Stop date.
    #[serde(default)]
    pub stop_date: Option<String>,
    /// Version it ran.
    #[serde(default)]
    pub version: Option<String>,
    /// Parameter values given.
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
    /// Error name.
    #[serde(default)]
    pub error: Option<String>,
    /// Error cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// Per-step progress, in the order the steps started.
    #[serde(default)]
    pub steps: Vec<StepProgress>,
    /// Some task records were not read.
    #[serde(default)]
    pub steps_partial: bool,
}

impl RunDetail {
    /// One line: status and every step's counts (what `--wait` prints as it follows).
    pub fn progress_line(&self) -> String {
        let steps: Vec<String> = self.steps.iter().map(ToString::to_string).collect();
        format!("{:9} {}", self.status, steps.join("  "))
            .trim_end()
            .to_string()
    }
}

impl fmt::Display for RunDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}: {}", self.flow, self.run_id, self.status)?;
        if let Some(version) = &self.version {
            write!(f, " (version {version})")?;
        }
        if let Some(start) = &self.start_date {
            write!(f, "\n  started: {start}")?;
        }
        if let Some(stop) = &self.stop_date {
            write!(f, "\n  stopped: {stop}")?;
        }
        for step in &self.steps {
            write!(f, "\n  {step}")?;
            for task in &step.failed {
                write!(
                    f,
                    "\n    failed: {}/{} attempt {}{}",
                    step.step,
                    task.task,
                    task.attempt,
                    task.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                )?;
                write!(
                    f,
                    "\n      its log: dropflow logs {} {} {}/{} --attempt {} --stderr",
                    self.state_machine, self.run_id, step.step, task.task, task.attempt
                )?;
            }
        }
        if self.steps_partial {
            write!(f, "\n  (some task records were not read)")?;
        }
        if let Some(error) = &self.error {
            write!(f, "\n  error: {error}")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, "\n  cause: {}", cause.trim_end())?;
        }
        Ok(())
    }
}

/// A stopped run (`DELETE /flows/{flow}/runs/{run_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStopped {
    /// Run id.
    pub run_id: String,
    /// Flow class.
    pub flow: String,
    /// State machine.
    pub state_machine: String,
    /// Execution ARN.
    pub execution_arn: String,
    /// `ABORTED`.
    pub status: String,
    /// Stop date.
    #[serde(default)]
    pub stop_date: Option<String>,
}

impl fmt::Display for RunStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped {}/{}: {}", self.flow, self.run_id, self.status)
    }
}

/// An error answer: `{"error": CODE, "message": ..., ...details}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable code.
    pub error: String,
    /// What went wrong and what to do.
    pub message: String,
    /// Other fields (`problems`, `valid_parameters`, `request_id`, ...).
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

/// `dropflow run`: the run started and, with `--wait`, how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The started run.
    pub started: RunStarted,
    /// Its end, with `--wait`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<RunDetail>,
}

impl RunOutcome {
    /// Whether the command succeeded: started, and (when waited for) `SUCCEEDED`.
    pub fn succeeded(&self) -> bool {
        self.finished
            .as_ref()
            .is_none_or(|detail| detail.status == "SUCCEEDED")
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.started)?;
        match &self.finished {
            Some(detail) => write!(f, "\n{detail}"),
            None => write!(
                f,
                "\n  follow it: dropflow status {} {} --wait",
                self.started.state_machine, self.started.run_id
            ),
        }
    }
}
