//! The alert senders of the step Lambda: SNS `Publish` ([`SnsAlerts`]) and a webhook
//! POST over the workspace's one hyper + rustls stack ([`HttpWebhooks`]).

use std::time::Duration;

use aws_config::SdkConfig;
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

impl WebhookPoster for HttpWebhooks {
    fn post_json<'a>(&'a self, url: &'a str, body: Vec<u8>) -> SendFuture<'a> {
        Box::pin(async move {
            // The URL's path may be a secret (Slack): errors name its host only.
            let host = url.split('/').nth(2).unwrap_or("");
            let request = Request::builder()
                .method(Method::POST)
                .uri(url)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| format!("webhook on {host}: bad request: {e}"))?;
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
        })
    }
}
