//! The alert senders of the step Lambda: SNS `Publish` ([`SnsAlerts`]) and a webhook
//! POST over the workspace's one hyper + rustls stack ([`HttpWebhooks`]); the same POST
//! SigV4-signed for dropflow's own API ([`SignedApiPoster`]).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sns::error::DisplayErrorContext;
use bytes::Bytes;
use dropflow_task::alert_delivery::{SendFuture, SnsPublisher, WebhookPoster};
use http_body_util::Full;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one webhook POST may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// SNS topics, over the SDK.
#[derive(Debug, Clone)]
pub struct SnsAlerts {
    client: aws_sdk_sns::Client,
}

impl SnsAlerts {
    /// A publisher with `sdk`'s region, credentials and endpoint.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(sdk),
        }
    }
}

impl SnsPublisher for SnsAlerts {
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> SendFuture<'a> {
        Box::pin(async move {
            self.client
                .publish()
                .topic_arn(topic_arn)
                .subject(subject)
                .message(message)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("SNS Publish to {topic_arn}: {}", DisplayErrorContext(e)))
        })
    }
}

/// Webhooks over HTTPS (and plain HTTP, which deploy-time validation allows only to
/// loopback addresses on the local stack).
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpWebhooks {
    /// A client trusting the system's root certificates.
    pub fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("no TLS root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

impl HttpWebhooks {
    /// Sends `request` to `host` (named in errors: a URL's path may be a secret, as
    /// Slack's are), within [`WEBHOOK_TIMEOUT`]; any status but 2xx is an error.
    async fn send(&self, request: Request<Full<Bytes>>, host: &str) -> Result<(), String> {
        let response = tokio::time::timeout(WEBHOOK_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| format!("webhook on {host}: no answer in {WEBHOOK_TIMEOUT:?}"))?
            .map_err(|e| format!("webhook on {host}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("webhook on {host} answered HTTP {status}"))
        }
    }
}

/// A JSON POST request to `url`, and the URL's host.
fn json_post(url: &str, body: Vec<u8>) -> Result<(Request<Full<Bytes>>, String), String> {
    let host = url.split('/').nth(2).unwrap_or("").to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("webhook on {host}: bad request: {e}"))?;
    Ok((request, host))
}

impl WebhookPoster for HttpWebhooks {
    fn post_json<'a>(&'a self, url: &'a str, body: Vec<u8>) -> SendFuture<'a> {
        Box::pin(async move {
            let (request, host) = json_post(url, body)?;
            self.send(request, &host).await
        })
    }
}

/// JSON POSTs to dropflow's own trigger API on AWS, which requires IAM auth: each request
/// SigV4-signed for `execute-api` with the Lambda's credentials (the step Lambda's finish
/// events to `POST /events`).
#[derive(Debug, Clone)]
pub struct SignedApiPoster {
    http: HttpWebhooks,
    credentials: SharedCredentialsProvider,
    region: String,
}

impl SignedApiPoster {
    /// Signs with `sdk`'s credentials and region; `None` when it has either missing.
    pub fn new(sdk: &SdkConfig, http: HttpWebhooks) -> Option<Self> {
        Some(Self {
            http,
            credentials: sdk.credentials_provider()?,
            region: sdk.region()?.to_string(),
        })
    }
}

impl WebhookPoster for SignedApiPoster {
    fn post_json<'a>(&'a self, url: &'a str, body: Vec<u8>) -> SendFuture<'a> {
        Box::pin(async move {
            let (mut request, host) = json_post(url, body.clone())?;
            crate::signing::sign_request(
                &self.credentials,
                &self.region,
                "execute-api",
                &mut request,
                &body,
            )
            .await
            .map_err(|e| format!("API on {host}: {e}"))?;
            self.http.send(request, &host).await
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// One HTTP request read off a local listener (answered `status`), as text.
    async fn one_request(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("\"name\"") {
                let n = stream.read(&mut buffer).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buffer[..n]);
            }
            let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            stream.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&seen).to_lowercase()
        });
        (url, served)
    }

    fn poster() -> SignedApiPoster {
        SignedApiPoster {
            http: HttpWebhooks::new().unwrap(),
            credentials: SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )),
            region: "eu-west-1".into(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_to_the_api_are_posted_signed_and_a_refusal_is_an_error() {
        let (url, served) = one_request("200 OK").await;
        let body = br#"{"name": "metaflow.Up.end", "payload": {}}"#.to_vec();
        poster().post_json(&url, body).await.unwrap();
        let request = served.await.unwrap();
        assert!(request.starts_with("post /events http/1.1"), "{request}");
        assert!(
            request.contains("authorization: aws4-hmac-sha256 credential=akidexample/"),
            "{request}"
        );
        assert!(
            request.contains("/eu-west-1/execute-api/aws4_request"),
            "{request}"
        );
        assert!(request.contains("x-amz-date: "), "{request}");

        let (url, served) = one_request("403 Forbidden").await;
        let error = poster()
            .post_json(&url, br#"{"name": "x"}"#.to_vec())
            .await
            .unwrap_err();
        served.await.unwrap();
        assert!(error.ends_with("answered HTTP 403 Forbidden"), "{error}");
    }
}
