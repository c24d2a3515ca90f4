//! `@schedule(...)` read the way Metaflow's `ScheduleDecorator.flow_init` reads it:
//! `cron` first, then `weekly`, `hourly`, and `daily` (which defaults to `True`).

use serde_json::Value as Json;

use super::cron::normalize_cron;
use super::error::ScheduleError;
use super::timezone::{DEFAULT_TIMEZONE, validate_timezone};
use super::{DAILY, HOURLY, Schedule, WEEKLY};
use crate::python::Decorator;

/// Metaflow's `ScheduleDecorator.defaults`, in its order.
const ARGUMENTS: [&str; 5] = ["cron", "weekly", "daily", "hourly", "timezone"];

/// The schedule a flow's `@schedule` asks for, or `None` for `@schedule(daily=False)`
/// with nothing else set (Metaflow deploys no schedule then).
///
/// Every argument must be a literal: dropflow does not run the flow, so
/// `@schedule(cron=CRON)` is an error naming `cron`.
pub fn from_decorator(decorator: &Decorator) -> Result<Option<Schedule>, ScheduleError> {
    if let Some(first) = decorator.args.first() {
        return Err(ScheduleError::PositionalArgument {
            found: first.describe(),
        });
    }
    if let Some((argument, _)) = decorator
        .kwargs
        .iter()
        .find(|(name, _)| !ARGUMENTS.contains(&name.as_str()))
    {
        return Err(ScheduleError::UnknownArgument {
            argument: argument.clone(),
        });
    }
    let cron = literal(decorator, "cron", "'0 10 * * ? *'")?;
    let weekly = literal(decorator, "weekly", "True")?;
    let daily = literal(decorator, "daily", "True")?;
    let hourly = literal(decorator, "hourly", "True")?;
    let timezone = literal(decorator, "timezone", "'Europe/Berlin'")?;

    let timezone = match timezone {
        None | Some(Json::Null) => DEFAULT_TIMEZONE.to_string(),
        Some(Json::String(name)) => {
            validate_timezone(name)?;
            name.clone()
        }
        Some(other) => return Err(wrong_type("timezone", other, "a string", "'Europe/Berlin'")),
    };
    let cron = match cron {
        Some(value) if truthy(value) => match value {
            Json::String(expr) => Some(normalize_cron(expr)?),
            other => return Err(wrong_type("cron", other, "a string", "'0 10 * * ? *'")),
        },
        _ => None,
    };
    let cron = cron.or_else(|| {
        if weekly.is_some_and(truthy) {
            Some(WEEKLY.to_string())
        } else if hourly.is_some_and(truthy) {
            Some(HOURLY.to_string())
        } else if daily.is_none_or(truthy) {
            Some(DAILY.to_string())
        } else {
            None
        }
    });
    Ok(cron.map(|cron| Schedule { cron, timezone }))
}

/// The literal value of keyword argument `name`, if given.
fn literal<'a>(
    decorator: &'a Decorator,
    name: &str,
    example: &'static str,
) -> Result<Option<&'a Json>, ScheduleError> {
    let Some(value) = decorator.kwarg(name) else {
        return Ok(None);
    };
    value
        .as_literal()
        .map(Some)
        .ok_or_else(|| ScheduleError::NotLiteral {
            argument: name.to_string(),
            text: value.describe(),
            example,
        })
}

fn wrong_type(
    argument: &str,
    found: &Json,
    expected: &'static str,
    example: &'static str,
) -> ScheduleError {
    ScheduleError::WrongType {
        argument: argument.to_string(),
        found: python_repr(found),
        expected,
        example,
    }
}

/// Python's truth value of a literal, as `if self.attributes[...]` tests it.
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

