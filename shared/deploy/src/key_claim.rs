//! Step 1 of the [`super::claim`] protocol: ordering and deduplicating the events of one
//! upload key by their S3 `sequencer`, under a claim on `sources/<key>.json`.

use super::Deployer;
use super::ObjectEvent;
use super::claim::{self, ClaimError, Claimed, Decision};
use super::ports::{ConditionalPutError, JobDefinitions, ObjectStore, Schedules, StateMachines};
use super::report::Status;
use super::sequencer::{Order, order};
use super::state::{Claim, SourceRecord, source_key};

/// Why an event needs no work: it is what the report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Skip {
    /// `superseded` or `unchanged`.
    pub status: Status,
    /// One sentence.
    pub summary: String,
    /// The key's record as read (flow and state machine, for the report).
    pub record: Option<SourceRecord>,
}

/// A claim on a key: the record as claimed (its committed fields are the key's last
/// outcome) and the etag to settle it on.
#[derive(Debug, Clone)]
pub(super) struct KeyClaim {
    /// The record written with this handler's claim.
    pub record: SourceRecord,
    /// Its etag.
    pub etag: String,
}

/// What to do with `event` given the key's record: stop, wait, or claim.
pub(super) fn decide(
    record: Option<&SourceRecord>,
    flow_key: &str,
    event: &ObjectEvent,
    claim: &Claim,
) -> Decision<SourceRecord, Skip> {
    let sequencer = event.sequencer.as_deref();
    let skip = |status, summary: String| {
        Decision::Stop(Skip {
            status,
            summary,
            record: record.cloned(),
        })
    };
    if let Some(record) = record {
        match order(sequencer, record.sequencer.as_deref()) {
            Order::Older => {
                return skip(
                    Status::Superseded,
                    format!(
                        "a newer event for this key (sequencer {}) was already handled",
                        record.sequencer.as_deref().unwrap_or("?")
                    ),
                );
            }
            Order::Duplicate => {
                return skip(Status::Unchanged, "this event was already handled".into());
            }
            Order::Newer => {}
        }
        if let Some(held) = &record.claim
            && held.blocks(&claim.token)
        {
            return match order(sequencer, held.sequencer.as_deref()) {
                Order::Older => skip(
                    Status::Superseded,
                    format!(
                        "a newer event for this key (sequencer {}) is being deployed",
                        held.sequencer.as_deref().unwrap_or("?")
                    ),
                ),
                Order::Duplicate | Order::Newer => Decision::Wait,
            };
        }
    }
    let mut claimed = record
        .cloned()
        .unwrap_or_else(|| SourceRecord::empty(flow_key));
    claimed.claim = Some(claim.clone());
    Decision::Claim(claimed)
}

impl<O, M, J, S> Deployer<O, M, J, S>
where
    O: ObjectStore,
    M: StateMachines,
    J: JobDefinitions,
    S: Schedules,
{
    /// Claims `flow_key` for `event` (step 1), waiting for another handler's live claim.
    pub(super) async fn claim_key(
        &self,
        flow_key: &str,
        event: &ObjectEvent,
        token: &str,
    ) -> Result<Result<KeyClaim, Skip>, ClaimError> {
        let mine = Claim::new(
            token,
            event.sequencer.as_deref(),
            flow_key,
            self.claims.lease,
        );
        let claimed = claim::claim(
            &self.objects,
            &source_key(flow_key),
            &self.claims,
            |record| decide(record, flow_key, event, &mine),
            |record: &SourceRecord| record.claim.as_ref().map(|c| c.expires_at_ms),
        )
        .await?;
        Ok(match claimed {
            Claimed::Held { record, etag } => Ok(KeyClaim { record, etag }),
            Claimed::Stopped(skip) => Err(skip),
        })
    }

    /// Step 4 for the key: replaces the claimed record with `outcome` (no claim).
    pub(super) async fn settle_key(
        &self,
        flow_key: &str,
        held: &KeyClaim,
        outcome: &SourceRecord,
    ) -> Result<(), ConditionalPutError> {
        claim::settle(&self.objects, &source_key(flow_key), outcome, &held.etag)
            .await
            .map(drop)
    }
}
