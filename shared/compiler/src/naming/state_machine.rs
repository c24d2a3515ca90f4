//! The state machine's name, as Metaflow's `resolve_state_machine_name` forms it:
//! `<project>.<branch>.<Flow>` under `@project` (hash-shortened past 60 characters),
//! else `--name` or the flow's name (refused past 80).

use data_encoding::BASE32;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::error::NamingError;
use super::project::{ProjectBranch, ProjectOptions, project_branch};
use crate::python::Decorator;

/// Step Functions' limit on state machine names.
pub const MAX_STATE_MACHINE_NAME: usize = 80;

/// Project names longer than this are cut and given a hash suffix (Metaflow's rule).
const PROJECT_NAME_CUT: usize = 60;

/// The name a flow is deployed under, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateMachineName {
    /// The state machine's name.
    pub name: String,
    /// The project and branch, under `@project`.
    pub project: Option<ProjectBranch>,
    /// The name was cut to 60 characters and given a hash suffix.
    pub hashed: bool,
}

/// The state machine name for `flow_name`, given the flow's `@project` (if any), the
/// deploy options, and an explicit `--name` (not allowed with `@project`).
///
/// Metaflow's `SFN_STATE_MACHINE_PREFIX` is not applied: a prefix, if wanted, is the
/// caller's to add to `explicit_name`.
pub fn state_machine_name(
    flow_name: &str,
    project: Option<&Decorator>,
    options: &ProjectOptions,
    explicit_name: Option<&str>,
) -> Result<StateMachineName, NamingError> {
    // Metaflow tests `if name:`, so an empty --name counts as none.
    let explicit_name = explicit_name.filter(|name| !name.is_empty());
    if let Some(decorator) = project {
        if explicit_name.is_some() {
            return Err(NamingError::NameWithProject);
        }
        let branch = project_branch(decorator, options)?;
        let full = branch.flow_name(flow_name);
        let (name, hashed) = if full.chars().count() > PROJECT_NAME_CUT {
            let cut: String = full.chars().take(PROJECT_NAME_CUT).collect();
            (format!("{cut}-{}", metaflow_hash(&full)), true)
        } else {
            (full, false)
        };
        return Ok(StateMachineName {
            name,
            project: Some(branch),
            hashed,
        });
    }
    if let Some(name) = explicit_name
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(NamingError::NameInvalid {
            name: name.to_string(),
        });
    }
    let name = explicit_name.unwrap_or(flow_name).to_string();
    if name.chars().count() > MAX_STATE_MACHINE_NAME {
        return Err(NamingError::NameTooLong { name });
    }
    Ok(StateMachineName {
        name,
        project: None,
        hashed: false,
    })
}

