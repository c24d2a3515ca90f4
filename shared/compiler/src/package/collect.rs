//! Gathering a package's files from any source (tar entries, a directory walk, one `.py`),
//! with the same limits, junk rules and Metaflow layout handling for all of them.

use std::collections::{BTreeMap, BTreeSet};

use super::error::PackageError;
use super::metaflow::{self, Role};
use super::path::is_junk;
use super::{Limits, PackageFormat};

/// What a source should do with an entry, decided by [`Collector::route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Junk or Metaflow's own code: do not read it.
    Skip,
    /// A user file: check it with [`Collector::admit`], read it, [`Collector::insert`] it.
    File,
    /// `.mf_meta/INFO`: check it with [`Collector::admit_info`], read it,
    /// [`Collector::set_info`].
    Info,
}

/// The files gathered so far, and what has been seen of Metaflow's layout.
pub(crate) struct Collector<'l> {
    limits: &'l Limits,
    files: BTreeMap<String, Vec<u8>>,
    executable: BTreeSet<String>,
    total_bytes: u64,
    metaflow_seen: bool,
    info: Option<Vec<u8>>,
}

/// What a finished collection yields.
pub(crate) struct Collected {
    pub files: BTreeMap<String, Vec<u8>>,
    pub executable: BTreeSet<String>,
    pub script_hint: Option<String>,
    pub format: PackageFormat,
}

impl<'l> Collector<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Self {
        Self {
            limits,
            files: BTreeMap::new(),
            executable: BTreeSet::new(),
            total_bytes: 0,
            metaflow_seen: false,
            info: None,
        }
    }

    /// Decides what to do with the entry at a normalised path, noting Metaflow's layout.
    pub(crate) fn route(&mut self, path: &str) -> Route {
        match metaflow::role(path) {
            Role::Info => {
                self.metaflow_seen = true;
                Route::Info
            }
            Role::Internal => {
                self.metaflow_seen = true;
                Route::Skip
            }
            Role::User if is_junk(path) => Route::Skip,
            Role::User => Route::File,
        }
    }

    /// Checks the limits before a user file of `size` bytes is read, and counts it.
    pub(crate) fn admit(&mut self, path: &str, size: u64) -> Result<(), PackageError> {
        if self.files.len() >= self.limits.max_files {
            return Err(PackageError::TooManyFiles {
                limit: self.limits.max_files,
            });
        }
        self.check_file_size(path, size)?;
        self.total_bytes = self.total_bytes.saturating_add(size);
        if self.total_bytes > self.limits.max_total_bytes {
            return Err(PackageError::TooLarge {
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(())
    }

    /// Checks the size of `.mf_meta/INFO` before it is read.
    pub(crate) fn admit_info(&self, size: u64) -> Result<(), PackageError> {
        self.check_file_size(metaflow::INFO, size)
    }

    /// Refuses one file over [`Limits::max_file_bytes`].
    pub(crate) fn check_file_size(&self, path: &str, size: u64) -> Result<(), PackageError> {
        if size > self.limits.max_file_bytes {
            return Err(PackageError::FileTooLarge {
                entry: path.to_string(),
                size,
                limit: self.limits.max_file_bytes,
            });
        }
        Ok(())
    }

    /// Adds a user file, noting whether its owner may execute it; the same path twice is
    /// refused.
    pub(crate) fn insert(
        &mut self,
        path: String,
        bytes: Vec<u8>,
        executable: bool,
    ) -> Result<(), PackageError> {
        if self.files.contains_key(&path) {
            return Err(PackageError::DuplicateEntry { entry: path });
        }
        if executable {
            self.executable.insert(path.clone());
        }
        self.files.insert(path, bytes);
        Ok(())
    }

    /// Keeps `.mf_meta/INFO`; a second copy is refused.
    pub(crate) fn set_info(&mut self, bytes: Vec<u8>) -> Result<(), PackageError> {
        if self.info.is_some() {
            return Err(PackageError::DuplicateEntry {
                entry: metaflow::INFO.to_string(),
            });
        }
        self.info = Some(bytes);
        Ok(())
    }

    /// Final checks: something was read, Metaflow's INFO (if the layout is Metaflow's) names
    /// a script that is there, no path is both a file and a directory, and every `.py` file
    /// is UTF-8. `plain` is the format to report when the layout is not Metaflow's.
    pub(crate) fn finish(self, plain: PackageFormat) -> Result<Collected, PackageError> {
        let Collector {
            mut files,
            mut executable,
            metaflow_seen,
            info,
            ..
        } = self;
        if files.is_empty() {
            return Err(PackageError::EmptyPackage);
        }
        let (script_hint, format) = if metaflow_seen {
            let Some(info) = info else {
                return Err(PackageError::BadMetaflowInfo {
                    reason: format!(
                        "it has Metaflow's `{}/` or `{}` but no `{}`",
                        metaflow::CODE_DIR,
                        metaflow::MARKER,
                        metaflow::INFO
                    ),
                });
            };
            let script = metaflow::script_from_info(&info, &files)?;
            (Some(script), PackageFormat::MetaflowPackage)
        } else if let Some(script) = metaflow::legacy_script(&mut files) {
            (Some(script), PackageFormat::MetaflowPackage)
        } else {
            strip_single_top_directory(&mut files, &mut executable);
            (None, plain)
        };
        check_file_directory_clash(&files)?;
        check_python_utf8(&files)?;
        executable.retain(|path| files.contains_key(path));
        Ok(Collected {
            files,
            executable,
            script_hint,
            format,
        })
    }
}

/// Refuses a path that is a file and also the parent of another file (`a` and `a/b`).
/// `tar czf flow.tgz myflow/` puts every file under `myflow/`: the package root is that
/// directory (where the user ran the flow from, and where `dropflow.toml`, `Config` and
/// `IncludeFile` paths are looked up), so the prefix is dropped.
fn strip_single_top_directory(
    files: &mut BTreeMap<String, Vec<u8>>,
    executable: &mut BTreeSet<String>,
) {
    let Some(first) = files.keys().next() else {
        return;
    };
    let Some((directory, _)) = first.split_once('/') else {
        return;
    };
    let prefix = format!("{directory}/");
    if !files.keys().all(|path| path.starts_with(&prefix)) {
        return;
    }
    *files = std::mem::take(files)
        .into_iter()
        .map(|(path, bytes)| (path[prefix.len()..].to_string(), bytes))
        .collect();
    *executable = std::mem::take(executable)
        .into_iter()
        .filter_map(|path| path.strip_prefix(&prefix).map(String::from))
        .collect();
}

fn check_file_directory_clash(files: &BTreeMap<String, Vec<u8>>) -> Result<(), PackageError> {
    for path in files.keys() {
        let prefix = format!("{path}/");
        if files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(other, _)| other.starts_with(&prefix))
        {
            return Err(PackageError::DuplicateEntry {
                entry: path.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses a `.py` file that is not UTF-8, naming the line of the first bad byte.
fn check_python_utf8(files: &BTreeMap<String, Vec<u8>>) -> Result<(), PackageError> {
    for (path, bytes) in files {
        if !path.ends_with(".py") {
            continue;
        }
        if let Err(error) = std::str::from_utf8(bytes) {
            let before = &bytes[..error.valid_up_to()];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            return Err(PackageError::InvalidUtf8 {
                file: path.clone(),
                line,
            });
        }
    }
    Ok(())
}
