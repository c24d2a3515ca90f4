//! Every supported flow shape compiles, passes both independent ASL validators
//! (statelint and asl-validator), and matches its reviewed snapshot
//! (statelint does not know `ItemReader.ReaderConfig.InputType`: the shared
//! `validate_asl` bridges that, see `dropflow_tests::validators`.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dropflow_compiler::compile::{DeployOptions, Deployment, OptionsLayer, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;
use dropflow_tests::repo_root;
use dropflow_tests::validators::validate_asl_all;

fn compile_file(path: &Path, layer: OptionsLayer) -> Deployment {
    let package = package::read_path(path, &Limits::default()).expect("readable");
    let checked = pipeline::check(&package).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut options = DeployOptions::default();
    layer.apply(&mut options);
    pipeline::compile(&checked, &options, &Platform::default(), &BTreeMap::new())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["tests/flows/shapes", "examples"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(repo_root().join(dir)).expect("corpus dir"))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_shape_compiles_to_valid_asl_and_matches_its_snapshot() {
    let files = corpus();
    assert!(files.len() >= 15, "corpus went missing: {files:?}");
    let mut definitions = Vec::new();
    for path in files {
        let deployment = compile_file(&path, OptionsLayer::default());
        let json = deployment.definition.to_json_pretty();
        insta::assert_snapshot!(format!("{}.asl", stem(&path)), json);
        definitions.push((path.display().to_string(), json));
    }
    validate_asl_all(&definitions).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn distributed_map_and_retry_by_default_variants_are_valid_asl() {
    let mut definitions = Vec::new();
    for name in ["foreach", "nested_foreach", "switch_in_foreach"] {
        let path = repo_root().join(format!("tests/flows/shapes/{name}.py"));
        let deployment = compile_file(
            &path,
            OptionsLayer {
                distributed_map: Some(true),
                retry_by_default: Some(true),
                workflow_timeout: Some(3600),
                ..Default::default()
            },
        );
        let json = deployment.definition.to_json_pretty();
        assert!(
            json.contains("\"Mode\": \"DISTRIBUTED\""),
            "{name} uses a Distributed Map"
        );
        assert!(
            json.contains("\"TimeoutSeconds\": 3600"),
            "{name} carries the workflow timeout"
        );
        insta::assert_snapshot!(format!("{name}.distributed.asl"), json.as_str());
        definitions.push((name.to_string(), json));
    }
    validate_asl_all(&definitions).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn inline_map_variants_are_valid_asl() {
    let mut definitions = Vec::new();
    for name in [
        "foreach",
        "nested_foreach",
        "switch_in_foreach",
        "branch_in_foreach",
        "foreach_in_branch",
    ] {
        let path = repo_root().join(format!("tests/flows/shapes/{name}.py"));
        let deployment = compile_file(
            &path,
            OptionsLayer {
                distributed_map: Some(false),
                ..Default::default()
            },
        );
        let json = deployment.definition.to_json_pretty();
        assert!(
            json.contains("\"Mode\": \"INLINE\"") && !json.contains("\"Mode\": \"DISTRIBUTED\""),
            "{name}: every foreach is an inline Map"
        );
        assert!(json.contains("\"ItemsPath\": \"$.splits\""), "{name}");
        insta::assert_snapshot!(format!("{name}.inline.asl"), json.as_str());
        definitions.push((name.to_string(), json));
    }
    validate_asl_all(&definitions).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn manifests_of_the_seed_examples_match_their_snapshots() {
    for name in ["parameter_flow", "deployment_info_flow", "hourly_flow"] {
        let path = repo_root().join(format!("examples/{name}.py"));
        let deployment = compile_file(&path, OptionsLayer::default());
        let manifest = serde_json::to_value(&deployment.manifest).expect("serialises");
        insta::assert_json_snapshot!(format!("{name}.manifest"), manifest);
    }
}
