//! Reading the few Metaflow artifacts the step Lambda needs (`_task_ok`,
//! `_foreach_num_splits`, `_transition`) from an attempt's `data.json` and its gzip'd
//! pickle blobs, with `serde-pickle` (built-in Python types only, which is all these
//! artifacts hold).

use std::collections::BTreeMap;
use std::io::Read;

use flate2::read::GzDecoder;
use serde::Deserialize;
use serde_pickle::DeOptions;
/// A decoded pickle (built-in Python types).
pub use serde_pickle::Value as Pickle;

use super::datastore::{Datastore, blob_url};
use super::error::{TaskError, TaskResult};

/// Metaflow's name of the "did the task succeed" artifact.
pub const TASK_OK: &str = "_task_ok";
/// Metaflow's name of a foreach step's split count artifact.
pub const FOREACH_NUM_SPLITS: &str = "_foreach_num_splits";
/// Metaflow's name of the transition a step took: `(['next'], foreach_var)` or `None`.
pub const TRANSITION: &str = "_transition";

/// The artifacts these blobs hold are a few bytes; anything larger is refused before it
/// is unpacked (a Lambda must not inflate a user's gigabyte).
const MAX_BLOB_BYTES: u64 = 1024 * 1024;

/// An attempt's `data.json`: artifact name → blob sha.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DataJson {
    /// Artifact name → sha1 of its pickle.
    pub objects: BTreeMap<String, String>,
}

impl DataJson {
    /// Parses `<attempt>.data.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("data.json is not valid: {e}"))
    }
}

/// Decodes a blob: gzip (as Metaflow's content-addressed store writes it; raw pickles
/// are accepted too) of a pickle of built-in types.
pub fn decode_blob(bytes: &[u8]) -> Result<Pickle, String> {
    let mut pickle = Vec::new();
    let raw: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        GzDecoder::new(bytes)
            .take(MAX_BLOB_BYTES + 1)
            .read_to_end(&mut pickle)
            .map_err(|e| format!("not a gzip stream: {e}"))?;
        if pickle.len() as u64 > MAX_BLOB_BYTES {
            return Err(format!("larger than {MAX_BLOB_BYTES} bytes"));
        }
        &pickle
    } else {
        bytes
    };
    serde_pickle::value_from_slice(raw, DeOptions::new()).map_err(|e| format!("not a pickle: {e}"))
}

/// `_task_ok`: a bool.
pub fn task_ok(value: &Pickle) -> Result<bool, String> {
    match value {
        Pickle::Bool(ok) => Ok(*ok),
        other => Err(format!("expected a bool, found {other}")),
    }
}

/// `_foreach_num_splits`: a non-negative int.
pub fn foreach_num_splits(value: &Pickle) -> Result<u32, String> {
    match value {
        Pickle::I64(n) => u32::try_from(*n).map_err(|_| format!("{n} splits is out of range")),
        other => Err(format!("expected an int, found {other}")),
    }
}

/// `_transition`: `(['step', ...], foreach_var_or_None)`; the first step named, or
/// `None` for the end step's `None`.
pub fn transition_step(value: &Pickle) -> Result<Option<String>, String> {
    match value {
        Pickle::None => Ok(None),
        Pickle::Tuple(items) | Pickle::List(items) => match items.first() {
            Some(Pickle::List(steps) | Pickle::Tuple(steps)) => match steps.first() {
                Some(Pickle::String(step)) => Ok(Some(step.clone())),
                other => Err(format!(
                    "expected a step name first, found {}",
                    other.map_or("nothing".to_string(), ToString::to_string)
                )),
            },
            other => Err(format!(
                "expected a list of steps first, found {}",
                other.map_or("nothing".to_string(), ToString::to_string)
            )),
        },
        other => Err(format!("expected a tuple, found {other}")),
    }
}

/// Where one attempt's artifacts are.
#[derive(Debug, Clone, Copy)]
pub struct ArtifactSource<'a> {
    /// Datastore root.
    pub root: &'a str,
    /// Flow name.
    pub flow: &'a str,
    /// `Flow/run/step/task`, for messages.
    pub pathspec: &'a str,
    /// The attempt's `data.json`.
    pub data: &'a DataJson,
}

impl ArtifactSource<'_> {
    /// Reads and decodes artifact `name`, then interprets it with `read`.
    pub async fn read<T, D: Datastore>(
        &self,
        store: &D,
        name: &str,
        read: impl FnOnce(&Pickle) -> Result<T, String>,
    ) -> TaskResult<T> {
        let bad = |problem: String| TaskError::BadArtifact {
            pathspec: self.pathspec.to_string(),
            name: name.to_string(),
            problem,
        };
        let sha = self
            .data
            .objects
            .get(name)
            .ok_or_else(|| bad("not in data.json".into()))?;
        let url = blob_url(self.root, self.flow, sha);
        let bytes = store
            .get(&url)
            .await?
            .ok_or_else(|| bad(format!("blob {url} is missing")))?;
        let value = decode_blob(&bytes).map_err(|e| bad(format!("blob {url}: {e}")))?;
        read(&value).map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(3));
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn measured_bytes_decode() {
        // Real Metaflow 2.19 writes `_foreach_num_splits` 3 as `80 04 4b 03 2e`.
        let value = decode_blob(&gzip(&[0x80, 0x04, 0x4b, 0x03, 0x2e])).unwrap();
        assert_eq!(foreach_num_splits(&value), Ok(3));
        let raw = decode_blob(&[0x80, 0x04, 0x4b, 0x07, 0x2e]).unwrap();
        assert_eq!(foreach_num_splits(&raw), Ok(7));
    }

    #[test]
    fn transitions_name_their_first_step() {
        let tuple = |first: Pickle, second: Pickle| Pickle::Tuple(vec![first, second]);
        let steps = |names: &[&str]| {
            Pickle::List(
                names
                    .iter()
                    .map(|n| Pickle::String(n.to_string()))
                    .collect(),
            )
        };
        assert_eq!(
            transition_step(&tuple(steps(&["square"]), Pickle::String("numbers".into()))),
            Ok(Some("square".into()))
        );
        assert_eq!(
            transition_step(&tuple(steps(&["large"]), Pickle::None)),
            Ok(Some("large".into()))
        );
        assert_eq!(transition_step(&Pickle::None), Ok(None));
        assert!(transition_step(&Pickle::I64(1)).is_err());
        assert!(transition_step(&tuple(steps(&[]), Pickle::None)).is_err());
    }

    #[test]
    fn wrong_types_and_garbage_are_errors() {
        assert!(task_ok(&Pickle::I64(1)).is_err());
        assert!(foreach_num_splits(&Pickle::I64(-1)).is_err());
        assert!(foreach_num_splits(&Pickle::Bool(true)).is_err());
        assert!(decode_blob(b"not a pickle").is_err());
        assert!(decode_blob(&[0x1f, 0x8b, 0, 0]).is_err());
        let bomb = gzip(&vec![0u8; (MAX_BLOB_BYTES + 10) as usize]);
        assert!(decode_blob(&bomb).unwrap_err().contains("larger than"));
    }
}
