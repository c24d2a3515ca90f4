//! Which dropflow stack a command talks to: the deployment bucket, the trigger API and
//! how to reach them. Found from, in order: `--local`/`--state-dir` (a local stack's
//! `local.json`: `--state-dir DIR`, else `.dropflow/local.json` in the current directory or
//! the nearest parent that has one; no signing), else `--api`/`--bucket` flags, else the
//! outputs of the CloudFormation stack `--stack`/`DROPFLOW_STACK` names (read by
//! [`crate::client::Connection::from_stack`]), else `DROPFLOW_API`/`DROPFLOW_BUCKET` (AWS:
//! the standard credential chain, SigV4).

use std::path::{Path, PathBuf};

use crate::local::Endpoints;

/// The state directory `dropflow local up` uses by default.
pub const LOCAL_STATE_DIR: &str = ".dropflow";

/// Environment variable naming the trigger API's base URL.
pub const API_ENV: &str = "DROPFLOW_API";
/// Environment variable naming the deployment bucket.
pub const BUCKET_ENV: &str = "DROPFLOW_BUCKET";

/// Where the stack is, as the command line gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFlags {
    /// Use the local stack.
    pub local: bool,
    /// The local stack's state directory (implies `local`).
    pub state_dir: Option<PathBuf>,
    /// The trigger API's base URL.
    pub api: Option<String>,
    /// The deployment bucket.
    pub bucket: Option<String>,
    /// The CloudFormation stack whose outputs give the API and the bucket.
    pub stack: Option<String>,
}

/// A stack to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The trigger API's base URL, without a trailing `/`; `None` when not known.
    pub api_url: Option<String>,
    /// The deployment bucket; `None` when not known.
    pub bucket: Option<String>,
    /// The local stack's endpoints, when local.
    pub local: Option<Endpoints>,
}

impl Target {
    /// Whether requests are signed (AWS) or not (the local stack).
    pub fn signs(&self) -> bool {
        self.local.is_none()
    }

    /// The API's base URL, or an error saying how to give it.
    pub fn api(&self) -> Result<&str, TargetError> {
        self.api_url.as_deref().ok_or(TargetError::NoApi)
    }

    /// The bucket, or an error saying how to give it.
    pub fn bucket(&self) -> Result<&str, TargetError> {
        self.bucket.as_deref().ok_or(TargetError::NoBucket)
    }
}

/// The stack cannot be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// `--local` but no `local.json`.
    #[error(
        "no local stack found: {searched} does not exist. Start one with `dropflow local up` (or point at its state directory with --state-dir DIR)"
    )]
    NoLocalStack {
        /// Where it looked.
        searched: String,
    },
    /// `local.json` is not readable.
    #[error(
        "{file} is not a local stack's endpoints file; restart the stack with `dropflow local up`"
    )]
    BadLocalFile {
        /// The file.
        file: String,
    },
    /// No API URL.
    #[error(
        "the trigger API is not known: give --stack NAME (the dropflow CloudFormation stack), --api URL or DROPFLOW_API (the stack's ApiUrl output), or --local for the local stack"
    )]
    NoApi,
    /// No bucket.
    #[error(
        "the deployment bucket is not known: give --stack NAME (the dropflow CloudFormation stack), --bucket NAME or DROPFLOW_BUCKET (the stack's BucketName output), or --local for the local stack"
    )]
    NoBucket,
}

/// The CloudFormation stack to read the API and bucket from: `--stack`, else
/// `DROPFLOW_STACK`; none for the local stack, or when `--api` and `--bucket` both say.
pub fn stack_name(flags: &TargetFlags, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if flags.local || flags.state_dir.is_some() || (flags.api.is_some() && flags.bucket.is_some()) {
        return None;
    }
    flags
        .stack
        .clone()
        .or_else(|| env(crate::client::stack::STACK_ENV))
        .filter(|name| !name.trim().is_empty())
}

