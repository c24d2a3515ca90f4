//! `ObjectRemoved`: deleting an upload from the flows prefix undeploys what it deployed
//! (schedule and state machine). Manifests, code packages and job definitions stay: runs
//! still in progress need them, and they are immutable per version.

use super::created::{Stop, aws_finding};
use super::ports::{JobDefinitions, ObjectStore, Schedules, ServiceResult, StateMachines};
use super::report::{
    Action, EventKind, Report, ScheduleChange, StateMachineChange, Status, Stopwatch, Undeployed,
};
use super::sequencer::{Order, order};
use super::state::{
    DeploymentState, LIVE_ALIAS, SourceRecord, current_key, read_json, source_key, write_json,
};
use super::{Deployer, ObjectEvent};
use crate::naming;

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// Handles an `ObjectRemoved` event: `undeployed` when the key's deployment was deleted,
    /// `ignored` when the key deployed nothing (or no longer owns its state machine).
    pub async fn handle_removed(&self, event: &ObjectEvent) -> Report {
        let mut watch = Stopwatch::start();
        let mut report = Report::new(
            EventKind::Removed,
            &event.key,
            event.version_id.as_deref(),
            event.sequencer.as_deref(),
        );
        let Some(flow_key) = self.config.flow_key(&event.key) else {
            report.summary = format!("not under the flows prefix {}", self.config.flows_prefix);
            report.timings_ms = watch.finish();
            return report;
        };
        let write = match self.removed(event, flow_key, &mut report, &mut watch).await {
            Ok(write) => write,
            Err(Stop::Aws(error)) => {
                report.status = Status::Failed;
                report.retryable = true;
                report.summary = "an AWS call failed; the event can be retried".into();
                report.errors.push(aws_finding(&error));
                true
            }
            Err(Stop::Rejected(finding)) => {
                report.status = Status::Failed;
                report.errors.push(finding);
                true
            }
        };
        report.timings_ms = watch.finish();
        if write {
            self.write_report(flow_key, &mut report).await;
        }
        report
    }

    async fn removed(
        &self,
        event: &ObjectEvent,
        flow_key: &str,
        report: &mut Report,
        watch: &mut Stopwatch,
    ) -> Result<bool, Stop> {
        let Some(record) = read_json::<SourceRecord>(&self.objects, &source_key(flow_key)).await?
        else {
            report.status = Status::Ignored;
            report.summary = "nothing was deployed from this key".into();
            return Ok(true);
        };
        report.flow = record.flow.clone();
        report.state_machine = record.state_machine.clone();
        match order(event.sequencer.as_deref(), record.sequencer.as_deref()) {
            Order::Newer => {}
            Order::Duplicate => {
                report.status = if record.status == Status::Undeployed.as_str() {
                    Status::Undeployed
                } else {
                    Status::Ignored
                };
                report.summary = "this event was already handled".into();
                return Ok(false);
            }
            Order::Older => {
                report.status = Status::Ignored;
                report.summary = format!(
                    "older than the event already handled for this key (sequencer {})",
                    record.sequencer.as_deref().unwrap_or("?")
                );
                return Ok(false);
            }
        }
        let tombstone = SourceRecord {
            key: flow_key.to_string(),
            sequencer: event.sequencer.clone(),
            version_id: event.version_id.clone(),
            status: Status::Undeployed.as_str().into(),
            state_machine: None,
            flow: record.flow.clone(),
        };
        watch.lap("state");

        let current = match &record.state_machine {
            Some(name) => read_json::<DeploymentState>(&self.objects, &current_key(name)).await?,
            None => None,
        };
        let Some(current) = current.filter(|c| c.source_key == flow_key) else {
            write_json(
                &self.objects,
                &source_key(flow_key),
                &SourceRecord {
                    status: Status::Ignored.as_str().into(),
                    ..tombstone
                },
            )
            .await?;
            report.status = Status::Ignored;
            report.summary = match &record.state_machine {
                Some(name) => format!(
                    "state machine {name} is no longer deployed from this key; left in place"
                ),
                None => "nothing was deployed from this key".into(),
            };
            return Ok(true);
        };
        report.version = Some(current.version.clone());

        let undeployed = self.undeploy(&current).await?;
        report.changes.schedule = undeployed.schedule;
        if undeployed.deleted {
            report.changes.state_machine = Some(StateMachineChange {
                action: Action::Deleted,
                arn: current.state_machine_arn.clone(),
                version_arn: None,
            });
        }
        watch.lap("undeploy");
        write_json(&self.objects, &source_key(flow_key), &tombstone).await?;
        watch.lap("record");
        report.status = Status::Undeployed;
        report.summary = format!(
            "state machine {} and its schedule were deleted",
            current.state_machine
        );
        Ok(true)
    }

    /// Deletes a deployment: its schedule, its state machine (with the `live` alias) and
    /// its `current.json`. Manifests, code packages and job definitions stay for runs in
    /// progress.
    pub(super) async fn undeploy(&self, current: &DeploymentState) -> ServiceResult<Undeployed> {
        let schedule_name = current.schedule.as_ref().map_or_else(
            || naming::schedule_name(&current.state_machine),
            |s| s.name.clone(),
        );
        let schedule = self
            .schedules
            .delete(&schedule_name)
            .await?
            .then_some(ScheduleChange {
                action: Action::Deleted,
                name: schedule_name,
                expression: None,
                timezone: None,
            });
        let deleted = self
            .state_machines
            .delete(&current.state_machine, &[LIVE_ALIAS])
            .await?;
        self.objects
            .delete(&current_key(&current.state_machine))
            .await?;
        Ok(Undeployed {
            state_machine: current.state_machine.clone(),
            schedule,
            deleted,
        })
    }
}
