//! Checks a deploy-time function's return value against the parameter's type, as
//! Metaflow's `DeployTimeField._check_type(val, deploy_time=True)` does, and turns it into
//! the JSON default dropflow deploys.
//!
//! Metaflow: `int`/`float`/`bool` need exactly that Python type; anything else (`str`,
//! `JSONType`) keeps a string as is and `json.dumps` any other value. A `JSONType` string
//! is parsed later by `JSONType.convert`; dropflow parses it now, so a bad string fails the
//! deploy instead of the first run.

use monty_types::MontyObject;

use crate::python::{ParameterDef, Value};

/// The parameter type a default must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expected {
    /// `str`, no `type=`, or a type dropflow's compiler will reject anyway.
    Str,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `JSONType`.
    Json,
}

impl Expected {
    /// From the parameter's `type=` (Metaflow: a callable default makes the type `str`).
    pub fn of(def: &ParameterDef) -> Expected {
        match def.kwarg("type") {
            Some(Value::Name { name }) => match name.rsplit('.').next().unwrap_or(name) {
                "int" => Expected::Int,
                "float" => Expected::Float,
                "bool" => Expected::Bool,
                "JSONType" => Expected::Json,
                _ => Expected::Str,
            },
            _ => Expected::Str,
        }
    }
}

/// Why a value does not fit.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Problem {
    /// Metaflow's `ParameterFieldTypeMismatch`.
    WrongType {
        /// What the type needs.
        expected: &'static str,
        /// What was returned.
        found: String,
    },
    /// A `JSONType` string that does not parse.
    InvalidJson {
        /// The string (shortened).
        value: String,
        /// The parser's message.
        message: String,
    },
}

/// Converts `value` for a parameter of type `expected`; `dumps` is Python's `json.dumps`.
pub(super) fn convert(
    value: MontyObject,
    expected: Expected,
    dumps: impl FnOnce(MontyObject) -> Result<String, String>,
) -> Result<serde_json::Value, Problem> {
    let wrong = |expected: &'static str, value: &MontyObject| Problem::WrongType {
        expected,
        found: describe(value),
    };
    if matches!(value, MontyObject::None) {
        return Err(Problem::WrongType {
            expected: match expected {
                Expected::Int => "an int",
                Expected::Float => "a float",
                Expected::Bool => "a bool",
                Expected::Str | Expected::Json => "a string or a JSON-encodable value",
            },
            found: "None (does the function miss a `return`?)".to_string(),
        });
    }
    match expected {
        Expected::Int => match value {
            MontyObject::Int(i) => Ok(serde_json::Value::from(i)),
            MontyObject::BigInt(_) => Err(wrong("an int that fits in 64 bits", &value)),
            other => Err(wrong("an int", &other)),
        },
        Expected::Float => match value {
            MontyObject::Float(f) => serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| wrong("a finite float", &value)),
            other => Err(wrong("a float", &other)),
        },
        Expected::Bool => match value {
            MontyObject::Bool(b) => Ok(serde_json::Value::Bool(b)),
            other => Err(wrong("a bool", &other)),
        },
        Expected::Str => match value {
            MontyObject::String(s) => Ok(serde_json::Value::String(s)),
            other => {
                let found = describe(&other);
                dumps(other)
                    .map(serde_json::Value::String)
                    .map_err(|_| Problem::WrongType {
                        expected: "a JSON-encodable object or a string",
                        found,
                    })
            }
        },
        Expected::Json => {
            let text = match value {
                MontyObject::String(s) => s,
                other => {
                    let found = describe(&other);
                    dumps(other).map_err(|_| Problem::WrongType {
                        expected: "a JSON-encodable object or a string",
                        found,
                    })?
                }
            };
            serde_json::from_str(&text).map_err(|e| Problem::InvalidJson {
                value: shorten(&text),
                message: e.to_string(),
            })
        }
    }
}

/// `int (3)`, `str ('abc')`, `dict`: the Python type, with a short repr of scalars.
fn describe(value: &MontyObject) -> String {
    let type_name = value.type_name();
    match value {
        MontyObject::Bool(_)
        | MontyObject::Int(_)
        | MontyObject::BigInt(_)
        | MontyObject::Float(_)
        | MontyObject::String(_) => format!("{type_name} ({})", shorten(&value.py_repr())),
        _ => type_name.to_string(),
    }
}

/// At most 200 characters, for messages.
fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_dumps(_: MontyObject) -> Result<String, String> {
        Err("not called".into())
    }

    #[test]
    fn exact_python_types_as_metaflow() {
        assert_eq!(
            convert(MontyObject::Int(3), Expected::Int, no_dumps),
            Ok(serde_json::json!(3))
        );
        assert!(matches!(
            convert(MontyObject::Bool(true), Expected::Int, no_dumps),
            Err(Problem::WrongType { .. })
        ));
        assert!(matches!(
            convert(MontyObject::Int(3), Expected::Float, no_dumps),
            Err(Problem::WrongType { .. })
        ));
        assert_eq!(
            convert(MontyObject::String("x".into()), Expected::Str, no_dumps),
            Ok(serde_json::json!("x"))
        );
    }

    #[test]
    fn json_strings_are_parsed_and_values_dumped() {
        assert_eq!(
            convert(
                MontyObject::String("{\"a\": [1]}".into()),
                Expected::Json,
                no_dumps
            ),
            Ok(serde_json::json!({"a": [1]}))
        );
        assert!(matches!(
            convert(
                MontyObject::String("{oops".into()),
                Expected::Json,
                no_dumps
            ),
            Err(Problem::InvalidJson { .. })
        ));
        assert_eq!(
            convert(
                MontyObject::List(vec![]),
                Expected::Str,
                |_| Ok("[]".into())
            ),
            Ok(serde_json::json!("[]"))
        );
    }

    #[test]
    fn none_is_refused() {
        let Err(Problem::WrongType { found, .. }) =
            convert(MontyObject::None, Expected::Str, no_dumps)
        else {
            panic!("None accepted")
        };
        assert!(found.contains("return"));
    }
}
