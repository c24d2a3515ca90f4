//! The deploy logic against the in-memory services: deploy, idempotency, ordering,
//! failures that change nothing, schedule changes across versions, removal.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::memory::{self, Log, MemoryDeployer};
use super::report::{Action, Report, Status};
use super::state::{DeploymentState, LIVE_ALIAS};
use super::{Config, ObjectEvent, SCHEDULE_INPUT};
use dropflow_compiler::package::{PackageFormat, SourcePackage};

/// Runs a future that never waits (the in-memory services answer at once).
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

pub(super) fn config() -> Config {
    Config::from_lookup(|name| {
        Some(
            match name {
                "DROPFLOW_BUCKET" => "bucket",
                "DROPFLOW_STEP_FUNCTION_ARN" => {
                    "arn:aws:lambda:us-east-1:000000000000:function:step"
                }
                "DROPFLOW_STATE_MACHINE_ROLE_ARN" => "arn:aws:iam::000000000000:role/sfn",
                "DROPFLOW_SCHEDULER_ROLE_ARN" => "arn:aws:iam::000000000000:role/scheduler",
                "DROPFLOW_JOB_QUEUE" => "queue",
                "DROPFLOW_DEFAULT_IMAGE" => "python:3.12",
                _ => return None,
            }
            .to_string(),
        )
    })
    .unwrap()
}

pub(super) fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    SourcePackage {
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect::<BTreeMap<_, _>>(),
        script_hint: None,
        format: PackageFormat::Directory,
        sha256: String::new(),
    }
    .to_tar_gz()
}

pub(super) fn flow(name: &str, decorator: &str, message: &str) -> String {
    format!(
        "from metaflow import FlowSpec, Parameter, schedule, step\n\n\
         {decorator}\n\
         class {name}(FlowSpec):\n\
         \x20   alpha = Parameter('alpha', default=0.5)\n\n\
         \x20   @step\n\
         \x20   def start(self):\n\
         \x20       print('{message}')\n\
         \x20       self.next(self.end)\n\n\
         \x20   @step\n\
         \x20   def end(self):\n\
         \x20       pass\n"
    )
}

struct Harness {
    deployer: MemoryDeployer,
    log: Log,
    sequence: u64,
}

impl Harness {
    fn new() -> Self {
        let (deployer, log) = memory::deployer(config());
        Self {
            deployer,
            log,
            sequence: 0,
        }
    }

    /// Uploads `bytes` to `flows/<key>` and returns its creation event.
    fn upload(&mut self, key: &str, bytes: &[u8], metadata: &[(&str, &str)]) -> ObjectEvent {
        let key = format!("flows/{key}");
        let version_id = self.deployer.objects.upload(&key, bytes, metadata);
        self.sequence += 1;
        ObjectEvent {
            key,
            version_id: Some(version_id),
            sequencer: Some(format!("0062E9{:010X}", self.sequence)),
            principal: Some("AWS:AROAEXAMPLE:alice".into()),
        }
    }

    /// A removal event of `flows/<key>` (its delete marker's version is `d<sequence>`).
    fn removal(&mut self, key: &str) -> ObjectEvent {
        self.sequence += 1;
        ObjectEvent {
            key: format!("flows/{key}"),
            version_id: Some(format!("d{}", self.sequence)),
            sequencer: Some(format!("0062E9{:010X}", self.sequence)),
            principal: None,
        }
    }

    fn created(&self, event: &ObjectEvent) -> Report {
        self.log.clear();
        run(self.deployer.handle_created(event))
    }

    fn removed(&self, event: &ObjectEvent) -> Report {
        self.log.clear();
        run(self.deployer.handle_removed(event))
    }

    fn current(&self, state_machine: &str) -> Option<DeploymentState> {
        self.deployer
            .objects
            .json(&format!("deployments/{state_machine}/current.json"))
            .map(|v| serde_json::from_value(v).unwrap())
    }

    fn report(&self, key: &str) -> serde_json::Value {
        self.deployer
            .objects
            .json(&format!("reports/{key}.json"))
            .expect("report written")
    }

