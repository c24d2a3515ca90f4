//! Alerts without code (`notify_on_error` / `notify_on_success`): the message a run's
//! outcome sends. The step Lambda sends it after the top-level fail phase (which has
//! already found the failing task, its error and the end of its stderr log) and after
//! the end step's finish phase; [`crate::alert_delivery`] sends and records it.

use serde::Serialize;

use super::fail::Failure;
use super::ids::run_id;
use dropflow_contract::Manifest;
use dropflow_contract::exit_hooks::RunOutcome;
use dropflow_contract::protocol::FailResponse;

/// What an alert says about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Which outcome (`on_error` / `on_success`).
    pub on: RunOutcome,
    /// The flow's name.
    pub flow: String,
    /// The state machine the run belongs to.
    pub state_machine: String,
    /// The Metaflow run id (`sfn-<execution>`).
    pub run: String,
    /// The failing step, when known.
    pub step: Option<String>,
    /// The failing task id, when known.
    pub task: Option<String>,
    /// The execution's error name (failures only).
    pub error: Option<String>,
    /// The execution's cause: what failed and the last lines of its log.
    pub cause: Option<String>,
    /// The AWS console page of the execution, when the execution ARN is known.
    pub execution_url: Option<String>,
}

/// A Slack-compatible webhook body.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    /// The message.
    pub text: &'a str,
}

impl Alert {
    /// The alert for a failed run: `failure` as the fail phase located it, `response`
    /// its error and cause. `None` when the failure names no run.
    pub fn failure(
        manifest: &Manifest,
        failure: &Failure,
        response: &FailResponse,
        execution_url: Option<String>,
    ) -> Option<Self> {
        let (run, step, task) = match (&failure.task, &failure.ctx) {
            (Some(task), _) => (
                task.run.clone(),
                Some(task.step.clone()),
                Some(task.id.clone()),
            ),
            (None, Some(ctx)) => {
                let (step, task) = ctx.task.split_once('/').unwrap_or((&ctx.task, ""));
                (
                    ctx.run.clone(),
                    Some(step.to_string()),
                    Some(task.to_string()).filter(|t| !t.is_empty()),
                )
            }
            (None, None) => return None,
        };
        Some(Self {
            on: RunOutcome::Error,
            flow: manifest.flow.name.clone(),
            state_machine: manifest.state_machine.clone(),
            run,
            step,
            task,
            error: Some(response.error.clone()),
            cause: Some(response.cause.clone()),
            execution_url,
        })
    }

    /// The alert for a run whose end step finished.
    pub fn success(manifest: &Manifest, run: &str, execution_url: Option<String>) -> Self {
        Self {
            on: RunOutcome::Success,
            flow: manifest.flow.name.clone(),
            state_machine: manifest.state_machine.clone(),
            run: run.to_string(),
            step: None,
            task: None,
            error: None,
            cause: None,
            execution_url,
        }
    }

    /// The subject line (SNS `Subject`, the message's first line).
    pub fn subject(&self) -> String {
        let what = match self.on {
            RunOutcome::Error => "failed",
            RunOutcome::Success => "succeeded",
        };
        // SNS subjects: at most 100 characters, no line breaks.
        let subject = format!("dropflow: {}/{} {what}", self.flow, self.run);
        subject.chars().take(100).collect()
    }

    /// The message text (SNS `Message`, the webhook's `text`).
    pub fn text(&self) -> String {
        let mut lines = vec![self.subject()];
        lines.push(format!(
            "Flow: {} (state machine {})",
            self.flow, self.state_machine
        ));
        lines.push(format!("Run: {}/{}", self.flow, self.run));
        if let Some(step) = &self.step {
            let task = self
                .task
                .as_deref()
                .map_or(String::new(), |t| format!("/{t}"));
            lines.push(format!(
                "Failing task: {}/{}/{step}{task}",
                self.flow, self.run
            ));
        }
        if let Some(error) = &self.error {
            lines.push(format!("Error: {error}"));
        }
        if let Some(url) = &self.execution_url {
            lines.push(format!("Execution: {url}"));
        }
        if let Some(cause) = &self.cause {
            lines.push(String::new());
            lines.push(cause.clone());
        }
        lines.join("\n")
    }
}

/// The AWS console page of execution `execution` of `state_machine`, in the account and
/// region of the step Lambda `function_arn` (`arn:PARTITION:lambda:REGION:ACCOUNT:…`).
pub fn execution_url(function_arn: &str, state_machine: &str, execution: &str) -> Option<String> {
    let parts: Vec<&str> = function_arn.split(':').collect();
    let [_, partition, "lambda", region, account, ..] = parts.as_slice() else {
        return None;
    };
    let domain = match *partition {
        "aws-cn" => "console.amazonaws.cn".to_string(),
        "aws-us-gov" => "console.amazonaws-us-gov.com".to_string(),
        _ => format!("{region}.console.aws.amazon.com"),
    };
    let arn =
        format!("arn:{partition}:states:{region}:{account}:execution:{state_machine}:{execution}");
    Some(format!(
        "https://{domain}/states/home?region={region}#/v2/executions/details/{arn}"
    ))
}

/// The execution name of run `run` (`sfn-<execution>`), when it is one.
pub fn execution_name(run: &str) -> Option<&str> {
    run.strip_prefix("sfn-").filter(|name| run_id(name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Alert {
        Alert {
            on: RunOutcome::Error,
            flow: "BrokenFlow".into(),
            state_machine: "BrokenFlow".into(),
            run: "sfn-4f2a".into(),
            step: Some("train".into()),
            task: Some("train".into()),
            error: Some("States.TaskFailed".into()),
            cause: Some("train/train attempt 0 failed (Batch job j-1: exit code 1):\nTraceback (most recent call last):\nValueError: bad input".into()),
            execution_url: execution_url(
                "arn:aws:lambda:eu-west-1:123456789012:function:dropflow-step",
                "BrokenFlow",
                "4f2a",
            ),
        }
    }

    #[test]
    fn a_failure_message_names_flow_run_task_error_log_and_link() {
        insta::assert_snapshot!(sample().text(), @r"
        dropflow: BrokenFlow/sfn-4f2a failed
        Flow: BrokenFlow (state machine BrokenFlow)
        Run: BrokenFlow/sfn-4f2a
        Failing task: BrokenFlow/sfn-4f2a/train/train
        Error: States.TaskFailed
        Execution: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:BrokenFlow:4f2a

        train/train attempt 0 failed (Batch job j-1: exit code 1):
        Traceback (most recent call last):
        ValueError: bad input
        ");
        let body = serde_json::to_string(&WebhookBody { text: "a\nb" }).unwrap();
        assert_eq!(body, r#"{"text":"a\nb"}"#);
    }

    #[test]
    fn a_success_message_is_short() {
        let alert = Alert {
            on: RunOutcome::Success,
            step: None,
            task: None,
            error: None,
            cause: None,
            execution_url: None,
            ..sample()
        };
        insta::assert_snapshot!(alert.text(), @r"
        dropflow: BrokenFlow/sfn-4f2a succeeded
        Flow: BrokenFlow (state machine BrokenFlow)
        Run: BrokenFlow/sfn-4f2a
        ");
        assert!(execution_url("not-an-arn", "m", "e").is_none());
    }
}
