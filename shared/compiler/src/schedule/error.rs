//! What can be wrong with a `@schedule`: every message quotes what was written and says
//! what to write instead, and every error has a stable [`ScheduleError::code`].

use std::fmt;

/// A `@schedule` that dropflow cannot turn into an EventBridge Scheduler schedule.
///
/// Messages do not repeat the decorator's line: the caller, which holds the
/// [`Decorator`](crate::python::Decorator), prefixes `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression is not one AWS accepts.
    #[error("cron '{expr}': {problem}")]
    Cron {
        /// The expression as written.
        expr: String,
        /// What is wrong with it, and how to fix it.
        problem: CronProblem,
    },
    /// `timezone=` is not an IANA time zone name.
    #[error("{}", timezone_message(.timezone, .suggestion.as_deref()))]
    Timezone {
        /// The name as written.
        timezone: String,
        /// A known name that differs only in case or spaces, if there is one.
        suggestion: Option<String>,
    },
    /// An argument is a name or an expression, which dropflow cannot evaluate.
    #[error(
        "@schedule({argument}={text}): dropflow reads @schedule without running the flow, \
         so {argument} must be a literal, e.g. {argument}={example}"
    )]
    NotLiteral {
        /// The keyword argument.
        argument: String,
        /// Its source text.
        text: String,
        /// A literal that would be accepted.
        example: &'static str,
    },
    /// An argument is a literal of the wrong type.
    #[error(
        "@schedule({argument}={found}): {argument} must be {expected}, e.g. {argument}={example}"
    )]
    WrongType {
        /// The keyword argument.
        argument: String,
        /// The value as written.
        found: String,
        /// What it must be.
        expected: &'static str,
        /// A literal that would be accepted.
        example: &'static str,
    },
    /// A keyword argument Metaflow's `@schedule` does not have (Metaflow's message).
    #[error(
        "Decorator 'schedule' does not support the attribute '{argument}'. \
         These attributes are supported: cron, weekly, daily, hourly, timezone."
    )]
    UnknownArgument {
        /// The keyword argument.
        argument: String,
    },
    /// `@schedule('...')`: Metaflow's decorators take keyword arguments only.
    #[error(
        "@schedule({found}): @schedule takes keyword arguments only, e.g. \
         @schedule(cron='0 10 * * ? *'), @schedule(hourly=True) or @schedule(weekly=True)"
    )]
    PositionalArgument {
        /// The argument as written.
        found: String,
    },
}

impl ScheduleError {
    /// A stable identifier for the kind of error, for machines (`schedule.cron.fields`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ScheduleError::Cron { problem, .. } => problem.code(),
            ScheduleError::Timezone { .. } => "schedule.timezone",
            ScheduleError::NotLiteral { .. } => "schedule.argument.not_literal",
            ScheduleError::WrongType { .. } => "schedule.argument.type",
            ScheduleError::UnknownArgument { .. } => "schedule.argument.unknown",
            ScheduleError::PositionalArgument { .. } => "schedule.argument.positional",
        }
    }
}

fn timezone_message(timezone: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!(
            "@schedule(timezone='{timezone}'): not an IANA time zone name; did you mean '{name}'?"
        ),
        None => format!(
            "@schedule(timezone='{timezone}'): not an IANA time zone name; use one such as \
             'America/New_York', 'Europe/London' or 'UTC'"
        ),
    }
}

/// One of the six fields of an AWS cron expression, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    /// 0-59.
    Minutes,
    /// 0-23.
    Hours,
    /// 1-31, with `L` and `W`.
    DayOfMonth,
    /// 1-12 or JAN-DEC.
    Month,
    /// 1-7 or SUN-SAT (1 = Sunday), with `L` and `#`.
    DayOfWeek,
    /// 1970-2199.
    Year,
}

impl CronField {
    /// The fields in the order AWS expects them.
    pub const ALL: [CronField; 6] = [
        CronField::Minutes,
        CronField::Hours,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
        CronField::Year,
    ];

