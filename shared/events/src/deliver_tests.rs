use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::*;
use dropflow_contract::ServiceResult;
use dropflow_contract::{ParameterSpec, ParameterType};

/// Pending records with a version counter, yielding between read and write so
/// concurrent deliveries interleave.
#[derive(Default)]
struct MemoryPending(Mutex<BTreeMap<String, (Pending, u64)>>);

impl PendingStore for MemoryPending {
    async fn load(&self, rule: &str) -> ServiceResult<Option<(Pending, String)>> {
        let found = self.0.lock().unwrap().get(rule).cloned();
        tokio::task::yield_now().await;
        Ok(found.map(|(p, v)| (p, v.to_string())))
    }

    async fn store(
        &self,
        rule: &str,
        pending: &Pending,
        expected: Option<&str>,
    ) -> ServiceResult<bool> {
        tokio::task::yield_now().await;
        let mut records = self.0.lock().unwrap();
        let current = records.get(rule).map(|(_, v)| v.to_string());
        if current.as_deref() != expected {
            return Ok(false);
        }
        let next = current.map_or(1, |v| v.parse::<u64>().unwrap() + 1);
        records.insert(rule.to_string(), (pending.clone(), next));
        Ok(true)
    }
}

/// A started execution's parameters and the ids of the events that triggered it.
type StartedRun = (Map<String, Value>, Vec<String>);

/// Executions by name, as Step Functions refuses a second start of one name.
#[derive(Default)]
struct MemoryRuns(Mutex<BTreeMap<String, StartedRun>>);

impl RunStarter for MemoryRuns {
    async fn start(
        &self,
        _state_machine: &str,
        name: &str,
        parameters: &Map<String, Value>,
        triggered_by: &[Arrival],
    ) -> ServiceResult<bool> {
        tokio::task::yield_now().await;
        let mut runs = self.0.lock().unwrap();
        if runs.contains_key(name) {
            return Ok(false);
        }
        let ids = triggered_by.iter().map(|a| a.id.clone()).collect();
        runs.insert(name.to_string(), (parameters.clone(), ids));
        Ok(true)
    }
}

#[derive(Default)]
struct MemoryRejections(Mutex<Vec<Rejection>>);

impl RejectionLog for MemoryRejections {
    async fn record(&self, rejection: &Rejection) -> ServiceResult<()> {
        self.0.lock().unwrap().push(rejection.clone());
        Ok(())
    }
}

#[derive(Default)]
struct Fakes {
    pending: MemoryPending,
    runs: MemoryRuns,
    rejections: MemoryRejections,
}

fn spec(name: &str, kind: ParameterType, default: Option<Value>) -> ParameterSpec {
    ParameterSpec {
        name: name.into(),
        attribute: name.into(),
        kind,
        required: default.is_none(),
        default,
        help: None,
        deploy_time: None,
        include_file: false,
        line: 1,
    }
}

fn triggers(events: &[(&str, &[(&str, &str)])]) -> Triggers {
    Triggers {
        decorator: "trigger".into(),
        rule: "MyFlow".into(),
        events: events
            .iter()
            .map(|(name, mapping)| EventTrigger {
                name: name.to_string(),
                kind: TriggerKind::Event,
                parameters: mapping
                    .iter()
                    .map(|(p, f)| (p.to_string(), f.to_string()))
                    .collect(),
                filters: BTreeMap::new(),
                flow: None,
            })
            .collect(),
    }
}

fn event(name: &str, payload: Value) -> MetaflowEvent {
    MetaflowEvent {
        name: name.into(),
        payload: payload.as_object().unwrap().clone(),
    }
}

