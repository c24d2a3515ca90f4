//! `@schedule(timezone=...)`: an IANA time zone name, which EventBridge Scheduler takes
//! as `ScheduleExpressionTimezone`. Names are checked against the tz database that
//! `chrono-tz` ships.

use super::error::ScheduleError;

/// The time zone used when `@schedule` names none, as Scheduler expects it.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// Checks that `name` is an IANA time zone name (`Europe/Berlin`, `UTC`); a name that
/// differs only in case or spaces gets the right spelling as a suggestion.
pub fn validate_timezone(name: &str) -> Result<(), ScheduleError> {
    if name.parse::<chrono_tz::Tz>().is_ok() {
        return Ok(());
    }
    let wanted = name.trim().replace(' ', "_");
    let suggestion = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .find(|known| known.eq_ignore_ascii_case(&wanted))
        .map(str::to_string);
    Err(ScheduleError::Timezone {
        timezone: name.to_string(),
        suggestion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_pass() {
        for name in [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Etc/GMT+5",
        ] {
            assert_eq!(validate_timezone(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        let error = validate_timezone("america/new york").unwrap_err();
        assert_eq!(
            error,
            ScheduleError::Timezone {
                timezone: "america/new york".into(),
                suggestion: Some("America/New_York".into())
            }
        );
        assert_eq!(
            error.to_string(),
            "@schedule(timezone='america/new york'): not an IANA time zone name; did you \
             mean 'America/New_York'?"
        );
        assert_eq!(error.code(), "schedule.timezone");
    }

    #[test]
    fn unknown_names_get_examples() {
        let error = validate_timezone("PST").unwrap_err();
        assert_eq!(
            error.to_string(),
            "@schedule(timezone='PST'): not an IANA time zone name; use one such as \
             'America/New_York', 'Europe/London' or 'UTC'"
        );
        assert!(validate_timezone("").is_err());
        assert!(validate_timezone("+02:00").is_err());
    }
}
