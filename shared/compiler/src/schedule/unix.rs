//! Five-field expressions: either Unix crontab (`0 10 * * 1-5`), which gets its AWS
//! equivalent in the message, or AWS syntax missing the year (`0 10 * * ?`).

use super::cron::check_six;
use super::error::CronProblem;

/// Why a 5-field (upper-cased) expression is not AWS cron, with the fix when derivable.
pub(super) fn five_field_problem(fields: &[&str]) -> CronProblem {
    debug_assert_eq!(fields.len(), 5);
    let (dom, dow) = (fields[2], fields[4]);
    let aws_style = dom.contains(['?', 'L', 'W']) || dow.contains(['?', 'L', '#']);
    if aws_style {
        let candidate: Vec<&str> = fields.iter().copied().chain(["*"]).collect();
        return match check_six(&candidate) {
            Ok(suggestion) => CronProblem::MissingYear { suggestion },
            Err(_) => CronProblem::FieldCount { found: 5 },
        };
    }
    let converted = match (dom == "*", dow == "*") {
        (_, true) => Some((dom.to_string(), "?".to_string())),
        (true, false) => weekdays(dow).map(|dow| {
            if dow == "*" {
                ("*".to_string(), "?".to_string())
            } else {
                ("?".to_string(), dow)
            }
        }),
        (false, false) => {
            return CronProblem::Unix {
                suggestion: None,
                both_days: true,
            };
        }
    };
    let suggestion = converted.and_then(|(dom, dow)| {
        let candidate = [fields[0], fields[1], &dom, fields[3], &dow, "*"];
        check_six(&candidate).ok()
    });
    CronProblem::Unix {
        suggestion,
        both_days: false,
    }
}

const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A Unix day-of-week field (0-7, 0 and 7 both Sunday, or names) as an AWS one:
/// names, with runs of three or more days as ranges; `*` when every day is in it.
fn weekdays(field: &str) -> Option<String> {
    let mut days = [false; 7];
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, step.parse::<usize>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (start, end) = if base == "*" {
            (0, 6)
        } else if let Some((start, end)) = base.split_once('-') {
            (day(start)?, day(end)?)
        } else if item.contains('/') {
            (day(base)?, 6)
        } else {
            let single = day(base)?;
            (single, single)
        };
        if start > end {
            return None;
        }
        for value in (start..=end).step_by(step) {
            days[value % 7] = true;
        }
    }
    if days.iter().all(|d| *d) {
        return Some("*".into());
    }
    let mut parts = Vec::new();
    let mut index = 0;
    while index < 7 {
        if !days[index] {
            index += 1;
            continue;
        }
        let start = index;
        while index + 1 < 7 && days[index + 1] {
            index += 1;
        }
        match index - start {
            0 => parts.push(NAMES[start].to_string()),
            1 => parts.push(format!("{},{}", NAMES[start], NAMES[index])),
            _ => parts.push(format!("{}-{}", NAMES[start], NAMES[index])),
        }
        index += 1;
    }
    Some(parts.join(","))
}

/// A Unix weekday: 0-7 (7 is Sunday again) or a name.
fn day(text: &str) -> Option<usize> {
    if let Some(index) = NAMES.iter().position(|name| *name == text) {
        return Some(index);
    }
    text.parse::<usize>().ok().filter(|d| *d <= 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_become_aws_names() {
        assert_eq!(weekdays("1-5").as_deref(), Some("MON-FRI"));
        assert_eq!(weekdays("1,2").as_deref(), Some("MON,TUE"));
        assert_eq!(weekdays("0,3,6").as_deref(), Some("SUN,WED,SAT"));
        assert_eq!(weekdays("7").as_deref(), Some("SUN"));
        assert_eq!(weekdays("1-7").as_deref(), Some("*"));
        assert_eq!(weekdays("MON-WED,FRI").as_deref(), Some("MON-WED,FRI"));
        assert_eq!(weekdays("1/2").as_deref(), Some("MON,WED,FRI"));
        assert_eq!(weekdays("1-5/2").as_deref(), Some("MON,WED,FRI"));
        assert_eq!(weekdays("5-1"), None);
        assert_eq!(weekdays("8"), None);
        assert_eq!(weekdays("*/0"), None);
        assert_eq!(weekdays("X"), None);
    }

    #[test]
    fn both_days_restricted_has_no_equivalent() {
        assert_eq!(
            five_field_problem(&["0", "10", "1", "*", "1"]),
            CronProblem::Unix {
                suggestion: None,
                both_days: true
            }
        );
    }

    #[test]
    fn invalid_aws_style_falls_back_to_the_field_count() {
        assert_eq!(
            five_field_problem(&["99", "10", "?", "*", "MON"]),
            CronProblem::FieldCount { found: 5 }
        );
    }
}
