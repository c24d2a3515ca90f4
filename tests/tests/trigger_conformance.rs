//! `@trigger` / `@trigger_on_finish` read by dropflow and by the installed Metaflow's own
//! decorator classes (`TriggerDecorator`, `TriggerOnFinishDecorator`, `flow_init`): the
//! same error text for every refused case (Metaflow's `*` markers and line breaks
//! removed), the same event names for every accepted one. One Python process for all.

use std::io::Write;
use std::process::{Command, Stdio};

use dropflow_compiler::events::{TriggerSource, read_triggers};
use dropflow_compiler::python::{Decorator, Value};
use serde_json::{Value as Json, json};

/// Runs every case through Metaflow: `{"error": text}` or `{"names": [...]}`, where the
/// names of `@trigger_on_finish` are Argo's `metaflow.<project>.<branch>.<flow>.end`.
const METAFLOW: &str = r#"
import json, sys
from metaflow.plugins.events_decorator import TriggerDecorator, TriggerOnFinishDecorator
from metaflow.exception import MetaflowException

def tuples(attrs):
    # dropflow reads a Python tuple as a list; give Metaflow its tuples back.
    for key in ("event", "events"):
        items = attrs.get(key)
        for event in (items if isinstance(items, list) else [items]):
            if isinstance(event, dict) and isinstance(event.get("parameters"), list):
                event["parameters"] = [tuple(p) if isinstance(p, list) else p for p in event["parameters"]]
    return attrs

out = []
for case in json.load(sys.stdin):
    cls = TriggerDecorator if case["decorator"] == "trigger" else TriggerOnFinishDecorator
    try:
        deco = cls(attributes=tuples(case["attrs"]), statically_defined=True)
        deco.flow_init(None, None, None, None, None, None, None, {"trigger": None})
        if case["decorator"] == "trigger":
            names = [t["name"] for t in deco.triggers]
        else:
            names = ["metaflow.%s.end" % ".".join(v for v in [t.get("project"), t.get("branch"), t["flow"]] if v) for t in deco.triggers]
        out.append({"names": names})
    except MetaflowException as e:
        out.append({"error": e.message.replace("*", "").replace(" \n", " ").replace("\n", " ")})
print(json.dumps(out))
"#;

fn cases() -> Vec<(&'static str, Json)> {
    vec![
        ("trigger", json!({"event": "data_ready"})),
        (
            "trigger",
            json!({"events": ["a", {"name": "b", "parameters": ["alpha", ["beta", "f"]]}]}),
        ),
        (
            "trigger",
            json!({"event": {"name": "e", "parameters": {"alpha": "x"}}}),
        ),
        ("trigger", json!({"event": "a", "events": ["b"]})),
        ("trigger", json!({})),
        ("trigger", json!({"events": ["a", "a"]})),
        ("trigger", json!({"event": {"parameters": {}}})),
        ("trigger", json!({"event": 3})),
        ("trigger", json!({"events": "a"})),
        (
            "trigger",
            json!({"event": {"name": "e", "parameters": [3]}}),
        ),
        (
            "trigger",
            json!({"event": {"name": "e", "parameters": [["alpha", 3]]}}),
        ),
        (
            "trigger",
            json!({"event": {"name": "e", "parameters": {"alpha": 1}}}),
        ),
        ("trigger", json!({"when": "x"})),
        ("trigger_on_finish", json!({"flow": "Up"})),
        (
            "trigger_on_finish",
            json!({"flows": ["A", "other.prod.staging.B", {"name": "C", "project": "p2", "project_branch": "test.x"}]}),
        ),
        ("trigger_on_finish", json!({"flows": "A"})),
        ("trigger_on_finish", json!({"flow": "a.B"})),
        ("trigger_on_finish", json!({"flow": "Bad-Flow"})),
        ("trigger_on_finish", json!({"flow": {"project": "p"}})),
        (
            "trigger_on_finish",
            json!({"flows": [{"project": "p"}, "A"]}),
        ),
        ("trigger_on_finish", json!({"flow": {"name": "a.B"}})),
        (
            "trigger_on_finish",
            json!({"flow": {"name": "B", "project": 1}}),
        ),
        (
            "trigger_on_finish",
            json!({"flow": {"name": "B", "project_branch": 1}}),
        ),
        ("trigger_on_finish", json!({"flow": 3})),
        ("trigger_on_finish", json!({"flows": [3, "A"]})),
        ("trigger_on_finish", json!({})),
        ("trigger_on_finish", json!({"flow": "A", "flows": ["B"]})),
        ("trigger_on_finish", json!({"owner": "x"})),
    ]
}

fn metaflow(cases: &[(&str, Json)]) -> Vec<Json> {
    let input: Vec<Json> = cases
        .iter()
        .map(|(d, attrs)| json!({"decorator": d, "attrs": attrs}))
        .collect();
    let mut child = Command::new(dropflow_tests::python())
        .args(["-c", METAFLOW])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test venv's Python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn dropflow(decorator: &str, attrs: &Json) -> Json {
    let d = Decorator {
        name: decorator.to_string(),
        line: 1,
        args: Vec::new(),
        kwargs: attrs
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Value::Literal { value: v.clone() }))
            .collect(),
    };
    let is_trigger = decorator == "trigger";
    // The parameters the mappings above name, so Argo's checks pass where Metaflow's do.
    let parameters: Vec<dropflow_compiler::compile::ParameterSpec> = ["alpha", "beta"]
        .iter()
        .map(|name| {
            serde_json::from_value(json!({
                "name": name, "attribute": name, "type": "str", "default": "x",
                "required": false, "help": null, "line": 1
            }))
            .unwrap()
        })
        .collect();
    let source = TriggerSource {
        trigger: is_trigger.then_some(&d),
        on_finish: (!is_trigger).then_some(&d),
        parameters: &parameters,
        project: None,
        state_machine: "F",
    };
    match read_triggers(&source) {
        Ok((triggers, _)) => {
            json!({"names": triggers.unwrap().event_names()})
        }
        Err(e) => json!({"error": e.error.to_string()}),
    }
}

#[test]
fn dropflow_reads_trigger_decorators_as_metaflow_does() {
    let cases = cases();
    let expected = metaflow(&cases);
    for ((decorator, attrs), metaflow) in cases.iter().zip(&expected) {
        let ours = dropflow(decorator, attrs);
        match (metaflow.get("error"), ours.get("error")) {
            // dropflow may add a hint after Metaflow's text (the event, the valid names).
            (Some(Json::String(theirs)), Some(Json::String(mine))) => assert!(
                mine.starts_with(theirs.trim_end_matches('.')),
                "@{decorator}({attrs}):\n  Metaflow: {theirs}\n  dropflow: {mine}"
            ),
            _ => assert_eq!(&ours, metaflow, "@{decorator}({attrs})"),
        }
    }
}
