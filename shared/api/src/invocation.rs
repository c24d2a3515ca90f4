//! The trigger function's two sources, one Lambda entry point: API Gateway's HTTP API
//! (payload v2, answered as [`crate::handle`] answers) and the rule on dropflow's
//! EventBridge bus (an event delivered as `POST /events` delivers its body,
//! [`crate::events::deliver_bus_event`]). Which one an invocation is comes from its shape
//! ([`BusEvent::is_bus_event`]); the payload is then parsed once, as that one.

use dropflow_events::{BusEvent, EventAnswer};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::http::header::SET_COOKIE;
use lambda_http::{Body, Context, RequestExt, Response};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::deps::{ApiPorts, Deps};
use crate::error::ApiError;

/// A bus event that was not delivered, with a stable `errorType`: Lambda retries the
/// asynchronous invocation, then hands the event to the function's failure destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct InvocationError {
    /// `dropflow.InvalidEvent` (neither an HTTP API request nor a bus event, or a bus event
    /// whose detail is not an object: a retry will not help) or `dropflow.AwsError`
    /// (reading the deployments or starting a run failed: retried).
    pub error_type: &'static str,
    /// What went wrong.
    pub message: String,
}

impl From<InvocationError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        Self {
            error_type: error.error_type.to_string(),
            error_message: error.message,
        }
    }
}

impl InvocationError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            error_type: "dropflow.InvalidEvent",
            message: message.into(),
        }
    }

    fn from_api(error: ApiError) -> Self {
        let error_type = if error.status.is_client_error() {
            "dropflow.InvalidEvent"
        } else {
            "dropflow.AwsError"
        };
        let message = match &error.source {
            Some(source) => format!("{}: {source}", error.message),
            None => error.message,
        };
        Self {
            error_type,
            message,
        }
    }
}

/// Answers one invocation (its payload as the runtime received it, unparsed): an HTTP
/// API request's response, or what a bus event did.
pub async fn handle_invocation<P: ApiPorts>(
    payload: Box<RawValue>,
    context: Context,
    deps: &Deps<P>,
) -> Result<Value, InvocationError> {
    let payload = payload.get();
    if BusEvent::is_bus_event(payload) {
        let event: BusEvent = serde_json::from_str(payload)
            .map_err(|e| InvocationError::invalid(format!("not an EventBridge event: {e}")))?;
        // Boxed: the two handlers' futures are deep, and one entry point holds both.
        let answer = Box::pin(deliver(event, deps)).await?;
        return Ok(serde_json::to_value(answer).expect("answers serialise"));
    }
    let request = lambda_http::request::from_str(payload).map_err(|e| {
        InvocationError::invalid(format!(
            "neither an API Gateway HTTP API request (payload v2) nor an EventBridge event: {e}"
        ))
    })?;
    let response = Box::pin(crate::handle(request.with_lambda_context(context), deps)).await;
    Ok(serde_json::to_value(http_api_response(response)).expect("responses serialise"))
}

async fn deliver<P: ApiPorts>(
    event: BusEvent,
    deps: &Deps<P>,
) -> Result<EventAnswer, InvocationError> {
    crate::events::deliver_bus_event(deps, event)
        .await
        .map_err(|error| {
            let error = InvocationError::from_api(error);
            tracing::error!(error_type = error.error_type, "{}", error.message);
            error
        })
}

/// The HTTP API's (payload v2) form of a response: `Set-Cookie` headers as `cookies`.
fn http_api_response(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    headers.remove(SET_COOKIE);
    let (is_base64_encoded, body) = match body {
        Body::Empty => (false, None),
        text @ Body::Text(_) => (false, Some(text)),
        binary @ Body::Binary(_) => (true, Some(binary)),
        _ => (false, None),
    };
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = headers;
    answer.body = body;
    answer.is_base64_encoded = is_base64_encoded;
    answer.cookies = cookies;
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::{StatusCode, header};

    #[test]
    fn responses_take_the_http_apis_form() {
        let response = Response::builder()
            .status(StatusCode::CREATED)
            .header(header::CONTENT_TYPE, "application/json")
            .header(SET_COOKIE, "a=1")
            .body(Body::Text("{}\n".into()))
            .unwrap();
        let answer = serde_json::to_value(http_api_response(response)).unwrap();
        assert_eq!(answer["statusCode"], 201);
        assert_eq!(answer["headers"]["content-type"], "application/json");
        assert!(answer["headers"].get("set-cookie").is_none());
        assert_eq!(answer["cookies"], serde_json::json!(["a=1"]));
        assert_eq!(answer["body"], "{}\n");
        assert_eq!(answer["isBase64Encoded"], false);
    }

    #[test]
    fn client_errors_are_not_retried_as_aws_errors() {
        let refused = ApiError::new(StatusCode::BAD_REQUEST, "invalid_event", "no name");
        assert_eq!(
            InvocationError::from_api(refused).error_type,
            "dropflow.InvalidEvent"
        );
        let failed = ApiError::new(StatusCode::BAD_GATEWAY, "internal", "S3 failed");
        assert_eq!(
            InvocationError::from_api(failed).error_type,
            "dropflow.AwsError"
        );
    }
}
