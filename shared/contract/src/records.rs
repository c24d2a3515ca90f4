//! What the compile Lambda remembers between events, as small JSON objects in the bucket:
//!
//! - `deployments/<state machine>/current.json` ([`DeploymentState`]): what is deployed
//!   under that name, from which upload;
//! - `sources/<key>.json` ([`SourceRecord`]): the newest event handled for an upload key and
//!   what that key deploys, kept after removal as a tombstone so a late, older event is
//!   still recognised as older; while an event is being handled it also holds that
//!   handler's [`Claim`] (`dropflow-deploy`'s `claim` module);
//! - `deployments/<state machine>/owner.json` ([`OwnerRecord`]): the upload key that owns
//!   the state machine (only it may update or delete it), and the claim of the handler
//!   changing it;
//! - `deployments/<state machine>/<version>/{deployment.json,code.tar.gz}`: immutable
//!   per version (written by the compiler's manifest locations).
//!
//! Keys are relative to the flows prefix: `flows/team/a.tgz` is `team/a.tgz` here.
//! Plain data and JSON reads/writes over [`ObjectStore`], so that the trigger Lambda reads
//! them without linking the compiler.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::ScheduleInfo;
use crate::ports::{ConditionalPutError, ObjectStore, Precondition, ServiceError, ServiceResult};

pub use crate::layout::{
    DEPLOYMENTS_PREFIX, REPORTS_PREFIX, SOURCES_PREFIX, current_key, latest_report_key, owner_key,
    report_key, source_key, version_report_key,
};

/// The alias schedules and the trigger API start executions on.
pub const LIVE_ALIAS: &str = "live";

/// The key of an `s3://bucket/key` URI in `bucket`.
pub fn key_of(uri: &str, bucket: &str) -> Option<String> {
    uri.strip_prefix("s3://")?
        .strip_prefix(bucket)?
        .strip_prefix('/')
        .map(String::from)
}

/// What is deployed under one state machine name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentState {
    /// State machine name.
    pub state_machine: String,
    /// Its unqualified ARN.
    pub state_machine_arn: String,
    /// Content-derived version id of the deployed compile (the compiler's `version_id`):
    /// a digest of everything the version depends on except deploy-time values, so an
    /// upload with the same version is the same deployment (deploy-time functions such
    /// as `datetime.now()` are not re-run for it). Records written before this was the
    /// only digest also hold a `fingerprint` equal to it, which is ignored.
    pub version: String,
    /// ARN of the published state machine version.
    pub version_arn: String,
    /// ARN of the `live` alias.
    pub alias_arn: String,
    /// Flow class name.
    pub flow: String,
    /// Upload key (relative to the flows prefix) that deployed it.
    pub source_key: String,
    /// Its S3 sequencer.
    pub sequencer: Option<String>,
    /// Its S3 version id.
    pub version_id: Option<String>,
    /// The schedule, when the flow has one.
    pub schedule: Option<ScheduleInfo>,
    /// `s3://` URI of the manifest.
    pub manifest: String,
}

/// The newest event handled for one upload key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Upload key, relative to the flows prefix.
    pub key: String,
    /// Sequencer of the newest event handled (created or removed).
    pub sequencer: Option<String>,
    /// S3 version id of that event's object.
    pub version_id: Option<String>,
    /// `deployed`, `unchanged`, `failed` or `undeployed`.
    pub status: String,
    /// State machine the key deploys (kept when a newer upload fails; `None` once removed).
    pub state_machine: Option<String>,
    /// Flow class name, when known.
    pub flow: Option<String>,
    /// The handler working on an event for this key, if any (`dropflow-deploy`'s `claim`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

impl SourceRecord {
    /// A record for `key` with nothing handled yet.
    pub fn empty(key: &str) -> Self {
        Self {
            key: key.to_string(),
            sequencer: None,
            version_id: None,
            status: "pending".into(),
            state_machine: None,
            flow: None,
            claim: None,
        }
    }
}

