//! `@trigger` and `@trigger_on_finish` read as Metaflow reads them
//! (`TriggerDecorator.flow_init`, `TriggerOnFinishDecorator.flow_init`) and then
//! resolved as Metaflow's Argo compiler resolves them (`_process_triggers`): event
//! names and payload keys checked, mappings checked against the flow's parameters
//! (case-insensitively), one event without a mapping mapping every parameter to the
//! payload field of its (lower-case) name, and upstream flows named after `@project`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::error::TriggerError;
use super::model::{EventTrigger, TriggerKind, Triggers, finish_event_name, rule_name};
use crate::compile::ParameterSpec;
use crate::naming::ProjectBranch;
use crate::python::{Decorator, Value};

/// What the triggers of a flow are read from.
#[derive(Debug, Clone, Copy)]
pub struct TriggerSource<'a> {
    /// The flow's `@trigger`, if any.
    pub trigger: Option<&'a Decorator>,
    /// The flow's `@trigger_on_finish`, if any.
    pub on_finish: Option<&'a Decorator>,
    /// The flow's parameters (what mappings may name).
    pub parameters: &'a [ParameterSpec],
    /// The flow's own `@project` placement (`current.project_name`/`branch_name`).
    pub project: Option<&'a ProjectBranch>,
    /// The state machine the flow deploys as (names the rule).
    pub state_machine: &'a str,
}

/// A trigger error and the line of the decorator it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    /// Line of the decorator.
    pub line: u32,
    /// What is wrong.
    pub error: TriggerError,
}

/// The flow's triggers (`None` without either decorator) and warnings, each with the
/// line it is about.
pub type ReadTriggers = (Option<Triggers>, Vec<(u32, String)>);

/// Reads the flow's triggers with Metaflow's checks.
pub fn read_triggers(source: &TriggerSource<'_>) -> Result<ReadTriggers, LocatedError> {
    let mut warnings = Vec::new();
    let at = |decorator: &Decorator| {
        let line = decorator.line;
        move |error| LocatedError { line, error }
    };
    let events = match source.trigger {
        Some(d) => Some(read_trigger(d, source.parameters, &mut warnings).map_err(at(d))?),
        None => None,
    };
    let finished = match source.on_finish {
        Some(d) => Some(read_trigger_on_finish(d, source.project, &mut warnings).map_err(at(d))?),
        None => None,
    };
    let (decorator, events) = match (events, finished) {
        (Some(_), Some(_)) => {
            let line = source
                .trigger
                .into_iter()
                .chain(source.on_finish)
                .map(|d| d.line)
                .max()
                .unwrap_or_default();
            return Err(LocatedError {
                line,
                error: TriggerError::BothDecorators,
            });
        }
        (Some(events), None) => ("trigger", events),
        (None, Some(events)) => ("trigger_on_finish", events),
        (None, None) => return Ok((None, warnings)),
    };
    let triggers = Triggers {
        decorator: decorator.to_string(),
        rule: rule_name(source.state_machine),
        events,
    };
    Ok((Some(triggers), warnings))
}

const TRIGGER_EXAMPLE: &str = "@trigger(event='foo')";
const FINISH_EXAMPLE: &str = "@trigger_on_finish(flow='FooFlow')";

