//! How a local stack is set up: ports, names, the Python that runs the emulator.

use std::path::{Path, PathBuf};

use super::error::LocalError;

/// The default base port: moto on it, the Lambda Invoke API on +1, the trigger API on +2,
/// the metadata service on +3.
pub const DEFAULT_PORT: u16 = 5099;
/// The region every local resource lives in.
pub const DEFAULT_REGION: &str = "us-east-1";
/// moto's account id (the one its ARNs carry).
pub const ACCOUNT_ID: &str = "123456789012";
/// The deployment bucket.
pub const DEFAULT_BUCKET: &str = "dropflow-local";
/// The Batch job queue (and compute environment) the jobs run on.
pub const JOB_QUEUE: &str = "dropflow-local";
/// The compile function's name (as its binary's).
pub const COMPILE_FUNCTION: &str = "dropflow-compile";
/// The step function's name (as its binary's).
pub const STEP_FUNCTION: &str = "dropflow-step";
/// The trigger function's name (as its binary's): the target of the event bus's rule.
pub const TRIGGER_FUNCTION: &str = "dropflow-trigger";
/// dropflow's EventBridge bus: `aws events put-events` with `EventBusName` set to it
/// starts the flows waiting for the event.
pub const EVENT_BUS: &str = "dropflow-local";
/// The bus's rule, taking every event put on it to the trigger function.
pub const EVENT_RULE: &str = "dropflow-events";
/// The metadata service's DynamoDB table (on the emulator; created at start-up).
pub const METADATA_TABLE: &str = "dropflow-local-metadata";
/// The emulator's Secrets Manager secret holding the metadata service's API key.
pub const METADATA_API_KEY_SECRET: &str = "dropflow-local/metadata-api-key";
/// Where the metadata service is mounted, as on AWS (beside the trigger API's routes):
/// `metadata_url` is `http://127.0.0.1:<port>/metadata`.
pub const METADATA_PATH_PREFIX: &str = "/metadata";

/// A local stack's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where pid files, logs, the endpoints file and job directories go (`.dropflow`).
    pub state_dir: PathBuf,
    /// Base port (moto; +1 Lambda Invoke API; +2 trigger API; +3 metadata service), or 0
    /// for free ports.
    pub port: u16,
    /// The Python with moto 5.2.5 and Metaflow (also the Batch jobs' `python`).
    pub python: PathBuf,
    /// Region.
    pub region: String,
    /// Deployment bucket.
    pub bucket: String,
    /// Batch jobs run at once (0: the emulator's default, the number of CPUs, at least 2).
    pub max_jobs: usize,
    /// Images jobs may name, each standing in as a directory put first on their `PATH`
    /// (a venv's `bin`: `python:3.12` → a venv without Metaflow); other images run on
    /// [`Options::python`]'s environment.
    pub images: Vec<(String, PathBuf)>,
}

impl Options {
    /// Defaults for `state_dir` and `python`.
    pub fn new(state_dir: impl Into<PathBuf>, python: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            port: DEFAULT_PORT,
            python: python.into(),
            region: DEFAULT_REGION.to_string(),
            bucket: DEFAULT_BUCKET.to_string(),
            max_jobs: 0,
            images: Vec::new(),
        }
    }

    /// The `--image NAME=DIR` options for [`Options::images`] (directories made absolute:
    /// the emulator runs elsewhere).
    pub fn image_args(&self) -> Vec<String> {
        self.images
            .iter()
            .flat_map(|(name, dir)| {
                let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                ["--image".to_string(), format!("{name}={}", dir.display())]
            })
            .collect()
    }

    /// Reads an `--image NAME=DIR` option.
    pub fn parse_image(given: &str) -> Result<(String, PathBuf), String> {
        match given.split_once('=') {
            Some((name, dir)) if !name.is_empty() && !dir.is_empty() => {
                Ok((name.to_string(), PathBuf::from(dir)))
            }
            _ => Err(format!(
                "--image {given:?}: expected NAME=DIR, an image name and the bin directory of a Python environment standing in for it (python:3.12=/tmp/plain/bin)"
            )),
        }
    }

    /// The four ports asked for: moto, the Lambda Invoke API, the trigger API and the
    /// metadata service (all 0 when the base is 0).
    pub fn ports(&self) -> [u16; 4] {
        if self.port == 0 {
            [0; 4]
        } else {
            [
                self.port,
                self.port.saturating_add(1),
                self.port.saturating_add(2),
                self.port.saturating_add(3),
            ]
        }
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{ACCOUNT_ID}:function:{name}",
            self.region
        )
    }

    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub fn role_arn(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}")
    }
}

/// The emulator's Python: `explicit` (`--python`), else `$DROPFLOW_PYTHON`, else
/// `.venv/bin/python` in the current directory or the nearest parent that has one.
pub fn find_python(explicit: Option<&Path>) -> Result<PathBuf, LocalError> {
    let from_env = std::env::var_os("DROPFLOW_PYTHON").filter(|v| !v.is_empty());
    let mut looked = Vec::new();
    if let Some(path) = explicit
        .map(Path::to_path_buf)
        .or(from_env.map(PathBuf::from))
    {
        if path.is_file() {
            return Ok(path);
        }
        looked.push(path);
        return Err(LocalError::PythonMissing { looked });
    }
    let cwd = std::env::current_dir().map_err(LocalError::io("reading the current directory"))?;
    for dir in cwd.ancestors() {
        let candidate = dir.join(".venv/bin/python");
        if candidate.is_file() {
            return Ok(candidate);
        }
        if looked.is_empty() {
            looked.push(candidate);
        }
    }
    Err(LocalError::PythonMissing { looked })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_base() {
        let mut options = Options::new(".dropflow", "python");
        assert_eq!(options.ports(), [5099, 5100, 5101, 5102]);
        options.port = 0;
        assert_eq!(options.ports(), [0, 0, 0, 0]);
    }

    #[test]
    fn an_explicit_python_that_is_missing_is_named_with_the_fix() {
        let error = find_python(Some(Path::new("/nonexistent/python"))).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("/nonexistent/python"), "{message}");
        assert!(
            message.contains("bash tests/run.sh --setup-only"),
            "{message}"
        );
    }
}