    /// The report of the event for version `version` of `flows/<key>`.
    fn version_report(&self, key: &str, version: &str) -> serde_json::Value {
        self.deployer
            .objects
            .json(&format!("reports/versions/{key}/{version}.json"))
            .expect("the version's report written")
    }

    /// Writes other than the event's own bookkeeping (source record, the state machine's
    /// owner record with its claim, and reports).
    fn deploying_writes(&self) -> Vec<String> {
        self.log
            .writes()
            .into_iter()
            .filter(|w| {
                let owner_record =
                    w.starts_with("s3:put deployments/") && w.ends_with("/owner.json");
                let bookkeeping = w.starts_with("s3:put sources/")
                    || w.starts_with("s3:put reports/")
                    || owner_record;
                !bookkeeping
            })
            .collect()
    }
}

fn deployed(harness: &mut Harness, key: &str, source: &str) -> Report {
    let event = harness.upload(key, &tarball(&[("flow.py", source)]), &[]);
    let report = harness.created(&event);
    assert_eq!(report.status, Status::Deployed, "{report}");
    report
}

#[test]
fn deploys_a_flow() {
    let mut h = Harness::new();
    let source = flow("AlphaFlow", "", "hello");
    let report = deployed(&mut h, "alpha.tgz", &source);
    assert_eq!(report.flow.as_deref(), Some("AlphaFlow"));
    assert_eq!(report.state_machine.as_deref(), Some("AlphaFlow"));
    let version = report.version.clone().unwrap();

    let machine = h.deployer.state_machines.get("AlphaFlow").unwrap();
    assert_eq!(machine.versions.len(), 1);
    assert_eq!(machine.aliases[LIVE_ALIAS], format!("{}:1", machine.arn));
    assert_eq!(machine.role_arn, "arn:aws:iam::000000000000:role/sfn");
    assert_eq!(machine.tags["dropflow:source-key"], "alpha.tgz");
    assert_eq!(machine.tags["dropflow:version"], version);
    // The tag the stack's IAM policies require (DROPFLOW_MANAGED_BY, default dropflow).
    assert_eq!(machine.tags["dropflow:managed-by"], "dropflow");

    let manifest_key = format!("deployments/AlphaFlow/{version}/deployment.json");
    let manifest = h.deployer.objects.json(&manifest_key).unwrap();
    assert_eq!(manifest["version"], version.as_str());
    assert_eq!(manifest["options"]["user"], "alice");
    let definition: serde_json::Value = serde_json::from_str(&machine.definition).unwrap();
    assert!(definition["States"].is_object());
    let code = h
        .deployer
        .objects
        .bytes(&format!("deployments/AlphaFlow/{version}/code.tar.gz"))
        .unwrap();
    assert_eq!(code, tarball(&[("flow.py", &source)]));

    let jobs = h.deployer.job_definitions.names();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let changes = report.changes.job_definitions.as_ref().unwrap();
    assert_eq!(changes.registered.len(), 2);
    assert!(changes.reused.is_empty());
    assert_eq!(
        report.changes.state_machine.as_ref().unwrap().action,
        Action::Created
    );
    assert_eq!(
        report.changes.alias.as_ref().unwrap().action,
        Action::Created
    );
    assert!(report.changes.schedule.is_none());

    let current = h.current("AlphaFlow").unwrap();
    assert_eq!(current.version, version);
    assert_eq!(current.source_key, "alpha.tgz");
    let written = h.report("alpha.tgz");
    assert_eq!(written["status"], "deployed");
    assert_eq!(written["version"], version.as_str());
    assert!(written["timings_ms"]["compile"].is_number());
    assert!(written["timings_ms"]["total"].is_number());
    assert_eq!(h.report("latest/AlphaFlow")["status"], "deployed");
}

