//! One request in, one response out, one log line: the core every host shares (the
//! Lambda adapter, the local listener, tests).

use std::time::Instant;

use dropflow_metadata_service::{MetadataService, MetadataStore, Request, Response};

/// The answer's parts: status, headers (content type, `METADATA_SERVICE_VERSION`,
/// `Allow` on a 405) and body.
pub type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// Answers `request` and logs it (`method`, `path`, `status`, `ms`; a failing store's
/// operation and error code too).
pub async fn respond<S: MetadataStore>(
    service: &MetadataService<S>,
    request: &Request,
    request_id: &str,
) -> Response {
    let started = Instant::now();
    let response = match service.dispatch(request).await {
        Ok(dropflow_metadata_service::Reply::Json(value)) => Response::json(200, &value),
        Ok(dropflow_metadata_service::Reply::Text(text)) => Response::text(200, &text),
        Err(error) => {
            match &error.source {
                Some(source) => tracing::error!(
                    request_id,
                    method = %request.method,
                    path = %request.path,
                    operation = %source.operation,
                    aws_code = source.code.as_deref().unwrap_or(""),
                    "{source}"
                ),
                None => tracing::info!(request_id, error = error.code, "{}", error.message),
            }
            Response::error(&error)
        }
    };
    let ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    tracing::info!(
        request_id,
        method = %request.method,
        path = %request.path,
        status = response.status,
        ms,
        "request"
    );
    response
}

/// [`respond`] on a request given as parts (`query` without `?`).
pub async fn handle<S: MetadataStore>(
    service: &MetadataService<S>,
    method: &str,
    path: &str,
    query: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Answer {
    let request = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    };
    let response = respond(service, &request, "-").await;
    let headers = response.headers(service.version());
    (response.status, headers, response.body)
}
