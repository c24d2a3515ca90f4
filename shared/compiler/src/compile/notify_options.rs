//! `notify_on_error` / `notify_on_success` checked at deploy time: every entry must be an
//! SNS topic ARN or a webhook URL the stack allows, else the deploy is refused with the
//! option, the entry and the fix.

use super::error::CompileError;
use dropflow_contract::notify::NotifyTarget;
use dropflow_contract::{DeployOptions, Platform};

/// Refuses the first `notify_on_*` entry that is not a valid target.
pub(super) fn check_notify_options(
    options: &DeployOptions,
    platform: &Platform,
) -> Result<(), CompileError> {
    for (option, entries) in [
        ("notify_on_error", &options.notify_on_error),
        ("notify_on_success", &options.notify_on_success),
    ] {
        for entry in entries {
            let bad = |problem: String| CompileError::BadOption {
                option: option.to_string(),
                problem,
            };
            let target = NotifyTarget::parse(entry, platform.local_webhooks).map_err(bad)?;
            if let (NotifyTarget::Sns { topic_arn }, Some(prefix)) =
                (&target, &platform.alert_topic_prefix)
            {
                let name = topic_arn.rsplit(':').next().unwrap_or("");
                if prefix.is_empty() || !name.starts_with(prefix.as_str()) {
                    return Err(bad(format!(
                        "`{topic_arn}`: this stack publishes only to SNS topics named `{prefix}*` (its AlertTopicPrefix); rename the topic or deploy the stack with another prefix"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_entries_are_refused_naming_the_option_and_fix() {
        let options = DeployOptions {
            notify_on_success: vec!["arn:aws:sns:us-east-1:123456789012:ok".into()],
            notify_on_error: vec!["slack://hooks".into()],
            ..Default::default()
        };
        let error = check_notify_options(&options, &Platform::default()).unwrap_err();
        assert_eq!(error.code(), "compile.bad_option");
        let text = error.to_string();
        assert!(text.contains("notify_on_error"), "{text}");
        assert!(text.contains("`slack://hooks` is neither"), "{text}");
    }

    #[test]
    fn loopback_webhooks_need_the_local_stack() {
        let options = DeployOptions {
            notify_on_error: vec!["http://127.0.0.1:9000/alert".into()],
            ..Default::default()
        };
        assert!(check_notify_options(&options, &Platform::default()).is_err());
        let local = Platform {
            local_webhooks: true,
            ..Default::default()
        };
        assert!(check_notify_options(&options, &local).is_ok());
    }

    #[test]
    fn topics_must_be_under_the_stack_prefix() {
        let options = DeployOptions {
            notify_on_error: vec!["arn:aws:sns:us-east-1:123456789012:team-alerts".into()],
            ..Default::default()
        };
        let stack = Platform {
            alert_topic_prefix: Some("dropflow-alerts".into()),
            ..Default::default()
        };
        let text = check_notify_options(&options, &stack)
            .unwrap_err()
            .to_string();
        assert!(text.contains("named `dropflow-alerts*`"), "{text}");
        let options = DeployOptions {
            notify_on_error: vec!["arn:aws:sns:us-east-1:123456789012:dropflow-alerts-ml".into()],
            ..Default::default()
        };
        assert!(check_notify_options(&options, &stack).is_ok());
    }
}
