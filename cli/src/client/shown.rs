//! What the client commands print for people: the trigger API's answers (the contract's
//! types, [`dropflow_contract::api`]) as text, through [`Shown`]; `--json` prints the
//! answer's own JSON.

use std::fmt;

use dropflow_contract::api::{FlowList, RunDetail, RunList, RunStarted, RunStopped, StepProgress};
use serde::Serialize;

/// An API answer as a command shows it: text for people (`Display`), the answer's own
/// JSON for `--json` (`Serialize`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(transparent)]
pub struct Shown<'a, T>(pub &'a T);

/// One line: the run's status and every step's counts (what `--wait` prints as it
/// follows a run).
pub fn progress_line(detail: &RunDetail) -> String {
    let steps: Vec<String> = detail
        .steps
        .iter()
        .map(|step| Shown(step).to_string())
        .collect();
    format!("{:9} {}", detail.status, steps.join("  "))
        .trim_end()
        .to_string()
}

impl fmt::Display for Shown<'_, FlowList> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = self.0;
        if list.flows.is_empty() {
            return write!(
                f,
                "no flows deployed (deploy one with `dropflow deploy PATH`)"
            );
        }
        let width = list.flows.iter().map(|x| x.name.len()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for flow in &list.flows {
            let schedule = flow
                .schedule
                .as_ref()
                .map(|s| format!("  {} ({})", s.expression, s.timezone))
                .unwrap_or_default();
            let status = flow.last_report.status.map_or("?", |s| s.as_str());
            lines.push(format!(
                "{:width$}  version {}  last deploy: {status}{schedule}",
                flow.name, flow.version
            ));
        }
        write!(f, "{}", lines.join("\n"))
    }
}

impl fmt::Display for Shown<'_, RunStarted> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = self.0;
        write!(
            f,
            "started {}/{} (state machine {} version {})",
            run.flow, run.run_id, run.state_machine, run.version
        )?;
        if !run.parameters.is_empty() {
            let values: Vec<String> = run
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, "\n  parameters: {}", values.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Shown<'_, RunList> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = self.0;
        if list.runs.is_empty() {
            return write!(f, "{} has no runs", list.state_machine);
        }
        let width = list.runs.iter().map(|r| r.run_id.len()).max().unwrap_or(0);
        let lines: Vec<String> = list
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
        if let Some(token) = &list.next_token {
            write!(f, "\n(more: --next-token {token})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Shown<'_, StepProgress> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let step = self.0;
        let counts: Vec<String> = step
            .status
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        write!(f, "{}: {}", step.step, counts.join(", "))
    }
}

impl fmt::Display for Shown<'_, RunDetail> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = self.0;
        write!(f, "{}/{}: {}", run.flow, run.run_id, run.status)?;
        if let Some(version) = &run.version {
            write!(f, " (version {version})")?;
        }
        if let Some(start) = &run.start_date {
            write!(f, "\n  started: {start}")?;
        }
        if let Some(stop) = &run.stop_date {
            write!(f, "\n  stopped: {stop}")?;
        }
        for step in &run.steps {
            write!(f, "\n  {}", Shown(step))?;
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
                    run.state_machine, run.run_id, step.step, task.task, task.attempt
                )?;
            }
        }
        if run.steps_partial {
            write!(f, "\n  (some task records were not read)")?;
        }
        if let Some(error) = &run.error {
            write!(f, "\n  error: {error}")?;
        }
        if let Some(cause) = &run.cause {
            write!(f, "\n  cause: {}", cause.trim_end())?;
        }
        Ok(())
    }
}

impl fmt::Display for Shown<'_, RunStopped> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let run = self.0;
        write!(f, "stopped {}/{}: {}", run.flow, run.run_id, run.status)
    }
}

#[cfg(test)]
mod tests {
    use dropflow_contract::ScheduleInfo;
    use dropflow_contract::api::{FailedTask, FlowSummary, LastReport, RunSummary};
    use dropflow_contract::report::Status;
    use serde_json::json;

    use super::*;

    fn flow(name: &str, status: Option<Status>, schedule: Option<ScheduleInfo>) -> FlowSummary {
        FlowSummary {
            name: name.into(),
            flow: "F".into(),
            version: "v1".into(),
            schedule,
            source_key: "f.tar.gz".into(),
            last_report: LastReport {
                status,
                summary: None,
            },
        }
    }

