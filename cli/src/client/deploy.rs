//! `dropflow deploy` and `dropflow undeploy`: an upload to (or a deletion from) `flows/`,
//! then the compile function's report for exactly that S3 version, read back from
//! `reports/<key>.json`. Deploying is the upload itself, as with `aws s3 cp`: the same
//! compile function, the same checks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use dropflow_compiler::compile::OptionsLayer;
use dropflow_deploy::metadata::{METADATA_PREFIX, USER_KEY};
use dropflow_deploy::state::report_key;
use serde::{Deserialize, Serialize};

use super::error::ClientError;
use super::report::{DeployReport, ReportStatus};
use super::store::Store;

/// Where uploads deploy (the stack's default flows prefix).
pub use dropflow_contract::layout::FLOWS_PREFIX;

/// How often the report is looked for.
const POLL: Duration = Duration::from_millis(250);

/// What `deploy`/`undeploy` did: the S3 object and the report for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployOutcome {
    /// Bucket.
    pub bucket: String,
    /// Key uploaded or deleted.
    pub key: String,
    /// The S3 version the report is about.
    pub version_id: String,
    /// Files packed (empty for an archive uploaded as it is, or an undeploy).
    #[serde(default)]
    pub files: Vec<String>,
    /// Files left out of the package (not matching the package suffixes).
    #[serde(default)]
    pub skipped: Vec<String>,
    /// The compile function's report.
    pub report: DeployReport,
}

impl DeployOutcome {
    /// Whether the command succeeded: anything but a failed report.
    pub fn succeeded(&self) -> bool {
        self.report.status != ReportStatus::Failed
    }
}

impl fmt::Display for DeployOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.files.is_empty() {
            writeln!(
                f,
                "packed {} file{}: {}",
                self.files.len(),
                if self.files.len() == 1 { "" } else { "s" },
                shortened(&self.files)
            )?;
        }
        if !self.skipped.is_empty() {
            writeln!(
                f,
                "left out (not a package suffix; add one with --package-suffixes): {}",
                shortened(&self.skipped)
            )?;
        }
        write!(f, "{}", self.report)
    }
}

/// Names listed in text, at most.
const LISTED: usize = 10;

/// The first [`LISTED`] names, and how many more (`--json` lists them all).
fn shortened(names: &[String]) -> String {
    let shown = names[..names.len().min(LISTED)].join(", ");
    match names.len().saturating_sub(LISTED) {
        0 => shown,
        more => format!("{shown} and {more} more (--json lists them all)"),
    }
}

/// The S3 object metadata carrying `layer` (the keys the compile function reads with
/// [`dropflow_deploy::metadata::options_from_metadata`]).
pub fn metadata(layer: &OptionsLayer) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            map.insert(format!("{METADATA_PREFIX}{key}"), value);
        }
    };
    put("max-workers", layer.max_workers.map(|v| v.to_string()));
    put(
        "workflow-timeout",
        layer.workflow_timeout.map(|v| v.to_string()),
    );
    put("tags", layer.tags.as_ref().map(|t| t.join(",")));
    put("namespace", layer.namespace.clone());
    put("branch", layer.branch.clone());
    put("production", layer.production.map(|v| v.to_string()));
    put("name", layer.name.clone());
    put("image", layer.image.clone());
    put("job-queue", layer.job_queue.clone());
    put("with-retry", layer.retry_by_default.map(|v| v.to_string()));
    put(
        "distributed-map",
        layer.distributed_map.map(|v| v.to_string()),
    );
    put(
        "aws-tags",
        layer.aws_tags.as_ref().map(|tags| {
            tags.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        }),
    );
    put(
        "platform",
        layer
            .platform
            .map(|p| if p.is_ec2() { "ec2" } else { "fargate" }.to_string()),
    );
    put(
        "assign-public-ip",
        layer.assign_public_ip.map(|v| v.to_string()),
    );
    put(
        "notify-on-error",
        layer.notify_on_error.as_ref().map(|t| t.join(" ")),
    );
    put(
        "notify-on-success",
        layer.notify_on_success.as_ref().map(|t| t.join(" ")),
    );
    if let Some(user) = &layer.user {
        map.insert(USER_KEY.to_string(), user.clone());
    }
    map
}

