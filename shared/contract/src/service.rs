//! A failed AWS call, as every side reports it (deploy, step Lambda, metadata service).

/// An AWS call that failed: what was attempted, the service's error code when it gave one,
/// and its message. Only for reports and logs: nothing branches on its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct ServiceError {
    /// The operation and its target (`s3:GetObject flows/a.tgz`).
    pub operation: String,
    /// The service's error code (`AccessDenied`, `ThrottlingException`), when known.
    pub code: Option<String>,
    /// Human-readable detail.
    pub message: String,
}

impl ServiceError {
    /// An error of `operation` with `message` and no code.
    pub fn new(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            code: None,
            message: message.into(),
        }
    }
}

/// The result of every port call.
pub type ServiceResult<T> = Result<T, ServiceError>;
