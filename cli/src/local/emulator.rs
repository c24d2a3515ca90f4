//! The AWS emulator process: `infra/local/moto_dropflow.py` (moto 5.2.5 with dropflow's
//! adaptations) run by the venv's Python on 127.0.0.1.
//!
//! The launcher is compiled into the binary and written to the state directory, so
//! `dropflow` works from any directory. The emulator stops by itself when its stdin
//! closes, so it never outlives the process that started it, even one killed with
//! SIGKILL; it kills its running Batch jobs on the way out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::error::{LocalError, tail};
use super::http;
use super::options::{JOB_QUEUE, Options};
use super::process;

/// The launcher's source.
pub const LAUNCHER: &str = include_str!("../../../infra/local/moto_dropflow.py");
/// The moto version the launcher's patches are written against.
pub const MOTO_VERSION: &str = "5.2.5";
/// How long the emulator may take to answer after starting.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
    pid_file: PathBuf,
}

/// Checks that `python` runs and has the pinned moto; returns its version.
pub fn check_python(python: &Path) -> Result<String, LocalError> {
    let unfit = |detail: String| LocalError::PythonUnfit {
        python: python.display().to_string(),
        detail,
    };
    let output = Command::new(python)
        .args([
            "-c",
            "import sys, moto, werkzeug; sys.stdout.write(moto.__version__)",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| unfit(format!("it does not run ({e})")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim().to_string();
        return Err(unfit(format!("importing moto failed ({last})")));
    }
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if version != MOTO_VERSION {
        return Err(unfit(format!(
            "it has moto {version}, the local stack needs moto {MOTO_VERSION}"
        )));
    }
    Ok(version)
}

impl Emulator {
    /// Starts the emulator on `port` with Lambda invocations going to `invoke_url` and
    /// `job_env` in every Batch job; returns once it answers.
    pub async fn start(
        options: &Options,
        port: u16,
        invoke_url: &str,
        job_env: &BTreeMap<String, String>,
    ) -> Result<Self, LocalError> {
        let dir = &options.state_dir;
        let launcher = dir.join("moto_dropflow.py");
        std::fs::write(&launcher, LAUNCHER)
            .map_err(LocalError::io(format!("writing {}", launcher.display())))?;
        let job_env_file = dir.join("job-env.json");
        let job_env_json = serde_json::to_string_pretty(job_env).unwrap_or_default();
        std::fs::write(&job_env_file, job_env_json).map_err(LocalError::io(format!(
            "writing {}",
            job_env_file.display()
        )))?;
        let log = dir.join("moto.log");
        let log_file = std::fs::File::create(&log)
            .map_err(LocalError::io(format!("creating {}", log.display())))?;
        let log_err = log_file
            .try_clone()
            .map_err(LocalError::io("opening the emulator's log"))?;

        let mut command = Command::new(&options.python);
        command
            .arg(&launcher)
            .args(["--port", &port.to_string(), "--invoke-url", invoke_url])
            .arg("--state-dir")
            .arg(dir)
            .arg("--job-env-file")
            .arg(&job_env_file)
            .args(["--default-queue", JOB_QUEUE])
            .arg("--local-metadata")
            .arg(dir.join("metaflow"))
            .arg("--exit-on-stdin-eof")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(log_err);
        if options.max_jobs > 0 {
            command.args(["--max-jobs", &options.max_jobs.to_string()]);
        }
        command.args(options.image_args());
        let mut child = command.spawn().map_err(LocalError::io(format!(
            "starting {}",
            options.python.display()
        )))?;
        let stdin = child.stdin.take();
        let pid_file = dir.join("moto.pid");
        process::write_pid(&pid_file, child.id())?;
        let mut emulator = Self {
            child,
            stdin,
            port,
            log,
            pid_file,
        };
        if let Err(error) = emulator.wait_ready().await {
            emulator.stop();
            return Err(error);
        }
        Ok(emulator)
    }

    async fn wait_ready(&mut self) -> Result<(), LocalError> {
        let started = Instant::now();
        loop {
            if let Ok((200, _)) =
                http::request(self.port, "GET", "/moto-api/data.json", &[], "").await
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failed(format!("it exited ({status}) before answering")));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(self.failed(format!(
                    "it did not answer on 127.0.0.1:{} within {READY_TIMEOUT:?}",
                    self.port
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn failed(&self, message: String) -> LocalError {
        let log_tail = tail(&self.log, 15);
        let message = if log_tail.contains("Address already in use") {
            format!(
                "{message}: port {} on 127.0.0.1 is already in use (pick other ports with `--port N`, or `--port 0`)",
                self.port
            )
        } else {
            message
        };
        LocalError::Emulator {
            message,
            log: self.log.clone(),
            log_tail,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The emulator's log.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Its exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the emulator (it kills its Batch jobs first) and waits for it; idempotent.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            process::terminate(self.child.id());
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.child.try_wait().ok().flatten().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
