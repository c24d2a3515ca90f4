//! `@project(name=..., branch=..., production=...)` and the deploy options beside it,
//! resolved into a project and a branch exactly as Metaflow's `ProjectDecorator.flow_init`
//! and `format_name` do.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::NamingError;
use crate::python::Decorator;

/// Metaflow's `VALID_NAME_LEN` for project and branch names.
const MAX_NAME_LEN: usize = 128;

/// Metaflow's `ProjectDecorator.defaults`, in its order.
const ARGUMENTS: [&str; 3] = ["name", "production", "branch"];

/// The deploy options that choose a `@project` branch (Metaflow's `--branch`,
/// `--production`) and the user whose branch is the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectOptions {
    /// `--branch`: deploy to `test.<branch>` (or `prod.<branch>` with `production`).
    pub branch: Option<String>,
    /// `--production`: deploy to `prod` (or `prod.<branch>`).
    pub production: bool,
    /// Whose `user.<name>` branch a deployment without either goes to. Metaflow uses
    /// `METAFLOW_OWNER` when set, else the user name: the caller resolves that.
    pub user: String,
}

/// The project and branch a flow is deployed under, as Metaflow's `current.project_name`
/// and `current.branch_name` report them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectBranch {
    /// `@project(name=...)`.
    pub project: String,
    /// `prod`, `prod.<branch>`, `test.<branch>` or `user.<name>`.
    pub branch: String,
}

impl ProjectBranch {
    /// Metaflow's `current.is_production`.
    pub fn is_production(&self) -> bool {
        self.branch == "prod" || self.branch.starts_with("prod.")
    }

    /// Metaflow's `current.is_user_branch`: neither a branch nor production was asked for.
    pub fn is_user_branch(&self) -> bool {
        self.branch.starts_with("user.")
    }

    /// Metaflow's `current.project_flow_name`: `<project>.<branch>.<flow>`.
    pub fn flow_name(&self, flow: &str) -> String {
        format!("{}.{}.{}", self.project, self.branch, flow)
    }
}

/// Resolves `@project` against the options, with Metaflow's checks and messages.
pub(super) fn project_branch(
    decorator: &Decorator,
    options: &ProjectOptions,
) -> Result<ProjectBranch, NamingError> {
    if let Some(first) = decorator.args.first() {
        return Err(NamingError::PositionalArgument {
            found: first.describe(),
        });
    }
    if let Some((argument, _)) = decorator
        .kwargs
        .iter()
        .find(|(name, _)| !ARGUMENTS.contains(&name.as_str()))
    {
        return Err(NamingError::UnknownArgument {
            argument: argument.clone(),
        });
    }
    let name = literal(decorator, "name", "'some_name'")?;
    let branch = literal(decorator, "branch", "'some_branch'")?;
    let production = literal(decorator, "production", "True")?;

    // Metaflow: an error only when the attribute is given, the option is not its
    // default, and the two differ.
    if let Some(attribute) = branch
        && options.branch.is_some()
        && !equals_option_branch(attribute, options.branch.as_deref())
    {
        return Err(NamingError::OptionConflict { option: "branch" });
    }
    if let Some(attribute) = production
        && options.production
        && !python_eq_bool(attribute, true)
    {
        return Err(NamingError::OptionConflict {
            option: "production",
        });
    }

    let option_branch = options.branch.clone().map_or(Json::Null, Json::String);
    let given_branch = branch.unwrap_or(&option_branch);
    let production = match production {
        Some(attribute) => truthy(attribute),
        None => options.production,
    };

    let project = match name {
        None => return Err(NamingError::ProjectNameMissing),
        Some(value) if !truthy(value) => return Err(NamingError::ProjectNameMissing),
        Some(Json::String(project)) => project.clone(),
        Some(other) => return Err(wrong_type("name", other, "a string", "'some_name'")),
    };
    if !is_lower_name(&project) {
        return Err(NamingError::ProjectNameInvalid { name: project });
    }
    if project.chars().count() > MAX_NAME_LEN {
        return Err(NamingError::ProjectNameTooLong { name: project });
    }

    let branch = if truthy(given_branch) {
        let Json::String(given) = given_branch else {
            return Err(wrong_type(
                "branch",
                given_branch,
                "a string",
                "'some_branch'",
            ));
        };
        if !is_lower_name(given) {
            return Err(NamingError::BranchInvalid {
                branch: given.clone(),
            });
        }
        if given.chars().count() > MAX_NAME_LEN {
            return Err(NamingError::BranchTooLong {
                branch: given.clone(),
            });
        }
        if production {
            format!("prod.{given}")
        } else {
            format!("test.{given}")
        }
    } else if production {
        "prod".to_string()
    } else {
        validate_user(&options.user)?;
        format!("user.{}", options.user)
    };
    Ok(ProjectBranch { project, branch })
}

