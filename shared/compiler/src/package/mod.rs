//! Reading a flow's source package safely: the first stage of the compile pipeline.
//!
//! Users deploy by uploading their flow to S3; this module turns what they uploaded into a
//! map of relative paths to bytes, refusing anything that could hurt the reader or be read
//! differently elsewhere. Accepted inputs, recognised by content, not by name:
//!
//! - a single `.py` file (recognised by its name ending in `.py`, once it is neither gzip
//!   nor tar);
//! - a directory ([`read_path`] only);
//! - a tar, plain or gzip-compressed (gzip by its magic bytes, whatever the file is called:
//!   Metaflow writes gzip even to `out.tar`);
//! - Metaflow's `python flow.py package save` output: a tar/tgz with the user's files at the
//!   root, Metaflow's own code under `.mf_code/` (skipped) and `.mf_meta/INFO` naming the
//!   flow file in `"script"` (the layout measured on Metaflow 2.19.39 is described in `metaflow.rs`).
//!
//! Archives are read entirely in memory and never unpacked, so no entry can write outside
//! the package or plant a link. Entries are refused if their path is absolute or contains
//! `..`, if they are links, devices or FIFOs, or if they pass the [`Limits`]. Skipped
//! silently: directories, `__pycache__/`, `.git/`, AppleDouble `._*` files and `.DS_Store`;
//! when reading a directory, also `.venv/`, `node_modules/`, `.metaflow/` (Metaflow's local
//! datastore), any virtualenv or `CACHEDIR.TAG` cache directory, and `target/` unless it is
//! a Python package.

mod archive;
mod collect;
mod dir;
mod error;
mod metaflow;
mod path;
mod repack;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

pub use error::PackageError;
pub use metaflow::CONFIG as METAFLOW_CONFIG;

/// A flow's source files, read and checked; what the Python front end parses.
#[derive(Clone, PartialEq, Eq)]
pub struct SourcePackage {
    /// Regular files by normalised relative path (`a/b.py`, no `./`), in path order.
    /// Metaflow's `.mf_code/` and `.mf_meta/` are not included, but for
    /// `.mf_meta/CONFIG` ([`CONFIG`]); every `.py` file is UTF-8.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The flow file, when the package says which it is: the `"script"` of
    /// `.mf_meta/INFO`, or the file name when a single `.py` file was given.
    pub script_hint: Option<String>,
    /// What the input was.
    pub format: PackageFormat,
    /// Lower-case hex SHA-256 of the package's content ([`content_digest`]): the same files
    /// (paths, bytes, executable bits as read) and flow file give the same digest whether they came
    /// as a directory, a tar or a tgz, in any order, with any timestamps or compression.
    /// Identifies a deployment's source (part of [`crate::compile::version_id`]).
    pub sha256: String,
}

/// What kind of input a [`SourcePackage`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageFormat {
    /// A single `.py` file.
    PythonFile,
    /// A directory on disk.
    Directory,
    /// An uncompressed tar archive.
    Tar,
    /// A gzip-compressed tar archive.
    TarGz,
    /// Metaflow's `package save` layout (`.mf_meta/INFO`), in a tar, a tgz or a directory.
    MetaflowPackage,
}

impl PackageFormat {
    /// The stable snake_case name used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PythonFile => "python_file",
            Self::Directory => "directory",
            Self::Tar => "tar",
            Self::TarGz => "tar_gz",
            Self::MetaflowPackage => "metaflow_package",
        }
    }
}

impl fmt::Display for PackageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds on what a package may hold, so a hostile upload cannot exhaust the reader's
/// memory or time. Each bound has its own [`PackageError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most files kept (skipped entries do not count). Default 2000.
    pub max_files: usize,
    /// Largest single file, in bytes. Default 10 MiB.
    pub max_file_bytes: u64,
    /// Most uncompressed bytes: the input itself, the decompressed tar stream (headers and
    /// skipped entries included), or the files of a directory. Default 50 MiB.
    pub max_total_bytes: u64,
    /// Largest gzip expansion (decompressed ÷ compressed size), judged once more than 1 MiB
    /// has been decompressed. Default 200 (Metaflow's own packages are about 4).
    pub max_compression_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 2000,
            max_file_bytes: 10 * 1024 * 1024,
            max_total_bytes: 50 * 1024 * 1024,
            max_compression_ratio: 200,
        }
    }
}

