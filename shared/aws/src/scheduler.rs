//! EventBridge Scheduler schedules (default group) that start a state machine alias with
//! Metaflow's input; Scheduler carries the time zone that EventBridge rules lack.

use aws_config::SdkConfig;
use aws_sdk_scheduler::operation::delete_schedule::DeleteScheduleError;
use aws_sdk_scheduler::operation::get_schedule::GetScheduleError;
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use dropflow_contract::ports::{ScheduleSpec, Schedules, ServiceResult};

use crate::error::{build_error, service_error};

/// EventBridge Scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerSchedules {
    client: aws_sdk_scheduler::Client,
}

impl SchedulerSchedules {
    /// A client from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_scheduler::Client::new(sdk),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_scheduler::Client {
        &self.client
    }
}

fn parts(
    spec: &ScheduleSpec,
    operation: &str,
) -> ServiceResult<(Target, FlexibleTimeWindow, ScheduleState)> {
    let target = Target::builder()
        .arn(&spec.target_arn)
        .role_arn(&spec.role_arn)
        .input(&spec.input)
        .build()
        .map_err(|e| build_error(operation, e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| build_error(operation, e))?;
    let state = if spec.enabled {
        ScheduleState::Enabled
    } else {
        ScheduleState::Disabled
    };
    Ok((target, window, state))
}

impl Schedules for SchedulerSchedules {
    async fn get(&self, name: &str) -> ServiceResult<Option<ScheduleSpec>> {
        let output = match self.client.get_schedule().name(name).send().await {
            Ok(output) => output,
            Err(error) => {
                return match error.into_service_error() {
                    GetScheduleError::ResourceNotFoundException(_) => Ok(None),
                    error => Err(service_error(
                        format!("scheduler:GetSchedule {name}"),
                        error,
                    )),
                };
            }
        };
        let target = output.target();
        Ok(Some(ScheduleSpec {
            name: output.name().unwrap_or(name).to_string(),
            expression: output.schedule_expression().unwrap_or_default().to_string(),
            timezone: output
                .schedule_expression_timezone()
                .unwrap_or("UTC")
                .to_string(),
            target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: target
                .and_then(|t| t.input())
                .unwrap_or_default()
                .to_string(),
            enabled: output.state() != Some(&ScheduleState::Disabled),
            description: output.description().unwrap_or_default().to_string(),
        }))
    }

    async fn create(&self, spec: &ScheduleSpec) -> ServiceResult<()> {
        let operation = format!("scheduler:CreateSchedule {}", spec.name);
        let (target, window, state) = parts(spec, &operation)?;
        self.client
            .create_schedule()
            .name(&spec.name)
            .schedule_expression(&spec.expression)
            .schedule_expression_timezone(&spec.timezone)
            .target(target)
            .flexible_time_window(window)
            .state(state)
            .description(&spec.description)
            .send()
            .await
            .map_err(|e| service_error(operation, e))?;
        Ok(())
    }

    async fn update(&self, spec: &ScheduleSpec) -> ServiceResult<()> {
        let operation = format!("scheduler:UpdateSchedule {}", spec.name);
        let (target, window, state) = parts(spec, &operation)?;
        self.client
            .update_schedule()
            .name(&spec.name)
            .schedule_expression(&spec.expression)
            .schedule_expression_timezone(&spec.timezone)
            .target(target)
            .flexible_time_window(window)
            .state(state)
            .description(&spec.description)
            .send()
            .await
            .map_err(|e| service_error(operation, e))?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> ServiceResult<bool> {
        match self.client.delete_schedule().name(name).send().await {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                DeleteScheduleError::ResourceNotFoundException(_) => Ok(false),
                error => Err(service_error(
                    format!("scheduler:DeleteSchedule {name}"),
                    error,
                )),
            },
        }
    }
}
