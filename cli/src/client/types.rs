//! What the client commands compose from the trigger API's answers (the answers
//! themselves are the contract's types, [`dropflow_contract::api`]; [`super::shown`]
//! prints them).

use std::fmt;

use dropflow_contract::api::{RunDetail, RunStarted};
use serde::{Deserialize, Serialize};

use super::shown::Shown;

/// A run status that will not change any more.
pub fn is_final(status: &str) -> bool {
    !matches!(status, "RUNNING" | "PENDING_REDRIVE")
}

/// `dropflow run`: the run started and, with `--wait`, how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    /// The started run.
    pub started: RunStarted,
    /// Its end, with `--wait`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<RunDetail>,
}

impl RunOutcome {
    /// Whether the command succeeded: started, and (when waited for) `SUCCEEDED`.
    pub fn succeeded(&self) -> bool {
        self.finished
            .as_ref()
            .is_none_or(|detail| detail.status == "SUCCEEDED")
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Shown(&self.started))?;
        match &self.finished {
            Some(detail) => write!(f, "\n{}", Shown(detail)),
            None => write!(
                f,
                "\n  follow it: dropflow status {} {} --wait",
                self.started.state_machine, self.started.run_id
            ),
        }
    }
}
