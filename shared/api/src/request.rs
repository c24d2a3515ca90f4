//! A request as the routes see it, from API Gateway (payload v2, through lambda_http) or
//! from a plain HTTP server (the local stack hosts the handler in-process).

use bytes::Bytes;
use lambda_http::http::{self, HeaderMap, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

/// The header that makes a `POST /flows/{flow}/runs` idempotent.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The parts of a request the routes use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// Method.
    pub method: Method,
    /// Path, without an API Gateway stage prefix (`/flows/F/runs`).
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes (base64 already decoded).
    pub body: Vec<u8>,
    /// API Gateway's request id, else the Lambda's, else a fresh one.
    pub request_id: String,
}

impl ApiRequest {
    /// From a lambda_http request (API Gateway HTTP API payload v2, or [`from_http`]).
    pub fn from_lambda(request: lambda_http::Request) -> Self {
        let mut stage = None;
        let mut request_id = None;
        if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() {
            stage = context.stage.clone().filter(|s| s != "$default");
            request_id = context.request_id.clone();
        }
        let request_id = request_id
            .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (parts, body) = request.into_parts();
        let mut path = parts.uri.path().to_string();
        if let Some(stage) = stage {
            let prefix = format!("/{stage}");
            if path == prefix || path.starts_with(&format!("{prefix}/")) {
                path = path[prefix.len()..].to_string();
            }
        }
        let query = parts
            .uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let body = match body {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.into_bytes(),
            Body::Binary(bytes) => bytes,
            _ => Vec::new(),
        };
        Self {
            method: parts.method,
            path,
            query,
            headers: parts.headers,
            body,
            request_id,
        }
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `Idempotency-Key` header: `None` when absent, `Some(Err)` when not text.
    pub fn idempotency_key(&self) -> Option<Result<&str, ()>> {
        self.headers
            .get(IDEMPOTENCY_KEY)
            .map(|v| v.to_str().map(str::trim).map_err(|_| ()))
    }
}

/// A plain HTTP request as a lambda_http request, for hosting [`crate::handle`] behind any
/// HTTP server: the body becomes text when it is UTF-8, bytes otherwise.
pub fn from_http(request: http::Request<Bytes>) -> lambda_http::Request {
    let (parts, body) = request.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(error) => Body::Binary(error.into_bytes()),
        }
    };
    http::Request::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
    use serde_json::{Value, json};

    use super::*;

    const FIXTURE: &str = include_str!("../fixtures/example-apigw-v2-request-no-authorizer.json");

    fn event(method: &str, raw_path: &str, query: &str, stage: &str, body: Option<&str>) -> String {
        let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
        event["rawPath"] = json!(raw_path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(raw_path);
        event["requestContext"]["stage"] = json!(stage);
        event["headers"]["idempotency-key"] = json!("  k-1 ");
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        event.to_string()
    }

    #[test]
    fn the_fixture_is_an_api_gateway_v2_event() {
        let typed: ApiGatewayV2httpRequest = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(typed.version.as_deref(), Some("2.0"));
        assert_eq!(typed.request_context.http.method, Method::GET);
    }

    #[test]
    fn api_gateway_requests_are_read() {
        let raw = event(
            "POST",
            "/flows/F/runs",
            "limit=5&status=RUNNING&x=a%20b",
            "$default",
            Some(r#"{"a": 1}"#),
        );
        let request = ApiRequest::from_lambda(lambda_http::request::from_str(&raw).unwrap());
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, "/flows/F/runs");
        assert_eq!(request.query_param("limit"), Some("5"));
        assert_eq!(request.query_param("x"), Some("a b"));
        assert_eq!(request.body, br#"{"a": 1}"#);
        assert_eq!(request.request_id, "LV7fzho-PHcEJPw=");
        assert_eq!(request.idempotency_key(), Some(Ok("k-1")));
    }

    #[test]
    fn a_named_stage_is_removed_from_the_path() {
        for raw_path in ["/prod/flows/F", "/flows/F"] {
            let raw = event("GET", raw_path, "", "prod", None);
            let request = ApiRequest::from_lambda(lambda_http::request::from_str(&raw).unwrap());
            assert_eq!(request.path, "/flows/F", "{raw_path}");
        }
    }

    #[test]
    fn plain_http_requests_are_read() {
        let request = http::Request::builder()
            .method("DELETE")
            .uri("http://127.0.0.1:8080/flows/F/runs/sfn-1?x=1")
            .body(Bytes::from_static(b""))
            .unwrap();
        let request = ApiRequest::from_lambda(from_http(request));
        assert_eq!(request.method, Method::DELETE);
        assert_eq!(request.path, "/flows/F/runs/sfn-1");
        assert_eq!(request.query_param("x"), Some("1"));
        assert!(request.body.is_empty());
        assert_eq!(request.request_id.len(), 36);
        assert_eq!(request.idempotency_key(), None);
    }
}
