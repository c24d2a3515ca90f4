//! The trigger API over HTTP(S): JSON in and out, SigV4-signed for AWS (service
//! `execute-api`, the standard credential chain), unsigned for the local stack.

use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ClientError;
use super::types::ApiErrorBody;

/// The service name API Gateway signs with.
const SERVICE: &str = "execute-api";

/// Credentials and region for signing.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Where credentials come from.
    pub credentials: SharedCredentialsProvider,
    /// The API's region.
    pub region: String,
}

/// A client of one trigger API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    signer: Option<Signer>,
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// An HTTP(S) client for requests to `url` (named in the error when TLS cannot start).
pub(crate) fn https_client(
    url: &str,
) -> Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>, ClientError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| ClientError::Http {
            method: "CONNECT".into(),
            url: url.into(),
            message: format!("no TLS root certificates: {e}"),
        })?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

impl ApiClient {
    /// A client of the API at `base` (no trailing `/`), signing when `signer` is given.
    pub fn new(base: &str, signer: Option<Signer>) -> Result<Self, ClientError> {
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            signer,
            http: https_client(base)?,
        })
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(Method::GET, path, Vec::new()).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).expect("request bodies serialise");
        self.send(Method::POST, path, bytes).await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(Method::DELETE, path, Vec::new()).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let failed = |message: String| ClientError::Http {
            method: method.to_string(),
            url: url.clone(),
            message,
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| failed(e.to_string()))?;
        if let Some(signer) = &self.signer {
            let host = request.uri().authority().map(|a| a.to_string());
            if let Some(host) = host {
                request
                    .headers_mut()
                    .insert("host", host.parse().map_err(|_| failed("bad host".into()))?);
            }
            sign_request(signer, SERVICE, &mut request, &body).await?;
        }
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| failed(connection_message(&e)))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ApiErrorBody>(&bytes) {
                Ok(body) => ClientError::Api {
                    status: status.as_u16(),
                    body: Box::new(body),
                },
                Err(_) => failed(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
                )),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }
}

/// Signs `request` in place for `service` (SigV4 headers; `host` must be set).
pub(crate) async fn sign_request(
    signer: &Signer,
    service: &str,
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
) -> Result<(), ClientError> {
    let credentials = signer
        .credentials
        .provide_credentials()
        .await
        .map_err(|e| ClientError::Credentials(e.to_string()))?;
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&signer.region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| ClientError::Credentials(e.to_string()))?
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
    .map_err(|e| ClientError::Credentials(format!("cannot sign the request: {e}")))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| ClientError::Credentials(format!("cannot sign the request: {e}")))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// The connection error with its causes (hyper's own message is just "client error").
pub(crate) fn connection_message(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn requests_are_signed_for_execute_api() {
        let signer = Signer {
            credentials: SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                Some("session".into()),
                None,
                "test",
            )),
            region: "eu-west-1".into(),
        };
        let body = br#"{"alpha":0.5}"#.to_vec();
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("https://abc.execute-api.eu-west-1.amazonaws.com/flows/F/runs")
            .header("host", "abc.execute-api.eu-west-1.amazonaws.com")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        sign_request(&signer, SERVICE, &mut request, &body)
            .await
            .unwrap();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
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