fn read_trigger(
    decorator: &Decorator,
    parameters: &[ParameterSpec],
    warnings: &mut Vec<(u32, String)>,
) -> Result<Vec<EventTrigger>, TriggerError> {
    check_arguments(
        decorator,
        "trigger",
        "event, events, options",
        TRIGGER_EXAMPLE,
    )?;
    let event = literal(decorator, "trigger", "event", TRIGGER_EXAMPLE)?;
    let events = literal(
        decorator,
        "trigger",
        "events",
        "@trigger(events=['foo', 'bar'])",
    )?;
    let mut parsed = Vec::new();
    match (event.filter(|v| truthy(v)), events.filter(|v| truthy(v))) {
        (Some(_), Some(_)) => {
            return Err(TriggerError::BothAttributes {
                decorator: "trigger",
                one: "event",
                other: "events",
            });
        }
        (Some(event), None) => parsed.push(process_event(event, decorator.line, warnings)?),
        (None, Some(Json::Array(items))) => {
            for item in items {
                parsed.push(process_event(item, decorator.line, warnings)?);
            }
        }
        (None, Some(_)) => return Err(TriggerError::BadEvents),
        (None, None) => {}
    }
    if parsed.is_empty() {
        return Err(TriggerError::NoEvents);
    }
    let names: BTreeSet<&str> = parsed.iter().map(|e| e.name.as_str()).collect();
    if names.len() != parsed.len() {
        return Err(TriggerError::DuplicateEvents);
    }
    warn_options(decorator, "trigger", warnings)?;

    // Argo's `_process_triggers`.
    let declared: BTreeMap<String, &str> = parameters
        .iter()
        .map(|p| (p.name.to_lowercase(), p.name.as_str()))
        .collect();
    let mut seen = BTreeSet::new();
    let mut triggers = Vec::new();
    for event in &parsed {
        if !valid_name(&event.name, true) {
            return Err(TriggerError::BadEventName {
                name: event.name.clone(),
            });
        }
        let mut mapped = BTreeMap::new();
        for (parameter, field) in &event.parameters {
            if !valid_name(field, false) {
                return Err(TriggerError::BadPayloadKey {
                    field: field.clone(),
                    event: event.name.clone(),
                });
            }
            let key = parameter.to_lowercase();
            let Some(name) = declared.get(&key) else {
                return Err(TriggerError::UnknownParameter {
                    parameter: parameter.clone(),
                    valid: if parameters.is_empty() {
                        "none".to_string()
                    } else {
                        parameters
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                });
            };
            if !seen.insert(key.clone()) {
                return Err(TriggerError::DuplicateParameter { parameter: key });
            }
            mapped.insert(name.to_string(), field.clone());
        }
        triggers.push(EventTrigger {
            name: event.name.clone(),
            kind: TriggerKind::Event,
            parameters: mapped,
            filters: BTreeMap::new(),
            flow: None,
        });
    }
    // One event without a mapping maps every parameter to the field of its name.
    if let [only] = triggers.as_mut_slice()
        && only.parameters.is_empty()
    {
        only.parameters = declared
            .iter()
            .map(|(lower, name)| (name.to_string(), lower.clone()))
            .collect();
    }
    Ok(triggers)
}

/// One event of `@trigger` as Metaflow's `process_event` leaves it.
struct ParsedEvent {
    name: String,
    /// (parameter, payload field), in order; a later entry for the same parameter wins.
    parameters: Vec<(String, String)>,
}

fn process_event(
    event: &Json,
    line: u32,
    warnings: &mut Vec<(u32, String)>,
) -> Result<ParsedEvent, TriggerError> {
    match event {
        Json::String(name) => Ok(ParsedEvent {
            name: name.clone(),
            parameters: Vec::new(),
        }),
        Json::Object(fields) => {
            let Some(name) = fields.get("name") else {
                return Err(TriggerError::EventMissingName);
            };
            let name = match name {
                Json::String(name) => name.clone(),
                other => {
                    return Err(TriggerError::BadEventName {
                        name: other.to_string(),
                    });
                }
            };
            for key in fields
                .keys()
                .filter(|k| !["name", "parameters"].contains(&k.as_str()))
            {
                warnings.push((
                    line,
                    format!(
                        "@trigger: event {name} has a key '{key}' that Metaflow and dropflow ignore (an event has only 'name' and 'parameters'); remove it"
                    ),
                ));
            }
            let parameters = match fields.get("parameters") {
                None => Vec::new(),
                Some(parameters) => process_parameters(parameters, &name)?,
            };
            Ok(ParsedEvent { name, parameters })
        }
        _ => Err(TriggerError::BadEvent),
    }
}

fn process_parameters(
    parameters: &Json,
    event: &str,
) -> Result<Vec<(String, String)>, TriggerError> {
    let bad_list = || TriggerError::BadParameterList {
        event: event.to_string(),
    };
    let bad_entry = || TriggerError::BadParameterEntry {
        event: event.to_string(),
    };
    let bad_dict = || TriggerError::BadParameterDict {
        event: event.to_string(),
    };
    let mut mapped: Vec<(String, String)> = Vec::new();
    let mut put = |parameter: &str, field: &str| {
        mapped.retain(|(p, _)| p != parameter);
        mapped.push((parameter.to_string(), field.to_string()));
    };
    match parameters {
        Json::Array(items) => {
            for item in items {
                match item {
                    Json::String(name) => put(name, name),
                    Json::Array(pair) => match pair.as_slice() {
                        [Json::String(parameter), Json::String(field)] => put(parameter, field),
                        [_, _] => return Err(bad_list()),
                        _ => return Err(bad_entry()),
                    },
                    _ => return Err(bad_entry()),
                }
            }
        }
        Json::Object(fields) => {
            for (parameter, field) in fields {
                match field {
                    Json::String(field) => put(parameter, field),
                    _ => return Err(bad_dict()),
                }
            }
        }
        // Metaflow silently maps nothing for other types; dropflow says so instead.
        _ => return Err(bad_dict()),
    }
    Ok(mapped)
}

fn read_trigger_on_finish(
    decorator: &Decorator,
    project: Option<&ProjectBranch>,
    warnings: &mut Vec<(u32, String)>,
) -> Result<Vec<EventTrigger>, TriggerError> {
    check_arguments(
        decorator,
        "trigger_on_finish",
        "flow, flows, options",
        FINISH_EXAMPLE,
    )?;
    let flow = literal(decorator, "trigger_on_finish", "flow", FINISH_EXAMPLE)?;
    let flows = literal(
        decorator,
        "trigger_on_finish",
        "flows",
        "@trigger_on_finish(flows=['FooFlow', 'BarFlow'])",
    )?;
    let upstream = match (flow.filter(|v| truthy(v)), flows.filter(|v| truthy(v))) {
        (Some(_), Some(_)) => {
            return Err(TriggerError::BothAttributes {
                decorator: "trigger_on_finish",
                one: "flow",
                other: "flows",
            });
        }
        (Some(flow), None) => parse_static_flows(std::slice::from_ref(flow))?,
        (None, Some(Json::Array(items))) => parse_static_flows(items)?,
        (None, Some(_)) => return Err(TriggerError::BadFlows),
        (None, None) => Vec::new(),
    };
    if upstream.is_empty() {
        return Err(TriggerError::NoFlows);
    }
    warn_options(decorator, "trigger_on_finish", warnings)?;
    let mut triggers = Vec::new();
    for mut flow in upstream {
        parse_qualified_name(&mut flow)?;
        // Argo's `_process_triggers`: the upstream's project and branch default to ours.
        let project_name = flow
            .project
            .filter(|p| !p.is_empty())
            .or_else(|| project.map(|p| p.project.clone()));
        let branch_name = flow
            .branch
            .filter(|b| !b.is_empty())
            .or_else(|| project.map(|p| p.branch.clone()));
        let placement = match (&project_name, &branch_name) {
            (Some(p), Some(b)) => Some((p.as_str(), b.as_str())),
            (None, None) => None,
            _ => return Err(TriggerError::IncompleteProject),
        };
        let mut filters =
            BTreeMap::from([("auto-generated-by-metaflow".to_string(), "True".to_string())]);
        if let Some((p, b)) = placement {
            filters.insert("project_name".into(), p.to_string());
            filters.insert("branch_name".into(), b.to_string());
        }
        triggers.push(EventTrigger {
            name: finish_event_name(&flow.flow, placement),
            kind: TriggerKind::Run,
            parameters: BTreeMap::new(),
            filters,
            flow: Some(flow.flow),
        });
    }
    Ok(triggers)
}

/// An upstream flow as Metaflow's `_parse_static_triggers` leaves it.
#[derive(Default)]
struct Upstream {
    fq_name: String,
    project: Option<String>,
    branch: Option<String>,
    flow: String,
}

fn parse_static_flows(flows: &[Json]) -> Result<Vec<Upstream>, TriggerError> {
    let several = flows.len() > 1;
    let mut results = Vec::new();
    for flow in flows {
        match flow {
            Json::String(name) => results.push(Upstream {
                fq_name: name.clone(),
                ..Upstream::default()
            }),
            Json::Object(fields) => {
                let Some(name) = fields.get("name") else {
                    return Err(TriggerError::FlowMissingName(if several {
                        "One or more flows in the flows attribute for @trigger_on_finish is missing the name key."
                    } else {
                        "The flow attribute for @trigger_on_finish is missing the name key."
                    }));
                };
                let name = match name {
                    Json::String(n) if !n.contains('.') => n.clone(),
                    Json::String(n) => {
                        return Err(TriggerError::BadFlowDictName { name: n.clone() });
                    }
                    other => {
                        return Err(TriggerError::BadFlowDictName {
                            name: other.to_string(),
                        });
                    }
                };
                let text = |attribute: &'static str| match fields.get(attribute) {
                    None => Ok(None),
                    Some(Json::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(TriggerError::FlowAttributeNotString {
                        attribute,
                        flow: name.clone(),
                    }),
                };
                results.push(Upstream {
                    project: text("project")?,
                    branch: text("project_branch")?,
                    fq_name: name,
                    flow: String::new(),
                });
            }
            _ => {
                return Err(TriggerError::BadFlow(if several {
                    "One or more flows in the flows attribute for @trigger_on_finish decorator have an incorrect type. Supported type is string or Dict[str, str]- @trigger_on_finish(flows=['FooFlow', 'BarFlow']"
                } else {
                    "Incorrect type for flow attribute in @trigger_on_finish  decorator. Supported type is string or Dict[str, str] - @trigger_on_finish(flow='FooFlow') or @trigger_on_finish(flow={'name':'FooFlow', 'project_branch': 'branch'})"
                }));
            }
        }
    }
    Ok(results)
}

/// Metaflow's `_parse_fq_name`: `Flow` or `project.branch.Flow` (the branch may hold dots).
fn parse_qualified_name(flow: &mut Upstream) -> Result<(), TriggerError> {
    match flow.fq_name.matches('.').count() {
        0 => flow.flow = flow.fq_name.clone(),
        1 => return Err(TriggerError::BadQualifiedName),
        _ => {
            let (project, tail) = flow.fq_name.split_once('.').expect("has dots");
            let (branch, name) = tail.rsplit_once('.').expect("has a dot");
            flow.project = Some(project.to_string());
            flow.branch = Some(branch.to_string());
            flow.flow = name.to_string();
        }
    }
    if !valid_name(&flow.flow, false) {
        return Err(TriggerError::BadFlowName {
            flow: flow.flow.clone(),
        });
    }
    Ok(())
}

/// `[A-Za-z0-9_]+`, plus `.` and `-` for event names.
fn valid_name(name: &str, event: bool) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (event && (c == '.' || c == '-')))
}

