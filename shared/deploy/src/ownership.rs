//! Step 2 of the [`super::claim`] protocol: dropflow changes only the state machines (and
//! their schedules) it created, each owned by one upload key, recorded in
//! `deployments/<sm>/owner.json` and in the state machine's tags
//! (`dropflow:managed-by=<DROPFLOW_MANAGED_BY>`, `dropflow:source-key=<key>`).

use super::Deployer;
use super::claim::{self, ClaimError, Claimed, Decision};
use super::ports::{ConditionalPutError, JobDefinitions, ObjectStore, Schedules, StateMachines};
use super::state::{Claim, DeploymentState, OwnerRecord, current_key, owner_key, read_json};
use dropflow_compiler::naming;

/// Tag naming the dropflow installation (`DROPFLOW_MANAGED_BY`, the stack name on AWS) that manages a state machine; the stack's IAM policies require it.
pub const MANAGED_BY_TAG: &str = "dropflow:managed-by";
/// Tag naming the upload key (relative to the flows prefix) that owns a state machine.
pub const SOURCE_KEY_TAG: &str = "dropflow:source-key";
/// The object metadata that takes over a state machine deliberately.
pub const TAKEOVER_HINT: &str = "upload with --metadata dropflow-takeover=true";

/// Who owns a state machine that has no owner record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unrecorded {
    /// Nothing of that name exists.
    Free,
    /// dropflow deployed it from this key before owner records existed (its
    /// `current.json` or its tags say so).
    Key(String),
    /// It exists and dropflow did not create it.
    Foreign {
        /// Its ARN.
        arn: String,
    },
    /// Its schedule exists and starts something else.
    ForeignSchedule {
        /// The schedule's name.
        name: String,
        /// What it starts.
        target: String,
    },
}

/// Why a state machine was not claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NotOwned {
    /// Another upload key owns it.
    OtherKey(String),
    /// dropflow did not create it (or its schedule).
    Foreign(Unrecorded),
}

impl NotOwned {
    /// The report's message: who owns it and how to take over deliberately.
    pub(super) fn message(&self, state_machine: &str, flow_key: &str) -> String {
        match self {
            NotOwned::OtherKey(owner) => format!(
                "state machine {state_machine} is deployed from another upload, {owner}; this upload ({flow_key}) would replace it. Deploy it under another name (`name` / `dropflow-name`, or another @project branch), delete {owner} first, or {TAKEOVER_HINT} to take it over (deleting {owner} then leaves it in place)"
            ),
            NotOwned::Foreign(Unrecorded::Foreign { arn }) => format!(
                "state machine {state_machine} ({arn}) exists and was not created by this dropflow (no {MANAGED_BY_TAG} tag); dropflow changes only what it created. Deploy under another name (`name` / `dropflow-name`), or {TAKEOVER_HINT} to let dropflow update it (and delete it when {flow_key} is deleted)"
            ),
            NotOwned::Foreign(Unrecorded::ForeignSchedule { name, target }) => format!(
                "schedule {name} exists and starts {target}, not state machine {state_machine}; dropflow did not create it. Deploy under another name (`name` / `dropflow-name`), or {TAKEOVER_HINT} to let dropflow replace it"
            ),
            NotOwned::Foreign(Unrecorded::Free | Unrecorded::Key(_)) => format!(
                "state machine {state_machine} is not dropflow's to change; {TAKEOVER_HINT} to take it over"
            ),
        }
    }
}

/// A claim on a state machine.
#[derive(Debug, Clone)]
pub(super) struct OwnerClaim {
    /// The owner record as written with this handler's claim.
    pub record: OwnerRecord,
    /// Its etag.
    pub etag: String,
    /// The owner before this claim, when it was another key or not dropflow (a takeover).
    pub taken_from: Option<String>,
}

