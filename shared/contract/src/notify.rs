//! Alerts without code: where `notify_on_error` / `notify_on_success` send a run's
//! outcome. Each entry is an SNS topic ARN or an HTTPS webhook URL (Slack-compatible
//! `{"text": ...}` body); plain `http://127.0.0.1` / `http://localhost` webhooks only when
//! the stack allows them (the local stack sets `DROPFLOW_LOCAL_WEBHOOKS=allow`).

use serde::{Deserialize, Serialize};

/// One place a run's outcome is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotifyTarget {
    /// An SNS topic (`arn:PARTITION:sns:REGION:ACCOUNT:NAME`).
    Sns {
        /// The topic's ARN.
        topic_arn: String,
    },
    /// An HTTP(S) endpoint that gets `{"text": MESSAGE}` (Slack incoming webhooks and
    /// compatible services).
    Webhook {
        /// The endpoint.
        url: String,
    },
}

impl NotifyTarget {
    /// Reads one `notify_on_*` entry; `local_http` allows plain-HTTP loopback webhooks.
    /// The error says what is wrong and what to write instead.
    pub fn parse(entry: &str, local_http: bool) -> Result<Self, String> {
        let entry = entry.trim();
        if entry.starts_with("arn:") {
            return check_topic_arn(entry).map(|()| NotifyTarget::Sns {
                topic_arn: entry.to_string(),
            });
        }
        if let Some(rest) = entry.strip_prefix("https://") {
            let host = authority(rest);
            if host.is_empty() || host.contains(char::is_whitespace) {
                return Err(format!("`{entry}` has no host: write https://HOST/PATH"));
            }
            return Ok(NotifyTarget::Webhook {
                url: entry.to_string(),
            });
        }
        if let Some(rest) = entry.strip_prefix("http://") {
            let host = authority(rest);
            let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
            let loopback = matches!(name, "127.0.0.1" | "localhost");
            return if loopback && local_http {
                Ok(NotifyTarget::Webhook {
                    url: entry.to_string(),
                })
            } else if loopback {
                Err(format!(
                    "`{entry}`: plain-HTTP webhooks are allowed only on the local stack; use an https:// URL"
                ))
            } else {
                Err(format!(
                    "`{entry}`: webhooks must use https:// (plain http:// only to 127.0.0.1 or localhost on the local stack)"
                ))
            };
        }
        Err(format!(
            "`{entry}` is neither an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC) nor an https:// webhook URL"
        ))
    }

    /// The topic's or URL's text, for records and logs (a webhook's path is kept out:
    /// Slack webhook paths are secrets).
    pub fn redacted(&self) -> String {
        match self {
            NotifyTarget::Sns { topic_arn } => topic_arn.clone(),
            NotifyTarget::Webhook { url } => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                format!("{scheme}://{}/…", authority(rest))
            }
        }
    }
}

/// `host[:port]` of the part of a URL after `scheme://`.
fn authority(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME`, NAME 1 to 256 letters, digits, `-`, `_`
/// (and `.fifo` at the end).
fn check_topic_arn(arn: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{arn}` is not an SNS topic ARN ({why}): write arn:aws:sns:REGION:ACCOUNT:TOPIC"
        ))
    };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 6 {
        return bad("it needs 6 colon-separated parts");
    }
    if !matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov") {
        return bad("unknown partition");
    }
    if parts[2] != "sns" {
        return bad("the service is not sns");
    }
    let region = parts[3];
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("the region is missing or malformed");
    }
    if parts[4].len() != 12 || !parts[4].chars().all(|c| c.is_ascii_digit()) {
        return bad("the account id must be 12 digits");
    }
    let name = parts[5];
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if base.is_empty()
        || name.len() > 256
        || !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return bad("the topic name must be 1-256 letters, digits, - or _");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_https_webhooks_are_accepted() {
        assert_eq!(
            NotifyTarget::parse("arn:aws:sns:eu-west-1:123456789012:dropflow-alerts", false),
            Ok(NotifyTarget::Sns {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:dropflow-alerts".into()
            })
        );
        let hook =
            NotifyTarget::parse("https://hooks.slack.com/services/T/B/secret", false).unwrap();
        assert_eq!(hook.redacted(), "https://hooks.slack.com/…");
    }

    #[test]
    fn plain_http_is_local_and_loopback_only() {
        assert!(NotifyTarget::parse("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(NotifyTarget::parse("http://localhost/hook", true).is_ok());
        let error = NotifyTarget::parse("http://127.0.0.1:8080/hook", false).unwrap_err();
        assert!(error.contains("only on the local stack"), "{error}");
        let error = NotifyTarget::parse("http://example.com/hook", true).unwrap_err();
        assert!(error.contains("must use https://"), "{error}");
    }

    #[test]
    fn unknown_schemes_and_malformed_arns_are_refused() {
        let error = NotifyTarget::parse("ftp://x/y", true).unwrap_err();
        assert!(error.contains("neither an SNS topic ARN"), "{error}");
        for (arn, why) in [
            ("arn:aws:sqs:us-east-1:123456789012:q", "not sns"),
            ("arn:aws:sns:us-east-1:1234:t", "12 digits"),
            ("arn:aws:sns:us-east-1:123456789012:", "topic name"),
            ("arn:aws:sns:us-east-1:123456789012:a b", "topic name"),
            ("arn:aws:sns:us-east-1:123456789012", "6 colon-separated"),
        ] {
            let error = NotifyTarget::parse(arn, true).unwrap_err();
            assert!(error.contains(why), "{arn}: {error}");
        }
    }
}
