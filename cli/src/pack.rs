//! Packing a flow for `dropflow deploy` as Metaflow's `python flow.py package save` packs
//! it (`metaflow/package/`, `metaflow/packaging_sys/utils.py`): the flow's directory
//! walked with directory links followed (each loop broken once), `__pycache__` and hidden
//! directories skipped, Metaflow's own top-level `.mf_code`, `.mf_meta` and
//! `_escape_trampolines` skipped, and only files whose name ends in one of the package
//! suffixes kept (`METAFLOW_DEFAULT_PACKAGE_SUFFIXES`, default `.py,.R,.RDS`, plus
//! `--package-suffixes`; case-insensitive; a hidden file only when it equals a suffix).
//! dropflow adds its own `dropflow.toml` and a uv project's `pyproject.toml` and `uv.lock`
//! at the root and, for a flow file, Metaflow's
//! `.mf_meta/INFO` naming it. Virtualenvs (a `pyvenv.cfg`) are skipped, as dropflow's
//! reader skips them. Every file left out is listed, never dropped silently.
//!
//! The archive is [`SourcePackage::to_tar_gz`]: sorted entries, fixed mtime, mode,
//! uid and gid, a gzip header without time, so the same files give the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dropflow_compiler::package::{PackageFormat, SourcePackage};

/// Metaflow's `DEFAULT_PACKAGE_SUFFIXES`.
pub const DEFAULT_SUFFIXES: &str = ".py,.R,.RDS";

/// dropflow's deploy options file, always packed when present at the root.
pub const DROPFLOW_TOML: &str = "dropflow.toml";

/// Files packed from the root whatever the suffixes: dropflow's options, and a uv
/// project's `pyproject.toml` and `uv.lock` (Metaflow's uv environment ships both).
pub const ROOT_FILES: [&str; 3] = [DROPFLOW_TOML, "pyproject.toml", "uv.lock"];

/// Top-level entries Metaflow leaves out of a package.
const EXCLUDED_TOP_LEVEL: [&str; 3] = [".mf_code", ".mf_meta", "_escape_trampolines"];

/// Metaflow's file naming the flow script.
const INFO: &str = ".mf_meta/INFO";

/// Metaflow's resolved configs in a `package save` archive.
const CONFIG: &str = ".mf_meta/CONFIG";

/// What went wrong packing.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The path cannot be read.
    #[error("{path}: {source} (give the flow file, its directory or a .tar.gz)")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing matched the suffixes.
    #[error(
        "{dir}: no file ends in {suffixes}; give the flow's directory (or add suffixes with --package-suffixes)"
    )]
    Empty {
        /// The directory.
        dir: PathBuf,
        /// The suffixes used.
        suffixes: String,
    },
    /// `--include` names a file outside the packed directory.
    #[error(
        "{path}: not under the flow's directory {dir}; tasks read package files relative to it: move the file there"
    )]
    OutsideDirectory {
        /// The file.
        path: PathBuf,
        /// The directory packed.
        dir: PathBuf,
    },
    /// `--include` names a directory, or is given with an archive.
    #[error("{path}: {why}")]
    NotIncludable {
        /// The path.
        path: PathBuf,
        /// Why it cannot be included.
        why: &'static str,
    },
    /// A path that is not UTF-8 cannot be named in a package.
    #[error("{path}: the name is not UTF-8; rename it (package paths are UTF-8)")]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
}

/// A flow ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The gzip-compressed tar.
    pub bytes: Vec<u8>,
    /// The file name to upload it as under `flows/` (`parameter_flow.tar.gz`).
    pub name: String,
    /// Files packed (package paths), sorted; empty for an archive given as is.
    pub files: Vec<String>,
    /// Files left out by the suffix filter or as a virtualenv, relative to the root.
    pub skipped: Vec<String>,
}

/// The package suffixes: Metaflow's default (or `METAFLOW_DEFAULT_PACKAGE_SUFFIXES`)
/// with `extra` (comma-separated, as `--package-suffixes`) added.
pub fn suffixes(default: Option<&str>, extra: &[String]) -> Vec<String> {
    let mut set = BTreeSet::new();
    for list in
        std::iter::once(default.unwrap_or(DEFAULT_SUFFIXES)).chain(extra.iter().map(String::as_str))
    {
        for suffix in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            set.insert(suffix.to_string());
        }
    }
    set.into_iter().collect()
}

