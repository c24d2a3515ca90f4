//! The [`super::claim`] protocol under random interleavings: several handlers polled in an
//! order proptest chooses, each in-memory service call a point where another handler may
//! run (the fakes yield once per call). Whatever the interleaving, the newest upload of each
//! key ends live, every `deployed` report published its own version and no event deployed
//! twice. Also: a crashed handler's claim is taken over once it lapses, and blocks (the
//! event is retryable) while it is live.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use proptest::prelude::*;

use super::memory::{self, MemoryDeployer};
use super::report::{Report, Status};
use super::state::{Claim, DeploymentState, SourceRecord, key_of, source_key, write_json};
use super::tests::{config, flow, tarball};
use super::{ClaimSettings, ObjectEvent};
use dropflow_compiler::package::{Limits, read_bytes};

type Handler<'a> = Pin<Box<dyn Future<Output = Report> + 'a>>;

/// Polls `handlers` one step at a time, picking the next among the unfinished by
/// `choices`, then (once they are used up) in turn, until all are done; their reports in
/// order. Taking turns at the end keeps every schedule fair: cycling `choices` could pick
/// a handler waiting for another's claim forever (`[0]` always picks the first unfinished
/// one), which then gave up after `max_wait` of real time and failed the case.
fn interleave(mut handlers: Vec<Handler<'_>>, choices: &[usize]) -> Vec<Report> {
    let mut context = Context::from_waker(Waker::noop());
    let mut reports: Vec<Option<Report>> = handlers.iter().map(|_| None).collect();
    let mut step = 0;
    loop {
        let pending: Vec<usize> = (0..handlers.len())
            .filter(|i| reports[*i].is_none())
            .collect();
        if pending.is_empty() {
            return reports.into_iter().map(Option::unwrap).collect();
        }
        let choice = choices.get(step).copied().unwrap_or(step);
        let pick = pending[choice % pending.len()];
        step += 1;
        if let std::task::Poll::Ready(report) = handlers[pick].as_mut().poll(&mut context) {
            reports[pick] = Some(report);
        }
    }
}

/// A deployer whose handlers wait for claims by yielding (no timer needed).
fn deployer() -> MemoryDeployer {
    let (mut deployer, _log) = memory::deployer(config());
    deployer.claims = ClaimSettings {
        lease: Duration::from_secs(60),
        poll: Duration::ZERO,
        max_wait: Duration::from_secs(30),
    };
    deployer
}

/// An upload of `flows/<key>` deploying `name` with `message` in its code.
fn upload(deployer: &MemoryDeployer, key: &str, name: &str, message: &str, n: u64) -> ObjectEvent {
    let key = format!("flows/{key}");
    let bytes = tarball(&[("flow.py", &flow(name, "", message))]);
    let version_id = deployer.objects.upload(&key, &bytes, &[]);
    ObjectEvent {
        key,
        version_id: Some(version_id),
        sequencer: Some(format!("0062E9{n:010X}")),
        principal: Some("AWS:AROAEXAMPLE:alice".into()),
    }
}

/// The flow source the live deployment of `name` runs (from its code package).
fn live_source(deployer: &MemoryDeployer, name: &str) -> String {
    let current: DeploymentState = serde_json::from_value(
        deployer
            .objects
            .json(&format!("deployments/{name}/current.json"))
            .expect("deployed"),
    )
    .unwrap();
    let code = current.manifest.replace("deployment.json", "code.tar.gz");
    let bytes = deployer
        .objects
        .bytes(&key_of(&code, "bucket").unwrap())
        .expect("code package");
    let package = read_bytes("code.tar.gz", &bytes, &Limits::default()).unwrap();
    String::from_utf8(package.files["flow.py"].clone()).unwrap()
}

