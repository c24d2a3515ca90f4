//! Sends an [`Alert`] to each `notify_on_*` target: SNS through [`SnsPublisher`],
//! webhooks through [`WebhookPoster`] (adapters in dropflow-aws, fakes in tests). Targets
//! are tried concurrently, each [`ATTEMPTS`] times with backoff within [`TARGET_BUDGET`]; a failure never fails the phase that
//! sends it. Every delivery is recorded in the run's records
//! (`dropflow/runs/<state machine>/<run>/_alerts/on_X.json`, an [`AlertRecord`]), so an
//! alert that could not be sent is never lost silently.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::alerts::{Alert, WebhookBody};
use super::bucket_url;
use super::datastore::Datastore;
use super::records::run_prefix;
use dropflow_contract::Manifest;
use dropflow_contract::exit_hooks::RunOutcome;
use dropflow_contract::notify::NotifyTarget;

/// Tries per target.
pub const ATTEMPTS: usize = 3;
/// Waits between tries (then doubled): short, the Lambda waits for them.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The most one target may take, all tries included: targets are tried concurrently,
/// so an alert delays its phase by at most this (the step function's timeout is 60 s).
pub const TARGET_BUDGET: Duration = Duration::from_secs(20);

/// A boxed future: the traits are used as `dyn` by the step Lambda.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Publishes a message to an SNS topic.
pub trait SnsPublisher: Send + Sync {
    /// Publishes `message` with `subject` to `topic_arn`; the error says why not.
    fn publish<'a>(
        &'a self,
        topic_arn: &'a str,
        subject: &'a str,
        message: &'a str,
    ) -> SendFuture<'a>;
}

/// POSTs a JSON body to a webhook.
pub trait WebhookPoster: Send + Sync {
    /// POSTs `body` (`application/json`) to `url`; an error unless the answer is 2xx.
    fn post_json<'a>(&'a self, url: &'a str, body: Vec<u8>) -> SendFuture<'a>;
}

/// How one target's delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The topic ARN, or the webhook's scheme and host (its path may be a secret).
    pub target: String,
    /// `sent` or `failed`.
    pub status: DeliveryStatus,
    /// Tries made.
    pub attempts: usize,
    /// The last error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether a target got the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Delivered (SNS accepted it, the webhook answered 2xx).
    Sent,
    /// Every try failed.
    Failed,
}

/// The run's record of an alert: what was sent where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Which alert.
    pub on: RunOutcome,
    /// The run.
    pub run: String,
    /// The message's subject.
    pub subject: String,
    /// One entry per target.
    pub deliveries: Vec<Delivery>,
}

/// Where alerts go: the two senders.
#[derive(Clone)]
pub struct AlertSenders {
    /// SNS topics.
    pub sns: std::sync::Arc<dyn SnsPublisher>,
    /// Webhooks.
    pub webhooks: std::sync::Arc<dyn WebhookPoster>,
}

impl std::fmt::Debug for AlertSenders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertSenders")
    }
}

/// The targets of `on` in `manifest`'s options (validated at deploy time; an entry that
/// no longer parses is reported as a failed delivery).
fn targets(manifest: &Manifest, on: RunOutcome) -> &[String] {
    match on {
        RunOutcome::Error => &manifest.options.notify_on_error,
        RunOutcome::Success => &manifest.options.notify_on_success,
    }
}

/// Sends `alert` to every target of its outcome, waiting `backoff` then twice as long
/// between tries, and writes the run's [`AlertRecord`] (best effort: the record's own
/// failure is returned in the record's place). Returns the record; `None` when the flow
/// has no targets for this outcome.
pub async fn send_alert<D: Datastore>(
    alert: &Alert,
    manifest: &Manifest,
    senders: &AlertSenders,
    store: &D,
    backoff: Duration,
) -> Option<Result<AlertRecord, String>> {
    let entries = targets(manifest, alert.on);
    if entries.is_empty() {
        return None;
    }
    let subject = alert.subject();
    let text = alert.text();
    let body = serde_json::to_vec(&WebhookBody { text: &text }).expect("a body serialises");
    let tries = entries
        .iter()
        .map(|entry| deliver(entry, senders, &subject, &text, &body, backoff));
    let deliveries = futures_util::future::join_all(tries).await;
    let record = AlertRecord {
        on: alert.on,
        run: alert.run.clone(),
        subject,
        deliveries,
    };
    let key = alert_key(&alert.state_machine, &alert.run, alert.on);
    let written = match bucket_url(manifest, &key) {
        Ok(url) => store
            .put(
                &url,
                serde_json::to_vec(&record).expect("a record serialises"),
                "application/json",
            )
            .await
            .map_err(|e| format!("the alert record {url} could not be written: {e}")),
        Err(e) => Err(e.to_string()),
    };
    Some(written.map(|()| record))
}

/// Tries one target ([`ATTEMPTS`] times, at most [`TARGET_BUDGET`] in all).
async fn deliver(
    entry: &str,
    senders: &AlertSenders,
    subject: &str,
    text: &str,
    body: &[u8],
    backoff: Duration,
) -> Delivery {
    // Deploy-time validation accepted it; loopback http is accepted here as well.
    let target = match NotifyTarget::parse(entry, true) {
        Ok(target) => target,
        Err(error) => {
            return Delivery {
                target: entry.to_string(),
                status: DeliveryStatus::Failed,
                attempts: 0,
                error: Some(error),
            };
        }
    };
    let mut attempts = 0;
    let mut last_error = None;
    let tries = async {
        let mut wait = backoff;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            attempts += 1;
            let sent = match &target {
                NotifyTarget::Sns { topic_arn } => {
                    senders.sns.publish(topic_arn, subject, text).await
                }
                NotifyTarget::Webhook { url } => {
                    senders.webhooks.post_json(url, body.to_vec()).await
                }
            };
            match sent {
                Ok(()) => {
                    last_error = None;
                    return;
                }
                Err(error) => last_error = Some(error),
            }
        }
    };
    if tokio::time::timeout(TARGET_BUDGET, tries).await.is_err() {
        last_error = Some(format!("not delivered within {TARGET_BUDGET:?}"));
    }
    Delivery {
        target: target.redacted(),
        status: if last_error.is_none() {
            DeliveryStatus::Sent
        } else {
            DeliveryStatus::Failed
        },
        attempts,
        error: last_error,
    }
}

/// `dropflow/runs/<state machine>/<run>/_alerts/on_X.json`.
pub fn alert_key(state_machine: &str, run: &str, on: RunOutcome) -> String {
    format!(
        "{}_alerts/{}.json",
        run_prefix(state_machine, run),
        on.attribute()
    )
}

#[cfg(test)]
#[path = "alert_delivery_tests.rs"]
mod tests;
