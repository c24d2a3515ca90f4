//! The outcome of one S3 event, for machines (`reports/<key>.json`) and for people (the
//! Lambda's log line): one type, serialised as JSON and displayed as a short summary.

use std::fmt;
use std::time::Instant;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::DROPFLOW_VERSION;

/// What happened to the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A new version is live.
    Deployed,
    /// The upload was already deployed (same content, or the same event again).
    Unchanged,
    /// There was nothing to do (nothing deployed from the key, the object gone).
    Ignored,
    /// A newer event for the same key was handled (or is being handled): this one's upload
    /// is not the one that ends live.
    Superseded,
    /// The upload cannot be deployed (or AWS refused a call); what was deployed stays.
    Failed,
    /// The upload was removed and its deployment deleted.
    Undeployed,
}

impl Status {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Deployed => "deployed",
            Status::Unchanged => "unchanged",
            Status::Ignored => "ignored",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Undeployed => "undeployed",
        }
    }
}

/// Which S3 event the report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `ObjectCreated:*`.
    Created,
    /// `ObjectRemoved:*`.
    Removed,
}

/// How a resource was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed.
    Updated,
    /// It was deleted.
    Deleted,
    /// It already matched.
    Unchanged,
}

impl Action {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
            Action::Unchanged => "unchanged",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state machine change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMachineChange {
    /// What was done.
    pub action: Action,
    /// State machine ARN.
    pub arn: String,
    /// Version ARN published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_arn: Option<String>,
}

/// The alias change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasChange {
    /// What was done.
    pub action: Action,
    /// Alias name.
    pub name: String,
    /// Alias ARN.
    pub arn: String,
    /// Version it routes to.
    pub version_arn: String,
}

/// The schedule change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleChange {
    /// What was done.
    pub action: Action,
    /// Schedule name.
    pub name: String,
    /// Expression, unless deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Time zone, unless deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// The job definitions of the version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDefinitionChanges {
    /// Registered now (new content).
    pub registered: Vec<String>,
    /// Already ACTIVE with the same content hash.
    pub reused: Vec<String>,
}

/// Everything the event changed in AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// State machine created, updated or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine: Option<StateMachineChange>,
    /// Alias created or moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasChange>,
    /// Schedule created, updated, deleted or unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleChange>,
    /// Job definitions registered or reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_definitions: Option<JobDefinitionChanges>,
    /// `s3://` URI of the manifest written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// `s3://` URI of the code package written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_package: Option<String>,
    /// The state machine this key deployed before, undeployed because the upload now
    /// deploys under another name (a renamed flow, another `@project` branch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Undeployed>,
}

/// A deployment deleted as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undeployed {
    /// State machine name.
    pub state_machine: String,
    /// Its ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The version that was live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its schedule was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleChange>,
    /// The state machine was deleted (false when it was already gone).
    pub deleted: bool,
}

impl Changes {
    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

/// The outcome of one S3 event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Outcome.
    pub status: Status,
    /// One sentence saying what happened.
    pub summary: String,
    /// Created or removed.
    pub event: EventKind,
    /// The object's full key.
    pub key: String,
    /// Its S3 version id.
    pub version_id: Option<String>,
    /// The event's sequencer.
    pub sequencer: Option<String>,
    /// Flow class name, when known.
    pub flow: Option<String>,
    /// State machine name, when known.
    pub state_machine: Option<String>,
    /// Content-derived version id, when compiled (or the one deployed).
    pub version: Option<String>,
    /// Why it failed.
    pub errors: Vec<Finding>,
    /// Things worth knowing.
    pub warnings: Vec<String>,
    /// What changed in AWS.
    pub changes: Changes,
    /// The events that start the deployed flow (`@trigger` / `@trigger_on_finish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<crate::triggers::Triggers>,
    /// Milliseconds per stage, in order, and `total`.
    #[serde(default)]
    pub timings_ms: IndexMap<String, f64>,
    /// The failure was AWS's (throttling, permissions): retrying the event may succeed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    /// dropflow version.
    #[serde(default)]
    pub dropflow_version: String,
}

impl Report {
    /// An empty report for `key`, to be filled in.
    pub fn new(
        event: EventKind,
        key: &str,
        version_id: Option<&str>,
        sequencer: Option<&str>,
    ) -> Self {
        Self {
            status: Status::Ignored,
            summary: String::new(),
            event,
            key: key.to_string(),
            version_id: version_id.map(String::from),
            sequencer: sequencer.map(String::from),
            flow: None,
            state_machine: None,
            version: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            changes: Changes::default(),
            triggers: None,
            timings_ms: IndexMap::new(),
            retryable: false,
            dropflow_version: DROPFLOW_VERSION.to_string(),
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialise")
    }

    /// The first error's code (the Lambda's `errorType`).
    pub fn error_code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.as_str(), self.key)?;
        if let Some(sm) = &self.state_machine {
            write!(f, " → {sm}")?;
            if let Some(version) = &self.version {
                write!(f, " version {version}")?;
            }
        }
        if !self.summary.is_empty() {
            write!(f, " ({})", self.summary)?;
        }
        if let Some(triggers) = &self.triggers {
            write!(f, "\n  {triggers}")?;
        }
        for error in &self.errors {
            write!(f, "\n  error [{}]: {}", error.code, error.message)?;
        }
        for warning in &self.warnings {
            write!(f, "\n  warning: {warning}")?;
        }
        if let Some(total) = self.timings_ms.get("total") {
            write!(f, "\n  took {total:.1} ms")?;
        }
        Ok(())
    }
}

/// Times the stages of one event.
#[derive(Debug)]
pub struct Stopwatch {
    started: Instant,
    lap: Instant,
    timings: IndexMap<String, f64>,
}

impl Stopwatch {
    /// Starts timing.
    pub fn start() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            lap: now,
            timings: IndexMap::new(),
        }
    }

    /// Records the time since the previous stage under `stage`.
    pub fn lap(&mut self, stage: &str) {
        let now = Instant::now();
        *self.timings.entry(stage.to_string()).or_default() += ms(now - self.lap);
        self.lap = now;
    }

    /// The timings so far, with `total`.
    pub fn finish(&self) -> IndexMap<String, f64> {
        let mut timings = self.timings.clone();
        timings.insert("total".into(), ms(self.started.elapsed()));
        timings
    }
}

fn ms(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 10_000.0).round() / 10.0
}

/// One error or warning as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code.
    pub code: String,
    /// Full message, with `file:line:` where known.
    pub message: String,
    /// Flow file, when the finding points into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// A deploy report in short, as the trigger API shows a deployment's last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    /// Outcome.
    pub status: Status,
    /// One sentence saying what happened.
    pub summary: String,
    /// The upload's full key.
    pub key: String,
    /// Content-derived version id, when compiled.
    pub version: Option<String>,
    /// Why it failed: code and message of each error.
    pub errors: Vec<ErrorSummary>,
    /// Things worth knowing.
    pub warnings: Vec<String>,
}

/// An error of a [`ReportSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// Stable code.
    pub code: String,
    /// Full message, with `file:line:` where known.
    pub message: String,
}

impl From<&Report> for ReportSummary {
    fn from(report: &Report) -> Self {
        Self {
            status: report.status,
            summary: report.summary.clone(),
            key: report.key.clone(),
            version: report.version.clone(),
            errors: report
                .errors
                .iter()
                .map(|e| ErrorSummary {
                    code: e.code.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            warnings: report.warnings.clone(),
        }
    }
}
