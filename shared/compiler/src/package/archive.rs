//! Reading a package from bytes: recognising gzip, tar and `.py` by content, decompressing
//! with a cap, and walking tar entries in memory (nothing is ever written to disk, so no
//! entry can plant a file or a link outside the package).

use std::io::Read;

use tar::EntryType;

use super::collect::{Collected, Collector, Route};
use super::error::PackageError;
use super::path::normalise;
use super::{Limits, PackageFormat};

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// The compression ratio is only judged past this many decompressed bytes: tiny archives
/// (a tar's zero padding around one small file) legitimately compress very well.
const RATIO_GRACE_BYTES: u64 = 1 << 20;

/// The size of a tar block (header or data record).
const BLOCK: usize = 512;

/// Reads `bytes` as a tar, a gzip-compressed tar or a lone `.py` file (by `name`).
pub(crate) fn read(name: &str, bytes: &[u8], limits: &Limits) -> Result<Collected, PackageError> {
    if bytes.len() as u64 > limits.max_total_bytes {
        return Err(PackageError::TooLarge {
            limit: limits.max_total_bytes,
        });
    }
    if bytes.starts_with(GZIP_MAGIC) {
        let tar = gunzip(bytes, limits)?;
        if !looks_like_tar(&tar) {
            return Err(PackageError::NotAnArchive {
                name: name.to_string(),
                found: "gzip-compressed data that is not a tar archive",
            });
        }
        return read_tar(&tar, limits, PackageFormat::TarGz);
    }
    if looks_like_tar(bytes) {
        return read_tar(bytes, limits, PackageFormat::Tar);
    }
    if let Some(file_name) = python_file_name(name) {
        return read_python_file(file_name, bytes, limits);
    }
    Err(PackageError::NotAnArchive {
        name: name.to_string(),
        found: describe(bytes),
    })
}

/// The base name of an upload whose name ends in `.py` (either separator accepted, since
/// browsers on Windows may send `C:\...\flow.py`).
fn python_file_name(name: &str) -> Option<&str> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    (base.len() > ".py".len() && base.ends_with(".py")).then_some(base)
}

/// A package of one `.py` file, stored under its base name.
fn read_python_file(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Collected, PackageError> {
    let Some(path) = normalise(file_name.as_bytes())? else {
        return Err(PackageError::InvalidPath {
            entry: file_name.to_string(),
            reason: "it is empty",
        });
    };
    let mut collector = Collector::new(limits);
    collector.admit(&path, bytes.len() as u64)?;
    collector.insert(path.clone(), bytes.to_vec(), false)?;
    let mut collected = collector.finish(PackageFormat::PythonFile)?;
    collected.script_hint = Some(path);
    Ok(collected)
}

/// What unrecognised bytes look like, for [`PackageError::NotAnArchive`].
fn describe(bytes: &[u8]) -> &'static str {
    const KNOWN: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "a zip archive"),
        (b"PK\x05\x06", "an empty zip archive"),
        (b"BZh", "bzip2-compressed data"),
        (b"\xfd7zXZ\x00", "xz-compressed data"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    ];
    if bytes.is_empty() {
        return "it is empty";
    }
    KNOWN
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map_or(
            "not a tar archive, and the name does not end in .py",
            |(_, what)| what,
        )
}

/// Whether `bytes` start with a tar header: a block whose checksum is right, or an empty
/// archive (zero blocks only).
fn looks_like_tar(bytes: &[u8]) -> bool {
    let Some(first) = bytes.get(..BLOCK) else {
        return false;
    };
    if first.iter().all(|b| *b == 0) {
        return bytes.len() >= 2 * BLOCK && bytes.iter().all(|b| *b == 0);
    }
    let header = tar::Header::from_byte_slice(first);
    let Ok(stored) = header.cksum() else {
        return false;
    };
    // The checksum counts the checksum field itself as eight spaces.
    let sum: u32 = first[..148]
        .iter()
        .chain(&first[156..])
        .map(|b| u32::from(*b))
        .sum::<u32>()
        + 8 * u32::from(b' ');
    sum == stored
}

