//! `IncludeFile` / `Config` defaults computed by the flow file's functions, as in
//! Metaflow's tutorials (`default=script_path("movies.csv")`).

use std::collections::BTreeMap;

use serde_json::json;

use crate::compile::{DeployOptions, Deployment, Platform};
use crate::package::{PackageFormat, SourcePackage};
use crate::pipeline;

/// A package with the flow at `flow_path` and the other files given.
fn package(flow_path: &str, flow: &str, files: &[&str]) -> SourcePackage {
    let mut all = BTreeMap::from([(flow_path.to_string(), flow.as_bytes().to_vec())]);
    for path in files {
        all.insert(path.to_string(), b"title,genre\n".to_vec());
    }
    SourcePackage {
        files: all,
        script_hint: Some(flow_path.into()),
        format: PackageFormat::Directory,
        sha256: "0".repeat(64),
    }
}

/// A flow file: `module` (imports, constants, helpers) then a flow whose class body is
/// `attributes`.
fn flow(module: &str, attributes: &str) -> String {
    format!(
        "from metaflow import FlowSpec, IncludeFile, Config, step\n{module}\n\nclass PathFlow(FlowSpec):\n{attributes}\n\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
    )
}

fn compile(package: &SourcePackage) -> Result<Deployment, String> {
    let checked = pipeline::check(package).map_err(|e| e.to_string())?;
    pipeline::compile(
        &checked,
        &DeployOptions::default(),
        &Platform::default(),
        &BTreeMap::new(),
    )
    .map_err(|e| e.to_string())
}

/// The default of the manifest's parameter `name`.
fn default_of(deployment: &Deployment, name: &str) -> serde_json::Value {
    let spec = deployment
        .manifest
        .parameters
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    spec.default.clone().unwrap_or_default()
}

/// The tutorials' helper, `import os` inside it.
const SCRIPT_PATH: &str = "def script_path(filename):\n    import os\n\n    filepath = os.path.join(os.path.dirname(__file__))\n    return os.path.join(filepath, filename)\n";

#[test]
fn script_path_next_to_the_flow_file_is_the_package_file() {
    let source = flow(
        SCRIPT_PATH,
        "    movie_data = IncludeFile(\n        'movie_data',\n        default=script_path('movies.csv'),\n    )",
    );
    let deployment = compile(&package("flow.py", &source, &["movies.csv"])).unwrap();
    assert_eq!(default_of(&deployment, "movie_data"), json!("movies.csv"));
}

#[test]
fn nested_directories_and_parent_references_resolve_to_package_paths() {
    let module = "import os\n\ndef data_file(name):\n    here = os.path.dirname(os.path.abspath(__file__))\n    return os.path.normpath(os.path.join(here, '..', 'data', name))\n";
    let source = flow(
        module,
        "    movies = IncludeFile('movies', default=data_file('movies.csv'))\n    local = IncludeFile('local', default=os.path.join(os.path.dirname(__file__), 'local.csv'))",
    );
    let deployment = compile(&package(
        "flows/flow.py",
        &source,
        &["data/movies.csv", "flows/local.csv"],
    ))
    .unwrap();
    assert_eq!(default_of(&deployment, "movies"), json!("data/movies.csv"));
    assert_eq!(default_of(&deployment, "local"), json!("flows/local.csv"));
}

#[test]
fn helpers_calling_helpers_with_module_constants_and_file_tests() {
    let module = "from os.path import dirname, join, exists, splitext, basename\n\nDATA_DIR = 'data'\n\ndef here():\n    return dirname(__file__)\n\ndef data_path(name):\n    stem, ext = splitext(basename(name))\n    wanted = join(here(), DATA_DIR, stem + '.v2' + ext)\n    return wanted if exists(wanted) else join(here(), DATA_DIR, name)\n";
    let source = flow(
        module,
        "    newer = IncludeFile('newer', default=data_path('movies.csv'))\n    older = IncludeFile('older', default=data_path('ratings.csv'))",
    );
    let deployment = compile(&package(
        "flow.py",
        &source,
        &["data/movies.v2.csv", "data/movies.csv", "data/ratings.csv"],
    ))
    .unwrap();
    assert_eq!(
        default_of(&deployment, "newer"),
        json!("data/movies.v2.csv")
    );
    assert_eq!(default_of(&deployment, "older"), json!("data/ratings.csv"));
}

#[test]
fn config_default_computed_by_a_helper_is_read_from_the_package() {
    let source = flow(
        SCRIPT_PATH,
        "    cfg = Config('settings', default=script_path('config.json'))",
    );
    let mut package = package("flow.py", &source, &[]);
    package
        .files
        .insert("config.json".into(), br#"{"alpha": 0.5}"#.to_vec());
    let deployment = compile(&package).unwrap();
    assert_eq!(
        deployment.manifest.configs["settings"],
        json!({"alpha": 0.5})
    );
}

#[test]
fn a_helper_reading_a_file_is_refused_with_its_line() {
    let module = "import os\nfrom pathlib import Path\n\ndef first_line(name):\n    path = os.path.join(os.path.dirname(__file__), name)\n    return Path(path).read_text().splitlines()[0]\n";
    let source = flow(
        module,
        "    movies = IncludeFile('movies', default=first_line('index.txt'))",
    );
    let error = compile(&package("flow.py", &source, &["index.txt"])).unwrap_err();
    // Line 7 of the flow file reads the file.
    assert!(error.starts_with("flow.py:7: "), "{error}");
    assert!(error.contains("'movies'"), "{error}");
    assert!(error.contains("it accesses the file system"), "{error}");
    assert!(error.contains("/package/index.txt"), "{error}");
}

#[test]
fn a_helper_asking_for_the_user_is_refused() {
    let module = "import os\nimport getpass\n\ndef user_file():\n    return os.path.join(os.path.dirname(__file__), getpass.getuser() + '.csv')\n";
    let source = flow(
        module,
        "    mine = IncludeFile('mine', default=user_file())",
    );
    let error = compile(&package("flow.py", &source, &["alice.csv"])).unwrap_err();
    assert!(error.starts_with("flow.py:6: "), "{error}");
    assert!(error.contains("getpass.getuser()"), "{error}");
}

#[test]
fn computed_paths_outside_the_package_or_missing_from_it_are_refused() {
    let outside = flow(
        "import os\n",
        "    secrets = IncludeFile('secrets', default=os.path.join('/etc', 'passwd'))",
    );
    let error = compile(&package("flow.py", &outside, &[])).unwrap_err();
    assert!(
        error.starts_with("flow.py:6: IncludeFile 'secrets'"),
        "{error}"
    );
    assert!(
        error.contains("'/etc/passwd', which is outside the uploaded package"),
        "{error}"
    );

    let missing = flow(
        SCRIPT_PATH,
        "    movies = IncludeFile('movies', default=script_path('movies.csv'))",
    );
    let error = compile(&package("flow.py", &missing, &[])).unwrap_err();
    assert!(
        error.starts_with(
            "flow.py:10: IncludeFile 'movies': could not open file 'movies.csv' for reading."
        ),
        "{error}"
    );
}
