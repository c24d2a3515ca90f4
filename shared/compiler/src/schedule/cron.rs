//! AWS cron expressions (`minutes hours day-of-month month day-of-week year`), checked the
//! way EventBridge Scheduler reads them, so a bad `@schedule(cron=...)` fails at compile
//! time with a message that says what to write, not at deploy time with AWS's.
//!
//! dropflow's own field checks come first (they know AWS's rules and can explain them);
//! `croner` then parses the expression as a second opinion, with the two rewrites AWS
//! syntax needs: a `0` seconds field in front, and `a/b` increments spelt `a-max/b`.

use croner::parser::{CronParser, Seconds, Year};

use super::error::{CronField, CronProblem, ScheduleError};
use super::unix;

/// Checks an AWS cron expression (the fields only, without `cron(...)`).
pub fn validate_cron(expr: &str) -> Result<(), ScheduleError> {
    normalize_cron(expr).map(drop)
}

/// Checks an AWS cron expression and returns it as dropflow deploys it: upper-cased
/// (`mon` → `MON`), with single spaces between the fields.
pub fn normalize_cron(expr: &str) -> Result<String, ScheduleError> {
    check_expression(expr).map_err(|problem| ScheduleError::Cron {
        expr: expr.to_string(),
        problem,
    })
}

