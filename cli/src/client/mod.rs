//! The `dropflow` client: deploy through the bucket, run and follow through the trigger
//! API — the same upload and the same HTTP API as `aws s3 cp` and a signed `curl`, no
//! second code path. [`Connection`] holds the stack found by [`crate::target`].

pub mod deploy;
pub mod error;
pub mod http;
pub mod params;
pub mod report;
pub mod shown;
pub mod stack;
pub mod store;
pub mod types;

use std::time::Duration;

use aws_config::SdkConfig;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use crate::target::{Target, TargetFlags};
use dropflow_contract::api::{
    FlowDetail, FlowList, RunDetail, RunList, RunResumed, RunStarted, RunStopped,
};
use dropflow_task::saved_logs::{LogPage, LogStream};
use error::ClientError;
use http::{ApiClient, Signer};
use shown::progress_line;
use store::S3Store;
use types::is_final;

/// How often `--wait` asks for a run's progress.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

/// A stack to talk to: its SDK configuration (S3) and its API.
#[derive(Debug, Clone)]
pub struct Connection {
    target: Target,
    sdk: SdkConfig,
}

impl Connection {
    /// Connects to `target`: the local stack's fixed endpoints and test credentials, or
    /// AWS through the standard chain (`AWS_PROFILE`, environment, SSO cache, IMDS...).
    pub async fn new(target: Target) -> Self {
        let sdk = match &target.local {
            Some(endpoints) => {
                dropflow_aws::static_sdk_config(&endpoints.s3_endpoint, &endpoints.region)
            }
            None => dropflow_aws::load_sdk_config().await,
        };
        Self { target, sdk }
    }

    /// Connects to AWS (the standard chain) with `target` filled in from the outputs of
    /// CloudFormation stack `stack` where the flags left it open: `--api`/`--bucket` win
    /// over the stack's outputs, which win over `DROPFLOW_API`/`DROPFLOW_BUCKET`.
    pub async fn from_stack(
        flags: &TargetFlags,
        env: impl Fn(&str) -> Option<String>,
        stack: &str,
    ) -> Result<Self, ClientError> {
        let sdk = dropflow_aws::load_sdk_config().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            ClientError::Credentials(
                "no region: set AWS_REGION (the region the stack is in)".into(),
            )
        })?;
        let override_url = env("AWS_ENDPOINT_URL_CLOUDFORMATION")
            .filter(|url| !url.is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_string));
        let endpoint = stack::endpoint(&region, override_url.as_deref());
        let described = stack::describe(&endpoint, &signer(&sdk, region)?, stack).await?;
        let api_url = match &flags.api {
            Some(api) => api.clone(),
            None => described.require(stack, stack::API_OUTPUT)?,
        };
        let bucket = match &flags.bucket {
            Some(bucket) => bucket.clone(),
            None => described.require(stack, stack::BUCKET_OUTPUT)?,
        };
        let target = Target {
            api_url: Some(api_url.trim_end_matches('/').to_string()),
            bucket: Some(bucket),
            local: None,
        };
        Ok(Self { target, sdk })
    }

    /// The deployment bucket.
    pub fn store(&self) -> Result<S3Store, ClientError> {
        let bucket = self.target.bucket()?;
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.target.local.is_some())
            .build();
        Ok(S3Store::new(aws_sdk_s3::Client::from_conf(config), bucket))
    }

    /// The trigger API, signed unless local.
    pub fn api(&self) -> Result<Api, ClientError> {
        let base = self.target.api()?;
        let signer = if self.target.signs() {
            let region = self
                .sdk
                .region()
                .map(|r| r.to_string())
                .or_else(|| region_of(base))
                .ok_or_else(|| {
                    ClientError::Credentials(
                        "no region: set AWS_REGION (the region the stack is in)".into(),
                    )
                })?;
            Some(signer(&self.sdk, region)?)
        } else {
            None
        };
        Ok(Api {
            client: ApiClient::new(base, signer)?,
        })
    }
}

/// Signing with the SDK configuration's credentials, for `region`.
fn signer(sdk: &SdkConfig, region: String) -> Result<Signer, ClientError> {
    let credentials = sdk
        .credentials_provider()
        .ok_or_else(|| ClientError::Credentials("no credential provider is configured".into()))?;
    Ok(Signer {
        credentials,
        region,
    })
}

/// The region in an API Gateway URL (`https://id.execute-api.REGION.amazonaws.com`).
fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let rest = host.split(".execute-api.").nth(1)?;
    Some(rest.split('.').next()?.to_string())
}

/// What a path segment escapes: all but RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Which task's log `dropflow logs` reads (the API's defaults for what is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Step.
    pub step: Option<String>,
    /// Task id.
    pub task: Option<String>,
    /// Attempt (the newest when `None`).
    pub attempt: Option<u32>,
    /// Which log.
    pub stream: LogStream,
}

/// The trigger API's routes.
#[derive(Debug, Clone)]
pub struct Api {
    client: ApiClient,
}

