//! Names of the AWS resources a deployment creates, fitted to each service's length and
//! character limits. A name that fits is used as it is; one that does not is cut and given
//! a hash of the whole original, so distinct inputs keep distinct names.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

/// Amazon States Language: state names are at most 80 characters.
pub const MAX_STATE_NAME: usize = 80;
/// EventBridge Scheduler: schedule names are 1-64 characters of `[0-9a-zA-Z-_.]`.
pub const MAX_SCHEDULE_NAME: usize = 64;
/// AWS Batch: job and job definition names are 1-128 characters of `[A-Za-z0-9_-]`.
pub const MAX_BATCH_NAME: usize = 128;

/// Hex characters of the hash suffix.
const HASH_LEN: usize = 16;
/// Hex characters of the content hash at the end of a job definition name.
const CONTENT_HASH_LEN: usize = 12;

/// An ASL state name: `base` if it is at most 80 characters, else its first 63
/// characters, `-`, and 16 hex characters of `sha256(base)`.
pub fn state_name(base: &str) -> String {
    if base.chars().count() <= MAX_STATE_NAME {
        return base.to_string();
    }
    let cut: String = base.chars().take(MAX_STATE_NAME - HASH_LEN - 1).collect();
    format!("{cut}-{}", hash(base))
}

/// The EventBridge Scheduler schedule that starts `state_machine`.
pub fn schedule_name(state_machine: &str) -> String {
    fit(
        state_machine,
        Rule {
            max: MAX_SCHEDULE_NAME,
            dots: Dots::Keep,
            first_alphanumeric: false,
        },
    )
}

/// The Batch job definition of `step`: `<state machine>-<step>-<content hash[..12]>`,
/// dots replaced by `_`. The content hash keeps definitions with different contents
/// apart; a name too long is cut and hashed before the content hash.
pub fn job_definition_name(state_machine: &str, step: &str, content_hash: &str) -> String {
    let content: String = content_hash
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(CONTENT_HASH_LEN)
        .collect();
    if content.is_empty() {
        return batch_job_name(state_machine, step);
    }
    let head = fit(
        &format!("{state_machine}-{step}"),
        Rule {
            max: MAX_BATCH_NAME - 1 - content.len(),
            dots: Dots::Underscore,
            first_alphanumeric: true,
        },
    );
    format!("{head}-{content}")
}

/// The name of the Batch job that runs `step`: `<state machine>-<step>`, dots replaced
/// by `_`, starting with a letter or digit as Batch requires.
pub fn batch_job_name(state_machine: &str, step: &str) -> String {
    fit(
        &format!("{state_machine}-{step}"),
        Rule {
            max: MAX_BATCH_NAME,
            dots: Dots::Underscore,
            first_alphanumeric: true,
        },
    )
}

/// What a service allows.
struct Rule {
    max: usize,
    dots: Dots,
    first_alphanumeric: bool,
}

/// How `.` is treated where it is not allowed.
enum Dots {
    /// `.` is allowed.
    Keep,
    /// `.` becomes `_` without a hash: project names (`proj.prod.Flow`) are full of dots,
    /// and `[a-z0-9_]` project and branch names make collisions need contrived names.
    Underscore,
}

/// `raw` if it obeys `rule`; else `raw` with every other disallowed character as `_`,
/// cut to leave room for `-` and 16 hex characters of `sha256(raw)`.
fn fit(raw: &str, rule: Rule) -> String {
    let mut lossy = false;
    let mut name: String = raw
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
            '.' => match rule.dots {
                Dots::Keep => '.',
                Dots::Underscore => '_',
            },
            _ => {
                lossy = true;
                '_'
            }
        })
        .collect();
    let starts_well =
        !rule.first_alphanumeric || name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !lossy && starts_well && (1..=rule.max).contains(&name.len()) {
        return name;
    }
    // Only ASCII is left, so bytes are characters.
    name.truncate(rule.max - HASH_LEN - 1);
    let prefix = if rule.first_alphanumeric {
        name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
    } else {
        &name
    };
    if prefix.is_empty() {
        hash(raw)
    } else {
        format!("{prefix}-{}", hash(raw))
    }
}