/// Metaflow puts the user name into `user.<name>` unchanged. dropflow refuses names that
/// would make the state machine name illegal or ambiguous instead of rewriting them.
fn validate_user(user: &str) -> Result<(), NamingError> {
    let legal = !user.is_empty()
        && user.chars().count() <= MAX_NAME_LEN
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if legal {
        Ok(())
    } else {
        Err(NamingError::UserInvalid {
            user: user.to_string(),
        })
    }
}

/// Metaflow's `re.search("[^a-z0-9_]", name)` finds nothing.
fn is_lower_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Python's `attribute == options["branch"]` for a non-default (string) option.
fn equals_option_branch(attribute: &Json, option: Option<&str>) -> bool {
    match (attribute, option) {
        (Json::String(a), Some(o)) => a == o,
        (Json::Null, None) => true,
        _ => false,
    }
}

/// Python's `attribute == True` / `== False` (`1 == True` holds in Python).
fn python_eq_bool(attribute: &Json, value: bool) -> bool {
    match attribute {
        Json::Bool(b) => *b == value,
        Json::Number(n) => n.as_f64() == Some(if value { 1.0 } else { 0.0 }),
        _ => false,
    }
}

/// Python's truth value of a literal.
fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(items) => !items.is_empty(),
        Json::Object(map) => !map.is_empty(),
    }
}

fn literal<'a>(
    decorator: &'a Decorator,
    name: &str,
    example: &'static str,
) -> Result<Option<&'a Json>, NamingError> {
    let Some(value) = decorator.kwarg(name) else {
        return Ok(None);
    };
    value
        .as_literal()
        .map(Some)
        .ok_or_else(|| NamingError::NotLiteral {
            argument: name.to_string(),
            text: value.describe(),
            example,
        })
}

