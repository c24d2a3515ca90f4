//! A moto server (the pinned AWS emulator from `bash tests/run.sh`) on 127.0.0.1.
//!
//! [`Moto::start`] runs one server on a free port and kills it when dropped; it starts
//! executions on state machine aliases and versions (`tests/moto_aliases.py`: the local
//! stack's StartExecution patch on moto as shipped, whose executions never run). [`shared`]
//! hands out one server per test binary, one test at a time, reset to empty for each: tests
//! that deploy the same flow names cannot see each other's resources. The server runs
//! under a small shell watchdog that kills it when the test process goes away, even if the
//! process is killed or a `static` is never dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::repo_root;

/// How long the server may take to answer after starting.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

/// `<repo>/.venv/bin/moto_server`.
///
/// # Panics
/// When it is missing: `bash tests/run.sh` installs it.
pub fn moto_server_path() -> PathBuf {
    let path = repo_root().join(".venv/bin/moto_server");
    if !path.is_file() {
        panic!(
            "moto_server not installed: run `bash tests/run.sh` once (it installs the pinned \
             moto[server] into .venv); looked for {}",
            path.display()
        );
    }
    path
}

impl Moto {
    /// Starts a server on a free port and waits until it answers.
    ///
    /// # Panics
    /// When moto is not installed or does not become ready in time (its log is shown).
    pub fn start() -> Self {
        moto_server_path(); // installed? (the panic names the fix)
        Self::start_script(&repo_root().join("tests/moto_aliases.py"))
    }

    /// Starts `script` (a Python file that patches moto and then runs moto's server with
    /// the `-H HOST -p PORT` it is given) with the test venv's Python, on a free port.
    ///
    /// # Panics
    /// As [`Moto::start`].
    pub fn start_script(script: &std::path::Path) -> Self {
        Self::spawn(&crate::python(), &[script.as_os_str()])
    }

    fn spawn(program: &std::path::Path, args: &[&std::ffi::OsStr]) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("dropflow-moto-{port}.log"));
        // The watchdog: moto runs in the background; when our end of stdin closes (drop, or
        // the test process exiting for any reason) `read` returns and moto is killed.
        let script = r#""$0" "$@" -H 127.0.0.1 -p "$DROPFLOW_MOTO_PORT" >"$DROPFLOW_MOTO_LOG" 2>&1 &
moto=$!
read -r _ignored
kill "$moto" 2>/dev/null
wait "$moto" 2>/dev/null
exit 0"#;
        let mut child = Command::new("sh")
            .args(["-c", script])
            .arg(program)
            .args(args)
            .env("DROPFLOW_MOTO_PORT", port.to_string())
            .env("DROPFLOW_MOTO_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdin = child.stdin.take();
        let mut moto = Self {
            port,
            child,
            stdin,
            log,
        };
        moto.wait_ready();
        moto
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forgets every resource (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let (status, body) = self.request("POST", "/moto-api/reset", "");
        assert_eq!(status, 200, "moto reset failed: {body}");
    }

    /// Sends a small HTTP/1.1 request and returns the status and body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        request(self.port, method, path, body)
            .unwrap_or_else(|e| panic!("moto on port {} did not answer: {e}", self.port))
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = request(self.port, "GET", "/moto-api/data.json", "") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "moto_server exited ({status}) before answering:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if started.elapsed() > READY_TIMEOUT {
                panic!(
                    "moto_server did not answer on port {} within {READY_TIMEOUT:?}:\n{}",
                    self.port,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing stdin makes the watchdog kill moto and exit.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Exclusive use of this test binary's server, reset to empty.
pub struct Lease {
    guard: MutexGuard<'static, Moto>,
}

impl std::ops::Deref for Lease {
    type Target = Moto;
    fn deref(&self) -> &Moto {
        &self.guard
    }
}

/// This test binary's server (started on first use), for one test at a time, reset.
pub fn shared() -> Lease {
    static MOTO: OnceLock<Mutex<Moto>> = OnceLock::new();
    let guard = MOTO
        .get_or_init(|| Mutex::new(Moto::start()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.reset();
    Lease { guard }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not HTTP: {response:.200}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_and_stops() {
        let moto = Moto::start();
        let port = moto.port();
        let (status, _) = moto.request("GET", "/moto-api/data.json", "");
        assert_eq!(status, 200);
        drop(moto);
        assert!(request(port, "GET", "/moto-api/data.json", "").is_err());
    }
}