/// 16 lowercase hex characters of `sha256(text)`.
fn hash(text: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(text.as_bytes())[..HASH_LEN / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch_legal(name: &str) -> bool {
        (1..=MAX_BATCH_NAME).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    fn schedule_legal(name: &str) -> bool {
        (1..=MAX_SCHEDULE_NAME).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    }

    #[test]
    fn hash_is_sha256_hex() {
        // python3 -c "import hashlib;print(hashlib.sha256(b'abc').hexdigest()[:16])"
        assert_eq!(hash("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn state_names() {
        assert_eq!(state_name("start"), "start");
        let exact = "s".repeat(80);
        assert_eq!(state_name(&exact), exact);
        let long = "s".repeat(81);
        let name = state_name(&long);
        assert_eq!(name, format!("{}-{}", "s".repeat(63), hash(&long)));
        assert_eq!(name.chars().count(), 80);
        // Characters, not bytes.
        let accented = "é".repeat(80);
        assert_eq!(state_name(&accented), accented);
    }

    #[test]
    fn schedule_names() {
        assert_eq!(schedule_name("HelloFlow"), "HelloFlow");
        assert_eq!(
            schedule_name("proj.user.alice.HelloFlow"),
            "proj.user.alice.HelloFlow"
        );
        let long = format!("proj.prod.{}", "F".repeat(60));
        let name = schedule_name(&long);
        assert_eq!(name, format!("{}-{}", &long[..47], hash(&long)));
        assert_eq!(name.len(), 64);
        // Step Functions allows characters Scheduler does not: they cost a hash.
        assert_eq!(schedule_name("Flöw"), format!("Fl_w-{}", hash("Flöw")));
        assert_eq!(schedule_name(""), hash(""));
    }

    #[test]
    fn job_definition_names() {
        assert_eq!(
            job_definition_name("proj.prod.HelloFlow", "start", "0123456789abcdef"),
            "proj_prod_HelloFlow-start-0123456789ab"
        );
        assert_eq!(
            job_definition_name("HelloFlow", "end", "abc"),
            "HelloFlow-end-abc"
        );
        assert_eq!(job_definition_name("HelloFlow", "end", ""), "HelloFlow-end");
        let sm = format!("proj.prod.{}", "F".repeat(120));
        let name = job_definition_name(&sm, "start", "0123456789abcdef");
        assert_eq!(name.len(), 128);
        assert!(name.ends_with("-0123456789ab"), "{name}");
        assert!(name.starts_with("proj_prod_FFF"), "{name}");
        assert!(batch_legal(&name));
    }

    #[test]
    fn batch_job_names() {
        assert_eq!(batch_job_name("HelloFlow", "start"), "HelloFlow-start");
        assert_eq!(
            batch_job_name("proj.user.alice.HelloFlow", "train_model"),
            "proj_user_alice_HelloFlow-train_model"
        );
        // Batch wants a letter or digit first.
        let name = batch_job_name("_PrivateFlow", "start");
        assert_eq!(
            name,
            format!("PrivateFlow-start-{}", hash("_PrivateFlow-start"))
        );
        assert!(batch_legal(&name));
        assert!(batch_legal(&batch_job_name("-", "")));
    }

    proptest! {
        #[test]
        fn state_names_fit(base in "\\PC{0,200}") {
            let name = state_name(&base);
            prop_assert!(name.chars().count() <= MAX_STATE_NAME);
            if base.chars().count() <= MAX_STATE_NAME {
                prop_assert_eq!(name, base);
            }
        }

        #[test]
        fn schedule_names_fit(base in "\\PC{0,200}") {
            let name = schedule_name(&base);
            prop_assert!(schedule_legal(&name), "{:?} -> {:?}", base, name);
            if schedule_legal(&base) {
                prop_assert_eq!(name, base);
            }
        }

        #[test]
        fn batch_names_fit(sm in "\\PC{0,200}", step in "\\PC{0,100}", content in "\\PC{0,40}") {
            let job = batch_job_name(&sm, &step);
            prop_assert!(batch_legal(&job), "{:?}", job);
            let definition = job_definition_name(&sm, &step, &content);
            prop_assert!(batch_legal(&definition), "{:?}", definition);
            let content: String = content.chars().filter(char::is_ascii_alphanumeric).take(12).collect();
            prop_assert!(definition.ends_with(&content));
        }

        #[test]
        fn distinct_long_inputs_give_distinct_names(
            a in "[A-Za-z0-9_.-]{81,200}",
            b in "[A-Za-z0-9_.-]{81,200}",
        ) {
            prop_assume!(a != b);
            prop_assert_ne!(state_name(&a), state_name(&b));
            prop_assert_ne!(schedule_name(&a), schedule_name(&b));
            prop_assert_ne!(batch_job_name(&a, "start"), batch_job_name(&b, "start"));
            prop_assert_ne!(
                job_definition_name(&a, "start", "0123456789ab"),
                job_definition_name(&b, "start", "0123456789ab")
            );
        }

        /// Inputs that had to be rewritten stay apart too, however short.
        #[test]
        fn distinct_rewritten_inputs_give_distinct_names(a in "\\PC{1,20}", b in "\\PC{1,20}") {
            prop_assume!(a != b);
            let rewritten = |s: &str| !schedule_legal(s);
            prop_assume!(rewritten(&a) && rewritten(&b));
            prop_assert_ne!(schedule_name(&a), schedule_name(&b));
        }
    }
}
