//! `@schedule` → an EventBridge Scheduler schedule: Metaflow's precedence between
//! `cron`, `weekly`, `hourly` and `daily`, AWS's cron rules checked before deploying,
//! and `timezone=` (which Metaflow honours only on Argo) passed on to Scheduler.
//!
//! [`from_decorator`] reads the decorator, [`validate_cron`] and [`normalize_cron`]
//! check an expression, and [`Schedule::expression`] gives what Scheduler takes.

mod cron;
mod decorator;
mod error;
mod timezone;
mod unix;

use serde::{Deserialize, Serialize};

pub use cron::{normalize_cron, validate_cron};
pub use decorator::from_decorator;
pub use error::{CronField, CronProblem, ScheduleError};
pub use timezone::{DEFAULT_TIMEZONE, validate_timezone};

/// Metaflow's `@schedule(hourly=True)`.
pub const HOURLY: &str = "0 * * * ? *";
/// Metaflow's `@schedule(daily=True)`, also plain `@schedule`.
pub const DAILY: &str = "0 0 * * ? *";
/// Metaflow's `@schedule(weekly=True)`.
pub const WEEKLY: &str = "0 0 ? * SUN *";

/// When a deployed flow runs: what the compiler hands to EventBridge Scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// AWS 6-field cron, validated and normalized (e.g. `0 * * * ? *`).
    pub cron: String,
    /// IANA time zone the cron is evaluated in; `UTC` when `@schedule` names none.
    pub timezone: String,
}

impl Schedule {
    /// The `ScheduleExpression` for EventBridge Scheduler: `cron(0 * * * ? *)`.
    pub fn expression(&self) -> String {
        format!("cron({})", self.cron)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metaflow_presets_are_valid_aws_cron() {
        for preset in [HOURLY, DAILY, WEEKLY] {
            assert_eq!(normalize_cron(preset).as_deref(), Ok(preset));
        }
    }

    #[test]
    fn expression_wraps_the_fields() {
        let schedule = Schedule {
            cron: HOURLY.into(),
            timezone: DEFAULT_TIMEZONE.into(),
        };
        assert_eq!(schedule.expression(), "cron(0 * * * ? *)");
    }
}
