//! Checks a definition against the Step Functions limits dropflow must respect, before
//! anything is sent to AWS: size, state-name length, unique names, resolvable targets.

use std::collections::{BTreeSet, HashSet};

use super::model::{StateMachine, States};

/// Step Functions' maximum definition size (1 MB).
pub const MAX_DEFINITION_BYTES: usize = 1_048_576;
/// Step Functions' maximum state-name length.
pub const MAX_STATE_NAME_CHARS: usize = 80;

/// A definition that Step Functions would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AslLimitError {
    /// Over 1 MB.
    #[error(
        "the state machine definition is {bytes} bytes, over Step Functions' limit of {MAX_DEFINITION_BYTES}; split the flow into smaller flows or use fewer steps"
    )]
    DefinitionTooLarge {
        /// Size of the compact JSON.
        bytes: usize,
    },
    /// A state name over 80 characters.
    #[error(
        "state name '{name}' is {chars} characters, over Step Functions' limit of {MAX_STATE_NAME_CHARS}"
    )]
    StateNameTooLong {
        /// The name.
        name: String,
        /// Its length in characters.
        chars: usize,
    },
    /// Two states with one name.
    #[error("state name '{name}' is used twice; state names must be unique in a state machine")]
    DuplicateStateName {
        /// The name.
        name: String,
    },
    /// A `Next`, `StartAt`, `Default` or `Catch` target that does not exist in its scope.
    #[error("state '{from}' goes to '{to}', which is not a state of the same scope")]
    UnknownTarget {
        /// The referring state.
        from: String,
        /// The missing target.
        to: String,
    },
}

/// All limit violations of `machine` (empty when it is deployable).
pub fn check_limits(machine: &StateMachine) -> Vec<AslLimitError> {
    let mut errors = Vec::new();
    let bytes = machine.to_json().len();
    if bytes > MAX_DEFINITION_BYTES {
        errors.push(AslLimitError::DefinitionTooLarge { bytes });
    }
    let mut seen = HashSet::new();
    check_scope(
        "StartAt",
        &machine.start_at,
        &machine.states,
        &mut seen,
        &mut errors,
    );
    errors
}

fn check_scope(
    owner: &str,
    start_at: &str,
    states: &States,
    seen: &mut HashSet<String>,
    errors: &mut Vec<AslLimitError>,
) {
    let names: BTreeSet<&str> = states.keys().map(String::as_str).collect();
    if !names.contains(start_at) {
        errors.push(AslLimitError::UnknownTarget {
            from: owner.to_string(),
            to: start_at.to_string(),
        });
    }
    for (name, state) in states {
        let chars = name.chars().count();
        if chars > MAX_STATE_NAME_CHARS {
            errors.push(AslLimitError::StateNameTooLong {
                name: name.clone(),
                chars,
            });
        }
        if !seen.insert(name.clone()) {
            errors.push(AslLimitError::DuplicateStateName { name: name.clone() });
        }
        for target in state.targets() {
            if !names.contains(target) {
                errors.push(AslLimitError::UnknownTarget {
                    from: name.clone(),
                    to: target.to_string(),
                });
            }
        }
        for (start, scope) in state.scopes() {
            check_scope(name, start, scope, seen, errors);
        }
    }
}
