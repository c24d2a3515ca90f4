//! `dropflow run FLOW --alpha 0.5 ...`: the run's parameters, read as Metaflow's
//! `step-functions trigger` reads them (its click options, one per `Parameter`) and
//! checked against the deployed flow's parameters before anything starts, with the text
//! Metaflow's click prints for each mistake. Values are converted by the library's
//! [`dropflow_task::parameters::convert`], the function the start step uses.

use serde_json::{Map, Value};

use dropflow_compiler::compile::ParameterType;
use dropflow_task::parameters::convert;

use dropflow_contract::api::FlowParameter;

/// A mistake in the run's parameters, in Metaflow's (click's) words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// `--beta` names no parameter.
    #[error("no such option: {option}{}", suggest(.possibilities))]
    NoSuchOption {
        /// The option given.
        option: String,
        /// Close parameter options.
        possibilities: Vec<String>,
    },
    /// `--alpha` at the end, without a value.
    #[error("{option} option requires an argument")]
    RequiresArgument {
        /// The option.
        option: String,
    },
    /// A value the parameter's type refuses.
    #[error("Invalid value for '{option}': {value} is not a valid {what}")]
    InvalidValue {
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// The type, as click names it.
        what: &'static str,
    },
    /// A required parameter without a default was not given.
    #[error("Missing option '{option}'.")]
    Missing {
        /// The option.
        option: String,
    },
    /// A word that is not an option.
    #[error("Got unexpected extra argument ({argument})")]
    ExtraArgument {
        /// The word.
        argument: String,
    },
}

fn suggest(possibilities: &[String]) -> String {
    match possibilities {
        [] => String::new(),
        [one] => format!("  Did you mean {one}?"),
        many => {
            let mut sorted = many.to_vec();
            sorted.sort();
            format!("  (Possible options: {})", sorted.join(", "))
        }
    }
}

/// Reads `args` (`--name value` or `--name=value`, as given after the flow name) against
/// `specs`; returns the values to start the run with, converted to their types, in the
/// order given. Nothing is sent when this fails.
pub fn parse(args: &[String], specs: &[FlowParameter]) -> Result<Map<String, Value>, ParamError> {
    let mut values = Map::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let Some(option) = word.strip_prefix("--").filter(|o| !o.is_empty()) else {
            return Err(ParamError::ExtraArgument {
                argument: word.clone(),
            });
        };
        let (name, inline) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (option, None),
        };
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            return Err(ParamError::NoSuchOption {
                option: format!("--{name}"),
                possibilities: close_matches(name, specs),
            });
        };
        let raw = match inline {
            Some(value) => value,
            None => words
                .next()
                .cloned()
                .ok_or_else(|| ParamError::RequiresArgument {
                    option: format!("--{name}"),
                })?,
        };
        let value = convert(spec.kind, &Value::String(raw.clone())).map_err(|_| {
            ParamError::InvalidValue {
                option: format!("--{name}"),
                value: raw,
                what: click_type_name(spec.kind),
            }
        })?;
        values.insert(spec.name.clone(), value);
    }
    if let Some(missing) = specs.iter().find(|s| {
        s.required && s.default.is_none() && !s.deploy_time && !values.contains_key(&s.name)
    }) {
        return Err(ParamError::Missing {
            option: format!("--{}", missing.name),
        });
    }
    Ok(values)
}

/// How Metaflow's click names a type in "is not a valid ...".
fn click_type_name(kind: ParameterType) -> &'static str {
    match kind {
        ParameterType::Str => "string",
        ParameterType::Int => "integer",
        ParameterType::Float => "floating point value",
        ParameterType::Bool => "boolean",
        ParameterType::Json => "JSON object",
    }
}

/// Parameter options close to `name` (click's `difflib.get_close_matches`, cutoff 0.6,
/// at most 3), similarity measured as 2·LCS / total length.
fn close_matches(name: &str, specs: &[FlowParameter]) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = specs
        .iter()
        .map(|s| (similarity(name, &s.name), s.name.as_str()))
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| format!("--{n}"))
        .collect()
}

fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut row = vec![0usize; b.len() + 1];
    for x in &a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                row[j + 1].max(row[j])
            };
            diagonal = above;
        }
    }
    2.0 * row[b.len()] as f64 / (a.len() + b.len()) as f64
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
    ) -> FlowParameter {
        FlowParameter {
            name: name.into(),
            kind,
            default,
            required,
            help: None,
            deploy_time: false,
            include_file: false,
        }
    }

    fn specs() -> Vec<FlowParameter> {
        vec![
            spec("alpha", ParameterType::Float, Some(json!(0.01)), false),
            spec("max-depth", ParameterType::Int, Some(json!(3)), false),
            spec("dry-run", ParameterType::Bool, Some(json!(false)), false),
            spec("config", ParameterType::Json, Some(json!({})), false),
            spec("name", ParameterType::Str, None, false),
        ]
    }

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn error(words: &[&str], specs: &[FlowParameter]) -> String {
        parse(&args(words), specs).unwrap_err().to_string()
    }

    #[test]
    fn values_are_converted_to_their_types() {
        let values = parse(
            &args(&[
                "--alpha",
                "0.5",
                "--max-depth=7",
                "--dry-run",
                "yes",
                "--config",
                "{\"a\": [1]}",
                "--name",
                "x",
            ]),
            &specs(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"alpha": 0.5, "max-depth": 7, "dry-run": true, "config": {"a": [1]}, "name": "x"})
        );
        assert!(parse(&[], &specs()).unwrap().is_empty());
    }

    #[test]
    fn mistakes_get_metaflows_click_text() {
        let s = specs();
        assert_eq!(error(&["--beta", "1"], &s), "no such option: --beta");
        assert_eq!(
            error(&["--alph", "1"], &s),
            "no such option: --alph  Did you mean --alpha?"
        );
        assert_eq!(
            error(&["--alpha", "abc"], &s),
            "Invalid value for '--alpha': abc is not a valid floating point value"
        );
        assert_eq!(
            error(&["--max-depth", "1.5"], &s),
            "Invalid value for '--max-depth': 1.5 is not a valid integer"
        );
        assert_eq!(
            error(&["--dry-run", "maybe"], &s),
            "Invalid value for '--dry-run': maybe is not a valid boolean"
        );
        assert_eq!(
            error(&["--config", "{bad"], &s),
            "Invalid value for '--config': {bad is not a valid JSON object"
        );
        assert_eq!(
            error(&["--alpha"], &s),
            "--alpha option requires an argument"
        );
        assert_eq!(error(&["pos"], &s), "Got unexpected extra argument (pos)");
        let required = vec![spec("req", ParameterType::Str, None, true)];
        assert_eq!(error(&[], &required), "Missing option '--req'.");
        assert!(parse(&args(&["--req", "x"]), &required).is_ok());
    }
}
