use std::collections::BTreeMap;

use super::*;
use crate::compile::{ParameterSpec, ParameterType};
use crate::naming::ProjectBranch;
use crate::python::{Decorator, Value};

fn decorator(name: &str, kwargs: &[(&str, serde_json::Value)]) -> Decorator {
    Decorator {
        name: name.to_string(),
        line: 3,
        args: Vec::new(),
        kwargs: kwargs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Literal { value: v.clone() }))
            .collect(),
    }
}

fn parameter(name: &str) -> ParameterSpec {
    ParameterSpec {
        name: name.to_string(),
        attribute: name.to_string(),
        kind: ParameterType::Str,
        default: None,
        required: false,
        help: None,
        deploy_time: None,
        include_file: false,
        line: 5,
    }
}

fn read(
    trigger: Option<&Decorator>,
    on_finish: Option<&Decorator>,
    project: Option<&ProjectBranch>,
) -> Result<ReadTriggers, LocatedError> {
    let parameters = [parameter("alpha"), parameter("Beta")];
    read_triggers(&TriggerSource {
        trigger,
        on_finish,
        parameters: &parameters,
        project,
        state_machine: "MyFlow",
    })
}

fn events(trigger: &Decorator) -> Vec<EventTrigger> {
    read(Some(trigger), None, None).unwrap().0.unwrap().events
}

fn error(trigger: Option<&Decorator>, on_finish: Option<&Decorator>) -> String {
    read(trigger, on_finish, None)
        .unwrap_err()
        .error
        .to_string()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn one_event_without_a_mapping_maps_every_parameter_to_its_lower_case_field() {
    let found = events(&decorator("trigger", &[("event", "data_ready".into())]));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "data_ready");
    assert_eq!(found[0].kind, TriggerKind::Event);
    assert_eq!(
        found[0].parameters,
        map(&[("alpha", "alpha"), ("Beta", "beta")])
    );
}

#[test]
fn dict_and_list_mappings_name_payload_fields_case_insensitively() {
    let dict = serde_json::json!({"name": "foo", "parameters": {"BETA": "b_field"}});
    let found = events(&decorator("trigger", &[("event", dict)]));
    assert_eq!(found[0].parameters, map(&[("Beta", "b_field")]));

    let list = serde_json::json!([
        {"name": "foo", "parameters": ["alpha"]},
        {"name": "bar.baz-1", "parameters": [["beta", "other"]]},
    ]);
    let found = events(&decorator("trigger", &[("events", list)]));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].parameters, map(&[("alpha", "alpha")]));
    assert_eq!(found[1].parameters, map(&[("Beta", "other")]));
    // Several events: no automatic mapping.
    let plain = events(&decorator(
        "trigger",
        &[("events", serde_json::json!(["a", "b"]))],
    ));
    assert!(plain.iter().all(|e| e.parameters.is_empty()));
}

