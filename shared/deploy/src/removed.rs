//! `ObjectRemoved`: deleting an upload from the flows prefix undeploys what it deployed
//! (schedule and state machine). Manifests, code packages and job definitions stay: runs
//! still in progress need them, and they are immutable per version.

use super::claim::{self, ClaimError};
use super::created::{Stop, aws_finding, claim_failed};
use super::ownership::NotOwned;
use super::ports::{
    JobDefinitions, ObjectStore, Schedules, ServiceError, ServiceResult, StateMachines,
};
use super::report::{
    Action, EventKind, Report, ScheduleChange, StateMachineChange, Status, Stopwatch, Undeployed,
};
use super::reporting::Writer;
use super::state::{DeploymentState, LIVE_ALIAS, SourceRecord, current_key, owner_key, read_json};
use super::{Deployer, ObjectEvent};
use dropflow_compiler::naming;

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// Handles an `ObjectRemoved` event under the [`super::claim`] protocol: `undeployed`
    /// when the key's deployment was deleted, `ignored` when the key deployed nothing or no
    /// longer owns its state machine (taken over by another key: nothing is removed).
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
        if event.sequencer.is_none() {
            self.refuse_unordered(flow_key, &mut report, &watch).await;
            return report;
        }
        let token = claim::new_token();
        let held = match self.claim_key(flow_key, event, &token).await {
            Ok(Ok(held)) => held,
            Ok(Err(skip)) => {
                report.status = match skip.status {
                    // A repeated removal: what it did the first time.
                    Status::Unchanged
                        if skip.record.as_ref().map(|r| r.status.as_str())
                            == Some(Status::Undeployed.as_str()) =>
                    {
                        Status::Undeployed
                    }
                    Status::Unchanged => Status::Ignored,
                    other => other,
                };
                report.summary = skip.summary;
                if let Some(record) = skip.record {
                    report.flow = record.flow;
                    report.state_machine = record.state_machine;
                }
                report.timings_ms = watch.finish();
                self.write_report(flow_key, &mut report, Writer::Bystander)
                    .await;
                return report;
            }
            Err(error) => {
                claim_failed(&mut report, &error);
                report.timings_ms = watch.finish();
                self.write_report(flow_key, &mut report, Writer::Unclaimed)
                    .await;
                return report;
            }
        };
        watch.lap("claim");
        let previous = held.record.clone();
        report.flow = previous.flow.clone();
        report.state_machine = previous.state_machine.clone();
        let tombstone = |status: Status, state_machine: Option<String>| SourceRecord {
            key: flow_key.to_string(),
            sequencer: event.sequencer.clone(),
            version_id: event.version_id.clone(),
            status: status.as_str().into(),
            state_machine,
            flow: previous.flow.clone(),
            claim: None,
        };
        let outcome = match self
            .removed(event, flow_key, &previous, &token, &mut report)
            .await
        {
            Ok(status) => tombstone(status, None),
            Err(Stop::Aws(error)) => {
                report.status = Status::Failed;
                report.retryable = true;
                report.summary = "an AWS call failed; the event can be retried".into();
                report.errors.push(aws_finding(&error));
                SourceRecord {
                    claim: None,
                    ..previous.clone()
                }
            }
            Err(Stop::Rejected(finding)) => {
                report.status = Status::Failed;
                report.errors.push(finding);
                tombstone(Status::Failed, previous.state_machine.clone())
            }
        };
        watch.lap("undeploy");
        self.finish_claimed(flow_key, &held, &outcome, &mut report, &mut watch)
            .await;
        report
    }

    /// The work, under the key's claim: undeploys what the key owns.
    async fn removed(
        &self,
        event: &ObjectEvent,
        flow_key: &str,
        previous: &SourceRecord,
        token: &str,
        report: &mut Report,
    ) -> Result<Status, Stop> {
        let Some(name) = previous.state_machine.as_deref() else {
            report.status = Status::Ignored;
            report.summary = "nothing was deployed from this key".into();
            return Ok(Status::Ignored);
        };
        let undeployed = self
            .undeploy_owned(name, flow_key, token, event.sequencer.as_deref())
            .await
            .map_err(|e| match e {
                ClaimError::Service(error) => Stop::Aws(error),
                busy => Stop::Aws(ServiceError {
                    operation: "claim the state machine".into(),
                    code: Some("dropflow.Busy".into()),
                    message: busy.to_string(),
                }),
            })?;
        match undeployed {
            Err(owner) => {
                report.status = Status::Ignored;
                report.summary = format!(
                    "state machine {name} is now deployed from {owner}, which took it over; nothing was removed"
                );
                Ok(Status::Ignored)
            }
            Ok(None) => {
                report.status = Status::Ignored;
                report.summary = format!("state machine {name} was no longer deployed");
                Ok(Status::Ignored)
            }
            Ok(Some(undeployed)) => {
                report.changes.schedule = undeployed.schedule.clone();
                if undeployed.deleted {
                    report.changes.state_machine = Some(StateMachineChange {
                        action: Action::Deleted,
                        arn: undeployed.arn.clone().unwrap_or_default(),
                        version_arn: None,
                    });
                }
                report.version = undeployed.version.clone();
                report.status = Status::Undeployed;
                report.summary = format!("state machine {name} and its schedule were deleted");
                Ok(Status::Undeployed)
            }
        }
    }

    /// Undeploys `state_machine` if `flow_key` owns it, under a claim on it: `Err(owner)`
    /// when another key owns it (nothing is touched), `Ok(None)` when nothing was
    /// deployed under that name.
    pub(super) async fn undeploy_owned(
        &self,
        state_machine: &str,
        flow_key: &str,
        token: &str,
        sequencer: Option<&str>,
    ) -> Result<Result<Option<Undeployed>, String>, ClaimError> {
        let owner = match self
            .claim_state_machine(state_machine, flow_key, token, sequencer, false)
            .await?
        {
            Ok(owner) => owner,
            Err(NotOwned::OtherKey(owner)) => return Ok(Err(owner)),
            Err(NotOwned::Foreign(_)) => return Ok(Err("an owner outside dropflow".into())),
        };
        let current =
            read_json::<DeploymentState>(&self.objects, &current_key(state_machine)).await;
        let undeployed = match current {
            Ok(Some(current)) => self.undeploy(&current).await.map(Some),
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        match &undeployed {
            // Gone: the name is free for any key.
            Ok(_) => self.objects.delete(&owner_key(state_machine)).await?,
            Err(_) => {
                let _ = self.release_state_machine(&owner).await;
            }
        }
        Ok(Ok(undeployed?))
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
            arn: Some(current.state_machine_arn.clone()),
            version: Some(current.version.clone()),
            schedule,
            deleted,
        })
    }
}