#[test]
fn a_new_version_updates_and_reuses_unchanged_job_definitions() {
    let mut h = Harness::new();
    deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "one"));
    let report = deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "two"));
    assert_eq!(
        report.changes.state_machine.as_ref().unwrap().action,
        Action::Updated
    );
    assert_eq!(
        report.changes.alias.as_ref().unwrap().action,
        Action::Updated
    );
    // The job definitions' content (image, resources, environment) did not change.
    let jobs = report.changes.job_definitions.unwrap();
    assert!(jobs.registered.is_empty(), "{jobs:?}");
    assert_eq!(jobs.reused.len(), 2);
    let machine = h.deployer.state_machines.get("AlphaFlow").unwrap();
    assert_eq!(machine.versions.len(), 2);
    assert_eq!(machine.aliases[LIVE_ALIAS], format!("{}:2", machine.arn));
}

#[test]
fn same_content_again_changes_nothing() {
    let mut h = Harness::new();
    let source = flow("AlphaFlow", "", "hello");
    let first = deployed(&mut h, "alpha.tgz", &source);
    let event = h.upload("alpha.tgz", &tarball(&[("flow.py", &source)]), &[]);
    let report = h.created(&event);
    assert_eq!(report.status, Status::Unchanged, "{report}");
    assert_eq!(report.version, first.version);
    assert!(report.changes.is_empty());
    assert_eq!(h.deploying_writes(), Vec::<String>::new());
    assert_eq!(h.report("alpha.tgz")["status"], "unchanged");
    assert_eq!(
        h.deployer
            .state_machines
            .get("AlphaFlow")
            .unwrap()
            .versions
            .len(),
        1
    );
}

#[test]
fn a_duplicate_event_changes_nothing_and_keeps_the_report() {
    let mut h = Harness::new();
    let event = h.upload(
        "alpha.tgz",
        &tarball(&[("flow.py", &flow("AlphaFlow", "", "x"))]),
        &[],
    );
    assert_eq!(h.created(&event).status, Status::Deployed);
    let report = h.created(&event);
    assert_eq!(report.status, Status::Unchanged, "{report}");
    // Only the version's report was tried, if absent: it keeps the first event's outcome.
    assert_eq!(
        h.log.writes(),
        ["s3:put reports/versions/alpha.tgz/v1.json"]
    );
    assert_eq!(h.report("alpha.tgz")["status"], "deployed");
    assert_eq!(h.version_report("alpha.tgz", "v1")["status"], "deployed");
}

#[test]
fn an_older_event_is_superseded() {
    let mut h = Harness::new();
    let old = h.upload(
        "alpha.tgz",
        &tarball(&[("flow.py", &flow("AlphaFlow", "", "old"))]),
        &[],
    );
    let new = h.upload(
        "alpha.tgz",
        &tarball(&[("flow.py", &flow("AlphaFlow", "", "new"))]),
        &[],
    );
    let deployed = h.created(&new);
    assert_eq!(deployed.status, Status::Deployed);
    let report = h.created(&old);
    assert_eq!(report.status, Status::Superseded, "{report}");
    assert!(report.summary.contains("newer event"), "{report}");
    // Its report is only the version's own: the key's report stays the newer one's.
    assert_eq!(
        h.log.writes(),
        ["s3:put reports/versions/alpha.tgz/v1.json"]
    );
    assert_eq!(h.version_report("alpha.tgz", "v1")["status"], "superseded");
    assert_eq!(h.version_report("alpha.tgz", "v2")["status"], "deployed");
    assert_eq!(h.report("alpha.tgz")["version_id"], "v2");
    assert_eq!(
        h.current("AlphaFlow").unwrap().version,
        deployed.version.unwrap()
    );
    assert_eq!(h.report("alpha.tgz")["status"], "deployed");
}

