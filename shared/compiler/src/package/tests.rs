use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use tar::{EntryType, Header};

use super::*;

// ---------------------------------------------------------------------------------------
// Builders: archives are made in memory; malicious entries get hand-written headers because
// `Header::set_path` refuses `..` and absolute paths.
// ---------------------------------------------------------------------------------------

/// A well-formed tar of regular files, built with the `tar` crate.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(EntryType::Regular);
        builder.append_data(&mut header, path, *bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

/// One raw ustar entry: header with `name` and `link` written byte for byte, then the data
/// padded to a block.
fn raw_entry(name: &[u8], kind: u8, data: &[u8], link: &[u8]) -> Vec<u8> {
    let mut header = Header::new_ustar();
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(data.len() as u64);
    header.set_entry_type(EntryType::new(kind));
    let old = header.as_old_mut();
    old.name[..name.len()].copy_from_slice(name);
    old.linkname[..link.len()].copy_from_slice(link);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A regular-file raw entry.
fn raw_file(name: &[u8], data: &[u8]) -> Vec<u8> {
    raw_entry(name, b'0', data, b"")
}

/// A PAX extended header (`x`) carrying one `key=value` record, for the entry after it.
fn pax_entry(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = key.len() + value.len() + 3; // " " "=" "\n"
    // The record's length counts its own digits.
    let mut total = body_len + 1;
    while total.to_string().len() + body_len != total {
        total += 1;
    }
    let mut record = format!("{total} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    raw_entry(b"PaxHeaders/x", b'x', &record, b"")
}

/// Raw entries followed by the end-of-archive blocks.
fn raw_tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = entries.concat();
    out.extend_from_slice(&[0; 1024]);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn read(bytes: &[u8]) -> Result<SourcePackage, PackageError> {
    read_bytes("upload.tgz", bytes, &Limits::default())
}

fn err(bytes: &[u8]) -> PackageError {
    read(bytes).expect_err("the package should be refused")
}

fn keys(package: &SourcePackage) -> Vec<&str> {
    package.files.keys().map(String::as_str).collect()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/package_save")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `package save`-shaped archive (layout version 1) with the given INFO.
fn metaflow_tar(info: Option<&[u8]>, user: &[(&str, &[u8])]) -> Vec<u8> {
    let mut files: Vec<(&str, &[u8])> = vec![
        (".mf_code/metaflow/__init__.py", b"# metaflow\n"),
        (".mf_code/metaflow/flowspec.py", b"class FlowSpec: pass\n"),
        (".mf_meta/CONFIG", b"{}"),
        (".mf_meta/DIST_INFO", b"{}"),
        (".mf_install", br#"{"version": 1, "module_files": []}"#),
    ];
    if let Some(info) = info {
        files.push((".mf_meta/INFO", info));
    }
    files.extend_from_slice(user);
    tar_of(&files)
}

const FLOW: &[u8] =
    b"from metaflow import FlowSpec, step\n\nclass HelloFlow(FlowSpec):\n    pass\n";

// ---------------------------------------------------------------------------------------
// Accepted inputs
// ---------------------------------------------------------------------------------------

#[test]
fn a_bare_python_file_is_a_one_file_package() {
    let package = read_bytes("uploads/hello_flow.py", FLOW, &Limits::default()).unwrap();
    assert_eq!(package.format, PackageFormat::PythonFile);
    assert_eq!(keys(&package), ["hello_flow.py"]);
    assert_eq!(package.script_hint.as_deref(), Some("hello_flow.py"));
    // The content digest: the file and the flow file it names, not the upload's bytes.
    assert_eq!(
        package.sha256,
        content_digest(
            &package.files,
            &BTreeSet::new(), /* no file here is executable */
            Some("hello_flow.py")
        )
    );
    let sources: Vec<_> = package.python_files().collect();
    assert_eq!(
        sources,
        [("hello_flow.py", std::str::from_utf8(FLOW).unwrap())]
    );
    assert_eq!(package.file("hello_flow.py"), Some(FLOW));
    assert_eq!(package.file("missing.py"), None);
}

#[test]
fn a_windows_upload_name_keeps_only_the_base_name() {
    let package = read_bytes(r"C:\Users\me\flow.py", FLOW, &Limits::default()).unwrap();
    assert_eq!(keys(&package), ["flow.py"]);
}

#[test]
fn python_sources_are_kept_losslessly() {
    let source = "\u{feff}# café\r\nx = 'ü'\n";
    let package = read_bytes("f.py", source.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(package.python_files().next(), Some(("f.py", source)));
    assert_eq!(package.checked_python_files().unwrap(), [("f.py", source)]);
}

#[test]
fn a_plain_tar_is_read_and_paths_are_normalised() {
    let tar = raw_tar(&[
        raw_entry(b"./", b'5', b"", b""),
        raw_file(b"./flow.py", FLOW),
        raw_entry(b"./pkg/", b'5', b"", b""),
        raw_file(b"./pkg//util.py", b"X = 1\n"),
        raw_file(b"data.csv", b"a,b\n"),
    ]);
    let package = read_bytes("flow.tar", &tar, &Limits::default()).unwrap();
    assert_eq!(package.format, PackageFormat::Tar);
    assert_eq!(keys(&package), ["data.csv", "flow.py", "pkg/util.py"]);
    assert_eq!(package.script_hint, None);
    let python: Vec<_> = package.python_files().map(|(path, _)| path).collect();
    assert_eq!(python, ["flow.py", "pkg/util.py"]);
    assert_eq!(
        package.sha256,
        content_digest(
            &package.files,
            &BTreeSet::new(), /* no file here is executable */
            None
        )
    );
}

#[test]
fn gzip_is_recognised_by_magic_bytes_not_by_name() {
    let tgz = gz(&tar_of(&[("flow.py", FLOW)]));
    for name in ["flow.tgz", "flow.tar", "flow.py", "upload"] {
        let package = read_bytes(name, &tgz, &Limits::default()).unwrap();
        assert_eq!(package.format, PackageFormat::TarGz, "{name}");
        assert_eq!(keys(&package), ["flow.py"]);
    }
}

#[test]
fn junk_and_directories_are_skipped() {
    let tar = raw_tar(&[
        raw_file(b"flow.py", FLOW),
        raw_entry(b"__pycache__/", b'5', b"", b""),
        raw_file(b"__pycache__/flow.cpython-311.pyc", b"\x00\x01"),
        raw_file(b"pkg/__pycache__/x.pyc", b"\x00"),
        raw_file(b".git/config", b"[core]\n"),
        raw_entry(b".git/HEAD-link", b'2', b"", b"/etc/passwd"),
        raw_file(b"vendor/.git", b"gitdir: ../.git/modules/vendor\n"),
        raw_file(b"._flow.py", b"\x00\x05\x16\x07"),
        raw_file(b"pkg/.DS_Store", b"\x00"),
        raw_entry(b"olddir/", b'0', b"", b""), // v7 directory: regular type, trailing slash
    ]);
    let package = read(&tar).unwrap();
    assert_eq!(keys(&package), ["flow.py"]);
}

#[test]
fn pax_global_headers_are_not_files() {
    let mut global = pax_entry("comment", b"made by git archive");
    global[156] = b'g'; // type flag
    let mut header = Header::from_byte_slice(&global[..512]).clone();
    header.set_cksum();
    global[..512].copy_from_slice(header.as_bytes());
    let package = read(&raw_tar(&[global, raw_file(b"flow.py", FLOW)])).unwrap();
    assert_eq!(keys(&package), ["flow.py"]);
}

#[test]
fn long_names_from_gnu_and_pax_headers_are_used() {
    // A second file at the root keeps the long directory from being the package root.
    let long = format!("{}/flow.py", "d".repeat(150));
    let package = read(&tar_of(&[(long.as_str(), FLOW), ("README", b"")])).unwrap();
    assert_eq!(keys(&package), ["README", long.as_str()]);

    let pax = raw_tar(&[
        pax_entry("path", long.as_bytes()),
        raw_file(b"short", FLOW),
        raw_file(b"README", b""),
    ]);
    assert_eq!(keys(&read(&pax).unwrap()), ["README", long.as_str()]);
}

#[test]
fn metaflow_package_save_fixture_is_read() {
    // Real `python hello_flow.py package save` output (Metaflow 2.19.39), `.mf_code/` trimmed.
    let bytes = fixture("hello_flow.tgz");
    let package = read_bytes("hello_flow.tgz", &bytes, &Limits::default()).unwrap();
    assert_eq!(package.format, PackageFormat::MetaflowPackage);
    assert_eq!(package.script_hint.as_deref(), Some("hello_flow.py"));
    assert_eq!(
        keys(&package),
        [
            METAFLOW_CONFIG,
            "hello_flow.py",
            "helper.py",
            "mylib/__init__.py"
        ]
    );
    let flow = std::str::from_utf8(package.file("hello_flow.py").unwrap()).unwrap();
    assert!(flow.contains("class HelloFlow(FlowSpec)"));
}

#[test]
fn metaflow_layout_is_recognised_in_a_plain_tar() {
    let info = br#"{"script": "hello_flow.py", "metaflow_version": "2.19.39"}"#;
    let tar = metaflow_tar(Some(info), &[("hello_flow.py", FLOW), ("helper.py", b"")]);
    let package = read(&tar).unwrap();
    assert_eq!(package.format, PackageFormat::MetaflowPackage);
    assert_eq!(package.script_hint.as_deref(), Some("hello_flow.py"));
    assert_eq!(
        keys(&package),
        [METAFLOW_CONFIG, "hello_flow.py", "helper.py"]
    );
}

#[test]
fn a_single_top_directory_is_the_package_root() {
    // `tar czf flow.tgz myflow/`
    let tar = tar_of(&[
        ("myflow/flow.py", FLOW),
        ("myflow/dropflow.toml", b"[deploy]\n"),
        ("myflow/lib/util.py", b""),
    ]);
    assert_eq!(
        keys(&read(&tar).unwrap()),
        ["dropflow.toml", "flow.py", "lib/util.py"]
    );
    // Two top directories, or a file at the root: paths stay as they are.
    let tar = tar_of(&[("a/flow.py", FLOW), ("b/util.py", b"")]);
    assert_eq!(keys(&read(&tar).unwrap()), ["a/flow.py", "b/util.py"]);
    let tar = tar_of(&[("a/flow.py", FLOW), ("util.py", b"")]);
    assert_eq!(keys(&read(&tar).unwrap()), ["a/flow.py", "util.py"]);
}

#[test]
fn a_legacy_metaflow_package_is_recognised() {
    // Layout version 0 (Metaflow before 2.16): INFO and metaflow/ at the root.
    let tar = tar_of(&[
        ("metaflow/__init__.py", b"# metaflow\n"),
        ("metaflow_extensions/x/__init__.py", b""),
        ("INFO", br#"{"script": "flow.py"}"#),
        ("CONFIG", b"{}"),
        ("flow.py", FLOW),
        ("util.py", b""),
    ]);
    let package = read(&gz(&tar)).unwrap();
    assert_eq!(package.format, PackageFormat::MetaflowPackage);
    assert_eq!(package.script_hint.as_deref(), Some("flow.py"));
    assert_eq!(keys(&package), ["flow.py", "util.py"]);
}

#[test]
fn a_user_file_called_info_is_just_a_file() {
    let tar = tar_of(&[("INFO", b"not json"), ("flow.py", FLOW)]);
    let package = read(&tar).unwrap();
    assert_eq!(package.format, PackageFormat::Tar);
    assert_eq!(keys(&package), ["INFO", "flow.py"]);
}

#[test]
fn an_empty_py_file_is_a_package() {
    let package = read_bytes("flow.py", b"", &Limits::default()).unwrap();
    assert_eq!(keys(&package), ["flow.py"]);
}

#[test]
fn debug_shows_sizes_not_contents() {
    let package = read_bytes("flow.py", FLOW, &Limits::default()).unwrap();
    let shown = format!("{package:?}");
    assert!(
        shown.contains(&format!("\"flow.py\": {}", FLOW.len())),
        "{shown}"
    );
    assert!(!shown.contains("FlowSpec"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Refused inputs: one test per variant, messages checked for the entry they name
// ---------------------------------------------------------------------------------------

#[test]
fn not_an_archive_says_what_is_accepted() {
    let error = read_bytes("notes.txt", b"hello", &Limits::default()).unwrap_err();
    assert_eq!(error.code(), "package.not_an_archive");
    let message = error.to_string();
    assert!(message.contains("notes.txt"), "{message}");
    assert!(
        message.contains(".tar.gz") && message.contains("package save"),
        "{message}"
    );

    let zip = read_bytes("flow.zip", b"PK\x03\x04rest", &Limits::default()).unwrap_err();
    assert!(zip.to_string().contains("a zip archive"), "{zip}");

    let empty = read_bytes("flow.tgz", b"", &Limits::default()).unwrap_err();
    assert!(matches!(
        empty,
        PackageError::NotAnArchive {
            found: "it is empty",
            ..
        }
    ));

    let gzipped_text = read_bytes("flow.py.gz", &gz(FLOW), &Limits::default()).unwrap_err();
    assert!(
        gzipped_text
            .to_string()
            .contains("gzip-compressed data that is not a tar"),
        "{gzipped_text}"
    );
}

#[test]
fn corrupt_archives_are_reported() {
    let tgz = gz(&tar_of(&[("flow.py", FLOW)]));
    let truncated = err(&tgz[..tgz.len() / 2]);
    assert_eq!(truncated.code(), "package.corrupt_archive", "{truncated}");

    let mut tar = raw_tar(&[raw_file(b"a.py", b"x = 1\n"), raw_file(b"b.py", b"y = 2\n")]);
    tar[1024 + 10] ^= 0x55; // damage the second header
    let bad_checksum = err(&tar);
    assert_eq!(bad_checksum.code(), "package.corrupt_archive");
    assert!(
        bad_checksum.to_string().contains("checksum"),
        "{bad_checksum}"
    );

    // A header that claims more data than the archive holds.
    let mut short = raw_file(b"flow.py", &[b'#'; 2048]);
    short.truncate(512 + 100);
    let short = err(&short);
    assert_eq!(short.code(), "package.corrupt_archive", "{short}");
}

#[test]
fn absolute_paths_are_refused() {
    for name in [&b"/etc/cron.d/evil"[..], b"\\evil.py", b"C:evil.py"] {
        let error = err(&raw_tar(&[raw_file(name, b"x")]));
        assert_eq!(error.code(), "package.absolute_path", "{error}");
        assert!(
            error.to_string().contains(&*String::from_utf8_lossy(name)),
            "{error}"
        );
    }
    // Through a PAX `path` record, which overrides the header's name.
    let pax = err(&raw_tar(&[
        pax_entry("path", b"/etc/passwd"),
        raw_file(b"ok.py", b""),
    ]));
    assert!(matches!(pax, PackageError::AbsolutePath { ref entry } if entry == "/etc/passwd"));
}

#[test]
fn parent_directories_are_refused() {
    for name in [
        &b"../evil.py"[..],
        b"a/../../evil.py",
        b"a/..",
        b"..\\evil.py",
    ] {
        let error = err(&raw_tar(&[raw_file(name, b"x")]));
        assert_eq!(error.code(), "package.parent_directory", "{error}");
        assert!(
            error.to_string().contains(&*String::from_utf8_lossy(name)),
            "{error}"
        );
    }
    // Through a GNU long name (`L`) entry.
    let mut long = Header::new_gnu();
    long.set_entry_type(EntryType::GNULongName);
    let name = b"../../../../tmp/evil.py\0";
    long.set_size(name.len() as u64);
    long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    long.set_cksum();
    let mut entry = long.as_bytes().to_vec();
    entry.extend_from_slice(name);
    entry.resize(1024, 0);
    let error = err(&raw_tar(&[entry, raw_file(b"short", b"x")]));
    assert!(
        matches!(error, PackageError::ParentDirectory { ref entry } if entry == "../../../../tmp/evil.py"),
        "{error}"
    );
    // A directory entry climbing out is refused too.
    let dir = err(&raw_tar(&[raw_entry(b"../", b'5', b"", b"")]));
    assert_eq!(dir.code(), "package.parent_directory");
}

#[test]
fn unusable_paths_are_refused() {
    for (name, reason) in [
        (&b"caf\xe9.py"[..], "not UTF-8"),
        (b"a\\b.py", "backslash"),
        (b"a\x07.py", "control character"),
    ] {
        let error = err(&raw_tar(&[raw_file(name, b"x")]));
        assert_eq!(error.code(), "package.invalid_path", "{error}");
        assert!(error.to_string().contains(reason), "{error}");
    }
    let dot = err(&raw_tar(&[raw_file(b".", b"x")]));
    assert_eq!(dot.code(), "package.invalid_path");
}

#[test]
fn links_are_refused() {
    let symlink = err(&raw_tar(&[raw_entry(
        b"flow.py",
        b'2',
        b"",
        b"/etc/passwd",
    )]));
    assert_eq!(symlink.code(), "package.link");
    let message = symlink.to_string();
    assert!(
        message.contains("flow.py") && message.contains("symbolic link"),
        "{message}"
    );
    assert!(message.contains("/etc/passwd"), "{message}");

    let hardlink = err(&raw_tar(&[
        raw_file(b"a.py", b"x"),
        raw_entry(b"b.py", b'1', b"", b"a.py"),
    ]));
    assert!(
        matches!(hardlink, PackageError::Link { ref entry, kind: "hard link", .. } if entry == "b.py"),
        "{hardlink}"
    );
}

#[test]
fn special_files_are_refused() {
    for (kind, what) in [
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "FIFO"),
        (b'V', "type `V`"),
    ] {
        let error = err(&raw_tar(&[raw_entry(b"dev/thing", kind, b"", b"")]));
        assert_eq!(error.code(), "package.special_file", "{error}");
        let message = error.to_string();
        assert!(
            message.contains("dev/thing") && message.contains(what),
            "{message}"
        );
    }
    // Sparse files exist only in GNU headers.
    let mut sparse = Header::new_gnu();
    sparse.set_path("holes.bin").unwrap();
    sparse.set_entry_type(EntryType::GNUSparse);
    sparse.set_size(0);
    sparse.as_gnu_mut().unwrap().set_real_size(0);
    sparse.set_cksum();
    let error = err(&raw_tar(&[sparse.as_bytes().to_vec()]));
    assert!(
        matches!(error, PackageError::SpecialFile { ref kind, .. } if kind == "sparse file"),
        "{error}"
    );
}

#[test]
fn duplicate_entries_are_refused() {
    let twice = err(&raw_tar(&[
        raw_file(b"a.py", b"1"),
        raw_file(b"./a.py", b"2"),
    ]));
    assert!(matches!(twice, PackageError::DuplicateEntry { ref entry } if entry == "a.py"));
    assert_eq!(twice.code(), "package.duplicate_entry");

    let file_and_dir = err(&raw_tar(&[raw_file(b"a", b"1"), raw_file(b"a/b.py", b"2")]));
    assert!(matches!(file_and_dir, PackageError::DuplicateEntry { ref entry } if entry == "a"));
}

#[test]
fn too_many_files_are_refused() {
    let limits = Limits {
        max_files: 3,
        ..Limits::default()
    };
    let files: Vec<(String, &[u8])> = (0..4).map(|i| (format!("f{i}.py"), &b""[..])).collect();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), *b)).collect();
    let error = read_bytes("x.tar", &tar_of(&files), &limits).unwrap_err();
    assert!(
        matches!(error, PackageError::TooManyFiles { limit: 3 }),
        "{error}"
    );
    assert_eq!(error.code(), "package.too_many_files");
    // Skipped entries do not count.
    let with_junk = tar_of(&[
        ("a.py", b""),
        ("__pycache__/a.pyc", b""),
        ("__pycache__/b.pyc", b""),
        ("._a.py", b""),
        ("b.py", b""),
    ]);
    assert!(read_bytes("x.tar", &with_junk, &limits).is_ok());
}

#[test]
fn a_file_over_the_per_file_limit_is_refused() {
    let limits = Limits {
        max_file_bytes: 10,
        ..Limits::default()
    };
    let error = read_bytes("x.tar", &tar_of(&[("big.py", &[b'#'; 11])]), &limits).unwrap_err();
    assert!(
        matches!(error, PackageError::FileTooLarge { ref entry, size: 11, limit: 10 } if entry == "big.py"),
        "{error}"
    );
    assert_eq!(error.code(), "package.file_too_large");
    assert!(
        error
            .to_string()
            .contains("`big.py` is 11 bytes, over the 10 bytes limit")
    );

    let bare = read_bytes("big.py", &[b'#'; 11], &limits).unwrap_err();
    assert_eq!(bare.code(), "package.file_too_large");

    let default = Limits::default();
    let huge = read_bytes(
        "x.tar",
        &tar_of(&[("data.bin", &vec![7; 11 << 20])]),
        &default,
    );
    let message = huge.unwrap_err().to_string();
    assert!(
        message.contains("11 MiB, over the 10 MiB limit"),
        "{message}"
    );
}

#[test]
fn a_package_over_the_total_limit_is_refused() {
    let limits = Limits {
        max_total_bytes: 4096,
        ..Limits::default()
    };
    // The input itself is over the limit.
    let tar = tar_of(&[("a.py", &[b'#'; 3000]), ("b.py", &[b'#'; 3000])]);
    let error = read_bytes("x.tar", &tar, &limits).unwrap_err();
    assert!(
        matches!(error, PackageError::TooLarge { limit: 4096 }),
        "{error}"
    );
    assert_eq!(error.code(), "package.too_large");
    // The compressed input is small, the decompressed stream is not.
    let error = read_bytes("x.tgz", &gz(&tar), &limits).unwrap_err();
    assert!(
        matches!(error, PackageError::TooLarge { limit: 4096 }),
        "{error}"
    );
}

/// A valid tgz of one tar entry of `size` zero bytes (a whole number of MiB, at least
/// 3 MiB), compressed as hard as possible. Compressing hundreds of MiB in a debug build takes
/// seconds, so only 3 MiB are compressed: after a sync flush the compressor's state (a window
/// of zeros, byte-aligned output) repeats, so each further MiB compresses to the same bytes.
fn zero_bomb(size: u64) -> Vec<u8> {
    const MIB: usize = 1 << 20;
    assert!(size.is_multiple_of(MIB as u64) && size >= 3 * MIB as u64);
    let mut header = Header::new_gnu();
    header.set_path("zeros.bin").unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    let zeros = vec![0u8; MIB];
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let mib = |encoder: &mut GzEncoder<Vec<u8>>| {
        let start = encoder.get_ref().len();
        encoder.write_all(&zeros).unwrap();
        encoder.flush().unwrap(); // sync flush: byte-aligned
        encoder.get_ref()[start..].to_vec()
    };
    encoder.write_all(header.as_bytes()).unwrap();
    mib(&mut encoder);
    let repeated = mib(&mut encoder);
    assert_eq!(
        mib(&mut encoder),
        repeated,
        "compressor state did not settle"
    );
    let mut bomb = encoder.get_ref().clone();
    for _ in 3..size / MIB as u64 {
        bomb.extend_from_slice(&repeated);
    }
    // The end-of-archive blocks, the final deflate block and the gzip trailer...
    let start = encoder.get_ref().len();
    encoder.write_all(&[0; 1024]).unwrap();
    let tail = encoder.finish().unwrap();
    bomb.extend_from_slice(&tail[start..tail.len() - 8]);
    // ...whose CRC-32 and length must cover the whole stream.
    let mut crc = flate2::Crc::new();
    crc.update(header.as_bytes());
    let mut one_mib = flate2::Crc::new();
    one_mib.update(&zeros);
    for _ in 0..size / MIB as u64 {
        crc.combine(&one_mib);
    }
    crc.update(&[0; 1024]);
    bomb.extend_from_slice(&crc.sum().to_le_bytes());
    bomb.extend_from_slice(&crc.amount().to_le_bytes());
    bomb
}

#[test]
fn the_zero_bomb_is_a_valid_archive() {
    let bomb = zero_bomb(4 << 20);
    let mut stream = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bomb[..]), &mut stream).unwrap();
    assert_eq!(stream.len(), 512 + (4 << 20) + 1024);
    let mut archive = tar::Archive::new(&stream[..]);
    let entry = archive.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.size(), 4 << 20);
}

#[test]
fn a_gzip_bomb_is_stopped() {
    let bomb = zero_bomb(300 << 20);
    assert!(bomb.len() < 1 << 20, "bomb is {} bytes", bomb.len());
    let started = std::time::Instant::now();
    let error = read_bytes("bomb.tgz", &bomb, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            error,
            PackageError::TooLarge { .. } | PackageError::CompressionRatio { .. }
        ),
        "{error}"
    );
    // Even with the ratio check off, decompression stops at the total limit.
    let no_ratio = Limits {
        max_compression_ratio: u64::MAX,
        ..Limits::default()
    };
    let error = read_bytes("bomb.tgz", &bomb, &no_ratio).unwrap_err();
    assert!(matches!(error, PackageError::TooLarge { .. }), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn an_extreme_compression_ratio_is_refused() {
    // 4 MiB of zeros: under every size limit, but it expands about 1000:1.
    let error = read(&zero_bomb(4 << 20)).unwrap_err();
    let PackageError::CompressionRatio { ratio, limit } = error else {
        panic!("expected CompressionRatio, got {error}");
    };
    assert_eq!(limit, 200);
    assert!(ratio > 200, "{ratio}");
    assert_eq!(err(&zero_bomb(4 << 20)).code(), "package.compression_ratio");
    // A tiny archive compresses far better than 200:1 but is judged only past 1 MiB.
    let tiny = gz(&tar_of(&[("a.py", b"")]));
    assert!(10240 / tiny.len() > 50);
    assert!(read(&tiny).is_ok());
}

#[test]
fn bad_metaflow_info_is_refused() {
    let cases: [(Option<&[u8]>, &str); 5] = [
        (None, "no `.mf_meta/INFO`"),
        (Some(b"{not json"), "not valid JSON"),
        (
            Some(br#"{"flow_name": "HelloFlow"}"#),
            "no \"script\" string",
        ),
        (
            Some(br#"{"script": "other.py"}"#),
            "`other.py`, which is not in the package",
        ),
        (
            Some(br#"{"script": "../x.py"}"#),
            "not a relative file path",
        ),
    ];
    for (info, reason) in cases {
        let tar = metaflow_tar(info, &[("flow.py", FLOW)]);
        let error = read(&tar).unwrap_err();
        assert_eq!(error.code(), "package.bad_metaflow_info", "{error}");
        let message = error.to_string();
        assert!(message.contains(reason), "{message}");
        assert!(message.contains("package save"), "{message}");
    }
    let twice = tar_of(&[
        (".mf_meta/INFO", br#"{"script": "flow.py"}"#),
        ("./.mf_meta/INFO", br#"{"script": "flow.py"}"#),
        ("flow.py", FLOW),
    ]);
    assert_eq!(read(&twice).unwrap_err().code(), "package.duplicate_entry");
}

#[test]
fn io_errors_name_the_path() {
    let missing = Path::new("/nonexistent/dropflow/flow.tgz");
    let error = read_path(missing, &Limits::default()).unwrap_err();
    assert_eq!(error.code(), "package.io");
    assert!(
        error.to_string().contains("/nonexistent/dropflow/flow.tgz"),
        "{error}"
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn python_files_must_be_utf8() {
    let latin1 = b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n";
    let error = read(&tar_of(&[("pkg/names.py", latin1), ("data.bin", b"\xff")])).unwrap_err();
    assert!(
        matches!(error, PackageError::InvalidUtf8 { ref file, line: 2 } if file == "pkg/names.py"),
        "{error}"
    );
    assert_eq!(error.code(), "package.invalid_utf8");
    assert!(
        error
            .to_string()
            .starts_with("pkg/names.py:2 is not valid UTF-8"),
        "{error}"
    );
    // Non-Python files may hold anything.
    assert!(read(&tar_of(&[("flow.py", FLOW), ("data.bin", b"\xff")])).is_ok());
    // A hand-built package: python_files skips, checked_python_files reports.
    let mut package = read_bytes("flow.py", FLOW, &Limits::default()).unwrap();
    package.files.insert("bad.py".into(), b"\xff".to_vec());
    assert_eq!(package.python_files().count(), 1);
    let error = package.checked_python_files().unwrap_err();
    assert!(matches!(error, PackageError::InvalidUtf8 { ref file, line: 1 } if file == "bad.py"));
}

#[test]
fn an_archive_without_files_is_empty() {
    let only_junk = raw_tar(&[
        raw_entry(b"src/", b'5', b"", b""),
        raw_file(b"__pycache__/a.pyc", b""),
        raw_file(b"._a.py", b""),
    ]);
    for bytes in [only_junk, vec![0; 1024], gz(&[0; 10240])] {
        let error = err(&bytes);
        assert!(matches!(error, PackageError::EmptyPackage), "{error}");
        assert_eq!(error.code(), "package.empty");
    }
}

#[test]
fn codes_are_stable_and_distinct() {
    let samples = [
        PackageError::NotAnArchive {
            name: String::new(),
            found: "",
        },
        PackageError::CorruptArchive {
            detail: String::new(),
        },
        PackageError::AbsolutePath {
            entry: String::new(),
        },
        PackageError::ParentDirectory {
            entry: String::new(),
        },
        PackageError::InvalidPath {
            entry: String::new(),
            reason: "",
        },
        PackageError::Link {
            entry: String::new(),
            kind: "",
            target: String::new(),
        },
        PackageError::SpecialFile {
            entry: String::new(),
            kind: String::new(),
        },
        PackageError::DuplicateEntry {
            entry: String::new(),
        },
        PackageError::TooManyFiles { limit: 0 },
        PackageError::FileTooLarge {
            entry: String::new(),
            size: 0,
            limit: 0,
        },
        PackageError::TooLarge { limit: 0 },
        PackageError::CompressionRatio { ratio: 0, limit: 0 },
        PackageError::BadMetaflowInfo {
            reason: String::new(),
        },
        PackageError::Io {
            path: "x".into(),
            source: std::io::ErrorKind::NotFound.into(),
        },
        PackageError::InvalidUtf8 {
            file: String::new(),
            line: 0,
        },
        PackageError::EmptyPackage,
    ];
    let codes: std::collections::BTreeSet<_> = samples.iter().map(PackageError::code).collect();
    assert_eq!(codes.len(), samples.len());
    assert!(codes.iter().all(|code| code.starts_with("package.")));
}

#[test]
fn byte_sizes_read_naturally() {
    use super::error::ByteSize;
    assert_eq!(ByteSize(300).to_string(), "300 bytes");
    assert_eq!(ByteSize(2048).to_string(), "2 KiB");
    assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
    assert_eq!(ByteSize(50 << 20).to_string(), "50 MiB");
    assert_eq!(ByteSize((3 << 20) + (1 << 19)).to_string(), "3.5 MiB");
}

// ---------------------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------------------

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_directory_is_walked_and_junk_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "flow.py", FLOW);
    write(root, "pkg/util.py", b"X = 1\n");
    write(root, "pkg/__pycache__/util.cpython-311.pyc", b"\x00");
    write(root, ".git/HEAD", b"ref: refs/heads/main\n");
    write(root, ".venv/lib/site.py", b"");
    write(root, "venv/pyvenv.cfg", b"home = /usr/bin\n");
    write(root, "venv/lib/site.py", b"");
    write(root, "node_modules/x/index.js", b"");
    write(
        root,
        ".metaflow/HelloFlow/1/_parameters/0/0.data.json",
        b"{}",
    );
    write(
        root,
        "target/CACHEDIR.TAG",
        b"Signature: 8a477f597d28d172789f06886806bc55",
    );
    write(root, "target/debug/dropflow", b"\x7fELF");
    write(root, "sub/target/out.bin", b"");
    write(
        root,
        "sub/cache/CACHEDIR.TAG",
        b"Signature: 8a477f597d28d172789f06886806bc55",
    );
    write(root, "sub/cache/blob", b"");
    write(root, "lib/target/__init__.py", b""); // a Python package called target is kept
    write(root, "._flow.py", b"");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/usr/bin/python3", root.join(".venv/python")).unwrap();

    let package = read_path(root, &Limits::default()).unwrap();
    assert_eq!(package.format, PackageFormat::Directory);
    assert_eq!(package.script_hint, None);
    assert_eq!(
        keys(&package),
        ["flow.py", "lib/target/__init__.py", "pkg/util.py"]
    );
    assert_eq!(
        package.sha256,
        content_digest(
            &package.files,
            &BTreeSet::new(), /* no file here is executable */
            None
        )
    );
}

#[test]
fn a_directory_digest_depends_only_on_kept_files() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    write(first.path(), "flow.py", FLOW);
    write(second.path(), "flow.py", FLOW);
    write(second.path(), "__pycache__/flow.pyc", b"\x00");
    let a = read_path(first.path(), &Limits::default()).unwrap();
    let b = read_path(second.path(), &Limits::default()).unwrap();
    assert_eq!(a.sha256, b.sha256);
    write(second.path(), "flow.py", b"changed");
    let c = read_path(second.path(), &Limits::default()).unwrap();
    assert_ne!(a.sha256, c.sha256);
    // Path/content boundaries are unambiguous.
    let ab: BTreeMap<String, Vec<u8>> = [("ab".to_string(), b"c".to_vec())].into();
    let a_bc: BTreeMap<String, Vec<u8>> = [("a".to_string(), b"bc".to_vec())].into();
    let none = BTreeSet::new();
    assert_ne!(
        content_digest(&ab, &none, None),
        content_digest(&a_bc, &none, None)
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_in_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flow.py", FLOW);
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("pkg/secrets.py")).unwrap();
    let error = read_path(dir.path(), &Limits::default()).unwrap_err();
    assert!(
        matches!(error, PackageError::Link { ref entry, ref target, .. }
            if entry == "pkg/secrets.py" && target == "/etc/passwd"),
        "{error}"
    );
    // A link to a directory is refused too, not followed.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flow.py", FLOW);
    std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
    let error = read_path(dir.path(), &Limits::default()).unwrap_err();
    assert_eq!(error.code(), "package.link");
}

#[cfg(unix)]
#[test]
fn a_socket_in_a_directory_is_a_special_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "flow.py", FLOW);
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("agent.sock")).unwrap();
    let error = read_path(dir.path(), &Limits::default()).unwrap_err();
    assert!(
        matches!(error, PackageError::SpecialFile { ref entry, ref kind } if entry == "agent.sock" && kind == "socket"),
        "{error}"
    );
}

#[test]
fn directory_limits_apply() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        write(dir.path(), &format!("f{i}.py"), &[b'#'; 100]);
    }
    let few = Limits {
        max_files: 4,
        ..Limits::default()
    };
    assert_eq!(
        read_path(dir.path(), &few).unwrap_err().code(),
        "package.too_many_files"
    );
    let small = Limits {
        max_file_bytes: 99,
        ..Limits::default()
    };
    assert_eq!(
        read_path(dir.path(), &small).unwrap_err().code(),
        "package.file_too_large"
    );
    let total = Limits {
        max_total_bytes: 450,
        ..Limits::default()
    };
    assert_eq!(
        read_path(dir.path(), &total).unwrap_err().code(),
        "package.too_large"
    );
    let utf8 = tempfile::tempdir().unwrap();
    write(utf8.path(), "flow.py", b"\xff");
    assert_eq!(
        read_path(utf8.path(), &Limits::default())
            .unwrap_err()
            .code(),
        "package.invalid_utf8"
    );
    let empty = tempfile::tempdir().unwrap();
    write(empty.path(), "__pycache__/x.pyc", b"");
    assert_eq!(
        read_path(empty.path(), &Limits::default())
            .unwrap_err()
            .code(),
        "package.empty"
    );
}

#[test]
fn an_extracted_metaflow_package_directory_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let archive = fixture("hello_flow.tgz");
    let tar = flate2::read::GzDecoder::new(&archive[..]);
    tar::Archive::new(tar).unpack(dir.path()).unwrap(); // trusted fixture
    let package = read_path(dir.path(), &Limits::default()).unwrap();
    assert_eq!(package.format, PackageFormat::MetaflowPackage);
    assert_eq!(package.script_hint.as_deref(), Some("hello_flow.py"));
    assert_eq!(
        keys(&package),
        [
            METAFLOW_CONFIG,
            "hello_flow.py",
            "helper.py",
            "mylib/__init__.py"
        ]
    );
}

#[test]
fn read_path_reads_files_like_read_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture("hello_flow.tgz");
    write(dir.path(), "pkg.tar", &bytes); // gzip, whatever the name says
    write(dir.path(), "hello_flow.py", FLOW);
    let from_path = read_path(&dir.path().join("pkg.tar"), &Limits::default()).unwrap();
    assert_eq!(
        from_path,
        read_bytes("pkg.tar", &bytes, &Limits::default()).unwrap()
    );
    let flow = read_path(&dir.path().join("hello_flow.py"), &Limits::default()).unwrap();
    assert_eq!(flow.format, PackageFormat::PythonFile);
    assert_eq!(flow.script_hint.as_deref(), Some("hello_flow.py"));
    #[cfg(unix)]
    {
        // The path given may itself be a link; links inside packages are refused.
        std::os::unix::fs::symlink(dir.path().join("pkg.tar"), dir.path().join("latest")).unwrap();
        let linked = read_path(&dir.path().join("latest"), &Limits::default()).unwrap();
        assert_eq!(linked.sha256, from_path.sha256);
    }
    let small = Limits {
        max_total_bytes: 100,
        ..Limits::default()
    };
    let error = read_path(&dir.path().join("pkg.tar"), &small).unwrap_err();
    assert_eq!(error.code(), "package.too_large");
}

#[test]
fn package_format_names_are_stable() {
    let json = serde_json::to_string(&PackageFormat::MetaflowPackage).unwrap();
    assert_eq!(json, "\"metaflow_package\"");
    assert_eq!(PackageFormat::TarGz.to_string(), "tar_gz");
}

// ---------------------------------------------------------------------------------------
// Arbitrary input never panics
// ---------------------------------------------------------------------------------------

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("upload".to_string()),
        Just("flow.py".to_string()),
        Just("flow.tgz".to_string()),
        "[a-z./\\\\]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(name in any_name(), bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_bytes(&name, &bytes, &Limits::default());
    }

    #[test]
    fn arbitrary_gzip_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(&body);
        let _ = read_bytes("x", &bytes, &Limits::default());
        let _ = read_bytes("x", &gz(&body), &Limits::default());
    }

    #[test]
    fn damaged_archives_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        compress in any::<bool>(),
    ) {
        let tar = raw_tar(&[
            raw_file(b"flow.py", FLOW),
            pax_entry("path", b"pkg/long/name.py"),
            raw_file(b"x", b"X = 1\n"),
            raw_entry(b"link", b'2', b"", b"flow.py"),
        ]);
        let mut bytes = if compress { gz(&tar) } else { tar };
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        let _ = read_bytes("x.tgz", &bytes, &Limits::default());
    }

    #[test]
    fn tar_headers_with_arbitrary_names_never_panic(
        name in proptest::collection::vec(any::<u8>(), 1..100),
        kind in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let tar = raw_tar(&[raw_entry(&name, kind, &data, b"target")]);
        if let Ok(package) = read_bytes("x.tar", &tar, &Limits::default()) {
            for path in package.files.keys() {
                prop_assert!(!path.starts_with('/') && !path.split('/').any(|c| c == ".." || c == "." || c.is_empty()), "{path}");
            }
        }
    }
}