fn wrong_type(
    argument: &str,
    found: &Json,
    expected: &'static str,
    example: &'static str,
) -> NamingError {
    let found = match found {
        Json::Bool(true) => "True".to_string(),
        Json::Bool(false) => "False".to_string(),
        Json::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    NamingError::WrongType {
        argument: argument.to_string(),
        found,
        expected,
        example,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::Value;
    use serde_json::json;

    fn project(kwargs: &[(&str, serde_json::Value)]) -> Decorator {
        Decorator {
            name: "project".into(),
            line: 1,
            args: vec![],
            kwargs: kwargs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::Literal { value: v.clone() }))
                .collect(),
        }
    }

    fn options(branch: Option<&str>, production: bool) -> ProjectOptions {
        ProjectOptions {
            branch: branch.map(str::to_string),
            production,
            user: "alice".into(),
        }
    }

    fn branch_of(
        kwargs: &[(&str, serde_json::Value)],
        branch: Option<&str>,
        production: bool,
    ) -> Result<String, NamingError> {
        project_branch(&project(kwargs), &options(branch, production)).map(|p| p.branch)
    }

    #[test]
    fn metaflow_branches() {
        let name = || ("name", json!("proj"));
        assert_eq!(branch_of(&[name()], None, false).unwrap(), "user.alice");
        assert_eq!(branch_of(&[name()], None, true).unwrap(), "prod");
        assert_eq!(branch_of(&[name()], Some("x"), false).unwrap(), "test.x");
        assert_eq!(branch_of(&[name()], Some("x"), true).unwrap(), "prod.x");
        assert_eq!(
            branch_of(&[name(), ("branch", json!("x"))], None, false).unwrap(),
            "test.x"
        );
        assert_eq!(
            branch_of(&[name(), ("production", json!(true))], None, false).unwrap(),
            "prod"
        );
        assert_eq!(
            branch_of(
                &[name(), ("branch", json!("x")), ("production", json!(true))],
                None,
                false
            )
            .unwrap(),
            "prod.x"
        );
        // The decorator's value wins when the option is at its default.
        assert_eq!(
            branch_of(&[name(), ("production", json!(false))], None, false).unwrap(),
            "user.alice"
        );
        // Same value both ways is not a conflict.
        assert_eq!(
            branch_of(&[name(), ("branch", json!("x"))], Some("x"), false).unwrap(),
            "test.x"
        );
        assert_eq!(
            branch_of(&[name(), ("production", json!(true))], None, true).unwrap(),
            "prod"
        );
        // An empty --branch is no branch (Python truthiness).
        assert_eq!(branch_of(&[name()], Some(""), false).unwrap(), "user.alice");
        // branch=None in the decorator is "given": the option is ignored... unless set.
        assert_eq!(
            branch_of(&[name(), ("branch", json!(null))], None, true).unwrap(),
            "prod"
        );
    }

    #[test]
    fn conflicts_use_metaflows_message() {
        let name = || ("name", json!("proj"));
        let error = branch_of(&[name(), ("branch", json!("x"))], Some("y"), false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "You cannot pass branch as both a command-line argument and an attribute of the \
             @project decorator."
        );
        assert_eq!(error.code(), "naming.option_conflict");
        let error = branch_of(&[name(), ("production", json!(false))], None, true).unwrap_err();
        assert_eq!(
            error,
            NamingError::OptionConflict {
                option: "production"
            }
        );
        assert!(branch_of(&[name(), ("branch", json!(null))], Some("y"), false).is_err());
    }

    #[test]
    fn name_and_branch_validation() {
        assert_eq!(
            branch_of(&[], None, false),
            Err(NamingError::ProjectNameMissing)
        );
        assert_eq!(
            branch_of(&[("name", json!(""))], None, false),
            Err(NamingError::ProjectNameMissing)
        );
        assert_eq!(
            branch_of(&[("name", json!(null))], None, false)
                .unwrap_err()
                .to_string(),
            "@project needs a name. Try @project(name='some_name')"
        );
        let error = branch_of(&[("name", json!("My-Proj"))], None, false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The @project name must contain only lowercase alphanumeric characters and \
             underscores."
        );
        let long = "a".repeat(129);
        assert_eq!(
            branch_of(&[("name", json!(long))], None, false)
                .unwrap_err()
                .to_string(),
            "The @project name must be shorter than 128 characters."
        );
        assert!(branch_of(&[("name", json!("a".repeat(128)))], None, false).is_ok());
        let name = || ("name", json!("proj"));
        assert_eq!(
            branch_of(&[name()], Some("Feature-1"), false)
                .unwrap_err()
                .to_string(),
            "The branch name must contain only lowercase alphanumeric characters and \
             underscores."
        );
        assert_eq!(
            branch_of(&[name()], Some(&"b".repeat(129)), false)
                .unwrap_err()
                .to_string(),
            "Branch name is too long. The maximum is 128 characters."
        );
        assert_eq!(
            branch_of(&[("name", json!(3))], None, false)
                .unwrap_err()
                .code(),
            "naming.argument.type"
        );
        assert_eq!(
            branch_of(&[name(), ("branch", json!(7))], None, false)
                .unwrap_err()
                .to_string(),
            "@project(branch=7): branch must be a string, e.g. branch='some_branch'"
        );
    }

    #[test]
    fn user_names_must_be_legal() {
        let decorator = project(&[("name", json!("proj"))]);
        for user in ["alice", "a.b-c_D9"] {
            let options = ProjectOptions {
                user: user.into(),
                ..ProjectOptions::default()
            };
            assert_eq!(
                project_branch(&decorator, &options).unwrap().branch,
                format!("user.{user}")
            );
        }
        for user in [
            "",
            "alice@example.com",
            "Jane Doe",
            "josé",
            &"u".repeat(129),
        ] {
            let options = ProjectOptions {
                user: user.into(),
                ..ProjectOptions::default()
            };
            let error = project_branch(&decorator, &options).unwrap_err();
            assert_eq!(error.code(), "naming.user.invalid", "{user}");
        }
        // The user is irrelevant with a branch or production.
        let options = ProjectOptions {
            branch: None,
            production: true,
            user: "bad user".into(),
        };
        assert!(project_branch(&decorator, &options).is_ok());
    }

    #[test]
    fn decorator_arguments() {
        let mut decorator = project(&[("name", json!("proj")), ("owner", json!("x"))]);
        assert_eq!(
            project_branch(&decorator, &options(None, false))
                .unwrap_err()
                .to_string(),
            "Decorator 'project' does not support the attribute 'owner'. These attributes are \
             supported: name, production, branch."
        );
        decorator.kwargs.pop();
        decorator.kwargs.push((
            "branch".into(),
            Value::Name {
                name: "BRANCH".into(),
            },
        ));
        assert_eq!(
            project_branch(&decorator, &options(None, false))
                .unwrap_err()
                .to_string(),
            "@project(branch=BRANCH): dropflow reads @project without running the flow, so \
             branch must be a literal, e.g. branch='some_branch'"
        );
        let mut positional = project(&[]);
        positional.args.push(Value::Literal {
            value: json!("proj"),
        });
        assert_eq!(
            project_branch(&positional, &options(None, false))
                .unwrap_err()
                .code(),
            "naming.argument.positional"
        );
    }

    #[test]
    fn branch_helpers() {
        let branch = |b: &str| ProjectBranch {
            project: "p".into(),
            branch: b.into(),
        };
        assert!(branch("prod").is_production());
        assert!(branch("prod.x").is_production());
        assert!(!branch("test.x").is_production());
        assert!(!branch("production_x").is_production());
        assert!(branch("user.alice").is_user_branch());
        assert_eq!(branch("prod").flow_name("Flow"), "p.prod.Flow");
    }
}