#[test]
fn metaflows_trigger_checks_keep_its_messages() {
    let cases: Vec<(Vec<(&str, serde_json::Value)>, &str)> = vec![
        (
            vec![("event", "a".into()), ("events", serde_json::json!(["b"]))],
            "Specify only one of event or events attributes in @trigger decorator.",
        ),
        (vec![], "No event(s) specified in @trigger decorator."),
        (
            vec![("events", serde_json::json!(["a", "a"]))],
            "Duplicate event names defined in @trigger decorator.",
        ),
        (
            vec![("event", serde_json::json!({"parameters": {}}))],
            "The event attribute for @trigger is missing the name key.",
        ),
        (
            vec![("event", 3.into())],
            "Incorrect format for event attribute",
        ),
        (
            vec![("events", "a".into())],
            "Incorrect format for events attribute",
        ),
        (
            vec![("event", "bad name!".into())],
            "Invalid event name bad name! in @trigger decorator.",
        ),
        (
            vec![(
                "event",
                serde_json::json!({"name": "e", "parameters": {"alpha": "a-b"}}),
            )],
            "Invalid event payload key a-b for event e in @trigger decorator.",
        ),
        (
            vec![(
                "event",
                serde_json::json!({"name": "e", "parameters": {"gamma": "g"}}),
            )],
            "Parameter gamma defined in the event mappings for @trigger decorator not found in the flow. The flow's parameters: alpha, Beta.",
        ),
        (
            vec![(
                "events",
                serde_json::json!([
                    {"name": "e", "parameters": {"alpha": "a"}},
                    {"name": "f", "parameters": {"ALPHA": "b"}},
                ]),
            )],
            "Duplicate entries for parameter alpha defined in the event mappings for @trigger decorator.",
        ),
        (
            vec![(
                "event",
                serde_json::json!({"name": "e", "parameters": [["alpha", 3]]}),
            )],
            "The parameters attribute for event e is invalid. It should be a list/tuple of strings and lists/tuples of size 2.",
        ),
        (
            vec![("event", serde_json::json!({"name": "e", "parameters": [3]}))],
            "The parameters attribute for event is invalid. It should be a list/tuple of strings and lists/tuples of size 2 (event e)",
        ),
        (
            vec![(
                "event",
                serde_json::json!({"name": "e", "parameters": {"alpha": 1}}),
            )],
            "It should be a dictionary of string keys and string values.",
        ),
        (
            vec![("when", "x".into())],
            "Decorator 'trigger' does not support the attribute 'when'. These attributes are supported: event, events, options.",
        ),
    ];
    for (kwargs, expected) in cases {
        let message = error(Some(&decorator("trigger", &kwargs)), None);
        assert!(message.contains(expected), "{kwargs:?}: {message}");
    }
}

#[test]
fn expressions_dropflow_cannot_evaluate_are_refused_with_the_expression() {
    let mut d = decorator("trigger", &[]);
    d.kwargs.push((
        "event".into(),
        Value::Expression {
            source: "namespaced_event_name('foo')".into(),
        },
    ));
    let message = error(Some(&d), None);
    assert!(
        message.contains("@trigger(event=...) is `namespaced_event_name('foo')`"),
        "{message}"
    );
}

#[test]
fn options_are_warned_about_not_ignored_silently() {
    let d = decorator(
        "trigger",
        &[
            ("event", "e".into()),
            (
                "options",
                serde_json::json!({"reset_at": {"cron": "0 0 * * *"}}),
            ),
        ],
    );
    let (_, warnings) = read(Some(&d), None, None).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].1.contains("options="), "{warnings:?}");
}

#[test]
fn trigger_on_finish_listens_for_metaflows_end_event_under_our_project() {
    let project = ProjectBranch {
        project: "proj".into(),
        branch: "user.alice".into(),
    };
    let d = decorator("trigger_on_finish", &[("flow", "Upstream".into())]);
    let (triggers, _) = read(None, Some(&d), Some(&project)).unwrap();
    let triggers = triggers.unwrap();
    assert_eq!(triggers.decorator, "trigger_on_finish");
    assert_eq!(triggers.rule, "MyFlow");
    let event = &triggers.events[0];
    assert_eq!(event.name, "metaflow.proj.user.alice.Upstream.end");
    assert_eq!(event.kind, TriggerKind::Run);
    assert_eq!(event.flow.as_deref(), Some("Upstream"));
    assert_eq!(
        event.filters,
        map(&[
            ("auto-generated-by-metaflow", "True"),
            ("branch_name", "user.alice"),
            ("project_name", "proj"),
        ])
    );

    // Without @project: metaflow.<Flow>.end; fully qualified names and dicts override ours.
    let flows = serde_json::json!([
        "A",
        "other.prod.staging.B",
        {"name": "C", "project": "p2", "project_branch": "test.x"},
    ]);
    let d = decorator("trigger_on_finish", &[("flows", flows)]);
    let names: Vec<String> = read(None, Some(&d), None)
        .unwrap()
        .0
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        [
            "metaflow.A.end",
            "metaflow.other.prod.staging.B.end",
            "metaflow.p2.test.x.C.end"
        ]
    );
}

