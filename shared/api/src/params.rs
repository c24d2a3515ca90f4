//! A run's parameters, checked against the deployed flow before anything starts.
//!
//! The request body is plain JSON (`{"alpha": 0.5}`), Metaflow's execution input
//! (`{"Parameters": "{\"alpha\": 0.5}"}`, as the console and schedules send it), or empty.
//! Reading the values and checking them against the manifest's [`ParameterSpec`]s (types
//! as Metaflow's click types convert, required parameters without a default, unknown
//! names) is the step Lambda's own code, [`dropflow_task::parameters`], so a run the API
//! accepts is a run the start step accepts. This module adds what only the API needs: the
//! body's bytes (not JSON → 400), the execution input in Metaflow's form written as
//! Python writes it, with only the values given (defaults are applied by the run, as in
//! Metaflow), and Metaflow's 20 KiB limit on it.

use dropflow_contract::ParameterSpec;
use dropflow_task::parameters::{self as task, Checked};
use serde_json::{Map, Value};

use dropflow_contract::pyjson;

pub use dropflow_task::parameters::Problem;

/// Metaflow's limit on the execution input ([`task::MAX_INPUT_BYTES`]).
pub const MAX_INPUT_BYTES: usize = task::MAX_INPUT_BYTES;

/// Bodies larger than this are refused before they are parsed: no valid input is this
/// large, even with every character escaped.
pub const MAX_BODY_BYTES: usize = 8 * MAX_INPUT_BYTES;

/// Why a run's input was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum InputError {
    /// The body (or the `Parameters` string inside it) is not JSON.
    Malformed(String),
    /// The body is JSON, but not an object of parameter values.
    NotAnObject(String),
    /// Values that do not fit the deployed parameters; the valid names.
    Invalid {
        /// One entry per problem.
        problems: Vec<Problem>,
        /// The flow's parameters, in declaration order.
        valid: Vec<String>,
    },
    /// The execution input would exceed [`MAX_INPUT_BYTES`].
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl From<task::InputError> for InputError {
    fn from(error: task::InputError) -> Self {
        match error {
            task::InputError::Malformed(message) => InputError::Malformed(message),
            task::InputError::NotAnObject(message) => InputError::NotAnObject(message),
            task::InputError::Invalid { problems, valid } => {
                InputError::Invalid { problems, valid }
            }
        }
    }
}

/// A checked input.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidInput {
    /// The values given, converted to their types, in declaration order.
    pub values: Map<String, Value>,
    /// What the run will see: the values given, else the deployed defaults.
    pub effective: Map<String, Value>,
    /// The execution input, Metaflow's form: `{"Parameters": "<json.dumps(values)>"}`.
    pub input: String,
}

/// Parses and checks a request body against the deployed parameters.
pub fn validate(body: &[u8], specs: &[ParameterSpec]) -> Result<ValidInput, InputError> {
    check(parse_body(body)?, specs)
}

/// The parameter values in a body: none when it is empty, the decoded `Parameters`
/// string for Metaflow's form, else the object itself.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, InputError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(InputError::TooLarge {
            size: body.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| InputError::Malformed(format!("the body is not JSON: {e}")))?;
    // An empty body means "all defaults"; a JSON `null` is a client bug (an unset
    // variable serialised), not a request for defaults.
    if !value.is_object() {
        return Err(InputError::NotAnObject(format!(
            "the body is {}: send a JSON object of parameter values, like {{\"alpha\": 0.5}} \
             (or Metaflow's {{\"Parameters\": \"{{\\\"alpha\\\": 0.5}}\"}}), or an empty \
             body for every default",
            json_kind(&value)
        )));
    }
    Ok(task::values_from_input(&value)?)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks given values against the deployed parameters (`dropflow_task::parameters`),
