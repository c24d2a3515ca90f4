//! The compile function's deploy report (`reports/<key>.json`) as the client reads it:
//! the fields of the library's [`dropflow_deploy::Report`] that `deploy` and `undeploy`
//! show, typed. (The library type is write-only: it derives `Serialize` alone.)

use std::fmt;

use serde::{Deserialize, Serialize};

/// What happened to the deployment: the library's own type, so the client reads every
/// status the compile function writes.
pub use dropflow_contract::report::Status;

/// One error, with `file:line` where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFinding {
    /// Stable code.
    pub code: String,
    /// Full message (starts with `file:line:` where known).
    pub message: String,
    /// Flow file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// The state machine change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMachineChange {
    /// `created`, `updated`, `deleted`, `unchanged`.
    pub action: String,
    /// State machine ARN.
    pub arn: String,
    /// Version ARN published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_arn: Option<String>,
}

/// The schedule change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleChange {
    /// `created`, `updated`, `deleted`, `unchanged`.
    pub action: String,
    /// Schedule name.
    pub name: String,
    /// Expression, unless deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Time zone, unless deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// What the event changed in AWS (the parts shown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportChanges {
    /// State machine created, updated or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine: Option<StateMachineChange>,
    /// Schedule change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleChange>,
}

/// A deploy report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployReport {
    /// Outcome.
    pub status: Status,
    /// One sentence saying what happened.
    #[serde(default)]
    pub summary: String,
    /// The object's key.
    pub key: String,
    /// Its S3 version id.
    #[serde(default)]
    pub version_id: Option<String>,
    /// The event's sequencer.
    #[serde(default)]
    pub sequencer: Option<String>,
    /// Flow class.
    #[serde(default)]
    pub flow: Option<String>,
    /// State machine name.
    #[serde(default)]
    pub state_machine: Option<String>,
    /// Content-derived version id.
    #[serde(default)]
    pub version: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub errors: Vec<ReportFinding>,
    /// Things worth knowing.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// What changed.
    #[serde(default)]
    pub changes: ReportChanges,
    /// The events that start the flow (`@trigger` / `@trigger_on_finish`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<dropflow_contract::triggers::Triggers>,
    /// The failure was AWS's: uploading again may succeed.
    #[serde(default)]
    pub retryable: bool,
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status.as_str())?;
        match (&self.flow, &self.state_machine) {
            (Some(flow), Some(sm)) if flow != sm => write!(f, ": {flow} → state machine {sm}")?,
            (_, Some(sm)) => write!(f, ": state machine {sm}")?,
            (Some(flow), None) => write!(f, ": {flow}")?,
            (None, None) => write!(f, ": {}", self.key)?,
        }
        if let Some(version) = &self.version {
            write!(f, " version {version}")?;
        }
        if !self.summary.is_empty() {
            write!(f, "\n  {}", self.summary)?;
        }
        if let Some(sm) = &self.changes.state_machine
            && let Some(arn) = &sm.version_arn
        {
            write!(f, "\n  state machine version: {arn}")?;
        }
        if let Some(schedule) = &self.changes.schedule {
            match (&schedule.expression, &schedule.timezone) {
                (Some(expression), Some(tz)) => {
                    write!(f, "\n  schedule: {expression} ({tz}), {}", schedule.action)?
                }
                _ => write!(f, "\n  schedule: {} {}", schedule.name, schedule.action)?,
            }
        }
        if let Some(triggers) = &self.triggers {
            write!(f, "\n  {triggers}")?;
        }
        for warning in &self.warnings {
            write!(f, "\n  warning: {warning}")?;
        }
        for error in &self.errors {
            write!(f, "\nerror: {}", error.message)?;
            if error.line.is_none() && !error.message.contains(&error.code) {
                write!(f, " [{}]", error.code)?;
            }
        }
        if self.retryable {
            write!(f, "\n  (AWS refused a call: uploading again may succeed)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use dropflow_compiler::pipeline::Finding;
    use dropflow_deploy::report::{EventKind, Report, Status};

    use super::*;

    #[test]
    fn reads_what_the_library_writes() {
        let mut report = Report::new(EventKind::Created, "flows/f.tar.gz", Some("v1"), Some("0A"));
        report.status = Status::Failed;
        report.flow = Some("F".into());
        report.errors.push(Finding {
            code: "lint".into(),
            message: "flow.py:11: Step work is missing a self.next()".into(),
            file: Some("flow.py".into()),
            line: Some(11),
        });
        let read: DeployReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(read.status, Status::Failed);
        assert_eq!(read.version_id.as_deref(), Some("v1"));
        assert_eq!(read.errors[0].line, Some(11));
        let text = read.to_string();
        assert!(text.starts_with("failed: F"), "{text}");
        assert!(text.contains("error: flow.py:11: Step work"), "{text}");
        // Every status the library writes is read, superseded included.
        let mut superseded =
            Report::new(EventKind::Created, "flows/f.tar.gz", Some("v0"), Some("09"));
        superseded.status = Status::Superseded;
        superseded.state_machine = Some("F".into());
        superseded.summary = "a newer event for this key (sequencer 0A) was already handled".into();
        let read: DeployReport = serde_json::from_str(&superseded.to_json()).unwrap();
        assert_eq!(read.status, Status::Superseded);
        assert!(
            read.to_string()
                .starts_with("superseded: state machine F\n  a newer event"),
            "{read}"
        );
    }
}