#[test]
fn a_broken_tarball_fails_and_leaves_the_deployment() {
    let mut h = Harness::new();
    let good = deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "x"));
    let mut bytes = tarball(&[("flow.py", &flow("AlphaFlow", "", "y"))]);
    bytes.truncate(bytes.len() / 2);
    let event = h.upload("alpha.tgz", &bytes, &[]);
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed, "{report}");
    assert!(!report.retryable);
    assert_eq!(report.errors[0].code, "package.corrupt_archive", "{report}");
    assert_eq!(h.deploying_writes(), Vec::<String>::new());
    assert_eq!(
        h.current("AlphaFlow").unwrap().version,
        good.version.unwrap()
    );
    let written = h.report("alpha.tgz");
    assert_eq!(written["status"], "failed");
    assert_eq!(written["errors"][0]["code"], "package.corrupt_archive");
    // The failure is final for its event: an older upload still cannot deploy.
    assert_eq!(h.created(&event).status, Status::Unchanged);
}

#[test]
fn a_lint_error_fails_with_file_and_line() {
    let mut h = Harness::new();
    deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "x"));
    let broken = flow("AlphaFlow", "", "x").replace("        pass\n", "        self.next()\n");
    let event = h.upload("alpha.tgz", &tarball(&[("flow.py", &broken)]), &[]);
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed, "{report}");
    let error = &report.errors[0];
    assert!(error.code.starts_with("lint."), "{report}");
    assert_eq!(error.file.as_deref(), Some("flow.py"));
    assert!(error.line.is_some());
    assert!(
        error.message.contains("should not have a self.next()"),
        "{report}"
    );
    assert_eq!(report.flow.as_deref(), Some("AlphaFlow"));
    assert_eq!(h.deploying_writes(), Vec::<String>::new());
    assert_eq!(h.report("latest/AlphaFlow")["status"], "failed");
}

#[test]
fn schedules_follow_the_flow_across_versions() {
    let mut h = Harness::new();
    let report = deployed(
        &mut h,
        "s.tgz",
        &flow("SFlow", "@schedule(hourly=True)", "1"),
    );
    let change = report.changes.schedule.unwrap();
    assert_eq!(change.action, Action::Created);
    let schedule = h.deployer.schedules.schedule(&change.name).unwrap();
    assert_eq!(schedule.expression, "cron(0 * * * ? *)");
    assert_eq!(schedule.timezone, "UTC");
    assert_eq!(schedule.input, SCHEDULE_INPUT);
    assert_eq!(
        schedule.role_arn,
        "arn:aws:iam::000000000000:role/scheduler"
    );
    let alias = report.changes.alias.unwrap().arn;
    assert_eq!(schedule.target_arn, alias);

    // A new version with the same schedule leaves it alone.
    let report = deployed(
        &mut h,
        "s.tgz",
        &flow("SFlow", "@schedule(hourly=True)", "2"),
    );
    assert_eq!(report.changes.schedule.unwrap().action, Action::Unchanged);

    let report = deployed(
        &mut h,
        "s.tgz",
        &flow(
            "SFlow",
            "@schedule(cron='0 10 * * ? *', timezone='Europe/Paris')",
            "3",
        ),
    );
    assert_eq!(report.changes.schedule.unwrap().action, Action::Updated);
    let schedule = h.deployer.schedules.schedule(&change.name).unwrap();
    assert_eq!(schedule.expression, "cron(0 10 * * ? *)");
    assert_eq!(schedule.timezone, "Europe/Paris");

    let report = deployed(&mut h, "s.tgz", &flow("SFlow", "", "4"));
    assert_eq!(report.changes.schedule.unwrap().action, Action::Deleted);
    assert!(h.deployer.schedules.names().is_empty());
    assert!(h.current("SFlow").unwrap().schedule.is_none());

    let report = deployed(&mut h, "s.tgz", &flow("SFlow", "", "5"));
    assert!(report.changes.schedule.is_none());
}

