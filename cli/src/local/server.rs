//! The local stack's HTTP servers on 127.0.0.1, over the hyper the AWS SDK already builds:
//! the Lambda Invoke API hosting the [`Registry`], and the trigger API (the trigger
//! function's handler behind plain HTTP, as API Gateway puts it on AWS).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::registry::Registry;

/// How often an asynchronous (`Event`) invocation is retried after a function error, and
/// the pause before each retry (AWS retries twice, a minute or two apart).
const EVENT_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];

/// Serves `handler` on `listener` until the returned task is aborted.
fn serve<F, Fut>(listener: TcpListener, handler: F) -> JoinHandle<()>
where
    F: Fn(Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Bytes>> + Send + 'static,
{
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(respond(&*handler, request).await) }
                });
                if let Err(error) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!("connection ended: {error}");
                }
            });
        }
    })
}

async fn respond<F, Fut>(handler: &F, request: Request<Incoming>) -> Response<Full<Bytes>>
where
    F: Fn(Request<Bytes>) -> Fut,
    Fut: Future<Output = Response<Bytes>>,
{
    let (parts, body) = request.into_parts();
    let response = match body.collect().await {
        Ok(body) => handler(Request::from_parts(parts, body.to_bytes())).await,
        Err(error) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"Type": "User", "Message": format!("unreadable request body: {error}")}),
        ),
    };
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Full::new(body))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The Lambda Invoke API (`POST /2015-03-31/functions/NAME/invocations`), as `cargo lambda
/// watch` serves it: 200 with the function's JSON result, 500 with `{errorType,
/// errorMessage}` for a function error, 404 for an unknown function. An `Event`
/// invocation (`X-Amz-Invocation-Type: Event`, S3 notifications) is answered 202 at once
/// and run in the background, retried twice after a function error as AWS does.
pub fn invoke_api(listener: TcpListener, registry: Registry) -> JoinHandle<()> {
    let registry = Arc::new(registry);
    serve(listener, move |request| {
        let registry = registry.clone();
        async move {
            let (status, body) = invoke(&registry, request).await;
            json_response(status, &body)
        }
    })
}

async fn invoke(registry: &Registry, request: Request<Bytes>) -> (StatusCode, Value) {
    let path = request.uri().path().to_string();
    let Some(name) = function_name(&path) else {
        return (
            StatusCode::NOT_FOUND,
            json!({"Type": "User", "Message": format!("no route for {} {path}", request.method())}),
        );
    };
    if request.method() != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"Type": "User", "Message": "invocations are POST requests"}),
        );
    }
    let Some(handler) = registry.get(&name) else {
        return (
            StatusCode::NOT_FOUND,
            json!({
                "Type": "User",
                "Message": format!(
                    "Function not found: {name} (the local stack hosts: {})",
                    registry.names().join(", ")
                ),
            }),
        );
    };
    let asynchronous = request
        .headers()
        .get("x-amz-invocation-type")
        .is_some_and(|v| v.as_bytes() == b"Event");
    let body = request.into_body();
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(error) => {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"Type": "User", "Message": format!("the payload is not JSON: {error}")}),
                );
            }
        }
    };
    if asynchronous {
        tokio::spawn(async move {
            for delay in std::iter::once(None).chain(EVENT_RETRY_DELAYS.map(Some)) {
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                match handler(payload.clone()).await {
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(function = %name, "asynchronous invocation failed: {error}")
                    }
                }
            }
            tracing::error!(function = %name, "asynchronous invocation failed 3 times; dropped");
        });
        return (StatusCode::ACCEPTED, json!({}));
    }
    let started = std::time::Instant::now();
    let outcome = handler(payload).await;
    let ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(value) => {
            tracing::debug!(function = %name, ms, "invoked");
            (StatusCode::OK, value)
        }
        Err(error) => {
            tracing::info!(function = %name, ms, error_type = %error.error_type, "function error: {}", error.message);
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_json())
        }
    }
}

/// `NAME` from `/2015-03-31/functions/NAME/invocations` (NAME may be an ARN, or carry a
/// `:qualifier`, both of which are reduced to the name).
fn function_name(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/2015-03-31/functions/")?;
    let encoded = rest.strip_suffix("/invocations")?;
    let name = percent_decode(encoded);
    let name = match name.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", _, _, "function", name, ..] => name.to_string(),
        [name, ..] => name.to_string(),
        [] => return None,
    };
    (!name.is_empty()).then_some(name)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The trigger API (`dropflow-api`, bound to AWS by `functions/trigger`) over plain HTTP: its handler, hosted as a
/// library, answers every request (no IAM authorization locally).
pub fn trigger_api(listener: TcpListener, deps: Arc<dropflow_trigger::AwsDeps>) -> JoinHandle<()> {
    serve(listener, move |request| {
        let deps = deps.clone();
        async move {
            let response = dropflow_api::handle(dropflow_api::from_http(request), &deps).await;
            let (parts, body) = response.into_parts();
            let body = match body {
                dropflow_api::lambda_http::Body::Text(text) => Bytes::from(text),
                dropflow_api::lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
                _ => Bytes::new(),
            };
            Response::from_parts(parts, body)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_come_from_the_path() {
        let name = |p| function_name(p);
        assert_eq!(
            name("/2015-03-31/functions/dropflow-step/invocations").as_deref(),
            Some("dropflow-step")
        );
        assert_eq!(
            name("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Astep%3Alive/invocations")
                .as_deref(),
            Some("step")
        );
        assert_eq!(
            name("/2015-03-31/functions/step:3/invocations").as_deref(),
            Some("step")
        );
        assert_eq!(name("/2015-03-31/functions//invocations"), None);
        assert_eq!(name("/other"), None);
    }
}
