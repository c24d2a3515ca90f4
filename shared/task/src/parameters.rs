//! A run's parameter values: read from the execution input, checked against the deployed
//! [`ParameterSpec`]s, merged over the deployed defaults, and turned into the raw CLI
//! strings Metaflow's `init` reads from `METAFLOW_INIT_<NAME>`.
//!
//! The execution input is plain JSON (`{"alpha": 0.5}`), Metaflow's form
//! (`{"Parameters": "{\"alpha\": 0.5}"}`, as the console and schedules send it), or empty.
//! Values are converted as Metaflow's click types would (`"5"` is a fine `int`,
//! `"yes"` a fine `bool`, a `JSONType` string is JSON text); `null` means "not given".
//! Unknown names, wrong types and required parameters without a value are all reported
//! at once.
//!
//! Used by the step Lambda's start phase ([`resolve`] → [`init_environment`]) and by
//! the trigger API ([`values_from_input`] → [`check`]) before it starts an execution.

use serde::Serialize;
use serde_json::{Map, Number, Value};

use dropflow_contract::start_input::ResumedExecutionInput;
use dropflow_contract::{ParameterSpec, ParameterType};

/// Why an execution input was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum InputError {
    /// The `Parameters` string inside Metaflow's form is not JSON.
    Malformed(String),
    /// The input is JSON, but not an object of parameter values.
    NotAnObject(String),
    /// Values that do not fit the deployed parameters; the valid names.
    Invalid {
        /// One entry per problem.
        problems: Vec<Problem>,
        /// The flow's parameters, in declaration order.
        valid: Vec<String>,
    },
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Malformed(message) | InputError::NotAnObject(message) => {
                f.write_str(message)
            }
            InputError::Invalid { problems, valid } => {
                let problems: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.parameter, p.problem))
                    .collect();
                write!(f, "{}", problems.join("; "))?;
                if valid.is_empty() {
                    write!(f, " (the flow has no parameters)")
                } else {
                    write!(f, " (the flow's parameters: {})", valid.join(", "))
                }
            }
        }
    }
}

impl std::error::Error for InputError {}

/// One parameter problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The parameter name as given (or as deployed, for a missing one).
    pub parameter: String,
    /// What is wrong, in a sentence.
    pub problem: String,
}

/// Checked values.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The values given, converted to their types, keyed by parameter name, in
    /// declaration order.
    pub values: Map<String, Value>,
    /// What the run sees: the values given, else the deployed defaults (`null` when a
    /// parameter has neither), in declaration order.
    pub effective: Map<String, Value>,
}

/// The parameter values in an execution input: none for `null`, `{}` and
/// `{"Parameters": ""}`, the decoded string for Metaflow's `{"Parameters": "<json>"}`
/// (also beside a resumed run's `"Resume"`), else the object itself.
pub fn values_from_input(input: &Value) -> Result<Map<String, Value>, InputError> {
    // A resumed run's input: the origin's values in the `Parameters` text.
    if let Some(resumed) = ResumedExecutionInput::from_input(input) {
        return values_from_input(&serde_json::json!({ "Parameters": resumed.parameters }));
    }
    let object = match input {
        Value::Null => return Ok(Map::new()),
        Value::Object(object) => object,
        _ => return Err(not_an_object("the execution input")),
    };
    match object.get("Parameters") {
        Some(Value::String(text)) if object.len() == 1 => {
            if text.trim().is_empty() {
                return Ok(Map::new());
            }
            match serde_json::from_str(text) {
                Ok(Value::Object(values)) => Ok(values),
                Ok(Value::Null) => Ok(Map::new()),
                Ok(_) => Err(not_an_object("the \"Parameters\" string")),
                Err(e) => Err(InputError::Malformed(format!(
                    "the \"Parameters\" string is not JSON: {e}"
                ))),
            }
        }
        _ => Ok(object.clone()),
    }
}

fn not_an_object(what: &str) -> InputError {
    InputError::NotAnObject(format!(
        "{what} must be a JSON object of parameter values, like {{\"alpha\": 0.5}} \
         (or Metaflow's {{\"Parameters\": \"{{\\\"alpha\\\": 0.5}}\"}})"
    ))
}

/// Metaflow's limit on the execution input (`step-functions trigger`: "Length of parameter
/// names and values shouldn't exceed 20480 as imposed by AWS Step Functions").
pub const MAX_INPUT_BYTES: usize = 20 * 1024;

