//! The Metaflow extension (`cli/metaflow-dropflow`: `python flow.py dropflow ...` and
//! `Deployer(...).dropflow()`) as a Metaflow user drives it, on one local stack brought up
//! with this crate's `dropflow local up`: the checks are in
//! `cli/metaflow-dropflow/tests/local_stack_check.py`, run with the extension on
//! `PYTHONPATH` (Metaflow finds `metaflow_extensions` packages on `sys.path`, as it finds
//! them pip-installed) and `DROPFLOW_BIN` naming this crate's `dropflow`; the pieces that
//! need no stack are in `cli/metaflow-dropflow/tests/unit_check.py`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv's Python (Metaflow, moto): `$DROPFLOW_PYTHON`, else `<repo>/.venv/bin/python`.
fn python() -> PathBuf {
    let path = std::env::var_os("DROPFLOW_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.is_file(),
        "{} does not exist: run `bash tests/run.sh --setup-only` once",
        path.display()
    );
    path
}

/// `program ARGS` from `cwd` as the user `dropflow-ci`, with the extension importable.
fn run(program: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("DROPFLOW_PYTHON", python())
        .env("DROPFLOW_BIN", env!("CARGO_BIN_EXE_dropflow"))
        .env("PYTHONPATH", repo_root().join("cli/metaflow-dropflow"))
        .env("USERNAME", "dropflow-ci")
        .env_remove("METAFLOW_USER")
        .env_remove("SUDO_USER")
        .env_remove("METAFLOW_PROFILE")
        .env_remove("DROPFLOW_API")
        .env_remove("DROPFLOW_BUCKET")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A local stack whose state directory is `<dir>/.dropflow`, so `--local` finds it from
/// `<dir>`; stopped when dropped (also on a panic).
struct LocalStack {
    dir: tempfile::TempDir,
}

impl LocalStack {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".dropflow");
        let out = run(
            Path::new(env!("CARGO_BIN_EXE_dropflow")),
            &[
                "local",
                "up",
                "--port",
                "0",
                "--state-dir",
                state.to_str().unwrap(),
                "--max-jobs",
                "2",
            ],
            dir.path(),
        );
        assert!(out.status.success(), "{}", text(&out));
        Self { dir }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let state = self.dir.path().join(".dropflow");
        run(
            Path::new(env!("CARGO_BIN_EXE_dropflow")),
            &["local", "down", "--state-dir", state.to_str().unwrap()],
            self.dir.path(),
        );
    }
}

/// Copies `source` to `<dir>/<sub>/<name>` (each flow in a directory of its own, as
/// `create` packs the flow file's directory).
fn place(dir: &Path, sub: &str, source: &Path, name: &str) -> PathBuf {
    let target = dir.join(sub);
    std::fs::create_dir_all(&target).unwrap();
    let file = target.join(name);
    std::fs::copy(source, &file).unwrap();
    file
}

#[test]
fn create_trigger_and_read_back_through_metaflow_commands_and_deployer() {
    let started = Instant::now();
    let stack = LocalStack::up();
    let up = started.elapsed();
    let work = stack.dir.path();
    let flow = place(
        work,
        "parameter",
        &repo_root().join("examples/parameter_flow.py"),
        "parameter_flow.py",
    );
    let broken = place(
        work,
        "broken",
        &repo_root().join("tests/flows/lint/missing_transition.py"),
        "flow.py",
    );
    let check = repo_root().join("cli/metaflow-dropflow/tests/local_stack_check.py");
    let out = run(
        &python(),
        &[
            check.to_str().unwrap(),
            flow.to_str().unwrap(),
            broken.to_str().unwrap(),
        ],
        work,
    );
    println!("{}", text(&out));
    assert!(out.status.success(), "{}", text(&out));
    println!(
        "stack up in {:.1} s; extension checks in {:.1} s",
        up.as_secs_f64(),
        (started.elapsed() - up).as_secs_f64()
    );
}

#[test]
fn the_extensions_pieces_without_a_stack() {
    let dir = tempfile::tempdir().unwrap();
    let check = repo_root().join("cli/metaflow-dropflow/tests/unit_check.py");
    let out = run(&python(), &[check.to_str().unwrap(), "-v"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
}
