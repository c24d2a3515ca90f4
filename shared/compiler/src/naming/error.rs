//! Why a deployment cannot be named. Where Metaflow has a message for the same problem,
//! the message is Metaflow's, word for word (without the `*...*` highlight markers,
//! which Metaflow's console turns into colour).

/// A state machine name that cannot be formed from the flow, `@project` and options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    /// `--name` together with `@project` (Metaflow's message).
    #[error("--name is not supported for @projects. Use --branch instead.")]
    NameWithProject,
    /// `@project` without a name, or with an empty one (Metaflow's message).
    #[error("@project needs a name. Try @project(name='some_name')")]
    ProjectNameMissing,
    /// The project name has characters outside `[a-z0-9_]` (Metaflow's message).
    #[error(
        "The @project name must contain only lowercase alphanumeric characters and underscores."
    )]
    ProjectNameInvalid {
        /// The name as written.
        name: String,
    },
    /// The project name is over 128 characters (Metaflow's message).
    #[error("The @project name must be shorter than 128 characters.")]
    ProjectNameTooLong {
        /// The name as written.
        name: String,
    },
    /// The branch has characters outside `[a-z0-9_]` (Metaflow's message).
    #[error("The branch name must contain only lowercase alphanumeric characters and underscores.")]
    BranchInvalid {
        /// The branch as given.
        branch: String,
    },
    /// The branch is over 128 characters (Metaflow's message).
    #[error("Branch name is too long. The maximum is 128 characters.")]
    BranchTooLong {
        /// The branch as given.
        branch: String,
    },
    /// `branch` or `production` given both on `@project` and as an option, differently
    /// (Metaflow's message).
    #[error(
        "You cannot pass {option} as both a command-line argument and an attribute of the \
         @project decorator."
    )]
    OptionConflict {
        /// `branch` or `production`.
        option: &'static str,
    },
    /// The user name would make an illegal `user.<name>` branch (dropflow's check:
    /// Metaflow uses the name as it is).
    #[error(
        "The user name '{user}' cannot be used in the @project branch 'user.{user}': it must \
         be 1-128 characters of letters, digits, '_', '.' and '-'. Deploy with a branch \
         (--branch <name>) or as a user whose name has only those characters."
    )]
    UserInvalid {
        /// The user name.
        user: String,
    },
    /// `--name` has characters outside `[a-zA-Z0-9_.-]` (Metaflow's message).
    #[error("Name '{name}' contains invalid characters.")]
    NameInvalid {
        /// The name as given.
        name: String,
    },
    /// The state machine name is over 80 characters (Metaflow's message).
    #[error(
        "The full name of the workflow:\n{name}\nis longer than 80 characters.\n\n\
         To deploy this workflow to AWS Step Functions, please assign a shorter name\n\
         using the option\nstep-functions --name <name> create."
    )]
    NameTooLong {
        /// The full name.
        name: String,
    },
    /// A `@project` argument is a name or an expression, which dropflow cannot evaluate.
    #[error(
        "@project({argument}={text}): dropflow reads @project without running the flow, so \
         {argument} must be a literal, e.g. {argument}={example}"
    )]
    NotLiteral {
        /// The keyword argument.
        argument: String,
        /// Its source text.
        text: String,
        /// A literal that would be accepted.
        example: &'static str,
    },
    /// A `@project` argument is a literal of the wrong type.
    #[error(
        "@project({argument}={found}): {argument} must be {expected}, e.g. {argument}={example}"
    )]
    WrongType {
        /// The keyword argument.
        argument: String,
        /// The value as written.
        found: String,
        /// What it must be.
        expected: &'static str,
        /// A literal that would be accepted.
        example: &'static str,
    },
    /// A keyword argument Metaflow's `@project` does not have (Metaflow's message).
    #[error(
        "Decorator 'project' does not support the attribute '{argument}'. These attributes \
         are supported: name, production, branch."
    )]
    UnknownArgument {
        /// The keyword argument.
        argument: String,
    },
    /// `@project('x')`: Metaflow's decorators take keyword arguments only.
    #[error(
        "@project({found}): @project takes keyword arguments only, e.g. @project(name='some_name')"
    )]
    PositionalArgument {
        /// The argument as written.
        found: String,
    },
}

impl NamingError {
    /// A stable identifier for the kind of error, for machines (`naming.branch`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            NamingError::NameWithProject => "naming.name_with_project",
            NamingError::ProjectNameMissing => "naming.project.missing",
            NamingError::ProjectNameInvalid { .. } => "naming.project.invalid",
            NamingError::ProjectNameTooLong { .. } => "naming.project.too_long",
            NamingError::BranchInvalid { .. } => "naming.branch.invalid",
            NamingError::BranchTooLong { .. } => "naming.branch.too_long",
            NamingError::OptionConflict { .. } => "naming.option_conflict",
            NamingError::UserInvalid { .. } => "naming.user.invalid",
            NamingError::NameInvalid { .. } => "naming.name.invalid",
            NamingError::NameTooLong { .. } => "naming.name.too_long",
            NamingError::NotLiteral { .. } => "naming.argument.not_literal",
            NamingError::WrongType { .. } => "naming.argument.type",
            NamingError::UnknownArgument { .. } => "naming.argument.unknown",
            NamingError::PositionalArgument { .. } => "naming.argument.positional",
        }
    }
}
