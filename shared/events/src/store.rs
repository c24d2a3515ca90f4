//! The delivery's records in dropflow's bucket, through the contract's [`ObjectStore`]
//! port (no AWS client here): the pending arrivals of a multi-event flow
//! (`events/pending/<rule>.json`, written only if unchanged since read: S3 `If-Match` /
//! `If-None-Match`), the refused event sets (`events/rejected/<sm>/<execution>.json`) and
//! the claim on a run an event set starts (`events/runs/<sm>/<execution>.json`).

use dropflow_contract::layout;
use dropflow_contract::ports::{ConditionalPutError, ObjectStore, Precondition};
use dropflow_contract::records::{read_json, read_tagged, write_json, write_json_if};
use dropflow_contract::{ServiceError, ServiceResult};

use crate::deliver::{PendingStore, Rejection, RejectionLog};
pub use dropflow_contract::triggers::TriggeredRun;

use crate::pending::Pending;

/// [`PendingStore`] on the bucket.
#[derive(Debug, Clone, Copy)]
pub struct BucketPending<'a, O>(pub &'a O);

impl<O: ObjectStore> PendingStore for BucketPending<'_, O> {
    async fn load(&self, rule: &str) -> ServiceResult<Option<(Pending, String)>> {
        read_tagged(self.0, &layout::pending_events_key(rule)).await
    }

    async fn store(
        &self,
        rule: &str,
        pending: &Pending,
        expected: Option<&str>,
    ) -> ServiceResult<bool> {
        let precondition = match expected {
            Some(etag) => Precondition::Matches(etag.to_string()),
            None => Precondition::Absent,
        };
        let key = layout::pending_events_key(rule);
        match write_json_if(self.0, &key, pending, &precondition).await {
            Ok(_) => Ok(true),
            Err(ConditionalPutError::PreconditionFailed { .. }) => Ok(false),
            Err(ConditionalPutError::Service(error)) => Err(error),
        }
    }
}

/// [`RejectionLog`] on the bucket: one record per refused event set, named by the
/// execution it would have started (a duplicate refusal rewrites the same record).
#[derive(Debug, Clone, Copy)]
pub struct BucketRejections<'a, O>(pub &'a O);

impl<O: ObjectStore> RejectionLog for BucketRejections<'_, O> {
    async fn record(&self, rejection: &Rejection) -> ServiceResult<()> {
        let key = layout::rejection_key(&rejection.state_machine, &rejection.execution_name);
        write_json(self.0, &key, rejection).await
    }
}

/// How a claim on a run went.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This delivery wrote the claim: it starts the execution.
    Won,
    /// Another delivery claimed the run first; its record.
    Taken(TriggeredRun),
}

/// Claims the run of `run` (create-only write of its record).
pub async fn claim_run(store: &impl ObjectStore, run: &TriggeredRun) -> ServiceResult<Claim> {
    let key = layout::triggered_run_key(&run.state_machine, &run.execution_name);
    match write_json_if(store, &key, run, &Precondition::Absent).await {
        Ok(_) => Ok(Claim::Won),
        Err(ConditionalPutError::PreconditionFailed { .. }) => {
            let existing: Option<TriggeredRun> = read_json(store, &key).await?;
            existing.map(Claim::Taken).ok_or_else(|| {
                ServiceError::new(
                    format!("read {key}"),
                    "the claim was taken and then removed; deliver the event again",
                )
            })
        }
        Err(ConditionalPutError::Service(error)) => Err(error),
    }
}

/// The record of the events that started execution `execution` of `state_machine`;
/// `None` for a run no event started.
pub async fn triggered_run(
    store: &impl ObjectStore,
    state_machine: &str,
    execution: &str,
) -> ServiceResult<Option<TriggeredRun>> {
    read_json(store, &layout::triggered_run_key(state_machine, execution)).await
}
