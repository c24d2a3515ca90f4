//! The handler: a request in, one JSON response out, one log line per request.

use std::time::Instant;

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};

use crate::answer::{Answer, JsonBody};
use crate::deps::{ApiPorts, Deps};
use crate::error::{ApiError, code};
use crate::request::ApiRequest;
use crate::route::{NoRoute, Route, route};
use crate::{events, flows, logs, resume, runs};

/// Answers an API Gateway (payload v2) request, or one made by [`crate::from_http`].
pub async fn handle<P: ApiPorts>(request: lambda_http::Request, deps: &Deps<P>) -> Response<Body> {
    handle_request(ApiRequest::from_lambda(request), deps).await
}

/// Answers a request already taken apart.
pub async fn handle_request<P: ApiPorts>(request: ApiRequest, deps: &Deps<P>) -> Response<Body> {
    let started = Instant::now();
    let answer = dispatch(&request, deps).await;
    let ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let (status, body, allow) = match answer {
        Ok((status, body)) => (status, body, None),
        Err(error) => {
            match &error.source {
                Some(source) => tracing::error!(
                    request_id = %request.request_id,
                    method = %request.method,
                    path = %request.path,
                    operation = %source.operation,
                    aws_code = source.code.as_deref().unwrap_or(""),
                    "{source}"
                ),
                None => tracing::info!(
                    request_id = %request.request_id,
                    error = error.code,
                    "{}", error.message
                ),
            }
            let body = JsonBody::of(&error.body(&request.request_id));
            (error.status, body, error.allow)
        }
    };
    tracing::info!(
        request_id = %request.request_id,
        method = %request.method,
        path = %request.path,
        status = status.as_u16(),
        ms,
        "request"
    );
    respond(status, body, &request.request_id, allow)
}

async fn dispatch<P: ApiPorts>(request: &ApiRequest, deps: &Deps<P>) -> Answer {
    let route = route(&request.method, &request.path).map_err(|no| match no {
        NoRoute::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            format!(
                "no route {} {}; the API has /flows, /flows/{{flow}}, /flows/{{flow}}/runs, /flows/{{flow}}/runs/{{run_id}}, /flows/{{flow}}/runs/{{run_id}}/logs and /flows/{{flow}}/runs/{{run_id}}/resume",
                request.method, request.path
            ),
        ),
        NoRoute::MethodNotAllowed(allow) => ApiError {
            allow: Some(allow),
            ..ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                code::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on {}; use {allow}", request.method, request.path),
            )
        },
    })?;
    match route {
        Route::ListFlows => flows::list(deps).await,
        Route::GetFlow { flow } => flows::get(deps, &flow).await,
        Route::StartRun { flow } => runs::start(deps, request, &flow).await,
        Route::ListRuns { flow } => runs::list(deps, request, &flow).await,
        Route::GetRun { flow, run } => runs::get(deps, &flow, &run).await,
        Route::StopRun { flow, run } => runs::stop(deps, request, &flow, &run).await,
        Route::GetLogs { flow, run } => logs::get(deps, request, &flow, &run).await,
        Route::PublishEvent => events::publish(deps, request).await,
        Route::ListRejections { flow } => events::rejected(deps, request, &flow).await,
        Route::ResumeRun { flow, run } => resume::resume(deps, request, &flow, &run).await,
    }
}

fn respond(
    status: StatusCode,
    body: JsonBody,
    request_id: &str,
    allow: Option<&str>,
) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", request_id);
    if let Some(allow) = allow {
        builder = builder.header(header::ALLOW, allow);
    }
    builder
        .body(Body::Text(body.into_text()))
        .expect("a response from valid parts")
}
