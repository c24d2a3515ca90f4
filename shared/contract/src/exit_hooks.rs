//! A run's exit hooks, as the manifest records them (`@exit_hook(on_success=[...],
//! on_error=[...])`): the compiler collects them, the step Lambda's hook phases run them.

use serde::{Deserialize, Serialize};

/// The functions a run's exit hooks call, by name, in Metaflow's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitHooks {
    /// Called after the run succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_success: Vec<String>,
    /// Called after a task of the run failed for good.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_error: Vec<String>,
}

impl ExitHooks {
    /// No hooks at all (the flow has no `@exit_hook`).
    pub fn is_empty(&self) -> bool {
        self.on_success.is_empty() && self.on_error.is_empty()
    }

    /// The hooks of one outcome.
    pub fn of(&self, outcome: RunOutcome) -> &[String] {
        match outcome {
            RunOutcome::Success => &self.on_success,
            RunOutcome::Error => &self.on_error,
        }
    }
}

/// How a run ended, as far as exit hooks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunOutcome {
    /// The end step succeeded: `on_success` hooks.
    #[serde(rename = "on_success")]
    Success,
    /// A task failed for good: `on_error` hooks.
    #[serde(rename = "on_error")]
    Error,
}

impl RunOutcome {
    /// `on_success` / `on_error`, as the decorator's attribute.
    pub fn attribute(self) -> &'static str {
        match self {
            RunOutcome::Success => "on_success",
            RunOutcome::Error => "on_error",
        }
    }
}
