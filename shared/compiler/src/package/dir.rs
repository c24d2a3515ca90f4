//! Reading a package from a directory on disk, without following symbolic links.

use std::fs::{self, DirEntry, File, FileType};
use std::io::{self, Read};
use std::path::Path;

use super::collect::{Collected, Collector, Route};
use super::error::PackageError;
use super::metaflow;
use super::path::{LOCAL_JUNK_DIRS, normalise};
use super::{Limits, PackageFormat};

/// Walks `root`, keeping regular files. Symbolic links anywhere below `root` are refused;
/// junk directories are skipped without being entered (see [`skip_directory`]).
pub(crate) fn read(root: &Path, limits: &Limits) -> Result<Collected, PackageError> {
    let mut collector = Collector::new(limits);
    // Relative paths of directories still to list; "" is the root.
    let mut pending = vec![String::new()];
    while let Some(relative) = pending.pop() {
        let directory = root.join(&relative);
        let mut entries = fs::read_dir(&directory)
            .and_then(|listing| listing.collect::<io::Result<Vec<_>>>())
            .map_err(|source| PackageError::Io {
                path: directory.clone(),
                source,
            })?;
        entries.sort_by_key(DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name();
            let mut raw = relative.as_bytes().to_vec();
            if !raw.is_empty() {
                raw.push(b'/');
            }
            raw.extend_from_slice(name.as_encoded_bytes());
            let Some(path) = normalise(&raw)? else {
                continue;
            };
            let name = name.to_string_lossy();
            if LOCAL_JUNK_DIRS.contains(&name.as_ref()) {
                continue; // whatever its type, even a link
            }
            let file_type = entry.file_type().map_err(|source| PackageError::Io {
                path: entry.path(),
                source,
            })?;
            if file_type.is_dir() {
                if path == metaflow::META_DIR {
                    collector.route(&path); // note the layout, and go in for INFO
                    pending.push(path);
                } else if collector.route(&path) != Route::Skip
                    && !skip_directory(&name, &entry.path())
                {
                    pending.push(path);
                }
                continue;
            }
            let route = collector.route(&path);
            if route == Route::Skip {
                continue;
            }
            if file_type.is_symlink() {
                let target = fs::read_link(entry.path())
                    .map_or_else(|_| "?".to_string(), |t| t.to_string_lossy().into_owned());
                return Err(PackageError::Link {
                    entry: path,
                    kind: "symbolic link",
                    target,
                });
            }
            if !file_type.is_file() {
                return Err(PackageError::SpecialFile {
                    entry: path,
                    kind: describe(file_type).to_string(),
                });
            }
            let metadata = entry.metadata().map_err(|source| PackageError::Io {
                path: entry.path(),
                source,
            })?;
            let size = metadata.len();
            let executable = is_executable(&metadata);
            match route {
                Route::File => collector.admit(&path, size)?,
                Route::Info => collector.admit_info(size)?,
                Route::Skip => unreachable!("skipped above"),
            }
            let bytes = read_file(&entry.path(), size, limits)?;
            collector.check_file_size(&path, bytes.len() as u64)?; // it may have grown
            match route {
                Route::File => collector.insert(path, bytes, executable)?,
                Route::Info => collector.set_info(bytes)?,
                Route::Skip => unreachable!("skipped above"),
            }
        }
    }
    collector.finish(PackageFormat::Directory)
}

/// Directories that hold no flow code, skipped without being entered (on top of the names
/// in [`LOCAL_JUNK_DIRS`]): any virtualenv (it has `pyvenv.cfg`), any cache directory (it
/// has `CACHEDIR.TAG`, as Cargo's `target/` does), and `target/` unless it is a Python
/// package (has `__init__.py`).
fn skip_directory(name: &str, path: &Path) -> bool {
    let has = |file: &str| fs::symlink_metadata(path.join(file)).is_ok();
    has("pyvenv.cfg") || has("CACHEDIR.TAG") || (name == "target" && !has("__init__.py"))
}

/// Reads one file, never more than one byte past the per-file limit.
fn read_file(path: &Path, size: u64, limits: &Limits) -> Result<Vec<u8>, PackageError> {
    let io_error = |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let mut bytes = Vec::with_capacity(size.min(limits.max_file_bytes) as usize);
    file.take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    Ok(bytes)
}

/// Names a file type that is neither a regular file, a directory nor a link.
fn describe(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "named pipe (FIFO)";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
    }
    let _ = file_type;
    "special file"
}

/// Whether the file's owner may execute it (always false where there are no such bits).
fn is_executable(metadata: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o100 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        false
    }
}
