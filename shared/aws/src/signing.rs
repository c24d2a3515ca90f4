//! SigV4 signing of plain HTTP requests, for what has no SDK client: the trigger API
//! (`execute-api`, from the CLI and from the step Lambda's finish events) and
//! CloudFormation's query API (the CLI's `--stack`).

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The credential chain gave nothing.
    #[error("no AWS credentials: {0}")]
    Credentials(String),
    /// The request cannot be signed as it is.
    #[error("cannot sign the request: {0}")]
    Request(String),
}

/// Signs `request` (whose body is `body`) in place for `service` in `region` with the
/// credentials `credentials` provides: the `authorization`, `x-amz-date` (and
/// `x-amz-security-token`) headers. Sets `host` from the URI first, as the signature
/// covers it.
pub async fn sign_request(
    credentials: &SharedCredentialsProvider,
    region: &str,
    service: &str,
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
) -> Result<(), SigningError> {
    if let Some(host) = request.uri().authority().map(|a| a.to_string()) {
        let value = host
            .parse()
            .map_err(|_| SigningError::Request(format!("bad host {host}")))?;
        request.headers_mut().insert("host", value);
    }
    let identity = credentials
        .provide_credentials()
        .await
        .map_err(|e| SigningError::Credentials(e.to_string()))?
        .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SigningError::Request(e.to_string()))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| SigningError::Request(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| SigningError::Request(e.to_string()))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use hyper::Method;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn requests_are_signed_for_the_service_and_region() {
        let credentials = SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            Some("session".into()),
            None,
            "test",
        ));
        let body = br#"{"alpha":0.5}"#.to_vec();
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("https://abc.execute-api.eu-west-1.amazonaws.com/flows/F/runs")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        sign_request(
            &credentials,
            "eu-west-1",
            "execute-api",
            &mut request,
            &body,
        )
        .await
        .unwrap();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert_eq!(header("host"), "abc.execute-api.eu-west-1.amazonaws.com");
        let authorization = header("authorization");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(
            authorization.contains("/eu-west-1/execute-api/aws4_request"),
            "{authorization}"
        );
        assert!(authorization.contains("SignedHeaders="), "{authorization}");
        assert!(!header("x-amz-date").is_empty());
        assert_eq!(header("x-amz-security-token"), "session");
    }
}