/// What to do on reading a state machine's owner record.
pub(super) fn decide(
    record: Option<&OwnerRecord>,
    unrecorded: &Unrecorded,
    state_machine: &str,
    claim: &Claim,
    takeover: bool,
) -> Decision<OwnerRecord, NotOwned> {
    let flow_key = &claim.source_key;
    match record {
        Some(owner) => {
            if owner.source_key != *flow_key && !takeover {
                return Decision::Stop(NotOwned::OtherKey(owner.source_key.clone()));
            }
            if owner.claim.as_ref().is_some_and(|c| c.blocks(&claim.token)) {
                return Decision::Wait;
            }
        }
        None => match unrecorded {
            Unrecorded::Key(owner) if owner != flow_key && !takeover => {
                return Decision::Stop(NotOwned::OtherKey(owner.clone()));
            }
            Unrecorded::Foreign { .. } | Unrecorded::ForeignSchedule { .. } if !takeover => {
                return Decision::Stop(NotOwned::Foreign(unrecorded.clone()));
            }
            _ => {}
        },
    }
    Decision::Claim(OwnerRecord {
        state_machine: state_machine.to_string(),
        source_key: flow_key.clone(),
        claim: Some(claim.clone()),
    })
}

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// Who owns `state_machine` when it has no owner record: its `current.json`, its tags,
    /// or nobody; and whether a schedule of its name starts something else.
    async fn unrecorded_owner(&self, state_machine: &str) -> Result<Unrecorded, ClaimError> {
        if let Some(current) =
            read_json::<DeploymentState>(&self.objects, &current_key(state_machine)).await?
        {
            return Ok(Unrecorded::Key(current.source_key));
        }
        let described = match self.state_machines.describe(state_machine).await {
            Ok(described) => described,
            // The stack's policies let dropflow read only state machines tagged as its
            // own: a refusal means someone else's.
            Err(error) if error.code.as_deref() == Some("AccessDeniedException") => {
                return Ok(Unrecorded::Foreign {
                    arn: format!("{state_machine} (access denied: not tagged as dropflow's)"),
                });
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(info) = &described {
            let ours = info.tags.get(MANAGED_BY_TAG) == Some(&self.config.managed_by);
            return Ok(match info.tags.get(SOURCE_KEY_TAG) {
                Some(key) if ours => Unrecorded::Key(key.clone()),
                _ => Unrecorded::Foreign {
                    arn: info.arn.clone(),
                },
            });
        }
        let schedule = naming::schedule_name(state_machine);
        if let Some(existing) = self.schedules.get(&schedule).await? {
            return Ok(Unrecorded::ForeignSchedule {
                name: schedule,
                target: existing.target_arn,
            });
        }
        Ok(Unrecorded::Free)
    }

    /// Claims `state_machine` for `flow_key` (step 2): refused when another key owns it or
    /// dropflow did not create it, unless `takeover`.
    pub(super) async fn claim_state_machine(
        &self,
        state_machine: &str,
        flow_key: &str,
        token: &str,
        sequencer: Option<&str>,
        takeover: bool,
    ) -> Result<Result<OwnerClaim, NotOwned>, ClaimError> {
        let key = owner_key(state_machine);
        let recorded = read_json::<OwnerRecord>(&self.objects, &key).await?;
        let unrecorded = match recorded {
            Some(_) => Unrecorded::Free,
            None => self.unrecorded_owner(state_machine).await?,
        };
        let mine = Claim::new(token, sequencer, flow_key, self.claims.lease);
        let mut previous = None;
        let claimed = claim::claim(
            &self.objects,
            &key,
            &self.claims,
            |record: Option<&OwnerRecord>| {
                previous = match record {
                    Some(owner) => Some(owner.source_key.clone()),
                    None => match &unrecorded {
                        Unrecorded::Key(owner) => Some(owner.clone()),
                        Unrecorded::Free => None,
                        Unrecorded::Foreign { arn } => Some(format!("{arn} (not dropflow's)")),
                        Unrecorded::ForeignSchedule { name, .. } => {
                            Some(format!("schedule {name} (not dropflow's)"))
                        }
                    },
                };
                decide(record, &unrecorded, state_machine, &mine, takeover)
            },
            |record: &OwnerRecord| record.claim.as_ref().map(|c| c.expires_at_ms),
        )
        .await?;
        Ok(match claimed {
            Claimed::Held { record, etag } => Ok(OwnerClaim {
                record,
                etag,
                taken_from: previous.filter(|owner| owner != flow_key),
            }),
            Claimed::Stopped(not_owned) => Err(not_owned),
        })
    }

    /// Step 4 for the state machine: keeps `flow_key` as its owner, without a claim.
    pub(super) async fn release_state_machine(
        &self,
        held: &OwnerClaim,
    ) -> Result<(), ConditionalPutError> {
        let released = OwnerRecord {
            claim: None,
            ..held.record.clone()
        };
        claim::settle(
            &self.objects,
            &owner_key(&held.record.state_machine),
            &released,
            &held.etag,
        )
        .await
        .map(drop)
    }
}
