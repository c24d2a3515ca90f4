//! SDK errors as [`ServiceError`]s: the operation, the service's error code and the full
//! error chain, for reports and logs.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use dropflow_contract::ports::ServiceError;

/// Wraps any SDK error (an `SdkError` or an operation's service error).
pub(crate) fn service_error<E>(operation: impl Into<String>, error: E) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    ServiceError {
        operation: operation.into(),
        code: error.code().map(String::from),
        message: DisplayErrorContext(&error).to_string(),
    }
}

/// A request that could not be built (a required field missing).
pub(crate) fn build_error(operation: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(operation, format!("invalid request: {error}"))
}
