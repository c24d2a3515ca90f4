//! `dropflow local` from the command line, without bringing a stack up (the stack itself
//! is tested in `tests/tests/local_stack.rs`, which runs this crate's binary).

use std::process::Command;

fn dropflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dropflow"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn local_has_up_and_down() {
    let out = dropflow(&["local", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("up") && help.contains("down"), "{help}");
    let out = dropflow(&["local", "up", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for option in ["--port", "--state-dir", "--python", "--foreground"] {
        assert!(help.contains(option), "{option} missing: {help}");
    }
    assert!(help.contains("metadata_url"), "{help}");
    assert!(help.contains("METAFLOW_SERVICE_URL"), "{help}");
}

#[test]
fn down_without_a_stack_says_so() {
    let dir = std::env::temp_dir().join(format!("dropflow-cli-down-{}", std::process::id()));
    let out = dropflow(&["local", "down", "--state-dir", dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no local stack was running"
    );
}

/// `dropflow compile` previews as the user `dropflow deploy` records: Metaflow's
/// `get_username()` order.
#[test]
fn compile_previews_as_metaflows_user() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let flow = root.join("examples/parameter_flow.py");
    let user_of = |env: &[(&str, &str)]| {
        let out = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_dropflow"));
        command
            .args([
                "compile",
                flow.to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
            ])
            .env_remove("METAFLOW_USER")
            .env_remove("SUDO_USER")
            .env_remove("USERNAME")
            .env_remove("USER");
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join("deployment.json")).unwrap())
                .unwrap();
        manifest["options"]["user"].as_str().unwrap().to_string()
    };
    assert_eq!(user_of(&[("USER", "alice")]), "alice");
    assert_eq!(
        user_of(&[("USERNAME", "carol"), ("USER", "alice")]),
        "carol"
    );
    assert_eq!(
        user_of(&[("METAFLOW_USER", "bob"), ("USER", "alice")]),
        "bob"
    );
    assert_eq!(
        user_of(&[("SUDO_USER", "root"), ("USER", "alice")]),
        "alice"
    );
}
