//! `dropflow deploy` and `dropflow undeploy`: an upload to (or a deletion from) `flows/`,
//! then the compile function's report for exactly that S3 version, read back from
//! `reports/versions/<key>/<version>.json`. Deploying is the upload itself, as with `aws s3 cp`: the same
//! compile function, the same checks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use dropflow_compiler::compile::OptionsLayer;
use dropflow_deploy::metadata::{METADATA_PREFIX, USER_KEY};
use dropflow_deploy::state::version_report_key;
use serde::{Deserialize, Serialize};

use super::error::ClientError;
use super::report::{DeployReport, ReportText, Status};
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
        self.report.status != Status::Failed
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
        write!(f, "{}", ReportText(&self.report))
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
        "environment",
        layer.environment.map(|e| {
            match e {
                dropflow_compiler::compile::TaskEnvironment::Local => "local",
                dropflow_compiler::compile::TaskEnvironment::Uv => "uv",
            }
            .to_string()
        }),
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

/// Reads the report of `version_id` of `key` (`reports/versions/<key under flows/>/<version>.json`,
/// written for every event, superseded and duplicate ones included) until it is there and
/// final. A `failed` report marked retryable (an AWS call failed, the key stayed claimed too
/// long) is waited past, as the compile function's retry will replace it; it is returned if
/// nothing replaces it before `timeout`.
pub async fn wait_for_report(
    store: &impl Store,
    key: &str,
    version_id: &str,
    timeout: Duration,
) -> Result<DeployReport, ClientError> {
    let flow_key = key.strip_prefix(FLOWS_PREFIX).unwrap_or(key);
    let report_key = version_report_key(flow_key, version_id);
    let started = Instant::now();
    let mut retryable = None;
    loop {
        if let Some(bytes) = store.get(&report_key).await? {
            let report = serde_json::from_slice::<DeployReport>(&bytes).map_err(|e| {
                ClientError::BadReport {
                    bucket: store.bucket().to_string(),
                    key: report_key.clone(),
                    message: e.to_string(),
                }
            })?;
            if !(report.status == Status::Failed && report.retryable) {
                return Ok(report);
            }
            retryable = Some(report);
        }
        if started.elapsed() >= timeout {
            return retryable.ok_or_else(|| ClientError::ReportTimeout {
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

    /// A bucket in memory whose "compile function" answers each put on its second read of
    /// the version's report: first a retryable failure (when `fail_first`), then `status`.
    #[derive(Default)]
    struct Bucket {
        objects: Mutex<BTreeMap<String, Vec<u8>>>,
        versions: Mutex<u32>,
        reads: Mutex<u32>,
        fail_first: bool,
    }

    impl Bucket {
        fn report(version: &str, status: Status, retryable: bool) -> Vec<u8> {
            let mut report = Report::new(EventKind::Created, "flows/f.tar.gz", Some(version), None);
            report.status = status;
            report.retryable = retryable;
            report.to_json().into_bytes()
        }
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
            let mut objects = self.objects.lock().unwrap();
            objects.insert(key.into(), bytes);
            // Another upload's report at the key's report: not this upload's.
            objects.insert(
                dropflow_deploy::state::report_key("f.tar.gz"),
                Self::report("older", Status::Deployed, false),
            );
            Ok(Some(format!("v{versions}")))
        }
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ClientError> {
            let version = format!("v{}", self.versions.lock().unwrap());
            assert_eq!(key, version_report_key("f.tar.gz", &version));
            let mut reads = self.reads.lock().unwrap();
            *reads += 1;
            let mut objects = self.objects.lock().unwrap();
            match *reads {
                2 if self.fail_first => {
                    objects.insert(key.into(), Self::report(&version, Status::Failed, true));
                }
                2 | 4 => {
                    objects.insert(key.into(), Self::report(&version, Status::Deployed, false));
                }
                _ => {}
            }
            Ok(objects.get(key).cloned())
        }
        async fn delete(&self, _: &str) -> Result<Option<String>, ClientError> {
            Ok(None)
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
        assert_eq!(outcome.report.version_id.as_deref(), Some("v1"));
        assert_eq!(outcome.report.status, Status::Deployed);
        assert_eq!(
            *bucket.reads.lock().unwrap(),
            2,
            "read until it was written"
        );
        let error = undeploy(&bucket, "flows/f.tar.gz", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(error, ClientError::Unversioned { .. }), "{error}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_retryable_failure_is_waited_past_and_returned_only_at_the_timeout() {
        let bucket = Bucket {
            fail_first: true,
            ..Bucket::default()
        };
        let outcome = deploy(
            &bucket,
            "flows/f.tar.gz",
            b"x".to_vec(),
            &BTreeMap::new(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        assert_eq!(outcome.report.status, Status::Deployed);
        assert_eq!(
            *bucket.reads.lock().unwrap(),
            4,
            "the retry's report replaced it"
        );

        // Nothing replaces the retryable failure before the timeout: it is the answer.
        let bucket = Bucket {
            fail_first: true,
            ..Bucket::default()
        };
        *bucket.versions.lock().unwrap() = 1;
        *bucket.reads.lock().unwrap() = 1;
        let report = wait_for_report(&bucket, "flows/f.tar.gz", "v1", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(report.status, Status::Failed);
        assert!(report.retryable);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn no_report_of_this_version_is_a_timeout_naming_where_it_would_be() {
        let bucket = Bucket::default();
        *bucket.versions.lock().unwrap() = 3;
        *bucket.reads.lock().unwrap() = 4; // nothing more is written
        let error = wait_for_report(&bucket, "flows/f.tar.gz", "v3", Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("s3://b/reports/versions/f.tar.gz/v3.json"),
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
            environment: Some(dropflow_compiler::compile::TaskEnvironment::Uv),
        };
        let map = metadata(&layer);
        assert_eq!(map.get("user").map(String::as_str), Some("alice"));
        assert_eq!(options_from_metadata(&map).unwrap(), layer);
        assert!(metadata(&OptionsLayer::default()).is_empty());
    }
}
