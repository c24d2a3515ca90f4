//! Deploys under concurrency, against moto on 127.0.0.1 with the local stack's atomic
//! conditional PutObject (`patch_s3_atomic_conditional_put` in
//! `infra/local/moto_dropflow.py`): many S3 events for several keys, duplicated and
//! reordered, handled by concurrent tokio tasks calling the compile Lambda's handler. The
//! newest upload of each key must end live, duplicates must publish nothing, every report
//! must say what happened; and dropflow must change only what it owns. One moto serves
//! the tests one at a time, reset between them.

mod bucket;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use dropflow_compile::AwsDeployer;
use dropflow_compiler::package::{self, Limits, PackageFormat, SourcePackage};
use dropflow_deploy::Config;
use dropflow_tests::deploy_env;
use dropflow_tests::{python, repo_root};
use serde_json::{Value, json};

const BUCKET: &str = "dropflow-concurrency";
const FIXTURE: &str = include_str!("../../functions/compile/fixtures/example-s3-event.json");

/// moto's server with dropflow's atomic conditional PutObject, killed with the test (a
/// shell watchdog kills it when our end of its stdin closes).
struct PatchedMoto {
    port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl PatchedMoto {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let program = format!(
            "import sys; sys.path.insert(0, {local:?}); import moto_dropflow; \
             moto_dropflow.patch_s3_atomic_conditional_put(); \
             from moto.server import main; main(['-H', '127.0.0.1', '-p', '{port}'])",
            local = repo_root().join("infra/local").display().to_string(),
        );
        let log = std::env::temp_dir().join(format!("dropflow-concurrency-moto-{port}.log"));
        let script = r#""$0" -c "$1" >"$2" 2>&1 &
moto=$!
read -r _ignored
kill "$moto" 2>/dev/null
wait "$moto" 2>/dev/null
exit 0"#;
        let mut child = Command::new("sh")
            .args(["-c", script])
            .arg(python())
            .arg(&program)
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let stdin = child.stdin.take();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { port, child, stdin }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every resource (`POST /moto-api/reset`).
    fn reset(&self) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("moto answers");
        write!(
            stream,
            "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "moto reset: {response:.200}"
        );
    }
}

/// Exclusive use of this test binary's moto (held for a whole test, across awaits: each
/// test has its own runtime and thread, so holding it blocks only the other tests).
struct Lease {
    guard: MutexGuard<'static, PatchedMoto>,
}

