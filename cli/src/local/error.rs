//! What can go wrong bringing the local stack up or down, each saying what to do about it.

use std::path::PathBuf;

/// A local stack failure.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// No Python interpreter for the emulator.
    #[error(
        "no Python for the local stack: {} not found.\n  Create the project venv with `bash tests/run.sh --setup-only` (it installs the pinned moto[server] and metaflow into .venv/), or point `--python` or DROPFLOW_PYTHON at a Python that has them.",
        .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    PythonMissing {
        /// The places looked at, in order.
        looked: Vec<PathBuf>,
    },
    /// The interpreter runs but lacks the pinned moto.
    #[error(
        "{python} cannot run the local stack: {detail}\n  Run `bash tests/run.sh --setup-only` (it installs moto[server]==5.2.5 and metaflow==2.19.39 into .venv/), or point `--python` or DROPFLOW_PYTHON at a Python that has them."
    )]
    PythonUnfit {
        /// The interpreter.
        python: String,
        /// What was wrong.
        detail: String,
    },
    /// A port the stack needs is taken.
    #[error(
        "port {port} on 127.0.0.1 ({role}) is already in use.\n  Stop what is using it, or pick other ports with `--port N` (the stack uses N, N+1, N+2 and N+3; `--port 0` picks free ones)."
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// What the stack wanted it for.
        role: &'static str,
    },
    /// A stack already runs from this state directory.
    #[error(
        "a local stack is already running from {} (pid {pid}).\n  Use it (endpoints in {}/local.json), or stop it first with `dropflow local down`.",
        .state_dir.display(),
        .state_dir.display()
    )]
    AlreadyRunning {
        /// Its supervisor's or emulator's pid.
        pid: u32,
        /// Its state directory.
        state_dir: PathBuf,
    },
    /// The emulator did not start.
    #[error("the AWS emulator (moto) did not start: {message}\n  Its log ({}):\n{log_tail}", .log.display())]
    Emulator {
        /// What happened.
        message: String,
        /// Its log file.
        log: PathBuf,
        /// The end of that log.
        log_tail: String,
    },
    /// A resource of the stack could not be created.
    #[error("setting up the local stack failed at {step}: {message}")]
    Setup {
        /// Which resource.
        step: String,
        /// The service's answer.
        message: String,
    },
    /// The background stack did not come up.
    #[error("the local stack did not come up: {message}\n  Its log ({}):\n{log_tail}", .log.display())]
    Daemon {
        /// What happened.
        message: String,
        /// The supervisor's log.
        log: PathBuf,
        /// The end of that log.
        log_tail: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

impl LocalError {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    /// A failure creating `step`.
    pub fn setup(step: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Setup {
            step: step.into(),
            message: message.to_string(),
        }
    }
}

/// The last `lines` lines of the file at `path`, indented (empty when unreadable).
pub fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