/// Resolves `flags` with `env` (the process environment) and `cwd`.
pub fn resolve(
    flags: &TargetFlags,
    env: impl Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Target, TargetError> {
    if flags.local || flags.state_dir.is_some() {
        let file = match &flags.state_dir {
            Some(dir) => {
                let file = crate::local::endpoints_file(dir);
                if !file.exists() {
                    return Err(TargetError::NoLocalStack {
                        searched: file.display().to_string(),
                    });
                }
                file
            }
            None => find_local_file(cwd).ok_or_else(|| TargetError::NoLocalStack {
                searched: format!(
                    "{LOCAL_STATE_DIR}/local.json (in {} and its parents)",
                    cwd.display()
                ),
            })?,
        };
        let endpoints = read_endpoints(&file)?;
        return Ok(Target {
            api_url: Some(endpoints.api_url.trim_end_matches('/').to_string()),
            bucket: Some(endpoints.bucket.clone()),
            local: Some(endpoints),
        });
    }
    let nonempty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    Ok(Target {
        api_url: nonempty(flags.api.clone())
            .or_else(|| nonempty(env(API_ENV)))
            .map(|url| url.trim_end_matches('/').to_string()),
        bucket: nonempty(flags.bucket.clone()).or_else(|| nonempty(env(BUCKET_ENV))),
        local: None,
    })
}

/// `.dropflow/local.json` in `start` or the nearest parent that has one.
pub fn find_local_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| crate::local::endpoints_file(&dir.join(LOCAL_STATE_DIR)))
        .find(|file| file.is_file())
}

fn read_endpoints(file: &Path) -> Result<Endpoints, TargetError> {
    let bad = || TargetError::BadLocalFile {
        file: file.display().to_string(),
    };
    let text = std::fs::read_to_string(file).map_err(|_| bad())?;
    serde_json::from_str(&text).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints {
            region: "us-east-1".into(),
            s3_endpoint: "http://127.0.0.1:5099".into(),
            bucket: "dropflow-local".into(),
            api_url: "http://127.0.0.1:5101/".into(),
            sfn_endpoint: "http://127.0.0.1:5099".into(),
            lambda_endpoint: "http://127.0.0.1:5100".into(),
            job_queue: "q".into(),
            account_id: "123456789012".into(),
            metadata_url: String::new(),
            metadata_auth_key: String::new(),
            event_bus: "dropflow-local".into(),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn local_json_is_found_in_a_parent_directory() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(LOCAL_STATE_DIR);
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(
            state.join("local.json"),
            serde_json::to_string(&endpoints()).unwrap(),
        )
        .unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let flags = TargetFlags {
            local: true,
            ..TargetFlags::default()
        };
        let target = resolve(&flags, no_env, &deep).unwrap();
        assert_eq!(target.api_url.as_deref(), Some("http://127.0.0.1:5101"));
        assert_eq!(target.bucket.as_deref(), Some("dropflow-local"));
        assert!(!target.signs());
        let by_dir = TargetFlags {
            state_dir: Some(state),
            ..TargetFlags::default()
        };
        assert_eq!(resolve(&by_dir, no_env, Path::new("/")).unwrap(), target);
    }

    #[test]
    fn no_local_stack_says_how_to_start_one() {
        let dir = tempfile::tempdir().unwrap();
        let flags = TargetFlags {
            local: true,
            ..TargetFlags::default()
        };
        let error = resolve(&flags, no_env, dir.path()).unwrap_err();
        assert!(error.to_string().contains("dropflow local up"), "{error}");
    }

    #[test]
    fn a_stack_name_comes_from_the_flag_or_the_environment_unless_not_needed() {
        let env = |name: &str| (name == "DROPFLOW_STACK").then(|| "env-stack".to_string());
        let named = TargetFlags {
            stack: Some("flag-stack".into()),
            ..TargetFlags::default()
        };
        assert_eq!(stack_name(&named, env).as_deref(), Some("flag-stack"));
        assert_eq!(
            stack_name(&TargetFlags::default(), env).as_deref(),
            Some("env-stack")
        );
        assert_eq!(stack_name(&TargetFlags::default(), no_env), None);
        // The local stack, or both places given, need no lookup.
        let local = TargetFlags {
            local: true,
            ..named.clone()
        };
        assert_eq!(stack_name(&local, env), None);
        let both = TargetFlags {
            api: Some("https://x".into()),
            bucket: Some("b".into()),
            ..named
        };
        assert_eq!(stack_name(&both, env), None);
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = |name: &str| match name {
            API_ENV => Some("https://env.example/".to_string()),
            BUCKET_ENV => Some("env-bucket".to_string()),
            _ => None,
        };
        let target = resolve(&TargetFlags::default(), env, Path::new("/")).unwrap();
        assert_eq!(target.api().unwrap(), "https://env.example");
        assert_eq!(target.bucket().unwrap(), "env-bucket");
        assert!(target.signs());
        let flags = TargetFlags {
            bucket: Some("flag-bucket".into()),
            ..TargetFlags::default()
        };
        let target = resolve(&flags, env, Path::new("/")).unwrap();
        assert_eq!(target.bucket().unwrap(), "flag-bucket");
        let none = resolve(&TargetFlags::default(), no_env, Path::new("/")).unwrap();
        assert_eq!(none.api(), Err(TargetError::NoApi));
        assert_eq!(none.bucket(), Err(TargetError::NoBucket));
    }
}
