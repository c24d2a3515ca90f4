//! The API's errors: a status, a stable code, a message for people, and details for
//! programs, answered as `{"error": CODE, "message": ..., "request_id": ...}`. An AWS
//! failure is logged in full with the request id and answered with a generic message:
//! service error text never reaches clients.

use dropflow_contract::ServiceError;
use dropflow_contract::api::ApiErrorBody;
use lambda_http::http::StatusCode;
use serde_json::{Map, Value};

use crate::params::InputError;

/// Stable error codes (the `error` field).
pub mod code {
    /// The body or the `Parameters` string is not JSON.
    pub const MALFORMED_JSON: &str = "malformed_json";
    /// The body is not an object of parameter values.
    pub const INVALID_BODY: &str = "invalid_body";
    /// Parameter values do not fit the deployed flow.
    pub const INVALID_PARAMETERS: &str = "invalid_parameters";
    /// A query parameter (`status`, `limit`, `next_token`) is invalid.
    pub const INVALID_QUERY: &str = "invalid_query";
    /// The `Idempotency-Key` header is empty or not text.
    pub const INVALID_IDEMPOTENCY_KEY: &str = "invalid_idempotency_key";
    /// The body of `POST /events` is not Metaflow's event (`{"name": ..., "payload": {...}}`).
    pub const INVALID_EVENT: &str = "invalid_event";
    /// A flow class name matches more than one deployed state machine.
    pub const AMBIGUOUS_FLOW: &str = "ambiguous_flow";
    /// No such path.
    pub const NOT_FOUND: &str = "not_found";
    /// No deployed flow by that name.
    pub const FLOW_NOT_FOUND: &str = "flow_not_found";
    /// No such run of the flow.
    pub const RUN_NOT_FOUND: &str = "run_not_found";
    /// The run has no such step or task (or it has not started).
    pub const TASK_NOT_FOUND: &str = "task_not_found";
    /// The task has no such attempt, or the attempt saved no log of that stream.
    pub const LOG_NOT_FOUND: &str = "log_not_found";
    /// The method is not allowed on the path.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The idempotency key was used for a run with other parameters.
    pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";
    /// The run has already finished (it cannot be stopped).
    /// The run cannot be resumed (running, succeeded, another graph, unknown step).
    pub const RESUME_CONFLICT: &str = "resume_conflict";
    pub const RUN_FINISHED: &str = "run_finished";
    /// The execution input is over 20 KiB.
    pub const INPUT_TOO_LARGE: &str = "input_too_large";
    /// Step Functions' limit on open executions is reached; retry later.
    pub const TOO_MANY_RUNS: &str = "too_many_runs";
    /// Something failed on our side (an AWS call, a broken record); see the logs.
    pub const INTERNAL: &str = "internal";
}

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (one of [`code`]).
    pub code: &'static str,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// Extra fields of the body (`problems`, `valid_parameters`, `candidates`, ...).
    pub details: Map<String, Value>,
    /// The `Allow` header, for 405.
    pub allow: Option<&'static str>,
    /// The underlying AWS failure, logged, never answered.
    pub source: Option<ServiceError>,
}

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Map::new(),
            allow: None,
            source: None,
        }
    }

    /// Adds a field to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// 404 for a flow.
    pub fn flow_not_found(flow: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::FLOW_NOT_FOUND,
            format!(
                "no deployed flow is named {flow:?} (use a state machine name or a flow class name; GET /flows lists them)"
            ),
        )
    }

    /// 404 for a run.
    pub fn run_not_found(flow: &str, run: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::RUN_NOT_FOUND,
            format!("{flow} has no run {run:?}"),
        )
    }

    /// 500 for a failure on our side; `error` is logged with the request id.
    pub fn internal(error: ServiceError) -> Self {
        Self {
            source: Some(error),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL,
                "the request failed on the server side; quote the request_id when reporting it",
            )
        }
    }

    /// The body answered for request `request_id`.
    pub fn body(&self, request_id: &str) -> ApiErrorBody {
        ApiErrorBody {
            error: self.code.to_string(),
            message: self.message.clone(),
            request_id: request_id.to_string(),
            details: self.details.clone(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::internal(error)
    }
}

/// At most this many parameter problems are listed in a 400 (the rest are counted in
/// `problems_not_listed`).
pub const MAX_LISTED_PROBLEMS: usize = 10;

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        match error {
            InputError::Malformed(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, code::MALFORMED_JSON, message)
            }
            InputError::NotAnObject(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, code::INVALID_BODY, message)
            }
            InputError::Invalid {
                mut problems,
                valid,
            } => {
                // A body of 10,000 unknown names must not become a megabyte of error.
                let not_listed = problems.len().saturating_sub(MAX_LISTED_PROBLEMS);
                problems.truncate(MAX_LISTED_PROBLEMS);
                let mut listed = problems
                    .iter()
                    .map(|p| p.problem.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                if not_listed > 0 {
                    listed.push_str(&format!(
                        "; and {not_listed} more problem{}",
                        if not_listed == 1 { "" } else { "s" }
                    ));
                }
                let names = if valid.is_empty() {
                    "the flow has no parameters".to_string()
                } else {
                    format!("valid parameters: {}", valid.join(", "))
                };
                let error = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    code::INVALID_PARAMETERS,
                    format!("{listed} ({names})"),
                )
                .with(
                    "problems",
                    serde_json::to_value(&problems).expect("problems serialise"),
                )
                .with("valid_parameters", valid);
                if not_listed > 0 {
                    error.with("problems_not_listed", not_listed)
                } else {
                    error
                }
            }
            InputError::TooLarge { size, limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::INPUT_TOO_LARGE,
                format!(
                    "the execution input would be {size} bytes; runs take at most {limit} bytes of parameters (Metaflow's limit for Step Functions)"
                ),
            )
            .with("size", size)
            .with("limit", limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::params::Problem;

    /// The body as answered, as JSON.
    fn answered(error: &ApiError, request_id: &str) -> Value {
        serde_json::to_value(error.body(request_id)).unwrap()
    }

    #[test]
    fn service_errors_are_not_answered() {
        let error = ApiError::from(ServiceError {
            operation: "states:StartExecution arn:secret".into(),
            code: Some("AccessDeniedException".into()),
            message: "User arn:aws:iam::123:role/x is not authorized".into(),
        });
        let body = answered(&error, "req-1").to_string();
        assert!(
            !body.contains("secret") && !body.contains("authorized"),
            "{body}"
        );
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answered(&error, "req-1")["request_id"], "req-1");
    }

    #[test]
    fn invalid_parameters_list_the_valid_ones() {
        let error = ApiError::from(InputError::Invalid {
            problems: vec![Problem {
                parameter: "beta".into(),
                problem: "unknown parameter \"beta\"".into(),
            }],
            valid: vec!["alpha".into()],
        });
        assert_eq!(
            answered(&error, "r"),
            json!({
                "error": "invalid_parameters",
                "message": "unknown parameter \"beta\" (valid parameters: alpha)",
                "request_id": "r",
                "problems": [{"parameter": "beta", "problem": "unknown parameter \"beta\""}],
                "valid_parameters": ["alpha"],
            })
        );
    }

    #[test]
    fn thousands_of_problems_are_bounded_and_counted() {
        let problems = (0..10_000)
            .map(|i| Problem {
                parameter: format!("p{i}"),
                problem: format!("unknown parameter \"p{i}\""),
            })
            .collect();
        let error = ApiError::from(InputError::Invalid {
            problems,
            valid: vec!["alpha".into(), "beta".into()],
        });
        let body = answered(&error, "r");
        assert_eq!(
            body["problems"].as_array().unwrap().len(),
            MAX_LISTED_PROBLEMS
        );
        assert_eq!(body["problems_not_listed"], 10_000 - MAX_LISTED_PROBLEMS);
        assert_eq!(body["valid_parameters"], json!(["alpha", "beta"]));
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("; and 9990 more problems (valid parameters: alpha, beta)"));
        assert!(body.to_string().len() < 2_000, "{body}");
    }
}
