//! Claims: how concurrent, duplicated and reordered S3 events agree on what ends live.
//!
//! S3 delivers each event at least once, in any order, to handlers running at the same
//! time. Every decision is therefore taken on a record in the bucket and made effective by
//! a conditional write (`PutObject` with `If-None-Match: *` to create, `If-Match: <etag>`
//! to replace): of two handlers that read the same record, only one write succeeds; the
//! other re-reads and decides again. The protocol, for an event with sequencer `s` on key
//! `k`:
//!
//! 1. **Claim the key** (`sources/<k>.json`, [`SourceRecord`]). Read it. If the committed
//!    sequencer is newer than `s`, or another handler's live claim is for a newer event,
//!    stop: `superseded`. If it equals `s`, the event was handled: `unchanged`. If another
//!    handler holds a live claim for an older or equal event, wait and read again (an equal
//!    one is a concurrent duplicate: once it commits, this one is `unchanged`). Otherwise
//!    write the record with this handler's [`Claim`] (sequencer, token, expiry), on the
//!    etag read. Nothing is published before this write succeeds.
//! 2. **Claim the state machine** (`deployments/<sm>/owner.json`, [`OwnerRecord`]) the
//!    same way. It names the upload key that owns the state machine: another key is
//!    refused unless the upload says `dropflow-takeover=true`; a state machine dropflow did
//!    not create (no owner record, no `dropflow:managed-by` tag) is refused likewise.
//! 3. **Publish**: job definitions, manifest, code package, state machine version, the
//!    `live` alias, the schedule, `current.json`.
//! 4. **Release the state machine** and **commit the key**: write the records without the
//!    claim (the key's with `s` as its committed sequencer), each on the etag of the claim
//!    write. A handler whose claim was taken over (it outlived its lease) loses this write
//!    and says so in its report.
//!
//! A claim lapses after [`ClaimSettings::lease`], longer than the compile Lambda may run,
//! so a crashed handler blocks its key only until then: the next delivery (a newer event,
//! or the same one retried) takes the claim over and does the work. A handler waits for a
//! live claim at most [`ClaimSettings::max_wait`], then fails as retryable (the Lambda's
//! retry comes back later). Claims are taken in one order, key then state machine, and a
//! handler holds at most one state machine claim at a time, so handlers never wait on each
//! other in a cycle.

use std::time::{Duration, Instant};

use serde::{Serialize, de::DeserializeOwned};

use super::ports::{ConditionalPutError, ObjectStore, Precondition, ServiceError};
use super::state::{read_tagged, write_json_if};

#[cfg(doc)]
use super::state::{Claim, OwnerRecord, SourceRecord};

/// How long claims last and how handlers wait for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSettings {
    /// How long a claim stays live. Must exceed the compile Lambda's timeout (120 s in
    /// `infra/template.yaml`): a claim must not lapse while its holder still runs.
    pub lease: Duration,
    /// Pause between reads of a record another handler has claimed (zero: only give the
    /// other tasks a turn, for executors without a timer, as in tests).
    pub poll: Duration,
    /// Longest wait for another handler's claim before failing as retryable; below the
    /// Lambda's timeout so the report is still written.
    pub max_wait: Duration,
}

impl Default for ClaimSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(150),
            poll: Duration::from_millis(100),
            max_wait: Duration::from_secs(90),
        }
    }
}

pub use super::state::now_ms;

/// A fresh claim token (one per handler invocation).
pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What a handler decides on reading a record it wants to claim.
#[derive(Debug)]
pub(super) enum Decision<T, S> {
    /// Write this record (carrying the handler's claim) if the record is unchanged.
    Claim(T),
    /// Do not claim; the handler is done with this outcome.
    Stop(S),
    /// Another handler holds a live claim: read again after a pause.
    Wait,
}

/// The result of [`claim`].
#[derive(Debug)]
pub(super) enum Claimed<T, S> {
    /// The record as written, with the handler's claim, and its etag.
    Held { record: T, etag: String },
    /// The decision was to stop.
    Stopped(S),
}

/// Why a claim could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Another handler kept its claim for longer than the wait allows.
    #[error(
        "{key} stayed claimed by another handler for {waited_ms} ms (claim expires at {expires_at_ms} ms since the epoch); the event is retried later"
    )]
    Busy {
        /// The record's key.
        key: String,
        /// How long this handler waited.
        waited_ms: u64,
        /// When the blocking claim lapses.
        expires_at_ms: u64,
    },
    /// Reading or writing the record failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Claims the record at `key`: reads it, asks `decide`, and writes what it returns on the
/// etag read (or only if still absent), again from the read until one write wins, `decide`
/// says stop, or the wait runs out. `blocking` tells the expiry of the claim `decide` waits
/// on, for the error.
pub(super) async fn claim<T, S>(
    store: &impl ObjectStore,
    key: &str,
    settings: &ClaimSettings,
    mut decide: impl FnMut(Option<&T>) -> Decision<T, S>,
    blocking: impl Fn(&T) -> Option<u64>,
) -> Result<Claimed<T, S>, ClaimError>
where
    T: Serialize + DeserializeOwned,
{
    let started = Instant::now();
    loop {
        let current = read_tagged::<T>(store, key).await?;
        match decide(current.as_ref().map(|(record, _)| record)) {
            Decision::Stop(outcome) => return Ok(Claimed::Stopped(outcome)),
            Decision::Wait => {
                let waited = started.elapsed();
                if waited >= settings.max_wait {
                    return Err(ClaimError::Busy {
                        key: key.to_string(),
                        waited_ms: waited.as_millis() as u64,
                        expires_at_ms: current
                            .as_ref()
                            .and_then(|(record, _)| blocking(record))
                            .unwrap_or(0),
                    });
                }
                if settings.poll.is_zero() {
                    yield_once().await;
                } else {
                    tokio::time::sleep(settings.poll).await;
                }
            }
            Decision::Claim(record) => {
                let precondition = match &current {
                    Some((_, etag)) => Precondition::Matches(etag.clone()),
                    None => Precondition::Absent,
                };
                match write_json_if(store, key, &record, &precondition).await {
                    Ok(etag) => return Ok(Claimed::Held { record, etag }),
                    Err(ConditionalPutError::PreconditionFailed { .. }) => continue,
                    Err(ConditionalPutError::Service(error)) => return Err(error.into()),
                }
            }
        }
    }
}

/// Replaces a claimed record with `record` (claim released, outcome committed) if it is
/// still the one this handler wrote (`etag`).
pub(super) async fn settle<T: Serialize>(
    store: &impl ObjectStore,
    key: &str,
    record: &T,
    etag: &str,
) -> Result<String, ConditionalPutError> {
    write_json_if(store, key, record, &Precondition::Matches(etag.to_string())).await
}

/// Returns `Pending` once (waking itself at once): lets other tasks of the same executor run.
pub(crate) async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|context| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            context.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}
