//! Execution names, run ids and execution ARNs.
//!
//! A run id is `sfn-<execution name>`, as Metaflow names runs on Step Functions. Names are
//! a random UUID, or derived from the request's `Idempotency-Key` so that a retried
//! request names (and so starts) the same execution: Step Functions keeps names unique per
//! state machine for 90 days.

use sha2::{Digest, Sha256};

/// Step Functions' limit on execution names.
pub const MAX_EXECUTION_NAME: usize = 80;

/// Metaflow's prefix for runs on Step Functions.
pub const RUN_ID_PREFIX: &str = "sfn-";

/// Hex digits of the key's SHA-256 appended to a name that had to change.
const HASH_CHARS: usize = 16;

/// Characters dropflow puts in execution names: a subset of what Step Functions allows
/// (no whitespace, brackets, wildcards, `"#%\^|~`$&,;:/`, control characters) that is
/// also safe in S3 keys and URLs, where run ids end up.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Whether `name` is a valid execution name as dropflow makes them.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_EXECUTION_NAME && name.chars().all(is_name_char)
}

/// A fresh name: a random UUID (what Step Functions picks when none is given).
pub fn generated() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The execution name for an `Idempotency-Key`: the key itself when it is a valid name;
/// else its characters outside `[A-Za-z0-9._-]` replaced by `-`, cut to fit, and a hash
/// of the whole key appended (so different keys keep different names).
pub fn from_idempotency_key(key: &str) -> String {
    if is_valid_name(key) {
        return key.to_string();
    }
    let digest = data_encoding::HEXLOWER.encode(&Sha256::digest(key.as_bytes()));
    let hash = &digest[..HASH_CHARS];
    let cleaned: String = key
        .chars()
        .map(|c| if is_name_char(c) { c } else { '-' })
        .take(MAX_EXECUTION_NAME - HASH_CHARS - 1)
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        format!("key-{hash}")
    } else {
        format!("{cleaned}-{hash}")
    }
}

/// `sfn-<name>`.
pub fn run_id(name: &str) -> String {
    format!("{RUN_ID_PREFIX}{name}")
}

/// The execution name in a run id (`sfn-<name>`, or a bare name); `None` when it cannot
/// be an execution dropflow started.
pub fn name_of_run(run_id: &str) -> Option<&str> {
    let name = run_id.strip_prefix(RUN_ID_PREFIX).unwrap_or(run_id);
    is_valid_name(name).then_some(name)
}

/// The ARN of execution `name` of a state machine (whether started on the state machine,
/// a version or an alias): `arn:…:execution:<state machine>:<name>`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> Option<String> {
    let (head, machine) = state_machine_arn.split_once(":stateMachine:")?;
    // A qualified ARN (version or alias) still names the same executions.
    let machine = machine.split(':').next()?;
    Some(format!("{head}:execution:{machine}:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_keys_are_used_as_they_are() {
        assert_eq!(from_idempotency_key("order-42_retry.1"), "order-42_retry.1");
        let long = "k".repeat(80);
        assert_eq!(from_idempotency_key(&long), long);
    }

    #[test]
    fn other_keys_are_cleaned_cut_and_hashed() {
        let name = from_idempotency_key("nightly run: 2026/11/02");
        assert!(name.starts_with("nightly-run--2026-11-02-"), "{name}");
        assert!(is_valid_name(&name));
        assert_eq!(name, from_idempotency_key("nightly run: 2026/11/02"));
        assert_ne!(name, from_idempotency_key("nightly run: 2026/11/03"));
        // Cleaning never makes two keys collide with each other or with a valid key.
        assert_ne!(from_idempotency_key("a b"), from_idempotency_key("a/b"));
        assert_ne!(from_idempotency_key("a b"), "a-b");

        let long = "x".repeat(200);
        let name = from_idempotency_key(&long);
        assert_eq!(name.len(), MAX_EXECUTION_NAME);
        assert!(is_valid_name(&name));
        assert_ne!(name, from_idempotency_key(&"x".repeat(201)));

        let name = from_idempotency_key("日本語");
        assert!(name.starts_with("key-") && is_valid_name(&name), "{name}");
    }

    #[test]
    fn generated_names_are_valid_and_fresh() {
        let a = generated();
        assert!(is_valid_name(&a));
        assert_ne!(a, generated());
    }

    #[test]
    fn run_ids_and_arns() {
        assert_eq!(run_id("abc"), "sfn-abc");
        assert_eq!(name_of_run("sfn-abc"), Some("abc"));
        assert_eq!(name_of_run("abc"), Some("abc"));
        assert_eq!(name_of_run("sfn-a/b"), None);
        assert_eq!(name_of_run("sfn-"), None);
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:demo.prod.Flow";
        let expected = "arn:aws:states:us-east-1:123456789012:execution:demo.prod.Flow:abc";
        assert_eq!(execution_arn(machine, "abc").as_deref(), Some(expected));
        assert_eq!(
            execution_arn(&format!("{machine}:live"), "abc").as_deref(),
            Some(expected)
        );
        assert_eq!(execution_arn("arn:aws:lambda:x", "abc"), None);
    }
}