#[test]
fn object_metadata_overrides_the_package_options() {
    let mut h = Harness::new();
    let files = [
        ("flow.py", flow("AlphaFlow", "", "x")),
        (
            "dropflow.toml",
            "[deploy]\nmax_workers = 4\ntags = ['from-toml']\n".to_string(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let event = h.upload(
        "alpha.tgz",
        &tarball(&files),
        &[
            ("dropflow-max-workers", "9"),
            ("user", "bob"),
            ("dropflow-with-retry", "true"),
        ],
    );
    let report = h.created(&event);
    assert_eq!(report.status, Status::Deployed, "{report}");
    let version = report.version.unwrap();
    let manifest = h
        .deployer
        .objects
        .json(&format!("deployments/AlphaFlow/{version}/deployment.json"))
        .unwrap();
    assert_eq!(manifest["options"]["max_workers"], 9);
    assert_eq!(manifest["options"]["tags"][0], "from-toml");
    assert_eq!(manifest["options"]["user"], "bob");
    assert_eq!(manifest["options"]["retry_by_default"], true);

    let event = h.upload(
        "alpha.tgz",
        &tarball(&files),
        &[("dropflow-max-worker", "9")],
    );
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.errors[0].code, "options.metadata");
    assert!(
        report.errors[0].message.contains("dropflow-max-workers"),
        "{report}"
    );
}

#[test]
fn an_aws_failure_before_the_state_machine_changes_nothing_deployed() {
    let mut h = Harness::new();
    let good = deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "x"));
    let event = h.upload(
        "alpha.tgz",
        &tarball(&[("flow.py", &flow("AlphaFlow", "", "y"))]),
        &[],
    );
    h.log.fail(Some("s3:put deployments/"));
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed, "{report}");
    assert!(report.retryable);
    assert_eq!(report.errors[0].code, "aws.InjectedFailure");
    assert!(
        !h.log
            .writes()
            .iter()
            .any(|w| w.starts_with("sfn:") || w.starts_with("scheduler:"))
    );
    assert_eq!(
        h.deployer
            .state_machines
            .get("AlphaFlow")
            .unwrap()
            .versions
            .len(),
        1
    );
    assert_eq!(
        h.current("AlphaFlow").unwrap().version,
        good.version.unwrap()
    );

    // Not recorded as handled: the retry deploys.
    h.log.fail(None);
    let retry = h.created(&event);
    assert_eq!(retry.status, Status::Deployed, "{retry}");
}

#[test]
fn a_failed_alias_move_is_retried_to_completion() {
    let mut h = Harness::new();
    deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "x"));
    let event = h.upload(
        "alpha.tgz",
        &tarball(&[("flow.py", &flow("AlphaFlow", "", "y"))]),
        &[],
    );
    h.log.fail(Some("sfn:point_alias"));
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed, "{report}");
    assert!(report.retryable);
    h.log.fail(None);
    let retry = h.created(&event);
    assert_eq!(retry.status, Status::Deployed, "{retry}");
    let machine = h.deployer.state_machines.get("AlphaFlow").unwrap();
    // The retry published the same definition again: no extra version.
    assert_eq!(machine.versions.len(), 2);
    assert_eq!(machine.aliases[LIVE_ALIAS], format!("{}:2", machine.arn));
}

#[test]
fn removal_undeploys_and_is_ordered() {
    let mut h = Harness::new();
    let created = h.upload(
        "s.tgz",
        &tarball(&[("flow.py", &flow("SFlow", "@schedule(daily=True)", "x"))]),
        &[],
    );
    assert_eq!(h.created(&created).status, Status::Deployed);
    let removal = h.removal("s.tgz");
    let report = h.removed(&removal);
    assert_eq!(report.status, Status::Undeployed, "{report}");
    assert_eq!(
        report.changes.schedule.as_ref().unwrap().action,
        Action::Deleted
    );
    assert_eq!(
        report.changes.state_machine.as_ref().unwrap().action,
        Action::Deleted
    );
    assert!(h.deployer.state_machines.get("SFlow").is_none());
    assert!(h.deployer.schedules.names().is_empty());
    assert!(h.current("SFlow").is_none());
    assert_eq!(h.report("s.tgz")["status"], "undeployed");
    assert_eq!(h.report("latest/SFlow")["status"], "undeployed");

    // The same removal again, and the creation delivered late, change nothing.
    assert_eq!(h.removed(&removal).status, Status::Undeployed);
    assert_eq!(h.created(&created).status, Status::Superseded);
    assert_eq!(h.log.writes(), ["s3:put reports/versions/s.tgz/v1.json"]);
    assert_eq!(h.version_report("s.tgz", "v1")["status"], "deployed");
    assert_eq!(h.report("s.tgz")["status"], "undeployed");

    let unknown = h.removal("never.tgz");
    let report = h.removed(&unknown);
    assert_eq!(report.status, Status::Ignored);
    assert_eq!(h.report("never.tgz")["status"], "ignored");
}

