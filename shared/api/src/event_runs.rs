//! The run an event set starts: [`SfnRuns`], the delivery's [`RunStarter`] on Step
//! Functions. The execution is started on the flow's `live` alias under the name derived
//! from the event ids, with Metaflow's input form. Before starting, the delivery claims
//! the run in the bucket ([`dropflow_events::claim_run`], a create-only write of the
//! events that start it): of several concurrent deliveries of one event set only the
//! claimer calls `StartExecution`, so exactly one answer says `started`. A claim older
//! than [`STALE_CLAIM_MS`] whose execution does not exist (its writer died before
//! starting) is started by the next delivery.

use dropflow_contract::ports::{Executions, StartOutcome};
use dropflow_contract::records::{DeploymentState, now_ms};
use dropflow_contract::{ServiceError, ServiceResult, pyjson};
use dropflow_events::{Arrival, Claim, RunStarter, TriggeredRun, claim_run};
use serde_json::{Map, Value};

use crate::deps::{ApiPorts, Deps};
use crate::names;

/// How old a claim must be before another delivery starts its run (longer than the
/// trigger Lambda's timeout, so its writer is surely gone).
pub const STALE_CLAIM_MS: u64 = 5 * 60 * 1000;

/// Starts event-triggered runs of one deployed flow.
pub struct SfnRuns<'a, P: ApiPorts> {
    /// The bucket and Step Functions.
    pub deps: &'a Deps<P>,
    /// The flow's deployment (its alias and state machine ARN).
    pub state: &'a DeploymentState,
}

impl<P: ApiPorts> SfnRuns<'_, P> {
    async fn start_execution(
        &self,
        name: &str,
        parameters: &Map<String, Value>,
    ) -> ServiceResult<bool> {
        let input = pyjson::metaflow_input(parameters);
        let operation = || format!("start {} for an event", self.state.state_machine);
        match self
            .deps
            .executions
            .start(&self.state.alias_arn, name, &input)
            .await?
        {
            StartOutcome::Started { .. } => Ok(true),
            StartOutcome::AlreadyExists => Ok(false),
            StartOutcome::StateMachineMissing => Err(ServiceError::new(
                operation(),
                "the state machine or its live alias is gone (undeployed or being deployed); publish the event again once it is deployed",
            )),
            StartOutcome::LimitExceeded => Err(ServiceError::new(
                operation(),
                "Step Functions' limit on open executions is reached; publish the event again later",
            )),
        }
    }

    async fn exists(&self, name: &str) -> ServiceResult<bool> {
        let Some(arn) = names::execution_arn(&self.state.state_machine_arn, name) else {
            return Err(ServiceError::new(
                "execution ARN",
                format!(
                    "{} is not a state machine ARN",
                    self.state.state_machine_arn
                ),
            ));
        };
        Ok(self.deps.executions.describe(&arn).await?.is_some())
    }
}

impl<P: ApiPorts> RunStarter for SfnRuns<'_, P> {
    async fn start(
        &self,
        state_machine: &str,
        name: &str,
        parameters: &Map<String, Value>,
        triggered_by: &[Arrival],
    ) -> ServiceResult<bool> {
        let run = TriggeredRun {
            state_machine: state_machine.to_string(),
            execution_name: name.to_string(),
            claimed_at_ms: now_ms(),
            events: triggered_by.to_vec(),
        };
        match claim_run(&self.deps.objects, &run).await? {
            Claim::Won => self.start_execution(name, parameters).await,
            Claim::Taken(earlier) => {
                let stale = now_ms().saturating_sub(earlier.claimed_at_ms) >= STALE_CLAIM_MS;
                if stale && !self.exists(name).await? {
                    self.start_execution(name, parameters).await
                } else {
                    Ok(false)
                }
            }
        }
    }
}
