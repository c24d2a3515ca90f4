//! Deploy latency on the local stack: from `PutObject` of a flow tarball to the compile
//! function's record of the new deployment (`deployments/<name>/current.json`, written last,
//! after the state machine, its version, the `live` alias, the schedule and the job
//! definitions), through moto's S3 notification and the in-process compile function.
//!
//! `cargo bench -p dropflow-tests --bench deploy_latency` (needs `bash tests/run.sh
//! --setup-only` once for the venv). Prints the median, min and max over `ROUNDS` new
//! versions after a warm-up deploy (moto's first Batch and Step Functions calls are slow),
//! and the compile handler's own total from each deploy report.

use std::time::{Duration, Instant};

use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_compiler::package::{PackageFormat, SourcePackage};
use dropflow_tests::{python, repo_root};
use serde_json::Value;

const ROUNDS: usize = 15;
const FLOW: &str = "ParameterFlow";
const KEY: &str = "flows/latency.tgz";

fn tarball(source: &str) -> Vec<u8> {
    SourcePackage {
        files: [("parameter_flow.py".to_string(), source.as_bytes().to_vec())]
            .into_iter()
            .collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz()
}

struct Bench {
    stack: Stack,
    s3: aws_sdk_s3::Client,
}

impl Bench {
    async fn json(&self, key: &str) -> Option<Value> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.stack.endpoints().bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        let bytes = object.body.collect().await.ok()?.into_bytes();
        serde_json::from_slice(&bytes).ok()
    }

    async fn deployed_version(&self) -> Option<String> {
        let current = self
            .json(&format!("deployments/{FLOW}/current.json"))
            .await?;
        current["version"].as_str().map(String::from)
    }

    /// Uploads `source`; returns the time until a version other than `previous` is
    /// recorded as deployed, and that version.
    async fn deploy(&self, source: &str, previous: Option<&str>) -> (Duration, String) {
        let started = Instant::now();
        self.s3
            .put_object()
            .bucket(&self.stack.endpoints().bucket)
            .key(KEY)
            .body(tarball(source).into())
            .send()
            .await
            .expect("upload to the local bucket");
        loop {
            if let Some(version) = self.deployed_version().await
                && Some(version.as_str()) != previous
            {
                return (started.elapsed(), version);
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no new deployment of {FLOW} within 120 s: see reports/latest/{FLOW}.json"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn summary(label: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    println!(
        "{label}: median {:.0} ms, min {:.0} ms, max {:.0} ms (n = {})",
        millis[millis.len() / 2],
        millis[0],
        millis[millis.len() - 1],
        millis.len()
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a temporary state directory");
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    let stack = Stack::start(options, Registry::default())
        .await
        .unwrap_or_else(|e| panic!("the local stack did not come up: {e}"));
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(stack.sdk())
            .force_path_style(true)
            .build(),
    );
    let bench = Bench { stack, s3 };
    let source = std::fs::read_to_string(repo_root().join("examples/parameter_flow.py"))
        .expect("examples/parameter_flow.py");
    assert!(
        source.contains("default=0.01"),
        "the bench edits alpha's default"
    );

    let (warm_up, mut version) = bench.deploy(&source, None).await;
    println!(
        "first deploy (warm-up): {:.0} ms",
        warm_up.as_secs_f64() * 1e3
    );

    let (mut end_to_end, mut handler) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let changed = source.replace("default=0.01", &format!("default=0.{round:02}5"));
        let (elapsed, new_version) = bench.deploy(&changed, Some(&version)).await;
        version = new_version;
        end_to_end.push(elapsed.as_secs_f64() * 1e3);
        let report = bench
            .json(&format!("reports/latest/{FLOW}.json"))
            .await
            .expect("the latest report");
        if let Some(total) = report["timings_ms"]["total"].as_f64() {
            handler.push(total);
        }
    }
    summary("S3 put → new version deployed (end to end)", end_to_end);
    if !handler.is_empty() {
        summary("compile handler alone (report timings_ms.total)", handler);
    }
    let mut stack = bench.stack;
    stack.stop();
}
