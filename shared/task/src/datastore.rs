//! Object storage as the step Lambda sees it ([`Datastore`], addressed by `s3://` URLs
//! so one store reaches the manifest, Metaflow's datastore root and the task records),
//! and Metaflow's datastore layout ([`TaskFiles`]).
//!
//! Layout (Metaflow 2.19, S3 and local alike, checked against real Metaflow tasks):
//! `<root>/<Flow>/<run>/<step>/<task>/<attempt>.{attempt.json,data.json,DONE.lock,
//! task_stdout.log,task_stderr.log}`; artifacts are content-addressed blobs
//! `<root>/<Flow>/data/<sha[:2]>/<sha>`, named by `data.json["objects"][name]`.

use std::future::Future;

use dropflow_contract::{ServiceError, ServiceResult};

/// Storage the step Lambda reads and writes. Implemented over S3 by `dropflow-aws`
/// (`S3Datastore`) and in memory by [`super::MemoryDatastore`].
pub trait Datastore: Send + Sync {
    /// The object at `url`; `None` when absent.
    fn get(&self, url: &str) -> impl Future<Output = ServiceResult<Option<Vec<u8>>>> + Send;

    /// The last `max_bytes` of the object at `url` (all of it when smaller).
    fn get_tail(
        &self,
        url: &str,
        max_bytes: u64,
    ) -> impl Future<Output = ServiceResult<Option<Vec<u8>>>> + Send {
        async move {
            Ok(self.get(url).await?.map(|mut bytes| {
                let keep = bytes
                    .len()
                    .min(usize::try_from(max_bytes).unwrap_or(usize::MAX));
                bytes.drain(..bytes.len() - keep);
                bytes
            }))
        }
    }

    /// At most `max_bytes` of the object at `url` from byte `offset`, with the object's
    /// size (see [`Ranged`]); `None` when absent. An offset at or past the end reads
    /// nothing.
    fn get_range(
        &self,
        url: &str,
        offset: u64,
        max_bytes: u64,
    ) -> impl Future<Output = ServiceResult<Option<Ranged>>> + Send {
        async move {
            Ok(self
                .get(url)
                .await?
                .map(|bytes| Ranged::slice(&bytes, offset, max_bytes)))
        }
    }

    /// Writes `bytes` to `url`.
    fn put(
        &self,
        url: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = ServiceResult<()>> + Send;

    /// Whether an object exists at `url`.
    fn exists(&self, url: &str) -> impl Future<Output = ServiceResult<bool>> + Send;

    /// Names of the objects directly under the "directory" `prefix` (an `s3://` URL
    /// ending in `/`), relative to it; deeper objects are not listed.
    fn list(&self, prefix: &str) -> impl Future<Output = ServiceResult<Vec<String>>> + Send;
}

/// Part of an object, as [`Datastore::get_range`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranged {
    /// The bytes read.
    pub bytes: Vec<u8>,
    /// The whole object's size.
    pub size: u64,
}

impl Ranged {
    /// At most `max_bytes` of `whole` from `offset`.
    pub fn slice(whole: &[u8], offset: u64, max_bytes: u64) -> Self {
        let size = whole.len() as u64;
        let start = offset.min(size);
        let end = start.saturating_add(max_bytes).min(size);
        Self {
            bytes: whole[start as usize..end as usize].to_vec(),
            size,
        }
    }
}

/// `s3://bucket/key` → `(bucket, key)`.
pub fn split_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// A [`ServiceError`] for a URL that is not `s3://bucket/key`.
pub fn not_an_s3_url(operation: &str, url: &str) -> ServiceError {
    ServiceError::new(format!("{operation} {url}"), "not an s3://bucket/key URL")
}

/// One Metaflow task's files in the datastore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFiles {
    /// `<root>/<Flow>/<run>/<step>/<task>/`.
    dir: String,
}

impl TaskFiles {
    /// The files of `flow/run/step/task` under datastore `root` (`s3://bucket/metaflow`).
    pub fn new(root: &str, flow: &str, run: &str, step: &str, task: &str) -> Self {
        Self {
            dir: format!("{}/{flow}/{run}/{step}/{task}/", root.trim_end_matches('/')),
        }
    }

    /// The task's directory, ending in `/`.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// `<attempt>.data.json`: the artifact index of an attempt.
    pub fn data_json(&self, attempt: u32) -> String {
        format!("{}{attempt}.data.json", self.dir)
    }

    /// `<attempt>.DONE.lock`: written when an attempt finished (successfully or not).
    pub fn done_lock(&self, attempt: u32) -> String {
        format!("{}{attempt}.DONE.lock", self.dir)
    }

    /// `<attempt>.task_stderr.log`: the attempt's stderr in mflog lines, written by
    /// `python -m metaflow.mflog.save_logs` after the task.
    pub fn stderr_log(&self, attempt: u32) -> String {
        format!("{}{attempt}.task_stderr.log", self.dir)
    }
}

/// The content-addressed blob of an artifact: `<root>/<Flow>/data/<sha[:2]>/<sha>`.
pub fn blob_url(root: &str, flow: &str, sha: &str) -> String {
    let shard = sha.get(..2).unwrap_or(sha);
    format!("{}/{flow}/data/{shard}/{sha}", root.trim_end_matches('/'))
}

/// The highest attempt among `names` (a task directory's listing) that has a
/// `DONE.lock`: the attempt Metaflow resolves `run/step/task` to.
pub fn latest_done_attempt<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<u32> {
    names
        .into_iter()
        .filter_map(|name| name.strip_suffix(".DONE.lock")?.parse::<u32>().ok())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_key() {
        assert_eq!(
            split_s3_url("s3://b/metaflow/F/data/ab/abc"),
            Some(("b", "metaflow/F/data/ab/abc"))
        );
        assert_eq!(split_s3_url("s3://b"), Some(("b", "")));
        assert_eq!(split_s3_url("s3:///k"), None);
        assert_eq!(split_s3_url("https://b/k"), None);
    }

    #[test]
    fn task_files_follow_metaflows_layout() {
        let files = TaskFiles::new(
            "s3://b/metaflow/",
            "ForeachFlow",
            "sfn-x",
            "square",
            "square-3",
        );
        assert_eq!(
            files.dir(),
            "s3://b/metaflow/ForeachFlow/sfn-x/square/square-3/"
        );
        assert_eq!(
            files.data_json(2),
            "s3://b/metaflow/ForeachFlow/sfn-x/square/square-3/2.data.json"
        );
        assert_eq!(
            files.done_lock(0),
            "s3://b/metaflow/ForeachFlow/sfn-x/square/square-3/0.DONE.lock"
        );
        assert_eq!(
            files.stderr_log(1),
            "s3://b/metaflow/ForeachFlow/sfn-x/square/square-3/1.task_stderr.log"
        );
        assert_eq!(
            blob_url("s3://b/metaflow", "ForeachFlow", "de35a5e6df"),
            "s3://b/metaflow/ForeachFlow/data/de/de35a5e6df"
        );
    }

    #[test]
    fn the_latest_attempt_is_the_highest_with_a_done_lock() {
        let names = [
            "0.attempt.json",
            "0.DONE.lock",
            "1.attempt.json",
            "1.DONE.lock",
            "2.attempt.json",
            "0.data.json",
        ];
        assert_eq!(latest_done_attempt(names), Some(1));
        assert_eq!(latest_done_attempt(["0.attempt.json"]), None);
    }
}