#[test]
fn removing_a_key_whose_state_machine_moved_to_another_key_leaves_it() {
    let mut h = Harness::new();
    deployed(&mut h, "a.tgz", &flow("AlphaFlow", "", "from a"));
    let event = h.upload(
        "b.tgz",
        &tarball(&[("flow.py", &flow("AlphaFlow", "", "from b"))]),
        &[("dropflow-takeover", "true")],
    );
    assert_eq!(h.created(&event).status, Status::Deployed);
    let report = h.removed(&h.clone_removal("a.tgz"));
    assert_eq!(report.status, Status::Ignored, "{report}");
    assert!(
        report.summary.contains("b.tgz, which took it over"),
        "{report}"
    );
    assert_eq!(h.deploying_writes(), Vec::<String>::new());
    assert!(h.deployer.state_machines.get("AlphaFlow").is_some());
}

impl Harness {
    fn clone_removal(&self, key: &str) -> ObjectEvent {
        ObjectEvent {
            key: format!("flows/{key}"),
            version_id: None,
            sequencer: Some(format!("0062E9{:010X}", self.sequence + 100)),
            principal: None,
        }
    }
}

#[test]
fn keys_outside_the_prefix_are_ignored_without_a_trace() {
    let h = Harness::new();
    let report = h.created(&ObjectEvent {
        key: "other/flow.tgz".into(),
        ..Default::default()
    });
    assert_eq!(report.status, Status::Ignored);
    assert!(h.deployer.objects.keys().is_empty());
}

#[test]
fn the_report_reads_well() {
    let mut h = Harness::new();
    let report = deployed(&mut h, "alpha.tgz", &flow("AlphaFlow", "", "x"));
    let text = report.to_string();
    assert!(
        text.starts_with("deployed: flows/alpha.tgz → AlphaFlow version "),
        "{text}"
    );
    assert!(text.contains("took"), "{text}");
}

#[test]
fn a_key_that_now_deploys_another_name_undeploys_the_old_one() {
    let mut h = Harness::new();
    deployed(
        &mut h,
        "a.tgz",
        &flow("OldFlow", "@schedule(daily=True)", "x"),
    );
    let report = deployed(&mut h, "a.tgz", &flow("NewFlow", "", "x"));
    let replaced = report.changes.replaced.expect("old deployment replaced");
    assert_eq!(replaced.state_machine, "OldFlow");
    assert!(replaced.deleted);
    assert_eq!(replaced.schedule.unwrap().action, Action::Deleted);
    assert!(h.deployer.state_machines.get("OldFlow").is_none());
    assert!(h.current("OldFlow").is_none());
    assert!(h.deployer.state_machines.get("NewFlow").is_some());

    // Another key's deployment is never removed this way.
    deployed(&mut h, "b.tgz", &flow("SharedFlow", "", "b"));
    let takeover = h.upload(
        "c.tgz",
        &tarball(&[("flow.py", &flow("SharedFlow", "", "c"))]),
        &[("dropflow-takeover", "true")],
    );
    assert_eq!(h.created(&takeover).status, Status::Deployed);
    let report = deployed(&mut h, "b.tgz", &flow("OtherFlow", "", "b"));
    assert!(report.changes.replaced.is_none());
    assert!(h.deployer.state_machines.get("SharedFlow").is_some());
}

const DEPLOYMENT_INFO_FLOW: &str = include_str!("../../../examples/deployment_info_flow.py");