/// Decompresses gzip data into memory, stopping as soon as the output passes
/// [`Limits::max_total_bytes`] or the ratio to the input passes
/// [`Limits::max_compression_ratio`].
fn gunzip(compressed: &[u8], limits: &Limits) -> Result<Vec<u8>, PackageError> {
    let cap = limits.max_total_bytes;
    let ratio_cap = (compressed.len() as u64).saturating_mul(limits.max_compression_ratio);
    // `take` bounds the decoder even if the checks below were wrong.
    let mut decoder = flate2::read::GzDecoder::new(compressed).take(cap.saturating_add(1));
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(PackageError::CorruptArchive {
                    detail: format!("gzip: {error}"),
                });
            }
        };
        out.extend_from_slice(&chunk[..read]);
        let total = out.len() as u64;
        if total > cap {
            return Err(PackageError::TooLarge { limit: cap });
        }
        if total > RATIO_GRACE_BYTES && total > ratio_cap {
            return Err(PackageError::CompressionRatio {
                ratio: total / (compressed.len() as u64).max(1),
                limit: limits.max_compression_ratio,
            });
        }
    }
    Ok(out)
}

/// Walks a tar held in memory, keeping regular files and refusing anything unsafe.
fn read_tar(data: &[u8], limits: &Limits, plain: PackageFormat) -> Result<Collected, PackageError> {
    let corrupt = |error: std::io::Error| PackageError::CorruptArchive {
        detail: format!("tar: {error}"),
    };
    let mut collector = Collector::new(limits);
    let mut archive = tar::Archive::new(data);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue; // metadata for the whole archive, not a file
        }
        let raw = entry.path_bytes().into_owned();
        // Old tars mark directories with a trailing slash on a regular entry.
        let is_dir = kind.is_dir() || (kind.is_file() && raw.ends_with(b"/"));
        let Some(path) = normalise(&raw)? else {
            if is_dir {
                continue; // the archive root, `./`
            }
            return Err(PackageError::InvalidPath {
                entry: String::from_utf8_lossy(&raw).into_owned(),
                reason: "it names no file",
            });
        };
        let route = collector.route(&path);
        if route == Route::Skip || is_dir {
            continue;
        }
        check_kind(&entry, kind, &path)?;
        let size = entry.size();
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o100 != 0);
        match route {
            Route::File => collector.admit(&path, size)?,
            Route::Info => collector.admit_info(size)?,
            Route::Skip => unreachable!("skipped above"),
        }
        // `size` is at most max_file_bytes here; never reserve more than the data holds.
        let mut bytes = Vec::with_capacity(size.min(data.len() as u64) as usize);
        (&mut entry)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(corrupt)?;
        if bytes.len() as u64 != size {
            return Err(PackageError::CorruptArchive {
                detail: format!("tar: entry `{path}` is truncated"),
            });
        }
        match route {
            Route::File => collector.insert(path, bytes, executable)?,
            Route::Info => collector.set_info(bytes)?,
            Route::Skip => unreachable!("skipped above"),
        }
    }
    collector.finish(plain)
}

/// Refuses links, devices, FIFOs, sparse files and unknown entry types.
fn check_kind<R: Read>(
    entry: &tar::Entry<'_, R>,
    kind: EntryType,
    path: &str,
) -> Result<(), PackageError> {
    let special = |what: &str| {
        Err(PackageError::SpecialFile {
            entry: path.to_string(),
            kind: what.to_string(),
        })
    };
    match kind {
        EntryType::Regular | EntryType::Continuous => Ok(()),
        EntryType::Symlink | EntryType::Link => Err(PackageError::Link {
            entry: path.to_string(),
            kind: if kind == EntryType::Symlink {
                "symbolic link"
            } else {
                "hard link"
            },
            target: entry.link_name_bytes().map_or_else(
                || "?".to_string(),
                |t| String::from_utf8_lossy(&t).into_owned(),
            ),
        }),
        EntryType::Char => special("character device"),
        EntryType::Block => special("block device"),
        EntryType::Fifo => special("named pipe (FIFO)"),
        EntryType::GNUSparse => special("sparse file"),
        other => special(&format!(
            "tar entry of type `{}`",
            (other.as_byte() as char).escape_default()
        )),
    }
}