fn check_expression(expr: &str) -> Result<String, CronProblem> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(CronProblem::Empty);
    }
    if let Some(inner) = strip_wrapper(trimmed) {
        return Err(CronProblem::Wrapped {
            inner: inner.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    let upper = trimmed.to_ascii_uppercase();
    let fields: Vec<&str> = upper.split_whitespace().collect();
    match fields.len() {
        6 => check_six(&fields),
        5 => Err(unix::five_field_problem(&fields)),
        7 => Err(CronProblem::Seconds {
            suggestion: (fields[0] == "0")
                .then(|| check_six(&fields[1..]).ok())
                .flatten(),
        }),
        found => Err(CronProblem::FieldCount { found }),
    }
}

/// `cron(...)` → the text inside.
fn strip_wrapper(expr: &str) -> Option<&str> {
    let lower = expr.get(..5)?.to_ascii_lowercase();
    (lower == "cron(" && expr.ends_with(')')).then(|| &expr[5..expr.len() - 1])
}

/// Checks six upper-cased fields and returns them joined by single spaces.
pub(super) fn check_six(fields: &[&str]) -> Result<String, CronProblem> {
    debug_assert_eq!(fields.len(), 6);
    if fields[5] == "?" {
        // `0 0 10 * * ?`: Quartz's seconds-first layout without a year.
        let candidate: Vec<&str> = fields[1..].iter().copied().chain(["*"]).collect();
        return Err(CronProblem::Seconds {
            suggestion: check_six(&candidate).ok(),
        });
    }
    for (field, value) in CronField::ALL.into_iter().zip(fields) {
        check_field(field, value).map_err(|reason| CronProblem::Field {
            field,
            value: value.to_string(),
            reason,
        })?;
    }
    check_day_fields(fields)?;
    check_with_croner(fields)?;
    Ok(fields.join(" "))
}

/// AWS: exactly one of day-of-month and day-of-week is `?`.
fn check_day_fields(fields: &[&str]) -> Result<(), CronProblem> {
    let with = |index: usize, value: &str| {
        let mut copy = fields.to_vec();
        copy[index] = value;
        copy.join(" ")
    };
    let (dom, dow) = (fields[2], fields[4]);
    match (dom == "?", dow == "?") {
        (true, true) => Err(CronProblem::BothQuestionMarks {
            suggestion: with(2, "*"),
        }),
        (false, false) if dom != "*" && dow != "*" => Err(CronProblem::NeedsQuestionMark {
            suggestion: with(4, "?"),
            alternative: Some(with(2, "?")),
        }),
        (false, false) if dow == "*" => Err(CronProblem::NeedsQuestionMark {
            suggestion: with(4, "?"),
            alternative: None,
        }),
        (false, false) => Err(CronProblem::NeedsQuestionMark {
            suggestion: with(2, "?"),
            alternative: None,
        }),
        _ => Ok(()),
    }
}

/// The values a field takes, for messages.
fn describe(field: CronField) -> &'static str {
    match field {
        CronField::Minutes => "0-59",
        CronField::Hours => "0-23",
        CronField::DayOfMonth => "1-31",
        CronField::Month => "1-12 or JAN-DEC",
        CronField::DayOfWeek => "1-7 or SUN-SAT (1 is Sunday)",
        CronField::Year => "1970-2199",
    }
}

fn bounds(field: CronField) -> (u32, u32) {
    match field {
        CronField::Minutes => (0, 59),
        CronField::Hours => (0, 23),
        CronField::DayOfMonth => (1, 31),
        CronField::Month => (1, 12),
        CronField::DayOfWeek => (1, 7),
        CronField::Year => (1970, 2199),
    }
}

/// The largest increment that still makes sense (Quartz's limits; years: the span).
fn max_step(field: CronField) -> u32 {
    match field {
        CronField::Year => 2199 - 1970,
        other => bounds(other).1,
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn names(field: CronField) -> &'static [&'static str] {
    match field {
        CronField::Month => &MONTHS,
        CronField::DayOfWeek => &WEEKDAYS,
        _ => &[],
    }
}

/// Checks one field; the error is the reason, with what to write instead.
fn check_field(field: CronField, value: &str) -> Result<(), String> {
    let day_field = matches!(field, CronField::DayOfMonth | CronField::DayOfWeek);
    if value.contains('?') {
        return if !day_field {
            Err(
                "'?' is only allowed in day-of-month or day-of-week; use '*' for every value"
                    .into(),
            )
        } else if value != "?" {
            Err("'?' must be the whole field, not part of a list or range".into())
        } else {
            Ok(())
        };
    }
    if value == "*" {
        return Ok(());
    }
    match field {
        CronField::DayOfMonth if value.contains(['L', 'W']) => return day_of_month_special(value),
        CronField::DayOfWeek if value.contains(['L', '#']) => return day_of_week_special(value),
        CronField::DayOfWeek if value.contains('/') => {
            return Err(
                "AWS does not allow '/' increments in day-of-week; list the days \
                        instead, e.g. 'MON,WED,FRI'"
                    .into(),
            );
        }
        _ => {}
    }
    value
        .split(',')
        .try_for_each(|item| check_item(field, item))
}

/// `L` (last day), `LW` (last weekday), `15W` (weekday nearest the 15th).
fn day_of_month_special(value: &str) -> Result<(), String> {
    let alone = || {
        "'L' and 'W' must be used alone in day-of-month: 'L' (last day), 'LW' (last \
         weekday) or e.g. '15W' (the weekday nearest the 15th)"
            .to_string()
    };
    if value.contains([',', '-', '/']) {
        return Err(alone());
    }
    if value == "L" || value == "LW" {
        return Ok(());
    }
    match value.strip_suffix('W') {
        Some(day) if day.bytes().all(|b| b.is_ascii_digit()) && !day.is_empty() => {
            number(CronField::DayOfMonth, day).map(drop)
        }
        _ => Err(alone()),
    }
}

/// `L` (last day of the week), `6L` (last Friday), `6#3` (third Friday).
fn day_of_week_special(value: &str) -> Result<(), String> {
    if value.contains('#') && value.contains(',') {
        return Err(
            "AWS allows only one expression in day-of-week when '#' is used \
                    ('3#1,6#3' is not valid); keep one, e.g. '6#3' for the third Friday"
                .into(),
        );
    }
    if value.contains([',', '-', '/']) {
        return Err(
            "'L' and '#' must be used alone in day-of-week: 'L', e.g. '6L' (the \
                    last Friday of the month) or '6#3' (the third Friday)"
                .into(),
        );
    }
    if value == "L" {
        return Ok(());
    }
    if let Some((day, nth)) = value.split_once('#') {
        weekday(day)?;
        return match nth.parse::<u32>() {
            Ok(1..=5) => Ok(()),
            _ => Err(format!(
                "'#{nth}' must be 1-5 (which occurrence of the weekday in the month), e.g. '{day}#1'"
            )),
        };
    }
    match value.strip_suffix('L') {
        Some(day) => weekday(day).map(drop),
        None => Err(format!(
            "'{value}' is not a day-of-week value; use {}",
            describe(CronField::DayOfWeek)
        )),
    }
}

fn weekday(text: &str) -> Result<u32, String> {
    value_of(CronField::DayOfWeek, text)
}

/// One list item: `*/5`, `10`, `10/5`, `1-5`, `1-5/2`, `MON-FRI`.
fn check_item(field: CronField, item: &str) -> Result<(), String> {
    if item.is_empty() {
        return Err("a list item is empty; remove the extra ','".into());
    }
    let (base, step) = match item.split_once('/') {
        Some((base, step)) => (base, Some(step)),
        None => (item, None),
    };
    if let Some(step) = step {
        let (min, _) = bounds(field);
        if base.is_empty() {
            return Err(format!(
                "'{item}' has no start; write '*/{step}' or '{min}/{step}'"
            ));
        }
        let max = max_step(field);
        match parse_digits(step) {
            Some(n) if (1..=max).contains(&n) => {}
            Some(n) => return Err(format!("increment {n} in '{item}' must be 1-{max}")),
            None => {
                return Err(format!(
                    "increment '{step}' in '{item}' is not a number, e.g. '{base}/5'"
                ));
            }
        }
    }
    if base == "*" {
        return match step {
            Some(_) => Ok(()),
            None => Err("'*' must be the whole field, not part of a list".into()),
        };
    }
    match base.split_once('-') {
        Some((start_text, end_text)) => {
            let start = value_of(field, start_text)?;
            let end = value_of(field, end_text)?;
            if start > end {
                return Err(backwards_range(field, start_text, end_text));
            }
            Ok(())
        }
        None => value_of(field, base).map(drop),
    }
}

fn backwards_range(field: CronField, start: &str, end: &str) -> String {
    let (min, max) = bounds(field);
    let named = names(field);
    let (first, last) = if named.contains(&start) || named.contains(&end) {
        (named[0].to_string(), named[named.len() - 1].to_string())
    } else {
        (min.to_string(), max.to_string())
    };
    format!(
        "the range '{start}-{end}' runs backwards and AWS ranges do not wrap around; use two \
         ranges, e.g. '{start}-{last},{first}-{end}'"
    )
}

/// A number in the field's range, or a month or weekday name.
fn value_of(field: CronField, text: &str) -> Result<u32, String> {
    if let Some(index) = names(field).iter().position(|name| *name == text) {
        return Ok(index as u32 + 1);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        return number(field, text);
    }
    Err(format!(
        "'{text}' is not a {field} value; use {}",
        describe(field)
    ))
}

fn number(field: CronField, text: &str) -> Result<u32, String> {
    let (min, max) = bounds(field);
    match parse_digits(text) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text} is out of range; {field} takes {}",
            describe(field)
        )),
    }
}

fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u32>().unwrap_or(u32::MAX))
}

/// A second opinion from `croner`, on the expression rewritten to its syntax.
fn check_with_croner(fields: &[&str]) -> Result<(), CronProblem> {
    let rewritten: Vec<String> = CronField::ALL
        .into_iter()
        .zip(fields)
        .map(|(field, value)| rewrite_increments(field, value))
        .collect();
    let pattern = format!("0 {}", rewritten.join(" "));
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .build()
        .parse(&pattern)
        .map(drop)
        .map_err(|error| CronProblem::Rejected {
            message: error.to_string(),
        })
}

/// AWS's `10/5` (from 10, every 5) is croner's `10-59/5`.
fn rewrite_increments(field: CronField, value: &str) -> String {
    let max = bounds(field).1;
    value
        .split(',')
        .map(|item| match item.split_once('/') {
            Some((base, step)) if base != "*" && !base.contains('-') => {
                format!("{base}-{max}/{step}")
            }
            _ => item.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(expr: &str) -> CronProblem {
        match normalize_cron(expr) {
            Err(ScheduleError::Cron { problem, .. }) => problem,
            other => panic!("{expr}: expected a cron error, got {other:?}"),
        }
    }

    fn message(expr: &str) -> String {
        normalize_cron(expr).unwrap_err().to_string()
    }

    #[test]
    fn accepts_what_aws_documents() {
        for expr in [
            "0 10 * * ? *",
            "15 12 * * ? *",
            "0 18 ? * MON-FRI *",
            "0 8 1 * ? *",
            "0/15 * * * ? *",
            "0/5 8-17 ? * MON-FRI *",
            "1/10 * * * ? *",
            "*/5 * * * ? *",
            "0 9 ? * 2#1 *",
            "0 9 ? * MON#1 *",
            "0 0 L * ? *",
            "0 0 LW * ? *",
            "0 0 15W * ? *",
            "0 0 ? * 6L *",
            "0 0 ? * FRIL *",
            "0 0 ? * L *",
            "0,30 6-8,20 1-15/2 JAN,MAR-MAY ? 2026-2030",
            "0 0 1 1/3 ? *",
            "0 0 1 JAN/2 ? *",
            "0 0 1 * ? 2030/2",
            "0 0 ? * 1,7 *",
            "0 0 * * ? 1970",
            "0 0 * * ? 2199",
            "59 23 31 12 ? *",
        ] {
            assert_eq!(normalize_cron(expr), Ok(expr.to_string()), "{expr}");
        }
    }

    #[test]
    fn normalizes_case_and_spacing() {
        assert_eq!(
            normalize_cron("  0  18 ? *\tmon-fri * ").unwrap(),
            "0 18 ? * MON-FRI *"
        );
        assert_eq!(normalize_cron("0 0 lw jan ? *").unwrap(), "0 0 LW JAN ? *");
    }

    #[test]
    fn needs_exactly_one_question_mark() {
        assert_eq!(
            message("0 10 * * * *"),
            "cron '0 10 * * * *': AWS cron needs '?' in day-of-month or day-of-week, e.g. \
             '0 10 * * ? *'"
        );
        assert_eq!(
            problem("0 10 * * MON *"),
            CronProblem::NeedsQuestionMark {
                suggestion: "0 10 ? * MON *".into(),
                alternative: None
            }
        );
        assert_eq!(
            problem("0 10 1 * MON *"),
            CronProblem::NeedsQuestionMark {
                suggestion: "0 10 1 * ? *".into(),
                alternative: Some("0 10 ? * MON *".into())
            }
        );
        assert_eq!(
            problem("0 10 ? * ? *"),
            CronProblem::BothQuestionMarks {
                suggestion: "0 10 * * ? *".into()
            }
        );
        assert_eq!(
            problem("0 10 ? * ? *").code(),
            "schedule.cron.question_mark"
        );
        // croner accepts this one: the check is dropflow's.
        assert!(matches!(
            problem("* * * * * *"),
            CronProblem::NeedsQuestionMark { .. }
        ));
    }

    #[test]
    fn five_field_unix_cron_gets_its_aws_form() {
        let cases = [
            ("0 10 * * *", Some("0 10 * * ? *")),
            ("*/5 * * * *", Some("*/5 * * * ? *")),
            ("0 10 1 * *", Some("0 10 1 * ? *")),
            ("0 10 * * 1-5", Some("0 10 ? * MON-FRI *")),
            ("0 10 * * 0", Some("0 10 ? * SUN *")),
            ("0 10 * * 7", Some("0 10 ? * SUN *")),
            ("0 10 * * 5-7", Some("0 10 ? * SUN,FRI,SAT *")),
            ("0 10 * * sat,sun", Some("0 10 ? * SUN,SAT *")),
            ("0 10 * * */2", Some("0 10 ? * SUN,TUE,THU,SAT *")),
            ("0 10 * * 0-6", Some("0 10 * * ? *")),
            ("0 10 1 * 1", None),
            ("99 10 * * *", None),
        ];
        for (unix, aws) in cases {
            match problem(unix) {
                CronProblem::Unix { suggestion, .. } => {
                    assert_eq!(suggestion.as_deref(), aws, "{unix}")
                }
                other => panic!("{unix}: {other:?}"),
            }
        }
        assert_eq!(
            message("0 10 * * *"),
            "cron '0 10 * * *': this is a 5-field Unix cron; AWS cron has 6 fields (minutes \
             hours day-of-month month day-of-week year) with '?' in day-of-month or \
             day-of-week and weekdays numbered 1-7 from Sunday: write '0 10 * * ? *'"
        );
        assert!(message("0 10 1 * 1").contains("either the day of the month or the weekday"));
        assert_eq!(problem("0 10 * * *").code(), "schedule.cron.unix");
    }

    #[test]
    fn five_aws_fields_without_a_year() {
        assert_eq!(
            problem("0 10 * * ?"),
            CronProblem::MissingYear {
                suggestion: "0 10 * * ? *".into()
            }
        );
        assert_eq!(
            problem("0 10 ? * 6#3"),
            CronProblem::MissingYear {
                suggestion: "0 10 ? * 6#3 *".into()
            }
        );
    }

    #[test]
    fn quartz_seconds_field() {
        assert_eq!(
            problem("0 0 10 * * ? *"),
            CronProblem::Seconds {
                suggestion: Some("0 10 * * ? *".into())
            }
        );
        assert_eq!(
            problem("0 0 10 * * ?"),
            CronProblem::Seconds {
                suggestion: Some("0 10 * * ? *".into())
            }
        );
        assert_eq!(
            problem("30 0 10 * * ? *"),
            CronProblem::Seconds { suggestion: None }
        );
    }

    #[test]
    fn other_shapes() {
        assert_eq!(problem(""), CronProblem::Empty);
        assert_eq!(problem("   "), CronProblem::Empty);
        assert_eq!(
            problem("cron(0 10 * * ? *)"),
            CronProblem::Wrapped {
                inner: "0 10 * * ? *".into()
            }
        );
        assert_eq!(problem("0 10"), CronProblem::FieldCount { found: 2 });
        assert_eq!(
            problem("0 0 0 10 * * ? *"),
            CronProblem::FieldCount { found: 8 }
        );
        assert!(message("0 10").contains("found 2"));
    }

    #[test]
    fn field_errors_name_the_field_and_the_fix() {
        let cases = [
            (
                "60 * * * ? *",
                "minutes '60': 60 is out of range; minutes takes 0-59",
            ),
            (
                "0 24 * * ? *",
                "hours '24': 24 is out of range; hours takes 0-23",
            ),
            (
                "0 0 0 * ? *",
                "day-of-month '0': 0 is out of range; day-of-month takes 1-31",
            ),
            ("0 0 32 * ? *", "day-of-month '32'"),
            (
                "0 0 * 13 ? *",
                "month '13': 13 is out of range; month takes 1-12 or JAN-DEC",
            ),
            ("0 0 * FOO ? *", "month 'FOO': 'FOO' is not a month value"),
            (
                "0 0 ? * 0 *",
                "day-of-week '0': 0 is out of range; day-of-week takes 1-7 or SUN-SAT (1 is Sunday)",
            ),
            ("0 0 ? * 8 *", "day-of-week '8'"),
            (
                "0 0 * * ? 1969",
                "year '1969': 1969 is out of range; year takes 1970-2199",
            ),
            ("0 0 * * ? 2200", "year '2200'"),
            (
                "? 0 * * ? *",
                "minutes '?': '?' is only allowed in day-of-month or day-of-week",
            ),
            ("0 0 1,? * ? *", "'?' must be the whole field"),
            (
                "1,? 0 * * ? *",
                "minutes '1,?': '?' is only allowed in day-of-month",
            ),
            (
                "0 0 ? * MON/2 *",
                "AWS does not allow '/' increments in day-of-week",
            ),
            ("0 0 ? * 1/2 *", "'/' increments in day-of-week"),
            ("0/0 * * * ? *", "increment 0 in '0/0' must be 1-59"),
            ("0/60 * * * ? *", "increment 60 in '0/60' must be 1-59"),
            ("0/x * * * ? *", "increment 'X' in '0/X' is not a number"),
            ("/5 * * * ? *", "'/5' has no start; write '*/5' or '0/5'"),
            (
                "0 22-2 * * ? *",
                "the range '22-2' runs backwards and AWS ranges do not wrap around; use two ranges, e.g. '22-23,0-2'",
            ),
            ("0 0 ? * FRI-MON *", "e.g. 'FRI-SAT,SUN-MON'"),
            ("1,,2 * * * ? *", "a list item is empty"),
            ("*,5 * * * ? *", "'*' must be the whole field"),
            ("1-2-3 * * * ? *", "'2-3' is not a minutes value"),
            (
                "0 0 L,15 * ? *",
                "'L' and 'W' must be used alone in day-of-month",
            ),
            ("0 0 L-3 * ? *", "'L' and 'W' must be used alone"),
            ("0 0 32W * ? *", "32 is out of range"),
            ("0 0 W * ? *", "'L' and 'W' must be used alone"),
            (
                "0 0 ? * 3#1,6#3 *",
                "only one expression in day-of-week when '#' is used",
            ),
            ("0 0 ? * 6#6 *", "'#6' must be 1-5"),
            ("0 0 ? * 6#0 *", "'#0' must be 1-5"),
            ("0 0 ? * 9#1 *", "9 is out of range"),
            (
                "0 0 ? * 1-5L *",
                "'L' and '#' must be used alone in day-of-week",
            ),
            ("0 0 ? * XL *", "'X' is not a day-of-week value"),
            ("0 0 15L * ? *", "'L' and 'W' must be used alone"),
            ("L 0 * * ? *", "'L' is not a minutes value"),
            ("0 0 * * ? 20é", "is not a year value"),
            ("0 0 * * ? 99999999999", "99999999999 is out of range"),
        ];
        for (expr, expected) in cases {
            let message = message(expr);
            assert!(message.contains(expected), "{expr}: {message}");
            assert!(
                message.starts_with(&format!("cron '{expr}': ")),
                "{message}"
            );
            assert_eq!(problem(expr).code(), "schedule.cron.field", "{expr}");
        }
    }

    #[test]
    fn increments_from_a_start_are_rewritten_for_croner() {
        assert_eq!(rewrite_increments(CronField::Minutes, "0/5"), "0-59/5");
        assert_eq!(
            rewrite_increments(CronField::Month, "JAN/2,5"),
            "JAN-12/2,5"
        );
        assert_eq!(
            rewrite_increments(CronField::Hours, "*/2,1-5/2"),
            "*/2,1-5/2"
        );
        assert!(check_with_croner(&["0/5", "*", "*", "*", "?", "*"]).is_ok());
        // Without the rewrite croner refuses AWS's syntax.
        assert!(
            CronParser::builder()
                .seconds(Seconds::Required)
                .year(Year::Required)
                .build()
                .parse("0 0/5 * * * ? *")
                .is_err()
        );
    }

    #[test]
    fn validate_is_normalize_without_the_result() {
        assert_eq!(validate_cron("0 10 * * ? *"), Ok(()));
        assert_eq!(
            validate_cron("0 10 * * * *").unwrap_err().code(),
            "schedule.cron.question_mark"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn item(max: u32) -> impl Strategy<Value = String> {
            prop_oneof![
                (0..=max).prop_map(|n| n.to_string()),
                (0..=max, 0..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
                (0..=max, 1..=max).prop_map(|(a, s)| format!("{a}/{s}")),
                (1..=max).prop_map(|s| format!("*/{s}")),
            ]
        }

        fn field(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(tokens), 1..3).prop_map(|v| v.join(","))
        }

        proptest! {
            /// dropflow's own checks are at least as strict as croner's: an expression
            /// never gets as far as croner refusing it (that message explains less).
            #[test]
            fn croner_never_has_the_last_word(
                a in field(&["*", "0", "59", "5/10", "*/7", "1-30/4", "60", "3-2", "0/59"]),
                b in field(&["*", "0", "23", "5/10", "*/7", "1-20/4", "24"]),
                c in field(&["*", "?", "1", "31", "L", "LW", "15W", "1/5", "1-31/3", "0"]),
                d in field(&["*", "1", "12", "JAN", "DEC", "JAN-MAR", "2/3", "*/2", "JUL/5", "13"]),
                e in field(&["*", "?", "1", "7", "SUN", "SAT", "MON-FRI", "L", "6L", "FRIL", "2#1", "MON#5", "0"]),
                f in field(&["*", "1970", "2199", "2020-2030", "2020/2", "*/5", "2200"]),
            ) {
                let expr = format!("{a} {b} {c} {d} {e} {f}");
                let result = normalize_cron(&expr);
                prop_assert!(
                    !matches!(result, Err(ScheduleError::Cron { problem: CronProblem::Rejected { .. }, .. })),
                    "{} -> {:?}", expr, result
                );
            }

            /// Whatever dropflow accepts, croner (rewritten) accepts too, and the result
            /// is stable under a second normalization.
            #[test]
            fn accepted_expressions_are_stable(
                minute in item(59),
                hour in item(23),
                month in prop_oneof![Just("*".to_string()), (1u32..=12).prop_map(|m| m.to_string())],
                dom_day in prop::bool::ANY,
            ) {
                let (dom, dow) = if dom_day { ("1", "?") } else { ("?", "MON") };
                let expr = format!("{minute} {hour} {dom} {month} {dow} *");
                if let Ok(normalized) = normalize_cron(&expr) {
                    prop_assert_eq!(normalize_cron(&normalized), Ok(normalized.clone()));
                }
            }

            /// Arbitrary text never panics, and every error has a code and quotes the input.
            #[test]
            fn arbitrary_text_gives_an_error_or_a_value(expr in "[0-9A-Z*?/,#LW -]{0,40}") {
                match normalize_cron(&expr) {
                    Ok(normalized) => prop_assert_eq!(normalized.split(' ').count(), 6),
                    Err(error) => {
                        prop_assert!(error.code().starts_with("schedule.cron."));
                        let quoted = format!("cron '{}'", expr);
                        prop_assert!(error.to_string().starts_with(&quoted));
                    }
                }
            }
        }
    }
}