fn check_arguments(
    decorator: &Decorator,
    name: &'static str,
    supported: &'static str,
    example: &'static str,
) -> Result<(), TriggerError> {
    if let Some(first) = decorator.args.first() {
        return Err(TriggerError::PositionalArgument {
            decorator: name,
            found: first.describe(),
            example,
        });
    }
    if let Some((argument, _)) = decorator
        .kwargs
        .iter()
        .find(|(k, _)| !supported.split(", ").any(|s| s == k))
    {
        return Err(TriggerError::UnknownArgument {
            decorator: name,
            argument: argument.clone(),
            supported,
        });
    }
    Ok(())
}

/// A keyword argument's literal value; `None` (the literal) counts as absent.
fn literal<'a>(
    decorator: &'a Decorator,
    name: &'static str,
    argument: &'static str,
    example: &'static str,
) -> Result<Option<&'a Json>, TriggerError> {
    match decorator.kwarg(argument) {
        None | Some(Value::Literal { value: Json::Null }) => Ok(None),
        Some(Value::Literal { value }) => Ok(Some(value)),
        Some(other) => Err(TriggerError::NotLiteral {
            decorator: name,
            argument,
            found: other.describe(),
            example,
        }),
    }
}

/// `options={...}` tunes Argo Events (`reset_at`); dropflow does not act on it.
fn warn_options(
    decorator: &Decorator,
    name: &'static str,
    warnings: &mut Vec<(u32, String)>,
) -> Result<(), TriggerError> {
    if let Some(options) = literal(decorator, name, "options", "{}")?
        && truthy(options)
    {
        warnings.push((
            decorator.line,
            format!(
                "@{name}(options={options}) is ignored: the options tune Argo Events, and dropflow's EventBridge delivery has none (a run starts when every event has arrived, and the wait resets when it starts)"
            ),
        ));
    }
    Ok(())
}

/// Python's truth value of a literal.
fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(items) => !items.is_empty(),
        Json::Object(map) => !map.is_empty(),
    }
}
