//! [`Executions`] over Step Functions, for the trigger API: start a run on a state
//! machine's alias, read the alias and the version it routes to, describe, list and stop runs.
//! Every "absent" or "already exists" answer is read from a typed SDK error and returned
//! as a value; any other failure is a [`dropflow_contract::ports::ServiceError`] (for logs, never for clients).

use aws_config::SdkConfig;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineError;
use aws_sdk_sfn::operation::describe_state_machine_alias::DescribeStateMachineAliasError;
use aws_sdk_sfn::operation::list_executions::ListExecutionsError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::operation::stop_execution::StopExecutionError;
use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_contract::ports::{
    Execution, ExecutionPage, Executions, ListOutcome, ServiceResult, StartOutcome, StopOutcome,
    VersionInfo,
};

use crate::error::service_error;

/// Step Functions executions.
#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
}

impl SfnExecutions {
    /// A client from `sdk`; runs start on the alias.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sfn::Client::new(sdk),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_sfn::Client {
        &self.client
    }
}

impl Executions for SfnExecutions {
    /// The version ARN the alias routes to (the one with the largest weight); `None` when
    /// the alias does not exist.
    async fn alias_version(&self, alias_arn: &str) -> ServiceResult<Option<String>> {
        match self
            .client
            .describe_state_machine_alias()
            .state_machine_alias_arn(alias_arn)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .routing_configuration()
                .iter()
                .max_by_key(|route| route.weight())
                .map(|route| route.state_machine_version_arn().to_string())),
            Err(error) => match error.into_service_error() {
                DescribeStateMachineAliasError::ResourceNotFound(_)
                | DescribeStateMachineAliasError::InvalidArn(_) => Ok(None),
                error => Err(service_error(
                    format!("states:DescribeStateMachineAlias {alias_arn}"),
                    error,
                )),
            },
        }
    }

    /// A published version; `None` when it does not exist.
    async fn version(&self, version_arn: &str) -> ServiceResult<Option<VersionInfo>> {
        match self
            .client
            .describe_state_machine()
            .state_machine_arn(version_arn)
            .send()
            .await
        {
            Ok(output) => Ok(Some(VersionInfo {
                arn: version_arn.to_string(),
                description: output.description().map(String::from),
            })),
            Err(error) => match error.into_service_error() {
                DescribeStateMachineError::StateMachineDoesNotExist(_)
                | DescribeStateMachineError::InvalidArn(_) => Ok(None),
                error => Err(service_error(
                    format!("states:DescribeStateMachine {version_arn}"),
                    error,
                )),
            },
        }
    }

    /// Starts execution `name` with `input` on the alias `alias_arn`
    /// (`<state machine ARN>:live`).
    async fn start(&self, alias_arn: &str, name: &str, input: &str) -> ServiceResult<StartOutcome> {
        match self
            .client
            .start_execution()
            .state_machine_arn(alias_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(output) => Ok(StartOutcome::Started {
                execution_arn: output.execution_arn().to_string(),
                start_date: date(output.start_date()),
            }),
            Err(error) => match error.into_service_error() {
                StartExecutionError::ExecutionAlreadyExists(_) => Ok(StartOutcome::AlreadyExists),
                StartExecutionError::StateMachineDoesNotExist(_)
                | StartExecutionError::StateMachineDeleting(_) => {
                    Ok(StartOutcome::StateMachineMissing)
                }
                StartExecutionError::ExecutionLimitExceeded(_) => Ok(StartOutcome::LimitExceeded),
                error => Err(service_error(
                    format!("states:StartExecution {alias_arn} {name}"),
                    error,
                )),
            },
        }
    }

    /// Describes an execution; `None` when it does not exist.
    async fn describe(&self, execution_arn: &str) -> ServiceResult<Option<Execution>> {
        let output = match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match error.into_service_error() {
                    DescribeExecutionError::ExecutionDoesNotExist(_)
                    | DescribeExecutionError::InvalidArn(_) => Ok(None),
                    error => Err(service_error(
                        format!("states:DescribeExecution {execution_arn}"),
                        error,
                    )),
                };
            }
        };
        Ok(Some(Execution {
            execution_arn: output.execution_arn().to_string(),
            name: output.name().unwrap_or_default().to_string(),
            status: output.status().as_str().to_string(),
            start_date: Some(date(output.start_date())),
            stop_date: output.stop_date().map(date),
            version_arn: output.state_machine_version_arn().map(String::from),
            alias_arn: output.state_machine_alias_arn().map(String::from),
            input: output.input().map(String::from),
            error: output.error().map(String::from),
            cause: output.cause().map(String::from),
        }))
    }

    /// One page of the state machine's executions (all versions and aliases), newest
    /// first, optionally only those with `status`.
    async fn list(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        limit: i32,
        next_token: Option<&str>,
    ) -> ServiceResult<ListOutcome> {
        let output = match self
            .client
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .set_status_filter(status.map(ExecutionStatus::from))
            .max_results(limit)
            .set_next_token(next_token.map(String::from))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match error.into_service_error() {
                    ListExecutionsError::InvalidToken(_) => Ok(ListOutcome::InvalidToken),
                    ListExecutionsError::StateMachineDoesNotExist(_)
                    | ListExecutionsError::ResourceNotFound(_) => {
                        Ok(ListOutcome::StateMachineMissing)
                    }
                    error => Err(service_error(
                        format!("states:ListExecutions {state_machine_arn}"),
                        error,
                    )),
                };
            }
        };
        let executions = output
            .executions()
            .iter()
            .map(|item| Execution {
                execution_arn: item.execution_arn().to_string(),
                name: item.name().to_string(),
                status: item.status().as_str().to_string(),
                start_date: Some(date(item.start_date())),
                stop_date: item.stop_date().map(date),
                version_arn: item.state_machine_version_arn().map(String::from),
                alias_arn: item.state_machine_alias_arn().map(String::from),
                ..Execution::default()
            })
            .collect();
        Ok(ListOutcome::Page(ExecutionPage {
            executions,
            next_token: output
                .next_token()
                .filter(|token| !token.is_empty())
                .map(String::from),
        }))
    }

    /// Stops an execution, recording `error` and `cause` on it.
    async fn stop(
        &self,
        execution_arn: &str,
        error: &str,
        cause: &str,
    ) -> ServiceResult<StopOutcome> {
        match self
            .client
            .stop_execution()
            .execution_arn(execution_arn)
            .error(error)
            .cause(cause)
            .send()
            .await
        {
            Ok(output) => Ok(StopOutcome::Stopped {
                stop_date: date(output.stop_date()),
            }),
            Err(error) => match error.into_service_error() {
                StopExecutionError::ExecutionDoesNotExist(_)
                | StopExecutionError::InvalidArn(_) => Ok(StopOutcome::DoesNotExist),
                error => Err(service_error(
                    format!("states:StopExecution {execution_arn}"),
                    error,
                )),
            },
        }
    }
}

/// RFC 3339 (`2026-11-02T10:00:00Z`, with fractional seconds when there are any).
fn date(date: &DateTime) -> String {
    date.fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| date.secs().to_string())
}
