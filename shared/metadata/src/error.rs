//! Errors of the metadata API: an HTTP status, a stable code and a message, answered as
//! `{"error": code, "message": …}`. Client mistakes are 4xx; a failing store is 503,
//! which Metaflow's client retries with backoff. Nothing here is ever a 500.

use serde_json::json;

use super::store::ServiceError;

/// Stable error codes (the `error` field).
pub mod code {
    /// The path matches no endpoint.
    pub const NOT_FOUND: &str = "not_found";
    /// The path exists, the method does not.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The body or a path segment is malformed.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The record already exists (Metaflow's client then reads it).
    pub const CONFLICT: &str = "conflict";
    /// The request is well formed but breaks a rule (removing a system tag).
    pub const UNPROCESSABLE: &str = "unprocessable";
    /// A record or request body is larger than the store accepts.
    pub const TOO_LARGE: &str = "too_large";
    /// The `x-api-key` header is missing or wrong.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// The store failed; retry.
    pub const UNAVAILABLE: &str = "store_unavailable";
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// One of [`code`].
    pub code: &'static str,
    /// What went wrong and, where useful, what to do.
    pub message: String,
    /// The methods a 405 allows (`Allow` header).
    pub allow: Option<&'static str>,
    /// The store's error behind a 503, for logs.
    pub source: Option<Box<ServiceError>>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
            source: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, code::BAD_REQUEST, message)
    }

    /// 404 for a missing record.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, code::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, code::CONFLICT, message)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": self.code, "message": self.message})
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self {
            source: Some(Box::new(error.clone())),
            ..Self::new(
                503,
                code::UNAVAILABLE,
                format!("the metadata store failed ({}); retry", error.operation),
            )
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