/// Who owns a state machine: the one upload key whose events may change or delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerRecord {
    /// State machine name.
    pub state_machine: String,
    /// The owning upload key, relative to the flows prefix.
    pub source_key: String,
    /// The handler changing the state machine now, if any (`dropflow-deploy`'s `claim`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

/// A handler's exclusive, time-limited right to act on a record's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Unique per handler invocation.
    pub token: String,
    /// The S3 sequencer of the event being handled.
    pub sequencer: Option<String>,
    /// The upload key being handled.
    pub source_key: String,
    /// When the claim lapses (milliseconds since the Unix epoch): after it, the holder is
    /// taken to have crashed and another handler may take over.
    pub expires_at_ms: u64,
}

impl Claim {
    /// A claim by `token` for the event `sequencer` on `source_key`, live for `lease`.
    pub fn new(token: &str, sequencer: Option<&str>, source_key: &str, lease: Duration) -> Self {
        Self {
            token: token.to_string(),
            sequencer: sequencer.map(String::from),
            source_key: source_key.to_string(),
            expires_at_ms: now_ms().saturating_add(lease.as_millis() as u64),
        }
    }

    /// Whether another handler (not `token`) holds this claim and it has not lapsed.
    pub fn blocks(&self, token: &str) -> bool {
        self.token != token && self.expires_at_ms > now_ms()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads a JSON record; `None` when absent. A record that does not parse is an error
/// (never silently treated as absent: that could reorder deployments).
pub async fn read_json<T: DeserializeOwned>(
    store: &impl ObjectStore,
    key: &str,
) -> ServiceResult<Option<T>> {
    let Some(object) = store.get(key, None).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&object.bytes)
        .map(Some)
        .map_err(|e| ServiceError::new(format!("read {key}"), format!("not valid JSON: {e}")))
}

/// Reads a JSON record with its entity tag, for a compare-and-swap write; `None` when absent.
pub async fn read_tagged<T: DeserializeOwned>(
    store: &impl ObjectStore,
    key: &str,
) -> ServiceResult<Option<(T, String)>> {
    let Some(object) = store.get(key, None).await? else {
        return Ok(None);
    };
    let etag = object.etag.clone().ok_or_else(|| {
        ServiceError::new(format!("read {key}"), "the store returned no entity tag")
    })?;
    serde_json::from_slice(&object.bytes)
        .map(|value| Some((value, etag)))
        .map_err(|e| ServiceError::new(format!("read {key}"), format!("not valid JSON: {e}")))
}

/// Writes a JSON record only if `precondition` holds; returns its new entity tag.
pub async fn write_json_if<T: Serialize>(
    store: &impl ObjectStore,
    key: &str,
    value: &T,
    precondition: &Precondition,
) -> Result<String, ConditionalPutError> {
    store
        .put_if(key, json_bytes(value), "application/json", precondition)
        .await
}

fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("records serialise");
    bytes.push(b'\n');
    bytes
}

/// Writes a JSON record (pretty-printed, newline-terminated).
pub async fn write_json<T: Serialize>(
    store: &impl ObjectStore,
    key: &str,
    value: &T,
) -> ServiceResult<()> {
    store.put(key, json_bytes(value), "application/json").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_from_before_the_single_digest_still_reads() {
        let old = r#"{"state_machine": "F", "state_machine_arn": "arn:sm", "version": "0123456789abcdef",
            "fingerprint": "0123456789abcdef", "version_arn": "arn:sm:1", "alias_arn": "arn:sm:live",
            "flow": "F", "source_key": "f.tgz", "sequencer": null, "version_id": null,
            "schedule": null, "manifest": "s3://b/m.json"}"#;
        let state: DeploymentState = serde_json::from_str(old).expect("reads");
        assert_eq!(state.version, "0123456789abcdef");
        let written = serde_json::to_value(&state).unwrap();
        assert!(written.get("fingerprint").is_none());
    }
}