impl Api {
    /// `GET /flows`.
    pub async fn flows(&self) -> Result<FlowList, ClientError> {
        self.client.get("/flows").await
    }

    /// `GET /flows/{flow}`.
    pub async fn flow(&self, flow: &str) -> Result<FlowDetail, ClientError> {
        self.client.get(&format!("/flows/{}", segment(flow))).await
    }

    /// `POST /flows/{flow}/runs` with `values`.
    pub async fn start(
        &self,
        flow: &str,
        values: &Map<String, Value>,
    ) -> Result<RunStarted, ClientError> {
        self.client
            .post(&format!("/flows/{}/runs", segment(flow)), values)
            .await
    }

    /// `GET /flows/{flow}/runs`.
    pub async fn runs(
        &self,
        flow: &str,
        status: Option<&str>,
        limit: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<RunList, ClientError> {
        let mut query = Vec::new();
        if let Some(status) = status {
            query.push(format!("status={}", segment(status)));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(token) = next_token {
            query.push(format!("next_token={}", segment(token)));
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        self.client
            .get(&format!("/flows/{}/runs{query}", segment(flow)))
            .await
    }

    /// `GET /flows/{flow}/runs/{run_id}`.
    pub async fn run(&self, flow: &str, run_id: &str) -> Result<RunDetail, ClientError> {
        self.client
            .get(&format!(
                "/flows/{}/runs/{}",
                segment(flow),
                segment(run_id)
            ))
            .await
    }

    /// `POST /flows/{flow}/runs/{run_id}/resume`, with `from_step` (Metaflow's `resume
    /// STEP`) when given.
    pub async fn resume(
        &self,
        flow: &str,
        run_id: &str,
        from_step: Option<&str>,
    ) -> Result<RunResumed, ClientError> {
        let mut body = Map::new();
        if let Some(step) = from_step {
            body.insert("from_step".into(), Value::String(step.to_string()));
        }
        self.client
            .post(
                &format!("/flows/{}/runs/{}/resume", segment(flow), segment(run_id)),
                &body,
            )
            .await
    }

    /// `DELETE /flows/{flow}/runs/{run_id}`.
    pub async fn stop(&self, flow: &str, run_id: &str) -> Result<RunStopped, ClientError> {
        self.client
            .delete(&format!(
                "/flows/{}/runs/{}",
                segment(flow),
                segment(run_id)
            ))
            .await
    }

    /// `GET /flows/{flow}/runs/{run_id}/logs?...`: one page of a task's log.
    pub async fn log_page(
        &self,
        flow: &str,
        run_id: &str,
        query: &LogQuery,
        offset: u64,
    ) -> Result<LogPage, ClientError> {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let Some(step) = &query.step {
            pairs.append_pair("step", step);
        }
        if let Some(task) = &query.task {
            pairs.append_pair("task", task);
        }
        if let Some(attempt) = query.attempt {
            pairs.append_pair("attempt", &attempt.to_string());
        }
        pairs.append_pair("stream", query.stream.as_str());
        pairs.append_pair("offset", &offset.to_string());
        self.client
            .get(&format!(
                "/flows/{}/runs/{}/logs?{}",
                segment(flow),
                segment(run_id),
                pairs.finish()
            ))
            .await
    }

    /// A task's whole log, page after page; `page` is called with each (to print it as
    /// it comes). The result holds the whole text.
    pub async fn log(
        &self,
        flow: &str,
        run_id: &str,
        query: &LogQuery,
        mut page: impl FnMut(&LogPage),
    ) -> Result<LogPage, ClientError> {
        let mut whole = self.log_page(flow, run_id, query, 0).await?;
        page(&whole);
        // Name the task the first page resolved, so every page reads the same log.
        let pinned = LogQuery {
            step: Some(whole.step.clone()),
            task: Some(whole.task.clone()),
            attempt: Some(whole.log.attempt),
            stream: query.stream,
        };
        while whole.log.next_offset < whole.log.size {
            let next = self
                .log_page(flow, run_id, &pinned, whole.log.next_offset)
                .await?;
            if next.log.next_offset <= whole.log.next_offset {
                break;
            }
            page(&next);
            whole.log.text.push_str(&next.log.text);
            whole.log.next_offset = next.log.next_offset;
            whole.log.size = next.log.size;
        }
        Ok(whole)
    }

    /// Follows a run until it ends, calling `progress` with each new state.
    pub async fn follow(
        &self,
        flow: &str,
        run_id: &str,
        mut progress: impl FnMut(&RunDetail),
    ) -> Result<RunDetail, ClientError> {
        let mut last = String::new();
        loop {
            let detail = self.run(flow, run_id).await?;
            let line = progress_line(&detail);
            if line != last {
                progress(&detail);
                last = line;
            }
            if is_final(&detail.status) {
                return Ok(detail);
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_an_api_gateway_url() {
        assert_eq!(
            region_of("https://abc123.execute-api.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("http://127.0.0.1:5101"), None);
        assert_eq!(segment("demo.prod.Flow"), "demo.prod.Flow");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
