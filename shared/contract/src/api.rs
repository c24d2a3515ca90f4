//! The trigger API's answers (README "The HTTP API"): what `dropflow-api` serialises and
//! the `dropflow` command reads back, one type per answer, field for field as sent.
//!
//! - [`flows`]: `GET /flows` ([`FlowList`]) and `GET /flows/{flow}` ([`FlowDetail`]);
//! - [`runs`]: a started run ([`RunStarted`]), a resumed one ([`RunResumed`]), the run
//!   list ([`RunList`]), one run ([`RunDetail`], with [`StepProgress`] per step) and a
//!   stopped run ([`RunStopped`]);
//! - [`error`]: every error answer ([`ApiErrorBody`]).
//!
//! Fields that may be unknown are `null`, not absent, unless their doc says otherwise.

pub mod error;
pub mod flows;
pub mod runs;

#[cfg(test)]
mod tests;

pub use error::ApiErrorBody;
pub use flows::{FlowDetail, FlowList, FlowParameter, FlowSummary, FlowVersion, LastReport};
pub use runs::{
    FailedTask, RunDetail, RunList, RunResumed, RunStarted, RunStopped, RunSummary, StepProgress,
    TriggeringEvent,
};