/// This test binary's moto (started on first use), for one test at a time, reset.
fn shared_moto() -> Lease {
    static MOTO: OnceLock<Mutex<PatchedMoto>> = OnceLock::new();
    let guard = MOTO
        .get_or_init(|| Mutex::new(PatchedMoto::start()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.reset();
    Lease { guard }
}

impl Drop for PatchedMoto {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn config() -> Config {
    Config::from_lookup(|name| deploy_env::compile_variable(BUCKET, name))
        .expect("valid test configuration")
}

/// One moto, a versioned bucket, the deployer (shared by the handler tasks) and clients.
struct Stack {
    _moto: Lease,
    deployer: Arc<AwsDeployer>,
    s3: aws_sdk_s3::Client,
    sfn: aws_sdk_sfn::Client,
    sequence: u64,
}

impl Stack {
    async fn new() -> Self {
        let moto = shared_moto();
        let sdk: SdkConfig = dropflow_aws::static_sdk_config(&moto.guard.url(), "us-east-1");
        let deployer = dropflow_compile::deployer(config(), &sdk);
        let s3 = deployer.objects.client().clone();
        bucket::versioned(&s3, BUCKET).await;
        Self {
            _moto: moto,
            deployer: Arc::new(deployer),
            s3,
            sfn: aws_sdk_sfn::Client::new(&sdk),
            sequence: 0,
        }
    }

    /// Uploads `bytes` to `flows/<key>`; returns its event (sequencers grow per upload,
    /// as S3's do per key).
    async fn upload(&mut self, key: &str, bytes: Vec<u8>, metadata: &[(&str, &str)]) -> Value {
        let key = format!("flows/{key}");
        let mut request = self
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .body(bytes.into());
        for (k, v) in metadata {
            request = request.metadata(*k, *v);
        }
        let output = request.send().await.unwrap();
        self.sequence += 1;
        event(
            "ObjectCreated:Put",
            &key,
            output.version_id(),
            &format!("0066F1A2B3{:08X}", self.sequence),
        )
    }

    async fn delete(&mut self, key: &str) -> Value {
        let key = format!("flows/{key}");
        self.s3
            .delete_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
        self.sequence += 1;
        event(
            "ObjectRemoved:DeleteMarkerCreated",
            &key,
            None,
            &format!("0066F1A2B3{:08X}", self.sequence),
        )
    }

    /// Delivers every event at once, each on its own tokio task; the reports in the
    /// events' order.
    async fn deliver_concurrently(&self, events: &[Value]) -> Vec<Value> {
        let tasks: Vec<_> = events
            .iter()
            .cloned()
            .map(|event| {
                let deployer = Arc::clone(&self.deployer);
                tokio::spawn(async move {
                    let response = dropflow_compile::handle(&deployer, event)
                        .await
                        .unwrap_or_else(|e| panic!("handler failed: {e}"));
                    assert_eq!(response.records.len(), 1);
                    serde_json::to_value(&response.records[0].report).unwrap()
                })
            })
            .collect();
        let mut reports = Vec::new();
        for task in tasks {
            reports.push(task.await.expect("handler task"));
        }
        reports
    }

    async fn deliver(&self, event: &Value) -> Value {
        self.deliver_concurrently(std::slice::from_ref(event))
            .await
            .remove(0)
    }

    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        match self.s3.get_object().bucket(BUCKET).key(key).send().await {
            Ok(output) => Some(output.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(error) => panic!("get {key}: {error:?}"),
        }
    }

    async fn json(&self, key: &str) -> Option<Value> {
        self.object(key)
            .await
            .map(|bytes| serde_json::from_slice(&bytes).unwrap())
    }

    async fn state_machine_arn(&self, name: &str) -> Option<String> {
        let list = self.sfn.list_state_machines().send().await.unwrap();
        list.state_machines()
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.state_machine_arn().to_string())
    }

    /// The version ARN the `live` alias routes to.
    async fn live_version(&self, name: &str) -> String {
        let arn = self.state_machine_arn(name).await.expect("state machine");
        let alias = self
            .sfn
            .describe_state_machine_alias()
            .state_machine_alias_arn(format!("{arn}:live"))
            .send()
            .await
            .unwrap();
        alias.routing_configuration()[0]
            .state_machine_version_arn()
            .to_string()
    }

    /// The flow source in the code package the live deployment of `name` runs.
    async fn live_source(&self, name: &str) -> String {
        let current = self
            .json(&format!("deployments/{name}/current.json"))
            .await
            .expect("current.json");
        let manifest_key = current["manifest"]
            .as_str()
            .unwrap()
            .strip_prefix(&format!("s3://{BUCKET}/"))
            .unwrap()
            .to_string();
        let code_key = manifest_key.replace("deployment.json", "code.tar.gz");
        let code = self.object(&code_key).await.expect("code package");
        let package = package::read_bytes("code.tar.gz", &code, &Limits::default()).unwrap();
        String::from_utf8(package.files["flow.py"].clone()).unwrap()
    }
}

fn event(name: &str, key: &str, version_id: Option<&str>, sequencer: &str) -> Value {
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    let record = &mut event["Records"][0];
    record["eventName"] = json!(name);
    record["userIdentity"]["principalId"] = json!("AWS:AROAEXAMPLE:alice");
    record["s3"]["bucket"]["name"] = json!(BUCKET);
    record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{BUCKET}"));
    let object = &mut record["s3"]["object"];
    object["key"] = json!(key);
    object["sequencer"] = json!(sequencer);
    match version_id {
        Some(id) => object["versionId"] = json!(id),
        None => {
            object.as_object_mut().unwrap().remove("versionId");
        }
    }
    event
}

fn flow(name: &str, message: &str) -> String {
    format!(
        "from metaflow import FlowSpec, step\n\n\
         class {name}(FlowSpec):\n\
         \x20   @step\n\
         \x20   def start(self):\n\
         \x20       print('{message}')\n\
         \x20       self.next(self.end)\n\n\
         \x20   @step\n\
         \x20   def end(self):\n\
         \x20       pass\n\n\
         if __name__ == '__main__':\n\
         \x20   {name}()\n"
    )
}

fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    SourcePackage {
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz()
}

/// A deterministic shuffle (xorshift), so a failure can be replayed.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for index in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(index, (state % (index as u64 + 1)) as usize);
    }
}

