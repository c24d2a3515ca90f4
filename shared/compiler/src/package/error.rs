//! Why a flow package was refused: one variant per failure, each with a stable
//! [`PackageError::code`] for machines and a message that names the entry and says what to do.

use std::fmt;
use std::path::PathBuf;

/// A flow package that dropflow will not read, and why.
///
/// Messages are written for the person who uploaded the package: they name the file or
/// archive entry at fault and say how to fix it. [`PackageError::code`] is the stable,
/// machine-readable form (a Lambda `errorType`, a report code).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The bytes are neither a tar archive (plain or gzip-compressed) nor a `.py` file.
    #[error(
        "{name} is not a flow package ({found}); upload a flow's .py file, a .tar, .tar.gz or \
         .tgz archive (for example the output of `python flow.py package save flow.tgz`), \
         or point at a directory"
    )]
    NotAnArchive {
        /// The package's name as given (upload name or file name).
        name: String,
        /// What the bytes look like instead.
        found: &'static str,
    },
    /// Gzip or tar data that starts well but cannot be read to the end.
    #[error(
        "the archive is damaged or truncated ({detail}); create it again with \
         `tar czf flow.tgz <files>` or `python flow.py package save flow.tgz`"
    )]
    CorruptArchive {
        /// What the decoder reported.
        detail: String,
    },
    /// An entry whose path starts at the file-system root (or a drive letter).
    #[error(
        "archive entry `{entry}` has an absolute path; archive the files with paths relative \
         to the flow's directory (`cd flow_dir && tar czf ../flow.tgz .`)"
    )]
    AbsolutePath {
        /// The entry's path as stored.
        entry: String,
    },
    /// An entry whose path climbs out of the package with `..`.
    #[error(
        "archive entry `{entry}` contains `..`; archive the files with paths inside the flow's \
         directory (`cd flow_dir && tar czf ../flow.tgz .`)"
    )]
    ParentDirectory {
        /// The entry's path as stored.
        entry: String,
    },
    /// A path dropflow cannot represent: not UTF-8, a control character, a backslash, or empty.
    #[error("package entry `{entry}` has an unusable path: {reason}; rename the file")]
    InvalidPath {
        /// The entry's path, lossily decoded.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A symbolic or hard link: dropflow never follows links.
    #[error(
        "`{entry}` is a {kind} (to `{target}`); dropflow does not follow links: put a copy of \
         the file in the package (`tar --dereference` / `tar -h`, or `cp -L`)"
    )]
    Link {
        /// The link's path.
        entry: String,
        /// "symbolic link" or "hard link".
        kind: &'static str,
        /// Where it points, lossily decoded ("?" when unknown).
        target: String,
    },
    /// A device, FIFO, socket, sparse file or unknown entry type.
    #[error(
        "`{entry}` is a {kind}; a flow package may hold only regular files and directories, \
         so leave it out"
    )]
    SpecialFile {
        /// The entry's path.
        entry: String,
        /// What kind of entry it is.
        kind: String,
    },
    /// The same path twice, or a path that is both a file and a directory.
    #[error(
        "`{entry}` appears more than once in the package (or both as a file and as a \
         directory); keep one copy"
    )]
    DuplicateEntry {
        /// The repeated path.
        entry: String,
    },
    /// More files than [`super::Limits::max_files`].
    #[error(
        "the package holds more than {limit} files; keep only the flow's source files (leave \
         out data, virtualenvs and build output)"
    )]
    TooManyFiles {
        /// The limit in force.
        limit: usize,
    },
    /// One file larger than [`super::Limits::max_file_bytes`].
    #[error(
        "`{entry}` is {}, over the {} limit for one file; keep data out of the flow package \
         (read it from S3 at run time)",
        ByteSize(*size),
        ByteSize(*limit)
    )]
    FileTooLarge {
        /// The file's path.
        entry: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// More uncompressed bytes than [`super::Limits::max_total_bytes`].
    #[error(
        "the package is larger than {} uncompressed; keep only the flow's source files (leave \
         out data, virtualenvs and build output)",
        ByteSize(*limit)
    )]
    TooLarge {
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// Gzip data that expands suspiciously far (a decompression bomb).
    #[error(
        "the archive expands more than {limit}:1 (at least {ratio}:1), which dropflow treats \
         as a decompression bomb; keep large repetitive files out of the package"
    )]
    CompressionRatio {
        /// The ratio seen when reading stopped (a lower bound of the true ratio).
        ratio: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A `python flow.py package save` archive whose `.mf_meta/INFO` is missing or unusable.
    #[error(
        "this looks like a Metaflow code package, but {reason}; create it again with \
         `python flow.py package save flow.tgz`"
    )]
    BadMetaflowInfo {
        /// What is wrong with the INFO file.
        reason: String,
    },
    /// Reading the package from the file system failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A `.py` file that is not UTF-8.
    #[error(
        "{file}:{line} is not valid UTF-8; save the file as UTF-8 (the encoding Python 3 \
         expects by default)"
    )]
    InvalidUtf8 {
        /// The file's path in the package.
        file: String,
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// Nothing left once directories and skipped files are set aside.
    #[error(
        "the package holds no files (directories, `__pycache__/`, `.git/`, `._*` and Metaflow's \
         own `.mf_code/` are skipped); check that you uploaded the right archive"
    )]
    EmptyPackage,
}

impl PackageError {
    /// A stable machine-readable code, `package.<snake_case>`, for Lambda `errorType`s,
    /// Step Functions `Catch` matching and reports. Codes never change once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnArchive { .. } => "package.not_an_archive",
            Self::CorruptArchive { .. } => "package.corrupt_archive",
            Self::AbsolutePath { .. } => "package.absolute_path",
            Self::ParentDirectory { .. } => "package.parent_directory",
            Self::InvalidPath { .. } => "package.invalid_path",
            Self::Link { .. } => "package.link",
            Self::SpecialFile { .. } => "package.special_file",
            Self::DuplicateEntry { .. } => "package.duplicate_entry",
            Self::TooManyFiles { .. } => "package.too_many_files",
            Self::FileTooLarge { .. } => "package.file_too_large",
            Self::TooLarge { .. } => "package.too_large",
            Self::CompressionRatio { .. } => "package.compression_ratio",
            Self::BadMetaflowInfo { .. } => "package.bad_metaflow_info",
            Self::Io { .. } => "package.io",
            Self::InvalidUtf8 { .. } => "package.invalid_utf8",
            Self::EmptyPackage => "package.empty",
        }
    }
}

/// A byte count shown the way people read sizes: "10 MiB", "1.5 KiB", "300 bytes".
pub(crate) struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        let n = self.0;
        if n >= MIB {
            if n.is_multiple_of(MIB) {
                write!(f, "{} MiB", n / MIB)
            } else {
                write!(f, "{:.1} MiB", n as f64 / MIB as f64)
            }
        } else if n >= KIB {
            if n.is_multiple_of(KIB) {
                write!(f, "{} KiB", n / KIB)
            } else {
                write!(f, "{:.1} KiB", n as f64 / KIB as f64)
            }
        } else {
            write!(f, "{n} bytes")
        }
    }
}