    /// The field's name as AWS documents it.
    pub fn name(self) -> &'static str {
        match self {
            CronField::Minutes => "minutes",
            CronField::Hours => "hours",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
            CronField::Year => "year",
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a cron expression; shown after `cron '<expr>': `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronProblem {
    /// Nothing but white space.
    #[error(
        "the expression is empty; write 6 fields (minutes hours day-of-month month \
         day-of-week year), e.g. '0 10 * * ? *' for 10:00 every day"
    )]
    Empty,
    /// `cron(...)` around the fields: dropflow adds that itself.
    #[error("write the fields without 'cron(...)' around them: '{inner}'")]
    Wrapped {
        /// The fields inside the parentheses.
        inner: String,
    },
    /// A 5-field Unix (crontab) expression.
    #[error("{}", unix_message(.suggestion.as_deref(), *.both_days))]
    Unix {
        /// The AWS equivalent, when one could be derived.
        suggestion: Option<String>,
        /// Both day fields are restricted: Unix runs when either matches, AWS cannot say that.
        both_days: bool,
    },
    /// An AWS expression missing its year field.
    #[error(
        "AWS cron needs 6 fields (minutes hours day-of-month month day-of-week year) and this \
         has 5; add the year field: '{suggestion}'"
    )]
    MissingYear {
        /// The expression with `*` as its year.
        suggestion: String,
    },
    /// A Quartz expression with a seconds field.
    #[error("{}", seconds_message(.suggestion.as_deref()))]
    Seconds {
        /// The AWS equivalent, when the seconds are `0`.
        suggestion: Option<String>,
    },
    /// Neither 5 (Unix), 6 (AWS) nor 7 (Quartz) fields.
    #[error(
        "AWS cron needs exactly 6 fields (minutes hours day-of-month month day-of-week year), \
         found {found}; e.g. '0 10 * * ? *' for 10:00 every day"
    )]
    FieldCount {
        /// How many fields were found.
        found: usize,
    },
    /// One field is not valid for its position.
    #[error("{field} '{value}': {reason}")]
    Field {
        /// Which field.
        field: CronField,
        /// The field as written (upper-cased).
        value: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// Neither day-of-month nor day-of-week is `?`.
    #[error("{}", question_mark_message(.suggestion, .alternative.as_deref()))]
    NeedsQuestionMark {
        /// The expression with `?` in day-of-week (or day-of-month when that is `*`).
        suggestion: String,
        /// When both day fields are restricted: the expression keeping the weekdays instead.
        alternative: Option<String>,
    },
    /// Both day-of-month and day-of-week are `?`.
    #[error(
        "AWS cron allows '?' in only one of day-of-month and day-of-week; put '*' in the \
         other, e.g. '{suggestion}'"
    )]
    BothQuestionMarks {
        /// The expression with `*` as its day-of-month.
        suggestion: String,
    },
    /// dropflow's checks passed but the cron parser still refused the expression.
    #[error(
        "not a valid AWS cron expression ({message}); see the cron expressions reference in \
         the Amazon EventBridge user guide"
    )]
    Rejected {
        /// The parser's message.
        message: String,
    },
}

impl CronProblem {
    /// A stable identifier for the kind of problem.
    pub fn code(&self) -> &'static str {
        match self {
            CronProblem::Empty => "schedule.cron.empty",
            CronProblem::Wrapped { .. } => "schedule.cron.wrapped",
            CronProblem::Unix { .. } => "schedule.cron.unix",
            CronProblem::MissingYear { .. } => "schedule.cron.missing_year",
            CronProblem::Seconds { .. } => "schedule.cron.seconds",
            CronProblem::FieldCount { .. } => "schedule.cron.field_count",
            CronProblem::Field { .. } => "schedule.cron.field",
            CronProblem::NeedsQuestionMark { .. } => "schedule.cron.question_mark",
            CronProblem::BothQuestionMarks { .. } => "schedule.cron.question_mark",
            CronProblem::Rejected { .. } => "schedule.cron.rejected",
        }
    }
}

fn unix_message(suggestion: Option<&str>, both_days: bool) -> String {
    let head = "this is a 5-field Unix cron; AWS cron has 6 fields (minutes hours day-of-month \
                month day-of-week year) with '?' in day-of-month or day-of-week and weekdays \
                numbered 1-7 from Sunday";
    match (suggestion, both_days) {
        (Some(aws), _) => format!("{head}: write '{aws}'"),
        (None, true) => format!(
            "{head}. Unix cron runs when either the day of the month or the weekday matches, \
             which one AWS schedule cannot express: keep one of them and put '?' in the other, \
             e.g. '0 10 1 * ? *' or '0 10 ? * MON *'"
        ),
        (None, false) => format!("{head}, e.g. '0 10 * * ? *' for 10:00 every day"),
    }
}

fn seconds_message(suggestion: Option<&str>) -> String {
    let head = "this looks like a Quartz cron with a seconds field; AWS cron has no seconds \
                (fields: minutes hours day-of-month month day-of-week year)";
    match suggestion {
        Some(aws) => format!("{head}: write '{aws}'"),
        None => format!("{head}: drop the seconds field and end with a year field such as '*'"),
    }
}

fn question_mark_message(suggestion: &str, alternative: Option<&str>) -> String {
    match alternative {
        None => format!("AWS cron needs '?' in day-of-month or day-of-week, e.g. '{suggestion}'"),
        Some(alternative) => format!(
            "AWS cron needs '?' in day-of-month or day-of-week (it cannot restrict both), \
             e.g. '{suggestion}' to keep the days of the month or '{alternative}' to keep \
             the weekdays"
        ),
    }
}
