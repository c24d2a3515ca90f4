//! The error answer every route gives.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An error answer: `{"error": CODE, "message": ..., "request_id": ..., ...details}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable error code (`flow_not_found`, `invalid_parameters`, ...).
    pub error: String,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// The request's id, to quote when reporting a failure (the logs have it).
    pub request_id: String,
    /// Fields for programs that some errors add (`problems`, `valid_parameters`,
    /// `run_id`, `reason`, ...), after the others.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}
