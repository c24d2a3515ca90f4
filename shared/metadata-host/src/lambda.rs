//! The API Gateway HTTP API (payload v2) entry: a lambda_http request to the core and
//! back. The stage name is removed from the path (as the trigger API does), then the
//! service strips its mount prefix (`/metadata`).

use dropflow_metadata_service::{MetadataService, MetadataStore, Request};
use lambda_http::http::{self, HeaderValue};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use crate::respond::respond;

/// Answers one API Gateway request.
pub async fn handle_lambda<S: MetadataStore>(
    service: &MetadataService<S>,
    request: lambda_http::Request,
) -> http::Response<Body> {
    let mut stage = None;
    let mut request_id = None;
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() {
        stage = context.stage.clone().filter(|s| s != "$default");
        request_id = context.request_id.clone();
    }
    let request_id = request_id
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let mut path = parts.uri.path().to_string();
    if let Some(stage) = stage {
        let prefix = format!("/{stage}");
        if path == prefix || path.starts_with(&format!("{prefix}/")) {
            path = path[prefix.len()..].to_string();
        }
    }
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let body = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let request = Request {
        method: parts.method.to_string(),
        path,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let response = respond(service, &request, &request_id).await;
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in response.headers(service.version()) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            builder = builder.header(name, value);
        }
    }
    let body = match String::from_utf8(response.body) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| http::Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use dropflow_metadata_service::{MemoryStore, MetadataService, ServiceConfig};
    use serde_json::{Value, json};

    use super::*;

    const FIXTURE: &str = include_str!("../fixtures/example-apigw-v2-request-no-authorizer.json");

    fn event(
        method: &str,
        raw_path: &str,
        stage: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> lambda_http::Request {
        let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
        event["rawPath"] = json!(raw_path);
        event["rawQueryString"] = json!("");
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(raw_path);
        event["requestContext"]["stage"] = json!(stage);
        if let Some(key) = key {
            event["headers"]["x-api-key"] = json!(key);
        }
        if let Some(body) = body {
            event["body"] = json!(body);
        }
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn service() -> MetadataService<MemoryStore> {
        use sha2::Digest;
        MetadataService::new(
            MemoryStore::new(),
            ServiceConfig {
                path_prefix: Some("/metadata".into()),
                api_key_sha256: Some(sha2::Sha256::digest(b"k").into()),
            },
        )
    }

    fn text(body: &Body) -> String {
        match body {
            Body::Text(t) => t.clone(),
            Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    #[tokio::test]
    async fn api_gateway_requests_are_answered_with_the_version_header() {
        let svc = service();
        for (raw_path, stage) in [
            ("/metadata/ping", "$default"),
            ("/prod/metadata/ping", "prod"),
        ] {
            let response =
                handle_lambda(&svc, event("GET", raw_path, stage, Some("k"), None)).await;
            assert_eq!(response.status(), 200, "{raw_path}");
            assert_eq!(text(response.body()), "pong");
            assert_eq!(response.headers()["metadata_service_version"], "2.5.0");
        }
        let created = handle_lambda(
            &svc,
            event(
                "POST",
                "/metadata/flows/F",
                "$default",
                Some("k"),
                Some(r#"{"flow_id": "F"}"#),
            ),
        )
        .await;
        assert_eq!(created.status(), 200, "{}", text(created.body()));
        assert_eq!(created.headers()["content-type"], "application/json");
        let flows = handle_lambda(
            &svc,
            event("GET", "/metadata/flows", "$default", Some("k"), None),
        )
        .await;
        let flows: Value = serde_json::from_str(&text(flows.body())).unwrap();
        assert_eq!(flows[0]["flow_id"], "F");
    }

    #[tokio::test]
    async fn errors_are_json_4xx() {
        let svc = service();
        let denied = handle_lambda(
            &svc,
            event("GET", "/metadata/flows", "$default", None, None),
        )
        .await;
        assert_eq!(denied.status(), 401);
        let bad = handle_lambda(
            &svc,
            event(
                "POST",
                "/metadata/flows/F",
                "$default",
                Some("k"),
                Some("{oops"),
            ),
        )
        .await;
        assert_eq!(bad.status(), 400);
        let body: Value = serde_json::from_str(&text(bad.body())).unwrap();
        assert_eq!(body["error"], "bad_request");
        let wrong = handle_lambda(
            &svc,
            event("DELETE", "/metadata/flows/F", "$default", Some("k"), None),
        )
        .await;
        assert_eq!(wrong.status(), 405);
        assert_eq!(wrong.headers()["allow"], "GET, POST");
    }
}