/// then writes the execution input and checks its size.
pub fn check(given: Map<String, Value>, specs: &[ParameterSpec]) -> Result<ValidInput, InputError> {
    let unpassable = task::unpassable_values(&given);
    if !unpassable.is_empty() {
        return Err(InputError::Invalid {
            problems: unpassable,
            valid: specs.iter().map(|s| s.name.clone()).collect(),
        });
    }
    let Checked { values, effective } = task::check(given, specs)?;
    let input = pyjson::metaflow_input(&values);
    if input.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            size: input.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    Ok(ValidInput {
        values,
        effective,
        input,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use dropflow_contract::ParameterType;

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
        ]
    }

    fn ok(body: &str) -> ValidInput {
        validate(body.as_bytes(), &specs()).unwrap_or_else(|e| panic!("{body}: {e:?}"))
    }

    fn problems(body: &str) -> Vec<Problem> {
        match validate(body.as_bytes(), &specs()) {
            Err(InputError::Invalid { problems, valid }) => {
                assert_eq!(valid, ["alpha", "max-depth", "name", "dry-run", "config"]);
                problems
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn plain_and_metaflow_forms_give_the_same_input() {
        let plain = ok(r#"{"alpha": 0.5, "name": "x"}"#);
        let metaflow = ok(r#"{"Parameters": "{\"alpha\": 0.5, \"name\": \"x\"}"}"#);
        assert_eq!(plain, metaflow);
        assert_eq!(
            plain.input,
            r#"{"Parameters": "{\"alpha\": 0.5, \"name\": \"x\"}"}"#
        );
        assert_eq!(
            Value::Object(plain.effective),
            json!({"alpha": 0.5, "max-depth": 3, "name": "x", "dry-run": false, "config": {"a": 1}})
        );
    }

    #[test]
    fn values_are_converted_as_click_would_and_sent_in_declaration_order() {
        let input = ok(
            r#"{"config": "{\"b\": [1]}", "dry-run": "yes", "max_depth": "7", "alpha": 2, "name": "n"}"#,
        );
        assert_eq!(
            Value::Object(input.values),
            json!({"alpha": 2.0, "max-depth": 7, "name": "n", "dry-run": true, "config": {"b": [1]}})
        );
        assert_eq!(
            input.input,
            r#"{"Parameters": "{\"alpha\": 2.0, \"max-depth\": 7, \"name\": \"n\", \"dry-run\": true, \"config\": {\"b\": [1]}}"}"#
        );
    }

    #[test]
    fn the_checkers_problems_come_through() {
        let found = problems(r#"{"alpha": "fast", "beta": 1}"#);
        let found: Vec<&str> = found.iter().map(|p| p.parameter.as_str()).collect();
        assert_eq!(found, ["alpha", "beta", "name"]);
    }

    #[test]
    fn empty_bodies_and_the_schedule_input_use_the_defaults() {
        let no_required: Vec<ParameterSpec> = specs().into_iter().filter(|s| !s.required).collect();
        for body in [
            "",
            "  \n",
            "{}",
            r#"{"Parameters": "{}"}"#,
            r#"{"Parameters": ""}"#,
        ] {
            let input = validate(body.as_bytes(), &no_required).unwrap();
            assert!(input.values.is_empty());
            assert_eq!(input.input, dropflow_contract::pyjson::SCHEDULE_INPUT);
            assert_eq!(input.effective["max-depth"], json!(3));
        }
        assert!(matches!(
            validate(
                dropflow_contract::pyjson::SCHEDULE_INPUT.as_bytes(),
                &specs()
            ),
            Err(InputError::Invalid { .. })
        ));
    }

    #[test]
    fn malformed_and_non_objects_are_refused() {
        for body in ["{", r#"{"alpha": }"#, r#"{"Parameters": "{nope"}"#, "\u{1}"] {
            assert!(
                matches!(parse_body(body.as_bytes()), Err(InputError::Malformed(_))),
                "{body}"
            );
        }
        // An empty body means no parameters; `null` is refused with the shape expected.
        assert!(parse_body(b"").unwrap().is_empty());
        match parse_body(b"null") {
            Err(InputError::NotAnObject(message)) => {
                assert!(message.starts_with("the body is null"), "{message}");
                assert!(message.contains("empty body"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        for body in ["[1]", "3", "\"x\"", r#"{"Parameters": "[1, 2]"}"#] {
            assert!(
                matches!(parse_body(body.as_bytes()), Err(InputError::NotAnObject(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn nul_bytes_are_refused_naming_the_parameter() {
        for body in [
            r#"{"name": "a\u0000b"}"#,
            r#"{"Parameters": "{\"name\": \"a\\u0000b\"}"}"#,
            r#"{"name": "n", "config": {"k": ["x\u0000"]}}"#,
        ] {
            let found = match validate(body.as_bytes(), &specs()) {
                Err(InputError::Invalid { problems, .. }) => problems,
                other => panic!("{body}: {other:?}"),
            };
            assert_eq!(found.len(), 1, "{body}: {found:?}");
            assert!(found[0].problem.contains("NUL byte"), "{found:?}");
            assert!(["name", "config"].contains(&found[0].parameter.as_str()));
        }
    }

    #[test]
    fn inputs_over_20_kib_are_refused() {
        let fits = format!(r#"{{"name": "{}"}}"#, "x".repeat(MAX_INPUT_BYTES - 40));
        assert!(ok(&fits).input.len() <= MAX_INPUT_BYTES);
        let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(MAX_INPUT_BYTES));
        assert!(matches!(
            validate(big.as_bytes(), &specs()),
            Err(InputError::TooLarge {
                limit: MAX_INPUT_BYTES,
                ..
            })
        ));
        // Quotes are escaped twice in Metaflow's form: the input counts, not the body.
        let quotes = format!(r#"{{"name": "{}"}}"#, "\\\"".repeat(MAX_INPUT_BYTES / 3));
        assert!(quotes.len() < MAX_INPUT_BYTES);
        assert!(matches!(
            validate(quotes.as_bytes(), &specs()),
            Err(InputError::TooLarge { .. })
        ));
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(matches!(
            parse_body(&huge),
            Err(InputError::TooLarge { .. })
        ));
    }
}
