//! `dropflow local up` and `down`: the stack in a background process (or the foreground),
//! found again through pid files in the state directory.
//!
//! ```text
//! <state dir>/dropflow.pid   the supervisor: `dropflow local up --foreground` (Invoke API,
//!                            trigger API, metadata service, the functions)
//! <state dir>/moto.pid       the emulator, its child (stops when the supervisor goes)
//! <state dir>/jobs/<pid>.pid each running Batch job's process group
//! <state dir>/local.json     the endpoints, written once everything answers
//! <state dir>/local.log, moto.log, jobs/<job id>.log
//! ```

use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::emulator;
use super::error::{LocalError, tail};
use super::options::Options;
use super::process;
use super::registry::Registry;
use super::stack::{self, Endpoints, Stack};

/// How long `up` waits for a background stack to answer.
const UP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `down` gives each process to stop after SIGTERM before SIGKILL (the
/// supervisor itself waits up to 10 s for the emulator).
const STOP_GRACE: Duration = Duration::from_secs(20);

fn supervisor_pid_file(state_dir: &Path) -> PathBuf {
    state_dir.join("dropflow.pid")
}

/// Runs a stack in this process until it is stopped (`dropflow local down`, Ctrl-C) or
/// its emulator dies.
pub fn run_foreground(options: Options) -> Result<(), LocalError> {
    on_termination_signals();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LocalError::io("starting the async runtime"))?;
    std::fs::create_dir_all(&options.state_dir).map_err(LocalError::io(format!(
        "creating {}",
        options.state_dir.display()
    )))?;
    if let Some(pid) = stack::running_pid(&options.state_dir) {
        return Err(LocalError::AlreadyRunning {
            pid,
            state_dir: options.state_dir.clone(),
        });
    }
    let pid_file = supervisor_pid_file(&options.state_dir);
    process::write_pid(&pid_file, std::process::id())?;
    let outcome = runtime.block_on(async {
        let mut stack = Stack::start(options, Registry::new()).await?;
        println!(
            "{}",
            Summary {
                endpoints: stack.endpoints(),
                state_dir: &stack.options().state_dir,
                pid: std::process::id(),
                functions: stack.functions(),
            }
        );
        tracing::info!("local stack up; stop it with `dropflow local down`");
        let own_pid = std::process::id();
        loop {
            // A Ctrl-C also reaches the emulator (same process group): look at the request
            // first, so that its exit is not reported as a failure.
            if STOP_REQUESTED.load(Ordering::SeqCst) {
                tracing::info!("stopping");
                stack.stop();
                return Ok(());
            }
            // The state directory was removed (or another stack took it over): nothing
            // could find this stack any more to stop it, so it stops itself.
            if process::read_pid(&pid_file) != Some(own_pid) {
                tracing::warn!(
                    "{} no longer names this process: stopping",
                    pid_file.display()
                );
                stack.stop();
                return Ok(());
            }
            if let Some(error) = stack.exited() {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    if process::read_pid(&pid_file) == Some(std::process::id()) {
        let _ = std::fs::remove_file(&pid_file);
    }
    outcome
}

/// Set by SIGINT, SIGTERM and SIGHUP once [`on_termination_signals`] has run.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT, SIGTERM and SIGHUP request an orderly stop (emulator, Batch jobs,
/// endpoints file, pid file) instead of killing the supervisor on the spot. Handlers, not
/// blocked signals: children start with default dispositions and an untouched mask.
#[allow(unsafe_code)] // signal(2) has no safe wrapper in libc
fn on_termination_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs a handler that only stores to an atomic.
        unsafe {
            libc::signal(signal, request_stop as *const () as libc::sighandler_t);
        }
    }
}

/// Starts `exe local up --foreground` for `options` as a background process (its output
/// in `<state dir>/local.log`) and returns its endpoints once it answers.
pub fn spawn_daemon(exe: &Path, options: &Options) -> Result<Endpoints, LocalError> {
    emulator::check_python(&options.python)?;
    let state_dir = &options.state_dir;
    std::fs::create_dir_all(state_dir)
        .map_err(LocalError::io(format!("creating {}", state_dir.display())))?;
    if let Some(pid) = stack::running_pid(state_dir) {
        return Err(LocalError::AlreadyRunning {
            pid,
            state_dir: state_dir.clone(),
        });
    }
    let roles = [
        "the AWS emulator, moto",
        "the Lambda Invoke API",
        "the trigger API",
        "the metadata service",
    ];
    for (port, role) in options.ports().into_iter().zip(roles) {
        if port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            return Err(LocalError::PortInUse { port, role });
        }
    }
    let _ = std::fs::remove_file(stack::endpoints_file(state_dir));
    let log = state_dir.join("local.log");
    let log_file = std::fs::File::create(&log)
        .map_err(LocalError::io(format!("creating {}", log.display())))?;
    let log_err = log_file
        .try_clone()
        .map_err(LocalError::io("opening the stack's log"))?;
    let mut command = Command::new(exe);
    command
        .args(["local", "up", "--foreground", "--port"])
        .arg(options.port.to_string())
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--python")
        .arg(&options.python)
        .args(["--region", &options.region, "--bucket", &options.bucket])
        .args(["--max-jobs", &options.max_jobs.to_string()])
        .args(options.image_args())
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        // Its own process group: Ctrl-C in the terminal that ran `up` does not reach it.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(LocalError::io(format!("starting {}", exe.display())))?;
    process::write_pid(&supervisor_pid_file(state_dir), child.id())?;
    let started = Instant::now();
    loop {
        if let Some(endpoints) = Endpoints::read(state_dir) {
            return Ok(endpoints);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(supervisor_pid_file(state_dir));
            return Err(LocalError::Daemon {
                message: format!("`dropflow local up --foreground` exited ({status})"),
                log_tail: tail(&log, 20),
                log,
            });
        }
        if started.elapsed() > UP_TIMEOUT {
            down(state_dir);
            let _ = child.wait();
            return Err(LocalError::Daemon {
                message: format!("it did not answer within {UP_TIMEOUT:?}; stopped it"),
                log_tail: tail(&log, 20),
                log,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What `down` stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownReport {
    /// `(what, pid)` of each process stopped.
    pub stopped: Vec<(&'static str, u32)>,
    /// Batch job process groups killed.
    pub jobs_killed: Vec<u32>,
}

impl fmt::Display for DownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stopped.is_empty() && self.jobs_killed.is_empty() {
            return write!(f, "no local stack was running");
        }
        let parts: Vec<String> = self
            .stopped
            .iter()
            .map(|(what, pid)| format!("{what} (pid {pid})"))
            .chain(
                self.jobs_killed
                    .iter()
                    .map(|pgid| format!("Batch job (process group {pgid})")),
            )
            .collect();
        write!(f, "stopped {}", parts.join(", "))
    }
}

/// Stops the stack running from `state_dir`: the supervisor, the emulator, any Batch job
/// left; removes the pid files and `local.json`. Leaves no process behind.
pub fn down(state_dir: &Path) -> DownReport {
    let mut report = DownReport::default();
    let processes = [
        ("dropflow.pid", "dropflow", "supervisor"),
        ("moto.pid", "moto_dropflow", "emulator"),
    ];
    for (file, needle, what) in processes {
        let path = state_dir.join(file);
        if let Some(pid) = process::read_pid(&path)
            && pid != std::process::id()
            && process::alive(pid)
            && process::command_line_contains(pid, needle)
        {
            process::stop(pid, STOP_GRACE);
            report.stopped.push((what, pid));
        }
        let _ = std::fs::remove_file(&path);
    }
    report.jobs_killed = stack::kill_leftover_jobs(state_dir);
    let _ = std::fs::remove_file(stack::endpoints_file(state_dir));
    report
}

/// What `up` prints.
pub struct Summary<'a> {
    /// Where the services are.
    pub endpoints: &'a Endpoints,
    /// The state directory.
    pub state_dir: &'a Path,
    /// The supervisor's pid.
    pub pid: u32,
    /// The hosted functions (empty when not known).
    pub functions: &'a [String],
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.endpoints;
        let dir = self.state_dir.display();
        writeln!(f, "dropflow local stack is up (pid {}):", self.pid)?;
        writeln!(
            f,
            "  S3, Step Functions, Batch  {}  (region {})",
            e.s3_endpoint, e.region
        )?;
        writeln!(
            f,
            "  deployment bucket          s3://{}/flows/  (uploads there deploy)",
            e.bucket
        )?;
        let hosted = if self.functions.is_empty() {
            String::new()
        } else {
            format!("  ({})", self.functions.join(", "))
        };
        writeln!(
            f,
            "  Lambda Invoke API          {}{hosted}",
            e.lambda_endpoint
        )?;
        writeln!(f, "  trigger API                {}", e.api_url)?;
        writeln!(
            f,
            "  metadata service           {}  (METAFLOW_SERVICE_URL; tasks use --metadata=service)",
            e.metadata_url
        )?;
        writeln!(
            f,
            "  metadata API key           {dir}/local.json metadata_auth_key  (METAFLOW_SERVICE_AUTH_KEY; 401 without it)"
        )?;
        writeln!(
            f,
            "  endpoints: {dir}/local.json; logs: {dir}/local.log, {dir}/moto.log, {dir}/jobs/"
        )?;
        writeln!(
            f,
            "  deploy:    aws --endpoint-url {} s3 cp flow.tar.gz s3://{}/flows/",
            e.s3_endpoint, e.bucket
        )?;
        // `down` must be pointed at the state directory `up` was given.
        let state_dir = if self.state_dir == Path::new(".dropflow") {
            String::new()
        } else {
            format!(" --state-dir {dir}")
        };
        write!(f, "  stop:      dropflow local down{state_dir}")
    }
}