/// Uploads `bytes` to `key` with `metadata` and waits up to `timeout` for its report.
pub async fn deploy(
    store: &impl Store,
    key: &str,
    bytes: Vec<u8>,
    metadata: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<DeployOutcome, ClientError> {
    let version_id =
        store
            .put(key, bytes, metadata)
            .await?
            .ok_or_else(|| ClientError::Unversioned {
                bucket: store.bucket().to_string(),
            })?;
    reported(store, key, version_id, timeout).await
}

/// Deletes `key` (which undeploys what it deployed) and waits for the report.
pub async fn undeploy(
    store: &impl Store,
    key: &str,
    timeout: Duration,
) -> Result<DeployOutcome, ClientError> {
    let version_id = store
        .delete(key)
        .await?
        .ok_or_else(|| ClientError::Unversioned {
            bucket: store.bucket().to_string(),
        })?;
    reported(store, key, version_id, timeout).await
}

/// Waits for the report of `version_id` of `key` (an upload or a delete) and wraps it.
async fn reported(
    store: &impl Store,
    key: &str,
    version_id: String,
    timeout: Duration,
) -> Result<DeployOutcome, ClientError> {
    let report = wait_for_report(store, key, &version_id, timeout).await?;
    Ok(DeployOutcome {
        bucket: store.bucket().to_string(),
        key: key.to_string(),
        version_id,
        files: Vec::new(),
        skipped: Vec::new(),
        report,
    })
}

/// Reads `reports/<key under flows/>.json` until it is the report of `version_id`. A report of another
/// version (an older upload, a concurrent one) is not this upload's and is waited past; as
/// a concurrent upload's report may have replaced this one's, the object's earlier versions
/// are looked through too (the bucket is versioned).
pub async fn wait_for_report(
    store: &impl Store,
    key: &str,
    version_id: &str,
    timeout: Duration,
) -> Result<DeployReport, ClientError> {
    // Reports are keyed by the upload's key relative to `flows/`.
    let report_key = report_key(key.strip_prefix(FLOWS_PREFIX).unwrap_or(key));
    let started = Instant::now();
    let read = |bytes: Vec<u8>| {
        serde_json::from_slice::<DeployReport>(&bytes).map_err(|e| ClientError::BadReport {
            bucket: store.bucket().to_string(),
            key: report_key.clone(),
            message: e.to_string(),
        })
    };
    // Report versions already read and found to be another upload's.
    let mut others = std::collections::HashSet::new();
    loop {
        if let Some(bytes) = store.get(&report_key).await? {
            let report = read(bytes)?;
            if report.version_id.as_deref() == Some(version_id) {
                return Ok(report);
            }
            // Another upload's report: a concurrent upload of the same key may have
            // overwritten this one's, which is then an earlier version of the object.
            for version in store.versions(&report_key).await? {
                if !others.insert(version.clone()) {
                    continue;
                }
                if let Some(bytes) = store.get_version(&report_key, &version).await? {
                    let report = read(bytes)?;
                    if report.version_id.as_deref() == Some(version_id) {
                        return Ok(report);
                    }
                }
            }
        }
        if started.elapsed() >= timeout {
            return Err(ClientError::ReportTimeout {
                bucket: store.bucket().to_string(),
                key: key.to_string(),
                version_id: version_id.to_string(),
                report_key,
                waited: timeout,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use dropflow_deploy::metadata::options_from_metadata;
    use dropflow_deploy::report::{EventKind, Report, Status};

    use super::*;

    /// A bucket in memory whose "compile function" writes a report for each put,
    /// after first leaving an older version's report in place.
    #[derive(Default)]
    struct Bucket {
        objects: Mutex<BTreeMap<String, Vec<u8>>>,
        versions: Mutex<u32>,
        reads: Mutex<u32>,
        /// Earlier versions of the report object, by version id.
        overwritten: Mutex<BTreeMap<String, Vec<u8>>>,
    }

    impl Store for Bucket {
        fn bucket(&self) -> &str {
            "b"
        }
        async fn put(
            &self,
            key: &str,
            bytes: Vec<u8>,
            _: &BTreeMap<String, String>,
        ) -> Result<Option<String>, ClientError> {
            let mut versions = self.versions.lock().unwrap();
            *versions += 1;
            self.objects.lock().unwrap().insert(key.into(), bytes);
            let stale = Report::new(EventKind::Created, key, Some("older"), None);
            self.objects
                .lock()
                .unwrap()
                .insert(report_key("f.tar.gz"), stale.to_json().into_bytes());
            Ok(Some(format!("v{versions}")))
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ClientError> {
            let mut reads = self.reads.lock().unwrap();
            *reads += 1;
            if *reads == 2 {
                let version = format!("v{}", self.versions.lock().unwrap());
                let mut report =
                    Report::new(EventKind::Created, "flows/f.tar.gz", Some(&version), None);
                report.status = Status::Deployed;
                self.objects
                    .lock()
                    .unwrap()
                    .insert(key.into(), report.to_json().into_bytes());
            }
            assert_eq!(key, "reports/f.tar.gz.json");
            Ok(self.objects.lock().unwrap().get(key).cloned())
        }
        async fn delete(&self, _: &str) -> Result<Option<String>, ClientError> {
            Ok(None)
        }
        async fn versions(&self, _: &str) -> Result<Vec<String>, ClientError> {
            Ok(self
                .overwritten
                .lock()
                .unwrap()
                .keys()
                .rev()
                .cloned()
                .collect())
        }
        async fn get_version(
            &self,
            _: &str,
            version_id: &str,
        ) -> Result<Option<Vec<u8>>, ClientError> {
            Ok(self.overwritten.lock().unwrap().get(version_id).cloned())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_report_of_this_version_is_waited_for() {
        let bucket = Bucket::default();
        let outcome = deploy(
            &bucket,
            "flows/f.tar.gz",
            b"x".to_vec(),
            &BTreeMap::new(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        assert_eq!(outcome.version_id, "v1");
        assert_eq!(outcome.report.status, ReportStatus::Deployed);
        assert_eq!(
            *bucket.reads.lock().unwrap(),
            2,
            "the stale report was read past"
        );
        let error = undeploy(&bucket, "flows/f.tar.gz", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::Unversioned { .. }), "{error}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_report_overwritten_by_a_concurrent_uploads_is_found_in_earlier_versions() {
        let bucket = Bucket::default();
        // The report of v1 was written, then replaced by v2's before it was read.
        let mut own = Report::new(EventKind::Created, "flows/f.tar.gz", Some("v1"), None);
        own.status = Status::Deployed;
        let mut other = Report::new(EventKind::Created, "flows/f.tar.gz", Some("v2"), None);
        other.status = Status::Unchanged;
        bucket
            .overwritten
            .lock()
            .unwrap()
            .insert("r1".into(), own.to_json().into_bytes());
        bucket
            .objects
            .lock()
            .unwrap()
            .insert(report_key("f.tar.gz"), other.to_json().into_bytes());
        *bucket.reads.lock().unwrap() = 2; // no report is written on a read
        let report = wait_for_report(&bucket, "flows/f.tar.gz", "v1", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(report.status, ReportStatus::Deployed);
        let error = wait_for_report(&bucket, "flows/f.tar.gz", "v3", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::ReportTimeout { .. }),
            "{error}"
        );
    }

    #[test]
    fn long_file_lists_are_shortened_in_text() {
        let names: Vec<String> = (0..12).map(|i| format!("f{i}.py")).collect();
        assert_eq!(shortened(&names[..2]), "f0.py, f1.py");
        assert!(shortened(&names).ends_with("f9.py and 2 more (--json lists them all)"));
    }

    #[test]
    fn metadata_is_what_the_compile_function_reads() {
        let layer = OptionsLayer {
            max_workers: Some(8),
            max_workers_per_step: None,
            workflow_timeout: Some(600),
            tags: Some(vec!["team:ml".into(), "x".into()]),
            namespace: Some("ns".into()),
            branch: Some("staging".into()),
            production: Some(true),
            name: Some("Named".into()),
            image: Some("img:1".into()),
            job_queue: Some("q".into()),
            retry_by_default: Some(true),
            distributed_map: Some(false),
            aws_tags: Some([("k".to_string(), "v".to_string())].into_iter().collect()),
            user: Some("alice".into()),
            platform: Some(dropflow_compiler::compile::ComputePlatform::Fargate),
            assign_public_ip: Some(false),
            notify_on_error: Some(vec![
                "arn:aws:sns:us-east-1:123456789012:dropflow-alerts".into(),
                "https://hooks.example/x".into(),
            ]),
            notify_on_success: Some(vec!["https://hooks.example/y".into()]),
        };
        let map = metadata(&layer);
        assert_eq!(map.get("user").map(String::as_str), Some("alice"));
        assert_eq!(options_from_metadata(&map).unwrap(), layer);
        assert!(metadata(&OptionsLayer::default()).is_empty());
    }
}
