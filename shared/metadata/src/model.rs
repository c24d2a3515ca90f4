//! The JSON shapes of Metaflow's metadata service (Netflix/metaflow-service, the
//! non-expanded `serialize()` of its rows), as the `service` metadata provider and the
//! Client read them. Field names and types are the wire contract: `run_number` and
//! `task_id` are numbers for ids the service assigned and strings for ids the client
//! named (`sfn-…`, `square-3`); every record has `ts_epoch` (milliseconds) and `tags` /
//! `system_tags` (on steps, tasks and artifacts: the run's, as the reference grafts them).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A run or task id: a number the service assigned, or a name the client chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// Assigned by the service (`POST …/run` or `POST …/task` without an id).
    Number(u64),
    /// Chosen by the client (never all digits).
    Name(String),
}

impl Id {
    /// The id as it appears in paths and keys.
    pub fn as_key(&self) -> String {
        self.to_string()
    }

    /// Reads a path segment: all digits is a number, anything else a name.
    pub fn parse(segment: &str) -> Self {
        match segment.parse::<u64>() {
            Ok(n) if is_numeric(segment) => Id::Number(n),
            _ => Id::Name(segment.to_string()),
        }
    }
}

/// Whether `s` is what the reference service calls numeric (`str.isnumeric()` for the
/// ASCII digits ids use): such names are reserved for service-assigned ids.
pub fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Name(s) => f.write_str(s),
        }
    }
}

/// `GET /flows/{flow}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Flow name.
    pub flow_id: String,
    /// Who registered it (the client sends none).
    pub user_name: Option<String>,
    /// Creation time, ms since the epoch.
    pub ts_epoch: i64,
    /// User tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// System tags.
    #[serde(default)]
    pub system_tags: Vec<String>,
}

/// `GET /flows/{flow}/runs/{run}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Flow name.
    pub flow_id: String,
    /// Run id.
    pub run_number: Id,
    /// Who started it.
    pub user_name: Option<String>,
    /// Creation time, ms since the epoch.
    pub ts_epoch: i64,
    /// User tags (mutable through `PATCH …/tag/mutate`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// System tags (`runtime:…`, `user:…`/`production:…`, `metaflow_version:…`).
    #[serde(default)]
    pub system_tags: Vec<String>,
    /// Last heartbeat, seconds since the epoch.
    #[serde(default)]
    pub last_heartbeat_ts: Option<i64>,
}

/// `GET /flows/{flow}/runs/{run}/steps/{step}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Flow name.
    pub flow_id: String,
    /// Run id.
    pub run_number: Id,
    /// Step name.
    pub step_name: String,
    /// Who registered it.
    pub user_name: Option<String>,
    /// Creation time, ms since the epoch.
    pub ts_epoch: i64,
    /// The run's user tags when read.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The run's system tags when read.
    #[serde(default)]
    pub system_tags: Vec<String>,
}

/// `GET /flows/{flow}/runs/{run}/steps/{step}/tasks/{task}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Flow name.
    pub flow_id: String,
    /// Run id.
    pub run_number: Id,
    /// Step name.
    pub step_name: String,
    /// Task id.
    pub task_id: Id,
    /// Who registered it.
    pub user_name: Option<String>,
    /// Creation time, ms since the epoch.
    pub ts_epoch: i64,
    /// The run's user tags when read.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The run's system tags when read.
    #[serde(default)]
    pub system_tags: Vec<String>,
    /// Last heartbeat, seconds since the epoch.
    #[serde(default)]
    pub last_heartbeat_ts: Option<i64>,
}

/// One artifact of one task attempt (`GET …/tasks/{task}/artifacts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Flow name.
    pub flow_id: String,
    /// Run id.
    pub run_number: Id,
    /// Step name.
    pub step_name: String,
    /// Task id.
    pub task_id: Id,
    /// Artifact name (the Python attribute).
    pub name: String,
    /// Where the datastore keeps it (`:root:<datastore root>` for content-addressed blobs).
    pub location: String,
    /// Datastore type (`s3`, `local`).
    pub ds_type: String,
    /// sha1 of the pickled value (the blob's name).
    pub sha: String,
    /// `metaflow.artifact`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Serialisation (`gzip+pickle-v4`).
    pub content_type: String,
    /// Who produced it.
    pub user_name: Option<String>,
    /// The attempt that produced it.
    pub attempt_id: u32,
    /// Registration time, ms since the epoch.
    pub ts_epoch: i64,
    /// The run's user tags when read.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The run's system tags when read.
    #[serde(default)]
    pub system_tags: Vec<String>,
}

/// One metadatum of a task (`GET …/tasks/{task}/metadata`): `attempt`, `attempt_ok`,
/// `attempt-done`, `ds-root`, `log_location_*`, `code-package`, … Its `tags` are its own
/// (`attempt_id:<n>`), not the run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadatumRecord {
    /// Sequence number within the run (newer is larger).
    pub id: u64,
    /// Flow name.
    pub flow_id: String,
    /// Run id.
    pub run_number: Id,
    /// Step name.
    pub step_name: String,
    /// Task id.
    pub task_id: Id,
    /// Field name.
    pub field_name: String,
    /// Value: text, or the JSON the client sent (`foreach-stack` is a list).
    pub value: serde_json::Value,
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who recorded it.
    pub user_name: Option<String>,
    /// Registration time, ms since the epoch.
    pub ts_epoch: i64,
    /// Its own tags (`attempt_id:<n>`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Its own system tags.
    #[serde(default)]
    pub system_tags: Vec<String>,
}