async fn send(fakes: &Fakes, target: &FlowTarget<'_>, id: &str, e: MetaflowEvent) -> Delivered {
    deliver(
        (&fakes.pending, &fakes.runs, &fakes.rejections),
        target,
        id,
        e,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn one_event_starts_the_flow_with_the_mapped_and_converted_parameters() {
    let fakes = Fakes::default();
    let t = triggers(&[("data_ready", &[("alpha", "a")])]);
    let params = [spec("alpha", ParameterType::Float, Some(json!(1.0)))];
    let target = FlowTarget {
        state_machine: "MyFlow",
        triggers: &t,
        parameters: &params,
    };

    let other = send(&fakes, &target, "id-0", event("unrelated", json!({}))).await;
    assert_eq!(other, Delivered::NoMatch);

    let done = send(
        &fakes,
        &target,
        "id-1",
        event("data_ready", json!({"a": "0.5"})),
    )
    .await;
    let Delivered::Started { execution_name } = done else {
        panic!("{done:?}")
    };
    let runs = fakes.runs.0.lock().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[&execution_name].0,
        json!({"alpha": 0.5}).as_object().unwrap().clone()
    );
    assert_eq!(runs[&execution_name].1, ["id-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_of_one_event_start_one_run() {
    let fakes = std::sync::Arc::new(Fakes::default());
    let t = std::sync::Arc::new(triggers(&[("data_ready", &[])]));
    let mut handles = Vec::new();
    for _ in 0..16 {
        let (fakes, t) = (fakes.clone(), t.clone());
        handles.push(tokio::spawn(async move {
            let target = FlowTarget {
                state_machine: "MyFlow",
                triggers: &t,
                parameters: &[],
            };
            send(&fakes, &target, "same-id", event("data_ready", json!({}))).await
        }));
    }
    let mut started = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Delivered::Started { .. } => started += 1,
            Delivered::AlreadyStarted { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started, 1);
    assert_eq!(fakes.runs.0.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_events_start_one_run_only_after_both_even_when_delivered_concurrently_and_twice() {
    for round in 0..20 {
        let fakes = std::sync::Arc::new(Fakes::default());
        let t = std::sync::Arc::new(triggers(&[
            ("a", &[("alpha", "x")]),
            ("b", &[("beta", "y")]),
        ]));
        let params = std::sync::Arc::new(vec![
            spec("alpha", ParameterType::Int, None),
            spec("beta", ParameterType::Str, Some(json!("d"))),
        ]);
        let mut handles = Vec::new();
        for (id, name, payload) in [
            ("ida", "a", json!({"x": 3})),
            ("ida", "a", json!({"x": 3})),
            ("idb", "b", json!({"y": "yes"})),
            ("idb", "b", json!({"y": "yes"})),
        ] {
            let (fakes, t, params) = (fakes.clone(), t.clone(), params.clone());
            handles.push(tokio::spawn(async move {
                let target = FlowTarget {
                    state_machine: "MyFlow",
                    triggers: &t,
                    parameters: &params,
                };
                send(&fakes, &target, id, event(name, payload)).await
            }));
        }
        for handle in handles {
            handle.await.unwrap();
        }
        let runs = fakes.runs.0.lock().unwrap();
        assert_eq!(runs.len(), 1, "round {round}: {runs:?}");
        let (values, ids) = runs.values().next().unwrap();
        assert_eq!(
            values,
            json!({"alpha": 3, "beta": "yes"}).as_object().unwrap(),
            "round {round}"
        );
        assert_eq!(ids, &["ida", "idb"]);
        // The record was reset, and remembers the consumed ids.
        let records = fakes.pending.0.lock().unwrap();
        let (pending, _) = &records["MyFlow"];
        assert!(pending.arrived.is_empty(), "round {round}: {pending:?}");
        assert_eq!(
            pending.consumed.iter().collect::<BTreeSet<_>>(),
            ["ida".to_string(), "idb".to_string()].iter().collect()
        );
    }
}

#[tokio::test]
async fn one_of_two_events_waits_and_a_late_duplicate_starts_nothing() {
    let fakes = Fakes::default();
    let t = triggers(&[("a", &[]), ("b", &[])]);
    let target = FlowTarget {
        state_machine: "MyFlow",
        triggers: &t,
        parameters: &[],
    };
    let first = send(&fakes, &target, "1", event("a", json!({}))).await;
    assert_eq!(
        first,
        Delivered::Waiting {
            missing: vec!["b".into()]
        }
    );
    assert_eq!(
        send(&fakes, &target, "1", event("a", json!({}))).await,
        Delivered::Duplicate
    );
    assert!(matches!(
        send(&fakes, &target, "2", event("b", json!({}))).await,
        Delivered::Started { .. }
    ));
    // After the reset: the same ids again start nothing; a new `a` waits for a new `b`.
    assert_eq!(
        send(&fakes, &target, "2", event("b", json!({}))).await,
        Delivered::Duplicate
    );
    let again = send(&fakes, &target, "3", event("a", json!({}))).await;
    assert_eq!(
        again,
        Delivered::Waiting {
            missing: vec!["b".into()]
        }
    );
    assert_eq!(fakes.runs.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_payloads_start_nothing_and_are_recorded_with_the_reason() {
    let fakes = Fakes::default();
    let t = triggers(&[("e", &[("alpha", "a")])]);
    let params = [spec("alpha", ParameterType::Int, None)];
    let target = FlowTarget {
        state_machine: "MyFlow",
        triggers: &t,
        parameters: &params,
    };

    let wrong = send(&fakes, &target, "1", event("e", json!({"a": "many"}))).await;
    let Delivered::Rejected(rejection) = wrong else {
        panic!("{wrong:?}")
    };
    assert!(
        rejection.reason.contains("alpha: expected an integer"),
        "{}",
        rejection.reason
    );

    let missing = send(&fakes, &target, "2", event("e", json!({"other": 1}))).await;
    let Delivered::Rejected(rejection) = missing else {
        panic!("{missing:?}")
    };
    assert!(rejection.reason.contains("alpha"), "{}", rejection.reason);

    // What the HTTP API refuses too: a NUL byte, an input over 20 KiB.
    let t = triggers(&[("s", &[("name", "n")])]);
    let params = [spec("name", ParameterType::Str, Some(json!("x")))];
    let target = FlowTarget {
        state_machine: "MyFlow",
        triggers: &t,
        parameters: &params,
    };
    let nul = send(&fakes, &target, "3", event("s", json!({"n": "a\0b"}))).await;
    let Delivered::Rejected(rejection) = nul else {
        panic!("{nul:?}")
    };
    assert!(
        rejection.reason.contains("NUL byte"),
        "{}",
        rejection.reason
    );
    let big = "x".repeat(21 * 1024);
    let large = send(&fakes, &target, "4", event("s", json!({"n": big}))).await;
    let Delivered::Rejected(rejection) = large else {
        panic!("{large:?}")
    };
    assert!(
        rejection.reason.contains("runs take at most 20480 bytes"),
        "{}",
        rejection.reason
    );

    assert!(fakes.runs.0.lock().unwrap().is_empty());
    assert_eq!(fakes.rejections.0.lock().unwrap().len(), 4);
}

#[test]
fn finish_events_match_on_metaflows_filters() {
    let trigger = EventTrigger {
        name: "metaflow.p.prod.Up.end".into(),
        kind: TriggerKind::Run,
        parameters: BTreeMap::new(),
        filters: BTreeMap::from([
            ("auto-generated-by-metaflow".to_string(), "True".to_string()),
            ("project_name".to_string(), "p".to_string()),
        ]),
        flow: Some("Up".into()),
    };
    let published = event(
        "metaflow.p.prod.Up.end",
        json!({"auto-generated-by-metaflow": "True", "project_name": "p"}),
    );
    assert!(published.satisfies(&trigger));
    let as_bool = event(
        "metaflow.p.prod.Up.end",
        json!({"auto-generated-by-metaflow": true, "project_name": "p"}),
    );
    assert!(as_bool.satisfies(&trigger));
    let hand_made = event("metaflow.p.prod.Up.end", json!({"project_name": "p"}));
    assert!(!hand_made.satisfies(&trigger));
}
