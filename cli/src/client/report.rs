//! The compile function's deploy report as the client reads and prints it: the library's
//! own [`Report`] type (the one the compile function writes), shown to people by
//! [`ReportText`].

use std::fmt;

pub use dropflow_contract::report::{Report as DeployReport, Status};

/// A deploy report as `deploy` and `undeploy` print it: status, flow and state machine,
/// version, summary, what changed, triggers, warnings and errors with `file:line`.
pub struct ReportText<'a>(pub &'a DeployReport);

impl fmt::Display for ReportText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        write!(f, "{}", report.status.as_str())?;
        match (&report.flow, &report.state_machine) {
            (Some(flow), Some(sm)) if flow != sm => write!(f, ": {flow} → state machine {sm}")?,
            (_, Some(sm)) => write!(f, ": state machine {sm}")?,
            (Some(flow), None) => write!(f, ": {flow}")?,
            (None, None) => write!(f, ": {}", report.key)?,
        }
        if let Some(version) = &report.version {
            write!(f, " version {version}")?;
        }
        if !report.summary.is_empty() {
            write!(f, "\n  {}", report.summary)?;
        }
        if let Some(sm) = &report.changes.state_machine
            && let Some(arn) = &sm.version_arn
        {
            write!(f, "\n  state machine version: {arn}")?;
        }
        if let Some(schedule) = &report.changes.schedule {
            match (&schedule.expression, &schedule.timezone) {
                (Some(expression), Some(tz)) => {
                    write!(f, "\n  schedule: {expression} ({tz}), {}", schedule.action)?
                }
                _ => write!(f, "\n  schedule: {} {}", schedule.name, schedule.action)?,
            }
        }
        if let Some(triggers) = &report.triggers {
            write!(f, "\n  {triggers}")?;
        }
        for warning in &report.warnings {
            write!(f, "\n  warning: {warning}")?;
        }
        for error in &report.errors {
            write!(f, "\nerror: {}", error.message)?;
            if error.line.is_none() && !error.message.contains(&error.code) {
                write!(f, " [{}]", error.code)?;
            }
        }
        if report.retryable {
            write!(f, "\n  (AWS refused a call: uploading again may succeed)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use dropflow_compiler::pipeline::Finding;
    use dropflow_deploy::report::{EventKind, Report};

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
        assert_eq!(read, report, "the report reads back whole");
        assert_eq!(read.status, Status::Failed);
        assert_eq!(read.version_id.as_deref(), Some("v1"));
        assert_eq!(read.errors[0].line, Some(11));
        let text = ReportText(&read).to_string();
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
        assert_eq!(read, superseded, "read back whole");
        assert!(
            ReportText(&read)
                .to_string()
                .starts_with("superseded: state machine F\n  a newer event"),
            "{}",
            ReportText(&read)
        );
    }
}
