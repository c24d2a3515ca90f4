//! The production token of a deployment: what Metaflow's Step Functions integration
//! passes its tasks as `METAFLOW_PRODUCTION_TOKEN`, so their runs carry the
//! `production:<token>` tag and `namespace("production:<token>")` finds them. Metaflow
//! accepts any string; dropflow's is stable per state machine (the same name, the same
//! token, whatever the version) and keeps to `[a-z0-9-]`.

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

/// Characters of the state machine name kept in a token.
const TOKEN_NAME_LEN: usize = 40;
/// Hex characters of the hash suffix.
const TOKEN_HASH_LEN: usize = 8;

/// `state_machine` lower-cased, every character outside `[a-z0-9]` replaced by `-`, cut
/// to 40 characters, then `-` and 8 hex characters of `sha256(state_machine)` (which
/// keeps names that differ only in case or punctuation apart).
pub fn production_token(state_machine: &str) -> String {
    let name: String = state_machine
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .take(TOKEN_NAME_LEN)
        .collect();
    let digest = Sha256::digest(state_machine.as_bytes());
    let hash = HEXLOWER.encode(&digest[..TOKEN_HASH_LEN / 2]);
    format!("{name}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_the_name_and_a_hash() {
        // python3 -c "import hashlib;print(hashlib.sha256(b'ParameterFlow').hexdigest()[:8])"
        assert_eq!(production_token("ParameterFlow"), "parameterflow-213cf3f5");
        assert_eq!(
            production_token("proj.prod.HelloFlow"),
            "proj-prod-helloflow-462df3a1"
        );
        let long = "A".repeat(60);
        assert_eq!(
            production_token(&long),
            format!("{}-c5fb235b", "a".repeat(40))
        );
        // Case and punctuation are folded in the name, not in the hash.
        assert_ne!(production_token("Flow"), production_token("flow"));
        assert_ne!(production_token("a.b"), production_token("a_b"));
    }

    proptest! {
        #[test]
        fn tokens_are_stable_and_valid(name in "\\PC{1,100}") {
            let token = production_token(&name);
            prop_assert_eq!(&token, &production_token(&name));
            prop_assert!(token.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-')));
            prop_assert!(token.len() <= TOKEN_NAME_LEN + 1 + TOKEN_HASH_LEN);
            prop_assert!(token.len() > 1 + TOKEN_HASH_LEN);
        }
    }
}