#[test]
fn deploy_time_defaults_are_evaluated_once_per_content() {
    let mut h = Harness::new();
    let report = deployed(&mut h, "info.tgz", DEPLOYMENT_INFO_FLOW);
    let version = report.version.unwrap();
    let manifest = h
        .deployer
        .objects
        .json(&format!(
            "deployments/DeploymentInfoFlow/{version}/deployment.json"
        ))
        .unwrap();
    let parameter = &manifest["parameters"][0];
    assert_eq!(parameter["name"], "deployment_info");
    let value: serde_json::Value = match &parameter["default"] {
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(value["who"], "alice", "{parameter:#}");

    // `datetime.now()` would give a new value, but the same upload is the same deployment.
    let event = h.upload(
        "info.tgz",
        &tarball(&[("flow.py", DEPLOYMENT_INFO_FLOW)]),
        &[],
    );
    assert_eq!(h.created(&event).status, Status::Unchanged);
}

#[test]
fn a_deploy_time_function_the_sandbox_refuses_fails_the_upload() {
    let mut h = Harness::new();
    let source = DEPLOYMENT_INFO_FLOW.replace(
        "def deployment_info(context):\n",
        "def deployment_info(context):\n    import subprocess\n",
    );
    assert_ne!(source, DEPLOYMENT_INFO_FLOW);
    let event = h.upload("info.tgz", &tarball(&[("flow.py", &source)]), &[]);
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed, "{report}");
    let error = &report.errors[0];
    assert!(error.code.starts_with("deploy_time."), "{report}");
    assert!(error.message.contains("deployment_info"), "{report}");
    assert_eq!(h.deploying_writes(), Vec::<String>::new());
}

#[test]
fn a_state_machine_dropflow_did_not_create_is_refused_unless_taken_over() {
    use super::StateMachines;
    use super::ports::StateMachineSpec;
    let mut h = Harness::new();
    let foreign = StateMachineSpec {
        name: "VictimMachine".into(),
        definition: "{}".into(),
        role_arn: "arn:aws:iam::000000000000:role/other-team".into(),
        tags: BTreeMap::from([("team".to_string(), "other".to_string())]),
        version_description: String::new(),
    };
    run(h.deployer.state_machines.publish(&foreign)).unwrap();
    let source = flow("AttackFlow", "", "x");
    let event = h.upload(
        "attack.tgz",
        &tarball(&[("flow.py", &source)]),
        &[("dropflow-name", "VictimMachine")],
    );
    let report = h.created(&event);
    assert_eq!(report.status, Status::Failed, "{report}");
    assert_eq!(report.error_code(), Some("deploy.not_owner"));
    assert_eq!(h.deploying_writes(), Vec::<String>::new());
    let untouched = h.deployer.state_machines.get("VictimMachine").unwrap();
    assert_eq!(untouched.definition, "{}");
    assert_eq!(h.report("latest/AttackFlow")["status"], "failed");
    // Deleting the refused upload leaves it too.
    let removal = h.removal("attack.tgz");
    assert_eq!(h.removed(&removal).status, Status::Ignored);
    assert!(h.deployer.state_machines.get("VictimMachine").is_some());

    // Taken over deliberately: updated, tagged as dropflow's, and owned by the key.
    let event = h.upload(
        "attack.tgz",
        &tarball(&[("flow.py", &source)]),
        &[
            ("dropflow-name", "VictimMachine"),
            ("dropflow-takeover", "true"),
        ],
    );
    let report = h.created(&event);
    assert_eq!(report.status, Status::Deployed, "{report}");
    assert!(
        report.warnings.iter().any(|w| w.contains("taken over")),
        "{report}"
    );
    let machine = h.deployer.state_machines.get("VictimMachine").unwrap();
    assert_eq!(machine.tags["dropflow:managed-by"], "dropflow");
    assert_eq!(machine.tags["dropflow:source-key"], "attack.tgz");
    let owner = h
        .deployer
        .objects
        .json("deployments/VictimMachine/owner.json")
        .unwrap();
    assert_eq!(owner["source_key"], "attack.tgz");
    assert!(owner.get("claim").is_none(), "{owner:#}");
}