/// `base64.b32encode(sha1(name)).lower()[:16]`.
fn metaflow_hash(name: &str) -> String {
    let digest = Sha1::digest(name.as_bytes());
    BASE32.encode(&digest)[..16].to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::Value;
    use proptest::prelude::*;
    use serde_json::json;

    fn project(name: &str) -> Decorator {
        Decorator {
            name: "project".into(),
            line: 1,
            args: vec![],
            kwargs: vec![("name".into(), Value::Literal { value: json!(name) })],
        }
    }

    fn alice() -> ProjectOptions {
        ProjectOptions {
            branch: None,
            production: false,
            user: "alice".into(),
        }
    }

    #[test]
    fn without_project() {
        let name = state_machine_name("HelloFlow", None, &alice(), None).unwrap();
        assert_eq!(
            name,
            StateMachineName {
                name: "HelloFlow".into(),
                project: None,
                hashed: false
            }
        );
        let name = state_machine_name("HelloFlow", None, &alice(), Some("my-flow.v2_x")).unwrap();
        assert_eq!(name.name, "my-flow.v2_x");
        assert_eq!(
            state_machine_name("HelloFlow", None, &alice(), Some(""))
                .unwrap()
                .name,
            "HelloFlow"
        );
    }

    #[test]
    fn invalid_explicit_name() {
        let error = state_machine_name("F", None, &alice(), Some("my flow")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Name 'my flow' contains invalid characters."
        );
        assert_eq!(error.code(), "naming.name.invalid");
    }

    #[test]
    fn too_long_uses_metaflows_message() {
        let long = "F".repeat(81);
        let error = state_machine_name(&long, None, &alice(), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "The full name of the workflow:\n{long}\nis longer than 80 characters.\n\n\
                 To deploy this workflow to AWS Step Functions, please assign a shorter \
                 name\nusing the option\nstep-functions --name <name> create."
            )
        );
        assert_eq!(error.code(), "naming.name.too_long");
        assert!(state_machine_name(&"F".repeat(80), None, &alice(), None).is_ok());
        assert!(state_machine_name("F", None, &alice(), Some(&"n".repeat(81))).is_err());
    }

    #[test]
    fn with_project() {
        let name = state_machine_name("HelloFlow", Some(&project("proj")), &alice(), None).unwrap();
        assert_eq!(
            name,
            StateMachineName {
                name: "proj.user.alice.HelloFlow".into(),
                project: Some(ProjectBranch {
                    project: "proj".into(),
                    branch: "user.alice".into()
                }),
                hashed: false
            }
        );
        let error = state_machine_name("HelloFlow", Some(&project("proj")), &alice(), Some("x"))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "--name is not supported for @projects. Use --branch instead."
        );
    }

    #[test]
    fn long_project_names_are_hashed_like_metaflow() {
        // Project "a_very_long_project_name", branch "prod" (--production).
        let options = ProjectOptions {
            production: true,
            ..alice()
        };
        let flow = "AnExtremelyLongFlowNameForTestingPurposes";
        let name = state_machine_name(
            flow,
            Some(&project("a_very_long_project_name")),
            &options,
            None,
        )
        .unwrap();
        let full = "a_very_long_project_name.prod.AnExtremelyLongFlowNameForTestingPurposes";
        assert!(name.hashed);
        assert_eq!(
            name.name,
            format!("{}-{}", &full[..60], metaflow_hash(full))
        );
        // The same computed by Metaflow's code in Python.
        assert_eq!(
            name.name,
            "a_very_long_project_name.prod.AnExtremelyLongFlowNameForTest-nudlr25cobaj4ie6"
        );
        assert_eq!(name.name.len(), 77);
        // Exactly 60 characters is kept whole.
        let flow60 = "F".repeat(60 - "p.prod.".len());
        let name = state_machine_name(&flow60, Some(&project("p")), &options, None).unwrap();
        assert!(!name.hashed);
        assert_eq!(name.name.len(), 60);
    }

    #[test]
    fn metaflow_hash_matches_python() {
        // python3 -c "import base64,hashlib;print(base64.b32encode(hashlib.sha1(b'abc').digest()).decode()[:16].lower())"
        assert_eq!(metaflow_hash("abc"), "vgmt4nsha2awvor6");
    }

    proptest! {
        /// Whatever the project, branch and flow, a project name fits Step Functions.
        #[test]
        fn project_names_fit(
            project_name in "[a-z0-9_]{1,128}",
            branch in proptest::option::of("[a-z0-9_]{1,128}"),
            production in any::<bool>(),
            flow in "[A-Za-z_][A-Za-z0-9_]{0,150}",
        ) {
            let options = ProjectOptions { branch, production, user: "alice".into() };
            let name = state_machine_name(&flow, Some(&project(&project_name)), &options, None).unwrap();
            prop_assert!(name.name.chars().count() <= MAX_STATE_MACHINE_NAME);
            prop_assert!(name.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')));
        }

        /// Distinct long project flow names stay distinct after hashing.
        #[test]
        fn hashed_names_are_distinct(a in "[A-Za-z]{60,100}", b in "[A-Za-z]{60,100}") {
            prop_assume!(a != b);
            let name = |flow: &str| state_machine_name(flow, Some(&project("p")), &alice(), None).unwrap().name;
            prop_assert_ne!(name(&a), name(&b));
        }
    }
}