/// Reads a package from disk: a directory (walked without following links below it), or a
/// file read as [`read_bytes`] would read it. The path itself may be a symbolic link.
pub fn read_path(path: &Path, limits: &Limits) -> Result<SourcePackage, PackageError> {
    let io_error = |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if metadata.is_dir() {
        return Ok(SourcePackage::from(dir::read(path, limits)?));
    }
    if !metadata.is_file() {
        return Err(PackageError::SpecialFile {
            entry: path.display().to_string(),
            kind: "special file (neither a file nor a directory)".to_string(),
        });
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    // One byte past the limit is enough for read_bytes to refuse an oversized file.
    let cap = limits.max_total_bytes.saturating_add(1);
    let mut bytes = Vec::with_capacity(metadata.len().min(cap) as usize);
    File::open(path)
        .and_then(|file| file.take(cap).read_to_end(&mut bytes))
        .map_err(io_error)?;
    read_bytes(&name, &bytes, limits)
}

/// Reads a package from bytes: a tar, a gzip-compressed tar (either possibly in Metaflow's
/// `package save` layout), or a single `.py` file. `name` (an upload's name or S3 key) is
/// used in messages and to recognise a bare `.py` file; the format is otherwise recognised
/// by content.
pub fn read_bytes(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<SourcePackage, PackageError> {
    Ok(SourcePackage::from(archive::read(name, bytes, limits)?))
}

impl From<collect::Collected> for SourcePackage {
    fn from(collected: collect::Collected) -> Self {
        let sha256 = content_digest(
            &collected.files,
            &collected.executable,
            collected.script_hint.as_deref(),
        );
        SourcePackage {
            files: collected.files,
            script_hint: collected.script_hint,
            format: collected.format,
            sha256,
        }
    }
}

/// The SHA-256 that identifies a package's content, however it was packed: over the flow
/// file named by the package (`.mf_meta/INFO`'s script or a bare `.py` file's name; empty
/// when none), then each file in path order: the normalised path, `x` or `-` for its
/// executable bit, and the content, each length-prefixed (u64, big-endian).
pub fn content_digest(
    files: &BTreeMap<String, Vec<u8>>,
    executable: &BTreeSet<String>,
    script_hint: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    part(script_hint.unwrap_or_default().as_bytes());
    for (path, bytes) in files {
        part(path.as_bytes());
        part(if executable.contains(path) {
            b"x"
        } else {
            b"-"
        });
        part(bytes);
    }
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

impl SourcePackage {
    /// The `.py` files as `(path, source)`, in path order, losslessly (a UTF-8 byte-order
    /// mark is kept). [`read_path`] and [`read_bytes`] refuse a non-UTF-8 `.py` file, so
    /// nothing is left out of a package they returned; a non-UTF-8 `.py` file put into
    /// [`SourcePackage::files`] by hand is skipped here (see
    /// [`SourcePackage::checked_python_files`]).
    pub fn python_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().filter_map(|(path, bytes)| {
            let source = std::str::from_utf8(bytes).ok()?;
            is_python(path).then_some((path.as_str(), source))
        })
    }

    /// Like [`SourcePackage::python_files`], but a non-UTF-8 `.py` file is an error naming it.
    pub fn checked_python_files(&self) -> Result<Vec<(&str, &str)>, PackageError> {
        self.files
            .iter()
            .filter(|(path, _)| is_python(path))
            .map(|(path, bytes)| match std::str::from_utf8(bytes) {
                Ok(source) => Ok((path.as_str(), source)),
                Err(error) => Err(PackageError::InvalidUtf8 {
                    file: path.clone(),
                    line: bytes[..error.valid_up_to()]
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count()
                        + 1,
                }),
            })
            .collect()
    }

    /// A file's bytes by normalised relative path (`a/b.py`).
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
}

/// Whether a package path is a Python source file.
fn is_python(path: &str) -> bool {
    path.ends_with(".py")
}

/// Shows paths and sizes, not contents, so a package can be logged.
impl fmt::Debug for SourcePackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Sizes<'a>(&'a BTreeMap<String, Vec<u8>>);
        impl fmt::Debug for Sizes<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(path, bytes)| (path, bytes.len())))
                    .finish()
            }
        }
        f.debug_struct("SourcePackage")
            .field("files", &Sizes(&self.files))
            .field("script_hint", &self.script_hint)
            .field("format", &self.format)
            .field("sha256", &self.sha256)
            .finish()
    }
}

#[cfg(test)]
mod tests;
