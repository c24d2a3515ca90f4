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