const KEYS: [(&str, &str); 2] = [("a.tgz", "AlphaFlow"), ("b.tgz", "BetaFlow")];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_newest_upload_wins_in_any_interleaving(
        uploads in proptest::collection::vec(1usize..4, 2),
        copies in proptest::collection::vec(1usize..3, 8),
        order_seed in any::<u64>(),
        choices in proptest::collection::vec(0usize..64, 1..200),
    ) {
        let deployer = deployer();
        let mut events = Vec::new();
        let mut newest = Vec::new();
        let mut n = 0;
        for ((key, name), count) in KEYS.iter().zip(&uploads) {
            for upload_index in 0..*count {
                n += 1;
                let message = format!("{name} upload {upload_index}");
                let event = upload(&deployer, key, name, &message, n);
                for _ in 0..copies[(n as usize) % copies.len()] {
                    events.push(event.clone());
                }
                if upload_index + 1 == *count {
                    newest.push((*key, *name, message, event.sequencer.clone()));
                }
            }
        }
        // Delivery order: a seeded shuffle of all deliveries.
        let mut state = order_seed | 1;
        for index in (1..events.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            events.swap(index, (state % (index as u64 + 1)) as usize);
        }
        let handlers: Vec<Handler<'_>> = events
            .iter()
            .map(|event| Box::pin(deployer.handle_created(event)) as Handler<'_>)
            .collect();
        let reports = interleave(handlers, &choices);

        for report in &reports {
            prop_assert!(
                matches!(report.status, Status::Deployed | Status::Unchanged | Status::Superseded),
                "{report}"
            );
        }
        for (key, name, message, sequencer) in &newest {
            prop_assert!(live_source(&deployer, name).contains(message.as_str()));
            let mine: Vec<&Report> = reports
                .iter()
                .filter(|r| r.state_machine.as_deref() == Some(*name))
                .collect();
            let deployed = mine.iter().filter(|r| r.status == Status::Deployed).count();
            let machine = deployer.state_machines.get(name).unwrap();
            prop_assert_eq!(machine.versions.len(), deployed);
            prop_assert_eq!(
                &machine.aliases["live"],
                &format!("{}:{}", machine.arn, machine.versions.len())
            );
            for event in &events {
                let twice = mine
                    .iter()
                    .filter(|r| r.sequencer == event.sequencer && r.status == Status::Deployed)
                    .count();
                prop_assert!(twice <= 1, "{:?} deployed {} times", event.sequencer, twice);
            }
            let record: SourceRecord = serde_json::from_value(
                deployer.objects.json(&source_key(key)).unwrap(),
            )
            .unwrap();
            prop_assert_eq!(&record.sequencer, sequencer);
            prop_assert!(record.claim.is_none(), "{:?}", record.claim);
        }
        // Every upload has its own report (what `dropflow deploy` waits for), superseded
        // and duplicated ones included: the outcome of the delivery that did the work, or
        // of the first that needed none.
        for event in &events {
            let version = event.version_id.as_deref().unwrap();
            let flow_key = event.key.strip_prefix("flows/").unwrap();
            let own = deployer
                .objects
                .json(&format!("reports/versions/{flow_key}/{version}.json"));
            prop_assert!(own.is_some(), "no report for {} version {}", event.key, version);
            let own = own.unwrap();
            prop_assert_eq!(own["version_id"].as_str(), Some(version));
            let statuses: Vec<&str> = reports
                .iter()
                .filter(|r| r.key == event.key && r.version_id.as_deref() == Some(version))
                .map(|r| r.status.as_str())
                .collect();
            let status = own["status"].as_str().unwrap();
            prop_assert!(statuses.contains(&status), "{} not among {:?}", status, statuses);
            if statuses.contains(&"deployed") {
                prop_assert_eq!(status, "deployed");
            }
        }
    }
}

/// Writes a claim on `flows/a.tgz` as a handler that crashed would have left it.
fn crashed_claim(deployer: &MemoryDeployer, sequencer: &str, expires_at_ms: u64) {
    let record = SourceRecord {
        claim: Some(Claim {
            token: "crashed-handler".into(),
            sequencer: Some(sequencer.into()),
            source_key: "a.tgz".into(),
            expires_at_ms,
        }),
        ..SourceRecord::empty("a.tgz")
    };
    let key = source_key("a.tgz");
    let written = Box::pin(async {
        write_json(&deployer.objects, &key, &record).await.unwrap();
        Report::new(super::report::EventKind::Created, &key, None, None)
    });
    interleave(vec![written], &[0]);
}

#[test]
fn a_lapsed_claim_is_taken_over_by_the_same_event_redelivered() {
    let deployer = deployer();
    let event = upload(&deployer, "a.tgz", "AlphaFlow", "after the crash", 1);
    crashed_claim(&deployer, event.sequencer.as_deref().unwrap(), 1);
    let report = interleave(vec![Box::pin(deployer.handle_created(&event))], &[0]).remove(0);
    assert_eq!(report.status, Status::Deployed, "{report}");
    assert!(live_source(&deployer, "AlphaFlow").contains("after the crash"));
}

#[test]
fn a_live_claim_makes_the_event_retryable_and_publishes_nothing() {
    let mut deployer = deployer();
    deployer.claims.max_wait = Duration::from_millis(20);
    let event = upload(&deployer, "a.tgz", "AlphaFlow", "blocked", 2);
    crashed_claim(&deployer, "0062E90000000001", u64::MAX);
    let report = interleave(vec![Box::pin(deployer.handle_created(&event))], &[0]).remove(0);
    assert_eq!(report.status, Status::Failed, "{report}");
    assert!(report.retryable);
    assert_eq!(report.error_code(), Some("dropflow.Busy"));
    assert!(deployer.state_machines.get("AlphaFlow").is_none());
}

#[test]
fn an_event_without_a_sequencer_is_refused() {
    let deployer = deployer();
    let mut event = upload(&deployer, "a.tgz", "AlphaFlow", "x", 1);
    event.sequencer = None;
    let report = interleave(vec![Box::pin(deployer.handle_created(&event))], &[0]).remove(0);
    assert_eq!(report.status, Status::Failed, "{report}");
    assert_eq!(report.error_code(), Some("event.no_sequencer"));
    assert!(deployer.state_machines.get("AlphaFlow").is_none());
}

#[test]
fn handlers_take_turns_once_the_choices_are_used_up() {
    // Two uploads of one key and a schedule of five picks, far fewer than the handlers
    // need: the rest is taken in turns, both end, the newer upload is live. (Cycling the
    // choices instead could leave the claim's holder unpicked for good once the number of
    // unfinished handlers changed; its waiter then gave up after `max_wait` of real time.)
    let mut deployer = deployer();
    deployer.claims.max_wait = Duration::from_secs(5);
    let older = upload(&deployer, "a.tgz", "AlphaFlow", "older", 1);
    let newer = upload(&deployer, "a.tgz", "AlphaFlow", "newer", 2);
    let handlers: Vec<Handler<'_>> = vec![
        Box::pin(deployer.handle_created(&newer)),
        Box::pin(deployer.handle_created(&older)),
    ];
    let reports = interleave(handlers, &[0, 1, 1, 1, 0]);
    for report in &reports {
        assert!(
            matches!(report.status, Status::Deployed | Status::Superseded),
            "{report}"
        );
    }
    assert!(live_source(&deployer, "AlphaFlow").contains("newer"));
}