/// The number at the end of a state machine version ARN (`...:Flow:3` → 3).
fn version_number(arn: &str) -> u64 {
    arn.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_newest_upload_of_each_key_ends_live_and_reports_tell_the_truth() {
    let mut stack = Stack::new().await;
    let keys = [
        ("a.tgz", "AlphaFlow"),
        ("b.tgz", "BetaFlow"),
        ("c.tgz", "GammaFlow"),
    ];
    for round in 0..3u64 {
        // Four uploads per key; every event delivered twice; all at once, shuffled.
        let mut events = Vec::new();
        let mut newest = Vec::new();
        for (key, name) in keys {
            for upload in 0..4 {
                let message = format!("{name} round {round} upload {upload}");
                let event = stack
                    .upload(key, tarball(&[("flow.py", &flow(name, &message))]), &[])
                    .await;
                if upload == 3 {
                    let sequencer = event["Records"][0]["s3"]["object"]["sequencer"].clone();
                    newest.push((key, name, message, sequencer));
                }
                events.push(event.clone());
                events.push(event);
            }
        }
        shuffle(&mut events, 0x5eed + round);
        let reports = stack.deliver_concurrently(&events).await;

        for (key, name, message, sequencer) in &newest {
            assert!(
                stack.live_source(name).await.contains(message.as_str()),
                "round {round}: {name} does not run the newest upload ({message})"
            );
            let mine: Vec<&Value> = reports
                .iter()
                .filter(|r| r["state_machine"] == json!(name))
                .collect();
            for report in &mine {
                let status = report["status"].as_str().unwrap();
                assert!(
                    ["deployed", "unchanged", "superseded"].contains(&status),
                    "{report:#}"
                );
            }
            // Every `deployed` report published its own version; the live one is the last.
            let mut published: Vec<u64> = mine
                .iter()
                .filter(|r| r["status"] == "deployed")
                .map(|r| {
                    version_number(
                        r["changes"]["state_machine"]["version_arn"]
                            .as_str()
                            .unwrap(),
                    )
                })
                .collect();
            published.sort_unstable();
            let before = published.len();
            published.dedup();
            assert_eq!(
                published.len(),
                before,
                "two reports claim one version: {published:?}"
            );
            let live = version_number(&stack.live_version(name).await);
            assert_eq!(
                published.last(),
                Some(&live),
                "round {round} {name}: {published:?}"
            );
            // Of the two deliveries of one event, at most one deployed.
            for event in &events {
                let sequencer = &event["Records"][0]["s3"]["object"]["sequencer"];
                let deployed = mine
                    .iter()
                    .filter(|r| r["sequencer"] == *sequencer && r["status"] == "deployed")
                    .count();
                assert!(deployed <= 1, "event {sequencer} deployed {deployed} times");
            }
            // The newest event's report (written to the bucket) is what ended live.
            let written = stack.json(&format!("reports/{key}.json")).await.unwrap();
            assert_eq!(written["sequencer"], *sequencer, "{written:#}");
            assert_eq!(written["status"], "deployed", "{written:#}");
        }
        // Every upload has its own report, superseded ones included (what `dropflow
        // deploy` waits for): the deployed one where a delivery deployed it.
        for event in &events {
            let object = &event["Records"][0]["s3"]["object"];
            let key = object["key"]
                .as_str()
                .unwrap()
                .strip_prefix("flows/")
                .unwrap();
            let version = object["versionId"].as_str().unwrap();
            let own = stack
                .json(&format!("reports/versions/{key}/{version}.json"))
                .await
                .unwrap_or_else(|| panic!("round {round}: no report for {key} {version}"));
            let delivered: Vec<&str> = reports
                .iter()
                .filter(|r| r["version_id"] == json!(version))
                .map(|r| r["status"].as_str().unwrap())
                .collect();
            let status = own["status"].as_str().unwrap();
            assert!(delivered.contains(&status), "{own:#} vs {delivered:?}");
            if delivered.contains(&"deployed") {
                assert_eq!(status, "deployed", "{own:#}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_event_delivered_twenty_times_at_once_publishes_one_version() {
    let mut stack = Stack::new().await;
    let event = stack
        .upload(
            "dup.tgz",
            tarball(&[("flow.py", &flow("DupFlow", "once"))]),
            &[],
        )
        .await;
    let reports = stack.deliver_concurrently(&vec![event.clone(); 20]).await;
    let statuses: Vec<&str> = reports
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "deployed").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "unchanged").count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(version_number(&stack.live_version("DupFlow").await), 1);
    // Sequential re-delivery is unchanged too.
    assert_eq!(stack.deliver(&event).await["status"], "unchanged");
    // The upload's own report keeps the outcome of the delivery that did the work.
    let version = event["Records"][0]["s3"]["object"]["versionId"]
        .as_str()
        .unwrap();
    let own = stack
        .json(&format!("reports/versions/dup.tgz/{version}.json"))
        .await
        .unwrap();
    assert_eq!(own["status"], "deployed", "{own:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_source_repacked_is_the_same_version() {
    let mut stack = Stack::new().await;
    let source = flow("RepackFlow", "same");
    let pack = |mtime: u64, gzip_time: u32| {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(source.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_cksum();
        builder
            .append_data(&mut header, "flow.py", source.as_bytes())
            .unwrap();
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::GzBuilder::new()
            .mtime(gzip_time)
            .write(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    };
    let first = pack(1_700_000_000, 1_700_000_001);
    let second = pack(1_700_000_000, 1_800_000_000);
    assert_ne!(first, second, "the archives differ in their bytes");
    let event = stack.upload("repack.tgz", first, &[]).await;
    let deployed = stack.deliver(&event).await;
    assert_eq!(deployed["status"], "deployed", "{deployed:#}");
    let event = stack.upload("repack.tgz", second, &[]).await;
    let again = stack.deliver(&event).await;
    assert_eq!(again["status"], "unchanged", "{again:#}");
    assert_eq!(again["version"], deployed["version"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_state_machine_is_never_touched() {
    let mut stack = Stack::new().await;
    let definition = r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#;
    let victim = stack
        .sfn
        .create_state_machine()
        .name("VictimMachine")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/other-team")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let event = stack
        .upload(
            "attack.tgz",
            tarball(&[("flow.py", &flow("AttackFlow", "x"))]),
            &[("dropflow-name", "VictimMachine")],
        )
        .await;
    let report = stack.deliver(&event).await;
    assert_eq!(report["status"], "failed", "{report:#}");
    assert_eq!(report["errors"][0]["code"], "deploy.not_owner");
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("was not created by this dropflow"),
        "{message}"
    );
    assert!(message.contains("dropflow-takeover=true"), "{message}");
    // The latest report is written for the flow, failed or not.
    let latest = stack.json("reports/latest/AttackFlow.json").await.unwrap();
    assert_eq!(latest["status"], "failed");

    let untouched = stack
        .sfn
        .describe_state_machine()
        .state_machine_arn(&victim)
        .send()
        .await
        .unwrap();
    assert_eq!(untouched.definition(), definition);
    let removal = stack.delete("attack.tgz").await;
    let report = stack.deliver(&removal).await;
    assert_ne!(report["status"], "undeployed", "{report:#}");
    assert!(stack.state_machine_arn("VictimMachine").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_key_is_refused_until_it_takes_over() {
    let mut stack = Stack::new().await;
    let first = stack
        .upload(
            "one.tgz",
            tarball(&[("flow.py", &flow("SharedFlow", "one"))]),
            &[],
        )
        .await;
    assert_eq!(stack.deliver(&first).await["status"], "deployed");

    // Two other keys race for it without the flag: both refused, nothing changes.
    let two = stack
        .upload(
            "two.tgz",
            tarball(&[("flow.py", &flow("SharedFlow", "two"))]),
            &[],
        )
        .await;
    let three = stack
        .upload(
            "three.tgz",
            tarball(&[("flow.py", &flow("SharedFlow", "three"))]),
            &[],
        )
        .await;
    for report in stack.deliver_concurrently(&[two, three]).await {
        assert_eq!(report["status"], "failed", "{report:#}");
        let message = report["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("deployed from another upload, one.tgz"),
            "{message}"
        );
    }
    assert!(stack.live_source("SharedFlow").await.contains("one"));

    // A deliberate takeover, racing a new upload of the owner: the owner's upload either
    // deploys before the takeover or is refused after it; the takeover ends live.
    let takeover = stack
        .upload(
            "two.tgz",
            tarball(&[("flow.py", &flow("SharedFlow", "two takes over"))]),
            &[("dropflow-takeover", "true")],
        )
        .await;
    let owner_again = stack
        .upload(
            "one.tgz",
            tarball(&[("flow.py", &flow("SharedFlow", "one again"))]),
            &[],
        )
        .await;
    let reports = stack.deliver_concurrently(&[owner_again, takeover]).await;
    assert_eq!(reports[1]["status"], "deployed", "{:#}", reports[1]);
    let owner = stack
        .json("deployments/SharedFlow/owner.json")
        .await
        .unwrap();
    assert_eq!(owner["source_key"], "two.tgz");
    if reports[0]["status"] == "deployed" {
        assert!(
            version_number(
                reports[0]["changes"]["state_machine"]["version_arn"]
                    .as_str()
                    .unwrap()
            ) < version_number(&stack.live_version("SharedFlow").await)
        );
    } else {
        assert_eq!(
            reports[0]["errors"][0]["code"], "deploy.not_owner",
            "{:#}",
            reports[0]
        );
    }
    assert!(
        stack
            .live_source("SharedFlow")
            .await
            .contains("two takes over")
    );

    // Deleting the old owner removes nothing and says so; deleting the new one undeploys.
    let removal = stack.delete("one.tgz").await;
    let report = stack.deliver(&removal).await;
    assert_eq!(report["status"], "ignored", "{report:#}");
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .contains("two.tgz, which took it over"),
        "{report:#}"
    );
    assert!(stack.state_machine_arn("SharedFlow").await.is_some());
    let removal = stack.delete("two.tgz").await;
    assert_eq!(stack.deliver(&removal).await["status"], "undeployed");
    assert!(stack.state_machine_arn("SharedFlow").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lint_failure_writes_the_latest_report_of_its_flow() {
    let mut stack = Stack::new().await;
    let broken = "from metaflow import FlowSpec, step\n\n\
                  class BrokenFlow(FlowSpec):\n\
                  \x20   @step\n\
                  \x20   def start(self):\n\
                  \x20       pass\n\n\
                  \x20   @step\n\
                  \x20   def end(self):\n\
                  \x20       pass\n\n\
                  if __name__ == '__main__':\n\
                  \x20   BrokenFlow()\n";
    let event = stack
        .upload("broken.tgz", tarball(&[("flow.py", broken)]), &[])
        .await;
    let report = stack.deliver(&event).await;
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        report["errors"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("lint.")
    );
    assert_eq!(report["flow"], "BrokenFlow");
    let latest = stack.json("reports/latest/BrokenFlow.json").await.unwrap();
    assert_eq!(latest["status"], "failed");
    assert_eq!(latest["key"], "flows/broken.tgz");
}