/// Values Metaflow's command line cannot carry: a NUL byte anywhere in a string (Python
/// refuses it in an argument or environment variable: "embedded null byte"), so the run
/// would start and its first task fail. One problem per parameter.
pub fn unpassable_values(given: &Map<String, Value>) -> Vec<Problem> {
    given
        .iter()
        .filter(|(_, value)| contains_nul(value))
        .map(|(name, _)| Problem {
            parameter: name.clone(),
            problem: format!(
                "parameter {name:?}: the value contains a NUL byte (\\u0000), which a \
                 Metaflow command line cannot carry; remove it"
            ),
        })
        .collect()
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

/// Checks given values against the deployed parameters. A name matches a parameter's
/// name (the CLI name, `max-depth`) or its attribute (`max_depth`).
pub fn check(given: Map<String, Value>, specs: &[ParameterSpec]) -> Result<Checked, InputError> {
    let mut problems = Vec::new();
    let mut converted: Map<String, Value> = Map::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut given_names: Vec<&str> = Vec::new();
    for (key, value) in given {
        let Some(spec) = specs
            .iter()
            .find(|s| s.name == key)
            .or_else(|| specs.iter().find(|s| s.attribute == key))
        else {
            problems.push(Problem {
                problem: format!("unknown parameter {key:?}"),
                parameter: key,
            });
            continue;
        };
        if seen.contains(&spec.name.as_str()) {
            problems.push(Problem {
                parameter: key,
                problem: format!("{:?} is given twice (by name and by attribute)", spec.name),
            });
            continue;
        }
        seen.push(&spec.name);
        if value.is_null() {
            continue;
        }
        given_names.push(&spec.name);
        match convert(spec.kind, &value) {
            Ok(value) => {
                converted.insert(spec.name.clone(), value);
            }
            Err(problem) => problems.push(Problem {
                parameter: key,
                problem,
            }),
        }
    }
    for spec in specs {
        if spec.required && !has_default(spec) && !given_names.contains(&spec.name.as_str()) {
            problems.push(Problem {
                parameter: spec.name.clone(),
                problem: format!(
                    "{:?} is required and has no default{}",
                    spec.name,
                    spec.help
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(InputError::Invalid {
            problems,
            valid: specs.iter().map(|s| s.name.clone()).collect(),
        });
    }
    let mut values = Map::new();
    let mut effective = Map::new();
    for spec in specs {
        match converted.remove(&spec.name) {
            Some(value) => {
                values.insert(spec.name.clone(), value.clone());
                effective.insert(spec.name.clone(), value);
            }
            None => {
                effective.insert(
                    spec.name.clone(),
                    spec.default.clone().unwrap_or(Value::Null),
                );
            }
        }
    }
    Ok(Checked { values, effective })
}

/// [`values_from_input`] then [`check`]: the effective values of a run started with
/// `input`.
pub fn resolve(input: &Value, specs: &[ParameterSpec]) -> Result<Checked, InputError> {
    check(values_from_input(input)?, specs)
}

fn has_default(spec: &ParameterSpec) -> bool {
    spec.deploy_time.is_some() || spec.default.as_ref().is_some_and(|d| !d.is_null())
}

/// A value converted to `kind` as Metaflow's click types would (strings of numbers and
/// booleans are accepted), or why not.
pub fn convert(kind: ParameterType, value: &Value) -> Result<Value, String> {
    match (kind, value) {
        (ParameterType::Str, Value::String(_)) => Ok(value.clone()),
        (ParameterType::Str, other) => Err(format!("expected a string, got {}", describe(other))),

        (ParameterType::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(value.clone()),
        (ParameterType::Int, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Ok(Value::from(n)),
            Err(_) => Err(format!("expected an integer, got {}", describe(value))),
        },
        (ParameterType::Int, other) => Err(format!("expected an integer, got {}", describe(other))),

        (ParameterType::Float, Value::Number(n)) => float(n.as_f64(), value),
        (ParameterType::Float, Value::String(s)) => float(s.trim().parse::<f64>().ok(), value),
        (ParameterType::Float, other) => Err(format!("expected a number, got {}", describe(other))),

        (ParameterType::Bool, Value::Bool(_)) => Ok(value.clone()),
        (ParameterType::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" | "y" | "on" => Ok(Value::Bool(true)),
            "0" | "false" | "f" | "no" | "n" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("expected a boolean, got {}", describe(value))),
        },
        (ParameterType::Bool, other) => Err(format!("expected a boolean, got {}", describe(other))),

        // Metaflow's JSONType: a string is JSON text, anything else is the value itself.
        (ParameterType::Json, Value::String(s)) => serde_json::from_str(s).map_err(|e| {
            format!(
                "a JSON parameter given as a string must be JSON text ({e}); to pass the \
                 string itself, quote it: {}",
                serde_json::to_string(&Value::String(serde_json::to_string(s).unwrap_or_default()))
                    .unwrap_or_default()
            )
        }),
        (ParameterType::Json, _) => Ok(value.clone()),
    }
}

fn float(parsed: Option<f64>, original: &Value) -> Result<Value, String> {
    parsed
        .filter(|f| f.is_finite())
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("expected a number, got {}", describe(original)))
}

/// A short description of a value for messages: its type and (short) text.
fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let text = value.to_string();
    if text.chars().count() > 40 {
        let short: String = text.chars().take(37).collect();
        format!("{kind} {short}...")
    } else {
        format!("{kind} {text}")
    }
}

/// The environment variable Metaflow's `init` reads a parameter from (click's automatic
/// `METAFLOW_INIT_<OPTION>`: upper case, `-` → `_`).
pub fn init_variable(name: &str) -> String {
    format!("METAFLOW_INIT_{}", name.to_uppercase().replace('-', "_"))
}

/// A value as the raw command-line string `init` parses, as if typed after
/// `--<name>`: strings as they are, numbers and booleans as text, JSON as compact JSON
/// text (a string default of a `JSONType` parameter is already JSON text).
pub fn cli_string(kind: ParameterType, value: &Value) -> String {
    match (kind, value) {
        (_, Value::String(s)) => s.clone(),
        (ParameterType::Json, other) => other.to_string(),
        (_, Value::Bool(b)) => if *b { "true" } else { "false" }.to_string(),
        (_, other) => other.to_string(),
    }
}

/// `METAFLOW_INIT_<NAME>` = raw CLI string for every parameter with an effective value,
/// in declaration order. Deployed defaults are passed too (as Metaflow's Step Functions
/// integration does), so a default evaluated at deploy time is not evaluated again.
pub fn init_environment(checked: &Checked, specs: &[ParameterSpec]) -> Vec<(String, String)> {
    specs
        .iter()
        .filter_map(|spec| {
            let value = checked.effective.get(&spec.name)?;
            (!value.is_null()).then(|| (init_variable(&spec.name), cli_string(spec.kind, value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(
        name: &str,
        kind: ParameterType,
        default: Option<Value>,
        required: bool,
    ) -> ParameterSpec {
        ParameterSpec {
            name: name.into(),
            attribute: name.replace('-', "_"),
            kind,
            default,
            required,
            help: None,
            deploy_time: None,
            include_file: false,
            line: 1,
        }
    }

    fn specs() -> Vec<ParameterSpec> {
        vec![
            spec("alpha", ParameterType::Float, Some(json!(0.01)), false),
            spec("max-depth", ParameterType::Int, Some(json!(3)), false),
            spec("name", ParameterType::Str, None, true),
            spec("dry-run", ParameterType::Bool, Some(json!(false)), false),
            spec("config", ParameterType::Json, Some(json!({"a": 1})), false),
            spec("note", ParameterType::Str, None, false),
        ]
    }

    fn env(input: Value) -> Vec<(String, String)> {
        let checked = resolve(&input, &specs()).unwrap_or_else(|e| panic!("{input}: {e}"));
        init_environment(&checked, &specs())
    }

    fn problems(input: Value) -> Vec<(String, String)> {
        match resolve(&input, &specs()) {
            Err(InputError::Invalid { problems, valid }) => {
                assert_eq!(
                    valid,
                    ["alpha", "max-depth", "name", "dry-run", "config", "note"]
                );
                problems
                    .into_iter()
                    .map(|p| (p.parameter, p.problem))
                    .collect()
            }
            other => panic!("{input}: {other:?}"),
        }
    }

    #[test]
    fn plain_and_metaflow_forms_merge_over_the_defaults() {
        let expected = vec![
            ("METAFLOW_INIT_ALPHA".to_string(), "0.5".to_string()),
            ("METAFLOW_INIT_MAX_DEPTH".into(), "3".into()),
            ("METAFLOW_INIT_NAME".into(), "corpus".into()),
            ("METAFLOW_INIT_DRY_RUN".into(), "false".into()),
            ("METAFLOW_INIT_CONFIG".into(), r#"{"a":1}"#.into()),
        ];
        assert_eq!(env(json!({"alpha": 0.5, "name": "corpus"})), expected);
        assert_eq!(
            env(json!({"Parameters": "{\"alpha\": 0.5, \"name\": \"corpus\"}"})),
            expected
        );
    }

    #[test]
    fn values_become_raw_cli_strings() {
        let got = env(json!({
            "name": "two words 'quoted'",
            "max_depth": "7",
            "dry-run": "yes",
            "config": "{\"depth\": 3, \"tags\": [\"x\"]}",
            "note": "",
        }));
        assert_eq!(
            got,
            vec![
                ("METAFLOW_INIT_ALPHA".to_string(), "0.01".to_string()),
                ("METAFLOW_INIT_MAX_DEPTH".into(), "7".into()),
                ("METAFLOW_INIT_NAME".into(), "two words 'quoted'".into()),
                ("METAFLOW_INIT_DRY_RUN".into(), "true".into()),
                (
                    "METAFLOW_INIT_CONFIG".into(),
                    r#"{"depth":3,"tags":["x"]}"#.into()
                ),
                ("METAFLOW_INIT_NOTE".into(), "".into()),
            ]
        );
    }

    #[test]
    fn empty_inputs_and_the_schedule_input_use_the_defaults() {
        let no_required: Vec<ParameterSpec> = specs().into_iter().filter(|s| !s.required).collect();
        for input in [
            Value::Null,
            json!({}),
            json!({"Parameters": "{}"}),
            json!({"Parameters": ""}),
            json!({"Parameters": "null"}),
        ] {
            let checked = resolve(&input, &no_required).unwrap();
            assert!(checked.values.is_empty(), "{input}");
            assert_eq!(checked.effective["max-depth"], json!(3));
            assert_eq!(checked.effective["note"], Value::Null);
            let env = init_environment(&checked, &no_required);
            assert!(
                !env.iter().any(|(k, _)| k == "METAFLOW_INIT_NOTE"),
                "{env:?}"
            );
        }
    }

    #[test]
    fn null_means_not_given() {
        let checked = resolve(&json!({"alpha": null, "name": "x"}), &specs()).unwrap();
        assert_eq!(Value::Object(checked.values), json!({"name": "x"}));
        assert_eq!(checked.effective["alpha"], json!(0.01));
    }

    #[test]
    fn wrong_types_unknown_names_and_missing_required_are_all_reported() {
        let found = problems(json!({
            "alpha": "fast",
            "max-depth": 1.5,
            "dry-run": "maybe",
            "beta": 1,
            "config": "{oops",
        }));
        assert_eq!(found.len(), 6, "{found:#?}");
        assert_eq!(
            found[0],
            (
                "alpha".into(),
                "expected a number, got string \"fast\"".into()
            )
        );
        assert_eq!(
            found[1],
            (
                "max-depth".into(),
                "expected an integer, got number 1.5".into()
            )
        );
        assert_eq!(
            found[2],
            (
                "dry-run".into(),
                "expected a boolean, got string \"maybe\"".into()
            )
        );
        assert_eq!(
            found[3],
            ("beta".into(), "unknown parameter \"beta\"".into())
        );
        assert_eq!(found[4].0, "config");
        assert!(
            found[4]
                .1
                .starts_with("a JSON parameter given as a string must be JSON text")
        );
        assert_eq!(
            found[5],
            (
                "name".into(),
                "\"name\" is required and has no default".into()
            )
        );
    }

    #[test]
    fn strict_where_click_is_strict() {
        for input in [
            json!({"name": 5}),
            json!({"name": "x", "max-depth": true}),
            json!({"name": "x", "alpha": true}),
            json!({"name": "x", "alpha": "inf"}),
            json!({"name": "x", "dry-run": 1}),
            json!({"name": "x", "note": ["a"]}),
            json!({"name": "x", "max-depth": 3, "max_depth": 4}),
        ] {
            assert_eq!(problems(input.clone()).len(), 1, "{input}");
        }
    }

    #[test]
    fn inputs_that_are_not_objects_are_refused() {
        for input in [json!([1]), json!("alpha"), json!({"Parameters": "[1]"})] {
            assert!(
                matches!(resolve(&input, &specs()), Err(InputError::NotAnObject(_))),
                "{input}"
            );
        }
        assert!(matches!(
            resolve(&json!({"Parameters": "{oops"}), &specs()),
            Err(InputError::Malformed(_))
        ));
        // With other keys beside it, "Parameters" is just an (unknown) parameter name.
        let found = problems(json!({"Parameters": "{}", "name": "x"}));
        assert_eq!(
            found,
            [(
                "Parameters".into(),
                "unknown parameter \"Parameters\"".into()
            )]
        );
    }

    #[test]
    fn messages_list_the_problems_and_the_valid_names() {
        let error = resolve(&json!({"beta": 1}), &specs()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "beta: unknown parameter \"beta\"; name: \"name\" is required and has no default \
             (the flow's parameters: alpha, max-depth, name, dry-run, config, note)"
        );
    }

    #[test]
    fn variables_follow_clicks_naming() {
        assert_eq!(init_variable("alpha"), "METAFLOW_INIT_ALPHA");
        assert_eq!(init_variable("max-depth"), "METAFLOW_INIT_MAX_DEPTH");
        assert_eq!(
            cli_string(ParameterType::Json, &json!("{\"a\": 1}")),
            "{\"a\": 1}"
        );
        assert_eq!(
            cli_string(ParameterType::Json, &json!([1, "x"])),
            "[1,\"x\"]"
        );
        assert_eq!(cli_string(ParameterType::Float, &json!(2.0)), "2.0");
        assert_eq!(cli_string(ParameterType::Bool, &json!(true)), "true");
    }
}
