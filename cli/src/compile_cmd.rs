//! `dropflow compile PATH --out DIR`: writes the state machine and the deployment
//! manifest that `dropflow deploy PATH` would deploy, and prints a short summary. A flow
//! file or directory is packed as `deploy` packs it ([`dropflow_cli::pack`]), so the
//! preview compiles the same package: same files, same version id.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dropflow_cli::pack;
use dropflow_cli::username::get_username;
use dropflow_compiler::compile::{DeployOptions, Deployment, OptionsLayer, Platform};
use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;

/// Compiles the flow at `path` with `flags` over its dropflow.toml. The user defaults to
/// Metaflow's user name, as `dropflow deploy` records it, so the preview names what an
/// upload by `deploy` deploys.
pub fn run(
    path: &Path,
    out: &Path,
    mut flags: OptionsLayer,
    package_suffixes: &[String],
    include: &[PathBuf],
) -> Result<(), String> {
    let started = std::time::Instant::now();
    if flags.user.is_none() {
        flags.user = get_username();
        if flags.user.is_none() {
            eprintln!(
                "warning: no user name (METAFLOW_USER, SUDO_USER, USERNAME, USER are unset): previewing as user `{}`; `dropflow deploy` needs one",
                DeployOptions::default().user
            );
        }
    }
    let package = if pack::is_packed(path) {
        let default_suffixes = std::env::var("METAFLOW_DEFAULT_PACKAGE_SUFFIXES").ok();
        let suffixes = pack::suffixes(default_suffixes.as_deref(), package_suffixes);
        let packed = pack::pack(path, &suffixes, include).map_err(|e| e.to_string())?;
        if !packed.skipped.is_empty() {
            eprintln!(
                "note: left out of the package (not a package suffix; add one with --package-suffixes): {}",
                packed.skipped.join(", ")
            );
        }
        package::read_bytes(&packed.name, &packed.bytes, &Limits::default())
    } else {
        pack::no_includes_for_archive(include).map_err(|e| e.to_string())?;
        package::read_path(path, &Limits::default())
    }
    .map_err(|e| e.to_string())?;
    let checked = pipeline::check(&package).map_err(|e| e.to_string())?;
    let mut options = DeployOptions::default();
    checked.package_options.clone().apply(&mut options);
    flags.apply(&mut options);
    // Fargate steps need the role ECS starts them with, as the compile Lambda does.
    let platform = Platform {
        execution_role_arn: std::env::var("DROPFLOW_JOB_EXECUTION_ROLE_ARN")
            .ok()
            .filter(|arn| !arn.trim().is_empty()),
        ..Platform::default()
    };
    let deployment = pipeline::compile(&checked, &options, &platform, &BTreeMap::new())
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();

    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let write = |name: &str, json: String| {
        let file = out.join(name);
        std::fs::write(&file, json + "\n")
            .map_err(|e| format!("cannot write {}: {e}", file.display()))
    };
    write("state_machine.json", deployment.definition.to_json_pretty())?;
    write(
        "deployment.json",
        serde_json::to_string_pretty(&deployment.manifest).expect("manifest serialises"),
    )?;
    print!("{}", summary(&deployment, out, elapsed));
    Ok(())
}

fn summary(deployment: &Deployment, out: &Path, elapsed: std::time::Duration) -> String {
    let manifest = &deployment.manifest;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} ({}) → state machine {} version {}",
        manifest.flow.name, manifest.flow.file, deployment.state_machine_name, deployment.version
    );
    let _ = writeln!(
        text,
        "  steps: {}; definition: {} bytes; compiled in {:.1} ms",
        manifest.steps.len(),
        deployment.definition.to_json().len(),
        elapsed.as_secs_f64() * 1000.0
    );
    match &manifest.schedule {
        Some(s) => {
            let _ = writeln!(text, "  schedule: {} ({})", s.expression, s.timezone);
        }
        None => {
            let _ = writeln!(text, "  schedule: none (start runs through the API)");
        }
    }
    if let Some(triggers) = &manifest.triggers {
        let _ = writeln!(text, "  {triggers}");
    }
    for p in &manifest.parameters {
        let default = match (&p.default, &p.deploy_time) {
            (_, Some(f)) => format!("deploy-time {}()", f.function),
            (Some(v), None) => v.to_string(),
            (None, None) if p.required => "required".to_string(),
            (None, None) => "none".to_string(),
        };
        let kind = if p.include_file {
            "IncludeFile".to_string()
        } else {
            format!("{:?}", p.kind)
        };
        let _ = writeln!(text, "  parameter {}: {kind}, default {default}", p.name);
    }
    for (name, value) in &manifest.configs {
        let _ = writeln!(text, "  config {name}: {value}");
    }
    for warning in &deployment.warnings {
        let _ = writeln!(text, "  warning: {warning}");
    }
    let _ = writeln!(
        text,
        "  wrote {}/state_machine.json and {}/deployment.json",
        out.display(),
        out.display()
    );
    text
}
