use std::collections::BTreeMap;

use super::*;
use dropflow_contract::ProjectInfo;

fn trigger(name: &str) -> EventTrigger {
    EventTrigger {
        name: name.into(),
        kind: TriggerKind::Event,
        parameters: BTreeMap::new(),
        filters: BTreeMap::new(),
        flow: None,
    }
}

#[test]
fn the_rule_pattern_matches_the_flows_event_names_in_detail() {
    let triggers = Triggers {
        decorator: "trigger".into(),
        rule: "MyFlow".into(),
        events: vec![trigger("a"), trigger("b.c")],
    };
    assert_eq!(
        EventPattern::of(&triggers).to_json(),
        r#"{"detail":{"name":["a","b.c"]}}"#
    );
}

#[test]
fn finish_events_are_named_and_filled_as_metaflow_publishes_them() {
    let project = ProjectInfo {
        name: "proj".into(),
        branch: "prod".into(),
    };
    let events = finish_events(&FinishedTask {
        flow: "Up",
        project: Some(&project),
        run_id: "sfn-abc",
        step: "finish",
        task_id: "finish",
    });
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["metaflow.proj.prod.Up.finish", "metaflow.proj.prod.Up.end"]
    );
    let payload = serde_json::Value::Object(events[1].payload.clone());
    assert_eq!(
        payload,
        serde_json::json!({
            "id": "Up/sfn-abc/finish/finish",
            "pathspec": "Up/sfn-abc/finish/finish",
            "flow_name": "Up",
            "run_id": "sfn-abc",
            "step_name": "finish",
            "task_id": "finish",
            "project_name": "proj",
            "branch_name": "prod",
            "is_production": "True",
            "project_flow_name": "proj.prod.Up",
            "auto-generated-by-metaflow": "True",
        })
    );
    // A downstream @trigger_on_finish reading these is checked in the compiler's tests.

    let plain = finish_events(&FinishedTask {
        flow: "Up",
        project: None,
        run_id: "sfn-abc",
        step: "end",
        task_id: "end",
    });
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].name, "metaflow.Up.end");
    assert!(!plain[0].payload.contains_key("project_name"));
}

#[test]
fn a_published_event_has_metaflows_default_fields_under_its_own() {
    let plain = finish_events(&FinishedTask {
        flow: "Up",
        project: None,
        run_id: "sfn-abc",
        step: "end",
        task_id: "end",
    });
    let published = published(&plain[0], 1_765_000_000);
    assert_eq!(published.name, "metaflow.Up.end");
    let payload = serde_json::Value::Object(published.payload.clone());
    assert_eq!(payload["name"], "metaflow.Up.end");
    assert_eq!(payload["timestamp"], 1_765_000_000);
    assert_eq!(payload["utc_date"], "20251206");
    assert_eq!(payload["generated-by-metaflow"], true);
    // The payload's own id wins over a generated one, as in `{**defaults, **payload}`.
    assert_eq!(payload["id"], "Up/sfn-abc/end/end");
    assert_eq!(payload["auto-generated-by-metaflow"], "True");
}
