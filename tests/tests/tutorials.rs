//! Metaflow's own tutorials (`metaflow tutorials pull`, shipped in the PyPI package), the
//! first flows a new user tries: each tutorial directory, copied as a user would pull
//! it, goes through dropflow's check and compile. 00–03 compile to valid ASL (01 and 02
//! compute their `IncludeFile` default with `script_path("movies.csv")`, evaluated in
//! the deploy-time sandbox); 04 (`@conda_base`) and 05 (`@kubernetes`) are refused with
//! the decorator and its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use dropflow_compiler::compile::{DeployOptions, Deployment, ParameterSpec, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_tests::{python, validators::validate_asl};

/// The tutorials directory of the test venv's Metaflow.
fn tutorials_dir() -> PathBuf {
    let output = Command::new(python())
        .args([
            "-c",
            "import metaflow, os; print(os.path.join(os.path.dirname(metaflow.__file__), 'tutorials'))",
        ])
        .output()
        .expect("the test venv's Python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// Copies one tutorial (without `__pycache__`) into a fresh directory, as
/// `metaflow tutorials pull` does.
fn pull(name: &str) -> tempfile::TempDir {
    let source = tutorials_dir().join(name);
    let target = tempfile::tempdir().expect("temp dir");
    let mut copied = 0;
    for entry in std::fs::read_dir(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()))
    {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), target.path().join(entry.file_name())).expect("copy");
            copied += 1;
        }
    }
    assert!(copied > 0, "{} is empty", source.display());
    target
}

/// Checks and compiles a pulled tutorial, as the compile Lambda does; the error's text
/// when it is refused.
fn check_and_compile(dir: &Path) -> Result<Deployment, String> {
    let package = package::read_path(dir, &Limits::default()).expect("readable package");
    let checked = pipeline::check(&package).map_err(|e| e.to_string())?;
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
    .map_err(|e| e.to_string())
}

fn compile(name: &str) -> Deployment {
    let dir = pull(name);
    let deployment = check_and_compile(dir.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
    validate_asl(&deployment.definition.to_json_pretty()).unwrap_or_else(|e| panic!("{name}: {e}"));
    deployment
}

fn refusal(name: &str) -> String {
    let dir = pull(name);
    match check_and_compile(dir.path()) {
        Ok(_) => panic!("{name} compiled"),
        Err(error) => error,
    }
}

fn parameter<'a>(deployment: &'a Deployment, name: &str) -> &'a ParameterSpec {
    deployment
        .manifest
        .parameters
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

#[test]
fn helloworld_and_playlist_redux_compile() {
    let hello = compile("00-helloworld");
    assert_eq!(hello.manifest.flow.name, "HelloFlow");
    let redux = compile("03-playlist-redux");
    assert_eq!(redux.manifest.flow.name, "PlayListFlow");
}

#[test]
fn playlist_and_statistics_include_movies_csv_from_script_path() {
    for (name, flow) in [
        ("01-playlist", "PlayListFlow"),
        ("02-statistics", "MovieStatsFlow"),
    ] {
        let deployment = compile(name);
        assert_eq!(deployment.manifest.flow.name, flow);
        let movie_data = parameter(&deployment, "movie_data");
        assert!(movie_data.include_file, "{name}");
        // script_path("movies.csv") is `<dir of the flow file>/movies.csv`: the
        // package's movies.csv, by the path tasks open it at.
        assert_eq!(
            movie_data.default,
            Some(serde_json::json!("movies.csv")),
            "{name}"
        );
    }
}

#[test]
fn playlist_plus_is_refused_for_conda_base() {
    let error = refusal("04-playlist-plus");
    // `@conda_base(python=get_python_version())` sits on line 18.
    assert!(error.starts_with("playlist.py:18:"), "{error}");
    assert!(error.contains("@conda_base"), "{error}");
}

#[test]
fn hello_cloud_is_refused_for_kubernetes() {
    let error = refusal("05-hello-cloud");
    // `@kubernetes(cpu=1, memory=500)` sits on line 30.
    assert!(error.starts_with("hello-cloud.py:30:"), "{error}");
    assert!(error.contains("@kubernetes"), "{error}");
}