/// A literal as Python source, for messages.
fn python_repr(value: &Json) -> String {
    match value {
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::Value;
    use serde_json::json;

    fn decorator(kwargs: &[(&str, Value)]) -> Decorator {
        Decorator {
            name: "schedule".into(),
            line: 3,
            args: vec![],
            kwargs: kwargs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn lit(value: serde_json::Value) -> Value {
        Value::Literal { value }
    }

    fn cron_of(kwargs: &[(&str, Value)]) -> Option<String> {
        from_decorator(&decorator(kwargs)).unwrap().map(|s| s.cron)
    }

    #[test]
    fn metaflow_precedence() {
        assert_eq!(cron_of(&[]).as_deref(), Some(DAILY));
        assert_eq!(
            cron_of(&[("hourly", lit(json!(true)))]).as_deref(),
            Some(HOURLY)
        );
        assert_eq!(
            cron_of(&[("weekly", lit(json!(true)))]).as_deref(),
            Some(WEEKLY)
        );
        assert_eq!(
            cron_of(&[("weekly", lit(json!(true))), ("hourly", lit(json!(true)))]).as_deref(),
            Some(WEEKLY)
        );
        assert_eq!(
            cron_of(&[
                ("cron", lit(json!("0 6 * * ? *"))),
                ("weekly", lit(json!(true)))
            ])
            .as_deref(),
            Some("0 6 * * ? *")
        );
        assert_eq!(cron_of(&[("daily", lit(json!(false)))]), None);
        assert_eq!(
            cron_of(&[("daily", lit(json!(false))), ("hourly", lit(json!(true)))]).as_deref(),
            Some(HOURLY)
        );
        // Python truthiness: cron='' and cron=None fall through; weekly=1 counts.
        assert_eq!(cron_of(&[("cron", lit(json!("")))]).as_deref(), Some(DAILY));
        assert_eq!(
            cron_of(&[("cron", lit(json!(null)))]).as_deref(),
            Some(DAILY)
        );
        assert_eq!(
            cron_of(&[("weekly", lit(json!(1)))]).as_deref(),
            Some(WEEKLY)
        );
        assert_eq!(cron_of(&[("daily", lit(json!(0)))]), None);
    }

    #[test]
    fn cron_is_normalized_and_timezone_defaults_to_utc() {
        let schedule = from_decorator(&decorator(&[("cron", lit(json!("0 18 ? * mon-fri *")))]))
            .unwrap()
            .unwrap();
        assert_eq!(
            schedule,
            Schedule {
                cron: "0 18 ? * MON-FRI *".into(),
                timezone: "UTC".into()
            }
        );
        assert_eq!(schedule.expression(), "cron(0 18 ? * MON-FRI *)");
        let schedule = from_decorator(&decorator(&[
            ("hourly", lit(json!(true))),
            ("timezone", lit(json!("Europe/Berlin"))),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(schedule.timezone, "Europe/Berlin");
    }

    #[test]
    fn bad_cron_is_reported() {
        let error =
            from_decorator(&decorator(&[("cron", lit(json!("0 10 * * * *")))])).unwrap_err();
        assert_eq!(error.code(), "schedule.cron.question_mark");
        assert!(error.to_string().starts_with("cron '0 10 * * * *': "));
    }

    #[test]
    fn non_literal_arguments_are_named() {
        let error = from_decorator(&decorator(&[(
            "cron",
            Value::Name {
                name: "CRON".into(),
            },
        )]))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "@schedule(cron=CRON): dropflow reads @schedule without running the flow, so cron \
             must be a literal, e.g. cron='0 10 * * ? *'"
        );
        assert_eq!(error.code(), "schedule.argument.not_literal");
        let error = from_decorator(&decorator(&[(
            "hourly",
            Value::Expression {
                source: "os.environ.get('H') == '1'".into(),
            },
        )]))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("@schedule(hourly=os.environ.get('H') == '1'): ")
        );
        // Even an argument that would not be used must be readable.
        let error = from_decorator(&decorator(&[
            ("cron", lit(json!("0 10 * * ? *"))),
            ("timezone", Value::Name { name: "TZ".into() }),
        ]))
        .unwrap_err();
        assert_eq!(error.code(), "schedule.argument.not_literal");
    }

    #[test]
    fn wrong_types() {
        let error = from_decorator(&decorator(&[("cron", lit(json!(5)))])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "@schedule(cron=5): cron must be a string, e.g. cron='0 10 * * ? *'"
        );
        let error = from_decorator(&decorator(&[("timezone", lit(json!(true)))])).unwrap_err();
        assert_eq!(error.code(), "schedule.argument.type");
        assert!(error.to_string().starts_with("@schedule(timezone=True): "));
    }

    #[test]
    fn timezone_is_checked_even_without_a_schedule() {
        let error = from_decorator(&decorator(&[
            ("daily", lit(json!(false))),
            ("timezone", lit(json!("Mars/Olympus"))),
        ]))
        .unwrap_err();
        assert_eq!(error.code(), "schedule.timezone");
        let none = from_decorator(&decorator(&[("timezone", lit(json!(null)))])).unwrap();
        assert_eq!(none.unwrap().timezone, "UTC");
    }

    #[test]
    fn unknown_and_positional_arguments() {
        let error = from_decorator(&decorator(&[("monthly", lit(json!(true)))])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Decorator 'schedule' does not support the attribute 'monthly'. These attributes \
             are supported: cron, weekly, daily, hourly, timezone."
        );
        assert_eq!(error.code(), "schedule.argument.unknown");
        let mut positional = decorator(&[]);
        positional.args.push(lit(json!("0 10 * * ? *")));
        let error = from_decorator(&positional).unwrap_err();
        assert_eq!(error.code(), "schedule.argument.positional");
        assert!(
            error
                .to_string()
                .starts_with("@schedule(\"0 10 * * ? *\"): ")
        );
    }
}