#[test]
fn metaflows_trigger_on_finish_checks_keep_its_messages() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            serde_json::json!({"flows": "A"}),
            "Incorrect type for flows attribute",
        ),
        (
            serde_json::json!({"flow": "a.B"}),
            "Incorrect format for flow in @trigger_on_finish decorator.",
        ),
        (
            serde_json::json!({"flow": "Bad-Flow"}),
            "Invalid flow name Bad-Flow in @trigger_on_finish decorator.",
        ),
        (
            serde_json::json!({"flow": {"project": "p"}}),
            "The flow attribute for @trigger_on_finish is missing the name key.",
        ),
        (
            serde_json::json!({"flows": [{"project": "p"}, "A"]}),
            "One or more flows in the flows attribute for @trigger_on_finish is missing the name key.",
        ),
        (
            serde_json::json!({"flow": {"name": "a.B"}}),
            "The name attribute of the flow a.B is not a valid string",
        ),
        (
            serde_json::json!({"flow": {"name": "B", "project": 1}}),
            "The project attribute of the flow B is not a string",
        ),
        (
            serde_json::json!({"flow": {"name": "B", "project": "p"}}),
            "Incomplete project info.",
        ),
        (
            serde_json::json!({"flow": 3}),
            "Incorrect type for flow attribute in @trigger_on_finish",
        ),
        (
            serde_json::json!({}),
            "No flow(s) specified in @trigger_on_finish decorator.",
        ),
        (
            serde_json::json!({"flow": "A", "flows": ["B"]}),
            "Specify only one of flow or flows attributes in @trigger_on_finish decorator.",
        ),
    ];
    for (kwargs, expected) in cases {
        let kwargs: Vec<(&str, serde_json::Value)> = kwargs
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let message = error(None, Some(&decorator("trigger_on_finish", &kwargs)));
        assert!(message.contains(expected), "{kwargs:?}: {message}");
    }
}

#[test]
fn both_decorators_on_one_flow_are_refused() {
    let trigger = decorator("trigger", &[("event", "e".into())]);
    let mut on_finish = decorator("trigger_on_finish", &[("flow", "A".into())]);
    on_finish.line = 2;
    let located = read(Some(&trigger), Some(&on_finish), None).unwrap_err();
    assert_eq!(located.error, TriggerError::BothDecorators);
    assert_eq!(located.line, 3);
}

#[test]
fn the_rule_pattern_matches_the_flows_event_names_in_detail() {
    let d = decorator("trigger", &[("events", serde_json::json!(["a", "b.c"]))]);
    let triggers = read(Some(&d), None, None).unwrap().0.unwrap();
    assert_eq!(
        dropflow_events::EventPattern::of(&triggers).to_json(),
        r#"{"detail":{"name":["a","b.c"]}}"#
    );
}

#[test]
fn the_finish_events_a_run_publishes_are_what_a_downstream_trigger_on_finish_waits_for() {
    let project = ProjectBranch {
        project: "proj".into(),
        branch: "prod".into(),
    };
    let placement = dropflow_contract::ProjectInfo {
        name: "proj".into(),
        branch: "prod".into(),
    };
    let events = dropflow_events::finish_events(&dropflow_events::FinishedTask {
        flow: "Up",
        project: Some(&placement),
        run_id: "sfn-abc",
        step: "finish",
        task_id: "finish",
    });
    // What a downstream @trigger_on_finish(flow='Up') under the same project waits for.
    let on_finish = decorator("trigger_on_finish", &[("flow", "Up".into())]);
    let downstream = read(None, Some(&on_finish), Some(&project))
        .unwrap()
        .0
        .unwrap();
    assert!(events[1].satisfies(&downstream.events[0]));
    assert!(!events[0].satisfies(&downstream.events[0]));
}
