//! `dropflow compile` names a version from the package's content: the same files (paths,
//! bytes, executable bits) give the same version id whether they come as a directory, a
//! tar or a tgz, in any entry order, with any timestamps or gzip header; a changed byte or
//! executable bit gives another. (A directory is packed as `dropflow deploy` packs it:
//! Metaflow's package suffixes, every file mode 0644; so the files here are `.py` files and
//! not executable, and the executable bit is varied in the archives.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const FLOW: &str = include_str!("../../examples/parameter_flow.py");
const HELPER: &str = "GREETING = 'hello'\n";
const SCRIPT: &str = "#!/usr/bin/env python3\nprint('run')\n";

/// The files: path, content, mode.
fn files(helper: &str, script_mode: u32) -> Vec<(&'static str, String, u32)> {
    vec![
        ("parameter_flow.py", FLOW.to_string(), 0o644),
        ("lib/helper.py", helper.to_string(), 0o644),
        ("bin/run.py", SCRIPT.to_string(), script_mode),
    ]
}

fn tar(entries: &[(&str, String, u32)], prefix: &str, mtime: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(mtime);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{prefix}{path}"), content.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8], mtime: u32, level: u32) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(mtime)
        .filename("flow.tar")
        .write(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn directory(root: &Path, entries: &[(&str, String, u32)]) -> PathBuf {
    for (path, content, mode) in entries {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
    }
    root.to_path_buf()
}

/// The version id `dropflow compile` prints for `path`.
fn version(path: &Path, out: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_dropflow"))
        .arg("compile")
        .arg(path)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = stdout.lines().next().unwrap_or_default();
    first
        .rsplit_once(" version ")
        .unwrap_or_else(|| panic!("no version in {first:?}"))
        .1
        .to_string()
}

#[test]
fn the_same_content_is_the_same_version_however_it_is_packed() {
    let work = std::env::temp_dir().join(format!("dropflow-version-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let out = work.join("out");
    let write = |name: &str, bytes: Vec<u8>| {
        let path = work.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let entries = files(HELPER, 0o644);
    let mut reversed = entries.clone();
    reversed.reverse();

    let from_directory = version(&directory(&work.join("dir"), &entries), &out);
    let from_tar = version(&write("a.tar", tar(&entries, "", 1_600_000_000)), &out);
    let from_tgz = version(
        &write("b.tgz", gzip(&tar(&reversed, "./", 1_700_000_000), 1, 9)),
        &out,
    );
    let from_other_tgz = version(
        &write("c.tar.gz", gzip(&tar(&entries, "", 42), 1_800_000_000, 1)),
        &out,
    );
    assert_eq!(from_tar, from_directory);
    assert_eq!(from_tgz, from_directory);
    assert_eq!(from_other_tgz, from_directory);

    let changed_byte = version(
        &write("d.tar", tar(&files("GREETING = 'hullo'\n", 0o644), "", 1)),
        &out,
    );
    assert_ne!(changed_byte, from_directory);
    let executable = version(&write("e.tar", tar(&files(HELPER, 0o755), "", 1)), &out);
    assert_ne!(executable, from_directory);
    assert_ne!(executable, changed_byte);
    std::fs::remove_dir_all(&work).unwrap();
}