/// Whether Metaflow's suffix filter keeps a file named `name`.
pub fn keeps(name: &str, suffixes: &[String]) -> bool {
    let name = name.to_lowercase();
    let mut lower = suffixes.iter().map(|s| s.to_lowercase());
    if name.starts_with('.') {
        lower.any(|s| s == name)
    } else {
        lower.any(|s| name.ends_with(&s))
    }
}

/// Whether `path` is packed ([`pack`]) rather than read as the archive it is.
pub fn is_packed(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    path.is_dir()
        || ![".tar.gz", ".tgz", ".tar"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Packs `path`: a flow file (its directory, with `.mf_meta/INFO` naming it), a
/// directory, or a `.tar`/`.tar.gz`/`.tgz` archive (uploaded as it is).
/// `include` names files to pack whatever their suffix (paths as given on the command
/// line, relative to the working directory): files under the packed directory, as an
/// `IncludeFile` default names them.
pub fn pack(path: &Path, suffixes: &[String], include: &[PathBuf]) -> Result<Packed, PackError> {
    let io = |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    let file_name = path
        .canonicalize()
        .map_err(io)?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "flow".to_string());
    if metadata.is_dir() {
        return pack_directory(path, None, &file_name, suffixes, include);
    }
    let lower = file_name.to_lowercase();
    if [".tar.gz", ".tgz", ".tar"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        no_includes_for_archive(include)?;
        let bytes = std::fs::read(path).map_err(io)?;
        return Ok(Packed {
            bytes,
            name: file_name,
            files: Vec::new(),
            skipped: Vec::new(),
        });
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = file_name
        .strip_suffix(".py")
        .unwrap_or(&file_name)
        .to_string();
    pack_directory(&dir, Some(&file_name), &stem, suffixes, include)
}

fn pack_directory(
    dir: &Path,
    script: Option<&str>,
    name: &str,
    suffixes: &[String],
    include: &[PathBuf],
) -> Result<Packed, PackError> {
    let mut walk = Walk {
        suffixes,
        files: BTreeMap::new(),
        skipped: Vec::new(),
    };
    let root = dir.canonicalize().map_err(|source| PackError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    walk.directory(&root, "", &BTreeSet::new())?;
    for file in include {
        let (name, bytes) = included(&root, file)?;
        walk.skipped.retain(|skipped| *skipped != name);
        walk.files.insert(name, bytes);
    }
    // An unpacked `package save` archive: keep Metaflow's INFO and CONFIG (the flow
    // script, the resolved configs), as the archive itself would have them.
    if script.is_none() {
        for meta in [INFO, CONFIG] {
            if let Ok(bytes) = std::fs::read(root.join(meta)) {
                walk.files.insert(meta.to_string(), bytes);
            }
        }
    }
    if walk.files.is_empty() {
        return Err(PackError::Empty {
            dir: dir.to_path_buf(),
            suffixes: suffixes.join(","),
        });
    }
    let files: Vec<String> = walk.files.keys().cloned().collect();
    if let Some(script) = script {
        let info = serde_json::to_vec(&Info { script }).expect("INFO serialises");
        walk.files.insert(INFO.to_string(), info);
    }
    let package = SourcePackage {
        files: walk.files,
        script_hint: script.map(String::from),
        format: PackageFormat::Directory,
        sha256: String::new(),
    };
    walk.skipped.sort();
    Ok(Packed {
        bytes: package.to_tar_gz(),
        name: format!("{name}.tar.gz"),
        files,
        skipped: walk.skipped,
    })
}

/// `--include` with an archive, which goes as it is: refused.
pub fn no_includes_for_archive(include: &[PathBuf]) -> Result<(), PackError> {
    match include.first() {
        Some(file) => Err(PackError::NotIncludable {
            path: file.clone(),
            why: "--include adds a file to a flow's directory as it is packed; an archive is used as it is",
        }),
        None => Ok(()),
    }
}

/// `file`'s package path under `root` and its bytes.
fn included(root: &Path, file: &Path) -> Result<(String, Vec<u8>), PackError> {
    let io = |source| PackError::Io {
        path: file.to_path_buf(),
        source,
    };
    let resolved = file.canonicalize().map_err(io)?;
    if !resolved.is_file() {
        return Err(PackError::NotIncludable {
            path: file.to_path_buf(),
            why: "not a file (--include names files)",
        });
    }
    let relative = resolved
        .strip_prefix(root)
        .map_err(|_| PackError::OutsideDirectory {
            path: file.to_path_buf(),
            dir: root.to_path_buf(),
        })?;
    let parts = relative
        .components()
        .map(|part| part.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| PackError::NotUtf8 {
            path: file.to_path_buf(),
        })?;
    Ok((parts.join("/"), std::fs::read(&resolved).map_err(io)?))
}

/// Metaflow's `.mf_meta/INFO`, with the one field dropflow reads.
#[derive(serde::Serialize)]
struct Info<'a> {
    script: &'a str,
}

struct Walk<'a> {
    suffixes: &'a [String],
    files: BTreeMap<String, Vec<u8>>,
    skipped: Vec<String>,
}

impl Walk<'_> {
    /// Walks `dir` (package path `prefix`); `seen` holds the link targets followed on the
    /// way down, so a loop is entered once, as Metaflow's `walk_without_cycles` does.
    fn directory(
        &mut self,
        dir: &Path,
        prefix: &str,
        seen: &BTreeSet<PathBuf>,
    ) -> Result<(), PackError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PackError::Io { path, source }
        };
        let mut entries = std::fs::read_dir(dir)
            .and_then(|listing| listing.collect::<std::io::Result<Vec<_>>>())
            .map_err(io(dir))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(String::from) else {
                return Err(PackError::NotUtf8 { path });
            };
            let relative = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let link = entry.file_type().map_err(io(&path))?.is_symlink();
            // A dangling link is left to the file branch, which reports it.
            let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
            if is_dir {
                let excluded = name == "__pycache__"
                    || name.starts_with('.')
                    || (prefix.is_empty() && EXCLUDED_TOP_LEVEL.contains(&name.as_str()));
                if excluded {
                    continue;
                }
                if path.join("pyvenv.cfg").exists() {
                    self.skipped.push(format!("{relative}/ (a virtualenv)"));
                    continue;
                }
                let mut seen = seen.clone();
                if link {
                    let target = path.canonicalize().map_err(io(&path))?;
                    if !seen.insert(target) {
                        continue;
                    }
                }
                self.directory(&path, &relative, &seen)?;
                continue;
            }
            let wanted = keeps(&name, self.suffixes)
                || (prefix.is_empty() && ROOT_FILES.contains(&name.as_str()));
            if !wanted {
                self.skipped.push(relative);
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            self.files.insert(relative, bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use dropflow_compiler::package::{Limits, read_bytes};

    use super::*;

    fn default_suffixes() -> Vec<String> {
        suffixes(None, &[])
    }

    fn write(root: &Path, path: &str, text: &str) {
        let file = root.join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, text).unwrap();
    }

    fn flow_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "flow.py", "from metaflow import FlowSpec\n");
        write(root, "lib/util.py", "X = 1\n");
        write(root, "model.RDS", "r");
        write(root, "dropflow.toml", "[deploy]\n");
        write(root, "pyproject.toml", "[project]\n");
        write(root, "uv.lock", "version = 1\n");
        write(root, "lib/pyproject.toml", "not packed: not at the root");
        write(root, "notes.txt", "not packed");
        write(root, "lib/__pycache__/util.cpython-311.pyc", "x");
        write(root, ".git/hooks/x.py", "hidden");
        write(root, ".hidden/y.py", "hidden");
        write(root, "venv/pyvenv.cfg", "home = /usr");
        write(root, "venv/lib/site.py", "x");
        dir
    }

    #[test]
    fn metaflow_suffixes_and_excludes() {
        let dir = flow_dir();
        let packed = pack(&dir.path().join("flow.py"), &default_suffixes(), &[]).unwrap();
        assert_eq!(packed.name, "flow.tar.gz");
        assert_eq!(
            packed.files,
            [
                "dropflow.toml",
                "flow.py",
                "lib/util.py",
                "model.RDS",
                "pyproject.toml",
                "uv.lock"
            ]
        );
        assert_eq!(
            packed.skipped,
            ["lib/pyproject.toml", "notes.txt", "venv/ (a virtualenv)"]
        );
        let read = read_bytes(&packed.name, &packed.bytes, &Limits::default()).unwrap();
        assert_eq!(read.script_hint.as_deref(), Some("flow.py"));
        assert_eq!(read.format, PackageFormat::MetaflowPackage);
        assert_eq!(read.file("lib/util.py"), Some(&b"X = 1\n"[..]));
    }

    #[test]
    fn same_files_same_bytes_whatever_the_mtimes() {
        let dir = flow_dir();
        let first = pack(dir.path(), &default_suffixes(), &[]).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        for file in ["flow.py", "lib/util.py"] {
            fs::File::options()
                .write(true)
                .open(dir.path().join(file))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let second = pack(dir.path(), &default_suffixes(), &[]).unwrap();
        assert_eq!(first.bytes, second.bytes);
        write(dir.path(), "lib/util.py", "X = 2\n");
        assert_ne!(
            first.bytes,
            pack(dir.path(), &default_suffixes(), &[]).unwrap().bytes
        );
    }

    #[test]
    fn suffix_filter_is_metaflows() {
        let s = suffixes(None, &[".json,.csv".to_string()]);
        assert_eq!(s, [".R", ".RDS", ".csv", ".json", ".py"]);
        assert!(keeps("Flow.PY", &s));
        assert!(keeps("data.csv", &s));
        assert!(!keeps("notes.txt", &s));
        assert!(!keeps(".env.py", &[".py".to_string()]));
        assert!(keeps(".py", &[".py".to_string()]));
        assert_eq!(suffixes(Some(".py"), &[]), [".py"]);
    }

    #[test]
    fn included_files_are_packed_whatever_their_suffix_but_only_from_the_directory() {
        let dir = flow_dir();
        let notes = dir.path().join("notes.txt");
        let packed = pack(&dir.path().join("flow.py"), &default_suffixes(), &[notes]).unwrap();
        assert!(
            packed.files.contains(&"notes.txt".to_string()),
            "{packed:?}"
        );
        assert!(
            !packed.skipped.contains(&"notes.txt".to_string()),
            "{packed:?}"
        );
        let read = read_bytes(&packed.name, &packed.bytes, &Limits::default()).unwrap();
        assert!(read.file("notes.txt").is_some());

        let elsewhere = tempfile::tempdir().unwrap();
        write(elsewhere.path(), "data.txt", "x");
        let outside = elsewhere.path().join("data.txt");
        let error = pack(dir.path(), &default_suffixes(), &[outside]).unwrap_err();
        assert!(
            matches!(error, PackError::OutsideDirectory { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("move the file there"), "{error}");
        let missing = dir.path().join("missing.txt");
        let error = pack(dir.path(), &default_suffixes(), &[missing]).unwrap_err();
        assert!(matches!(error, PackError::Io { .. }), "{error}");
        let error = pack(dir.path(), &default_suffixes(), &[dir.path().join("lib")]).unwrap_err();
        assert!(matches!(error, PackError::NotIncludable { .. }), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn directory_links_are_followed_once() {
        let dir = flow_dir();
        std::os::unix::fs::symlink(dir.path().join("lib"), dir.path().join("shared")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("lib/loop")).unwrap();
        let packed = pack(dir.path(), &default_suffixes(), &[]).unwrap();
        assert!(packed.files.contains(&"shared/util.py".to_string()));
        assert!(packed.files.contains(&"lib/loop/flow.py".to_string()));
        assert!(!packed.files.iter().any(|f| f.contains("loop/lib/loop")));
    }

    #[test]
    fn an_unpacked_package_save_keeps_metaflows_info_and_config() {
        let dir = flow_dir();
        write(dir.path(), ".mf_meta/INFO", r#"{"script": "flow.py"}"#);
        write(dir.path(), ".mf_meta/CONFIG", r#"{"user_configs": {}}"#);
        write(dir.path(), ".mf_code/metaflow/x.py", "skipped");
        let packed = pack(dir.path(), &default_suffixes(), &[]).unwrap();
        let read = read_bytes(&packed.name, &packed.bytes, &Limits::default()).unwrap();
        assert_eq!(read.script_hint.as_deref(), Some("flow.py"));
        assert!(read.file(".mf_meta/CONFIG").is_some());
        assert!(!packed.files.iter().any(|f| f.starts_with(".mf_code")));
        assert!(is_packed(dir.path()) && is_packed(Path::new("f.py")));
        assert!(!is_packed(Path::new("f.TGZ")));
    }

    #[test]
    fn archives_go_as_they_are_and_empty_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "flow.tgz", "bytes");
        let packed = pack(&dir.path().join("flow.tgz"), &default_suffixes(), &[]).unwrap();
        assert_eq!(
            (packed.name.as_str(), packed.bytes.as_slice()),
            ("flow.tgz", &b"bytes"[..])
        );
        let empty = tempfile::tempdir().unwrap();
        write(empty.path(), "readme.md", "x");
        let error = pack(empty.path(), &default_suffixes(), &[]).unwrap_err();
        assert!(error.to_string().contains("--package-suffixes"), "{error}");
    }
}