    #[test]
    fn flows_are_listed_one_per_line() {
        let empty = FlowList::default();
        assert_eq!(
            Shown(&empty).to_string(),
            "no flows deployed (deploy one with `dropflow deploy PATH`)"
        );
        let schedule = ScheduleInfo {
            name: "s".into(),
            expression: "cron(0 * * * ? *)".into(),
            timezone: "UTC".into(),
        };
        let list = FlowList {
            flows: vec![
                flow("Long.Name", Some(Status::Deployed), Some(schedule)),
                flow("F", None, None),
            ],
        };
        assert_eq!(
            Shown(&list).to_string(),
            "Long.Name  version v1  last deploy: deployed  cron(0 * * * ? *) (UTC)\n\
             F          version v1  last deploy: ?"
        );
    }

    fn detail() -> RunDetail {
        RunDetail {
            run_id: "sfn-1".into(),
            flow: "F".into(),
            state_machine: "demo.prod.F".into(),
            execution_arn: "arn".into(),
            status: "FAILED".into(),
            start_date: Some("2026-01-01T00:00:00Z".into()),
            stop_date: None,
            version: Some("v1".into()),
            parameters: None,
            error: Some("States.TaskFailed".into()),
            cause: Some("boom\n".into()),
            steps: vec![StepProgress {
                step: "end".into(),
                tasks: 2,
                attempts: 3,
                status: [("failed".to_string(), 1), ("succeeded".to_string(), 1)].into(),
                started_at: None,
                finished_at: None,
                failed: vec![FailedTask {
                    task: "2".into(),
                    attempt: 1,
                    error: Some("ValueError".into()),
                    log: "/flows/F/runs/sfn-1/logs".into(),
                }],
            }],
            steps_partial: true,
            triggered_by: None,
        }
    }

    #[test]
    fn a_run_shows_its_steps_failures_and_cause() {
        assert_eq!(
            Shown(&detail()).to_string(),
            "F/sfn-1: FAILED (version v1)\n  \
             started: 2026-01-01T00:00:00Z\n  \
             end: 1 failed, 1 succeeded\n    \
             failed: end/2 attempt 1 (ValueError)\n      \
             its log: dropflow logs demo.prod.F sfn-1 end/2 --attempt 1 --stderr\n  \
             (some task records were not read)\n  \
             error: States.TaskFailed\n  \
             cause: boom"
        );
        assert_eq!(
            progress_line(&detail()),
            "FAILED    end: 1 failed, 1 succeeded"
        );
    }

    #[test]
    fn started_listed_and_stopped_runs() {
        let started = RunStarted {
            run_id: "sfn-1".into(),
            execution_arn: "arn".into(),
            flow: "F".into(),
            state_machine: "F".into(),
            version: "v1".into(),
            status: "RUNNING".into(),
            start_date: "2026-01-01T00:00:00Z".into(),
            parameters: json!({"alpha": 0.5, "name": "x"})
                .as_object()
                .unwrap()
                .clone(),
        };
        assert_eq!(
            Shown(&started).to_string(),
            "started F/sfn-1 (state machine F version v1)\n  parameters: alpha=0.5, name=\"x\""
        );
        let list = RunList {
            flow: "F".into(),
            state_machine: "F".into(),
            runs: vec![RunSummary {
                run_id: "sfn-1".into(),
                status: "RUNNING".into(),
                start_date: Some("2026-01-01T00:00:00Z".into()),
                stop_date: None,
                execution_arn: "arn".into(),
            }],
            next_token: Some("t".into()),
        };
        assert_eq!(
            Shown(&list).to_string(),
            "sfn-1  RUNNING    2026-01-01T00:00:00Z  -\n(more: --next-token t)"
        );
        let stopped = RunStopped {
            run_id: "sfn-1".into(),
            flow: "F".into(),
            state_machine: "F".into(),
            execution_arn: "arn".into(),
            status: "ABORTED".into(),
            stop_date: None,
        };
        assert_eq!(Shown(&stopped).to_string(), "stopped F/sfn-1: ABORTED");
        // `--json` is the answer's own JSON.
        assert_eq!(
            serde_json::to_value(Shown(&stopped)).unwrap(),
            serde_json::to_value(&stopped).unwrap()
        );
    }
}
