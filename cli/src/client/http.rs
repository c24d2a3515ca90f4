//! The trigger API over HTTP(S): JSON in and out, SigV4-signed for AWS (service
//! `execute-api`, the standard credential chain), unsigned for the local stack.

use aws_credential_types::provider::SharedCredentialsProvider;
use bytes::Bytes;
use dropflow_aws::signing::SigningError;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ClientError;
use dropflow_contract::api::ApiErrorBody;

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

/// Signs `request` in place for `service` (SigV4 headers, `host` included).
pub(crate) async fn sign_request(
    signer: &Signer,
    service: &str,
    request: &mut Request<Full<Bytes>>,
    body: &[u8],
) -> Result<(), ClientError> {
    dropflow_aws::signing::sign_request(&signer.credentials, &signer.region, service, request, body)
        .await
        .map_err(|e| match e {
            SigningError::Credentials(message) => ClientError::Credentials(message),
            SigningError::Request(message) => {
                ClientError::Credentials(format!("cannot sign the request: {message}"))
            }
        })
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
