//! Processes by pid: pid files, liveness, signals. `dropflow local down` finds what `up`
//! started through the pid files in the state directory, and checks a pid still belongs
//! to the stack (its command line, where `/proc` tells) before signalling it, so a reused
//! pid is never killed.

use std::path::Path;
use std::time::{Duration, Instant};

use super::error::LocalError;

/// Writes `pid` to `path`.
pub fn write_pid(path: &Path, pid: u32) -> Result<(), LocalError> {
    std::fs::write(path, format!("{pid}\n"))
        .map_err(LocalError::io(format!("writing {}", path.display())))
}

/// The pid in `path`, if the file holds one.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn pid_t(pid: u32) -> Option<libc::pid_t> {
    libc::pid_t::try_from(pid).ok().filter(|p| *p > 0)
}

/// Whether a process `pid` exists (zombies count as gone where `/proc` tells).
pub fn alive(pid: u32) -> bool {
    let Some(pid) = pid_t(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `Z` is a zombie.
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Whether `pid`'s command line contains `needle` (true where `/proc` is unavailable).
pub fn command_line_contains(pid: u32, needle: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).contains(needle),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

fn signal(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) on a pid we started (checked by the callers); errors are ignored
    // because the process may have exited meanwhile.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Sends SIGTERM to `pid`.
pub fn terminate(pid: u32) {
    if let Some(pid) = pid_t(pid) {
        signal(pid, libc::SIGTERM);
    }
}

/// Sends SIGKILL to `pid`.
pub fn kill(pid: u32) {
    if let Some(pid) = pid_t(pid) {
        signal(pid, libc::SIGKILL);
    }
}

/// Sends SIGKILL to the process group `pgid` (a Batch job and everything it started).
pub fn kill_group(pgid: u32) {
    if let Some(pgid) = pid_t(pgid) {
        signal(-pgid, libc::SIGKILL);
    }
}

/// Whether any process of group `pgid` exists.
pub fn group_alive(pgid: u32) -> bool {
    let Some(pgid) = pid_t(pgid) else {
        return false;
    };
    // SAFETY: signal 0 to a process group only checks that it exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// SIGTERM, then SIGKILL after `grace`; returns once `pid` is gone (or after 5 more
/// seconds).
pub fn stop(pid: u32, grace: Duration) {
    terminate(pid);
    if wait_gone(pid, grace) {
        return;
    }
    kill(pid);
    wait_gone(pid, Duration::from_secs(5));
}

/// Waits up to `timeout` for `pid` to exit; whether it did.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_alive_until_stopped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(alive(pid));
        // Between fork and exec the child still shows this test's command line.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !command_line_contains(pid, "sleep") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(command_line_contains(pid, "sleep"));
        assert!(!command_line_contains(pid, "moto_dropflow"));
        terminate(pid);
        child.wait().unwrap();
        assert!(!alive(pid));
    }

    #[test]
    fn pid_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("dropflow-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.pid");
        write_pid(&file, 4242).unwrap();
        assert_eq!(read_pid(&file), Some(4242));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read_pid(&file), None);
    }
}
