//! Harness for dropflow's integration tests.
//!
//! Integration tests need tools that live outside cargo: the two ASL validators (statelint
//! from PyPI, asl-validator from npm) and a Python with Metaflow. `bash tests/run.sh`
//! installs pinned versions of all of them into `<repo>/.venv` and `<repo>/tests/node_modules`
//! and exports their paths; this crate finds them (from those variables, or at those places
//! when a test is run by plain `cargo test`) and panics with the fix when one is missing, so
//! a test that needs a tool never passes by skipping its check.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub mod cfn;
pub mod deploy_env;
pub mod moto;
pub mod validators;

/// The root of the dropflow repository (the directory holding the workspace `Cargo.toml`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one directory below the repository root")
        .to_path_buf()
}

/// The test venv's Python (with Metaflow and moto): `$DROPFLOW_PYTHON`, else
/// `<repo>/.venv/bin/python`.
///
/// # Panics
/// When that interpreter does not exist: `bash tests/run.sh` creates it.
pub fn python() -> PathBuf {
    resolve_tool(
        "python",
        "Python tools",
        std::env::var_os("DROPFLOW_PYTHON"),
        &repo_root().join(".venv/bin/python"),
    )
}

/// Picks a tool's path: the environment variable's value when set and non-empty, else
/// `fallback`. Panics, naming the fix, when the chosen path is not a file.
pub(crate) fn resolve_tool(
    name: &str,
    installs: &str,
    from_env: Option<OsString>,
    fallback: &Path,
) -> PathBuf {
    let (path, source) = match from_env.filter(|value| !value.is_empty()) {
        Some(value) => (PathBuf::from(value), "from the environment"),
        None => (fallback.to_path_buf(), "default location"),
    };
    if !path.is_file() {
        let kind = if name == "python" { "" } else { "validator " };
        panic!(
            "{kind}{name} not installed: run `bash tests/run.sh` once (it installs the pinned \
             {installs}); looked for {} ({source})",
            path.display()
        );
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn repo_root_is_the_workspace_root() {
        let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{manifest}");
        assert!(repo_root().join("tests/run.sh").is_file());
    }

    #[test]
    fn python_has_metaflow() {
        let out = Command::new(python())
            .args(["-c", "import metaflow, sys; print(metaflow.__version__)"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2.19.39");
    }

    #[test]
    fn empty_env_value_falls_back() {
        let fallback = repo_root().join("Cargo.toml");
        let path = resolve_tool("x", "x", Some(OsString::new()), &fallback);
        assert_eq!(path, fallback);
    }

    #[test]
    #[should_panic(
        expected = "python not installed: run `bash tests/run.sh` once (it installs the pinned Python tools)"
    )]
    fn missing_python_panics_with_the_fix() {
        resolve_tool(
            "python",
            "Python tools",
            Some("/nonexistent/dropflow/python".into()),
            Path::new("/unused"),
        );
    }
}
