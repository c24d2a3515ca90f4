//! Entry paths: turning an archive's raw name into a safe relative path, and deciding which
//! entries are junk that a flow package never needs.

use super::error::PackageError;

/// Normalises a raw entry name to `a/b.py`: `./` prefixes, empty components and a trailing
/// `/` are dropped. Returns `Ok(None)` for a name that names the package root (`./`, `.`).
///
/// Refuses what could escape the package or be read differently elsewhere: absolute paths
/// (`/x`, `\x`, `C:x`), any `..` component (with `/` or `\` as separator), names that are
/// not UTF-8, control characters, and backslashes.
pub(crate) fn normalise(raw: &[u8]) -> Result<Option<String>, PackageError> {
    let lossy = || String::from_utf8_lossy(raw).into_owned();
    // Security checks first, on the raw bytes, treating both separators as separators.
    if raw.first().is_some_and(|b| *b == b'/' || *b == b'\\') || has_drive_letter(raw) {
        return Err(PackageError::AbsolutePath { entry: lossy() });
    }
    if raw.split(|b| *b == b'/' || *b == b'\\').any(|c| c == b"..") {
        return Err(PackageError::ParentDirectory { entry: lossy() });
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(PackageError::InvalidPath {
            entry: lossy(),
            reason: "it is not UTF-8",
        });
    };
    if text.chars().any(char::is_control) {
        return Err(PackageError::InvalidPath {
            entry: text.escape_debug().to_string(),
            reason: "it contains a control character",
        });
    }
    if text.contains('\\') {
        return Err(PackageError::InvalidPath {
            entry: text.to_string(),
            reason: "it contains a backslash (archive it with `/` as the separator)",
        });
    }
    let parts: Vec<&str> = text
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// `C:` at the start of a name: a Windows drive, absolute (or drive-relative) either way.
fn has_drive_letter(raw: &[u8]) -> bool {
    raw.len() >= 2 && raw[0].is_ascii_alphabetic() && raw[1] == b':'
}

/// Directory names skipped wherever they appear, in archives and directories alike:
/// byte-code caches and version-control data.
const JUNK_DIRS: &[&str] = &["__pycache__", ".git"];

/// Whether a normalised path is junk that no flow needs: anything under `__pycache__/` or
/// `.git/` (and a `.git` file, as in submodules), macOS AppleDouble files (`._*`) and
/// `.DS_Store`.
pub(crate) fn is_junk(path: &str) -> bool {
    let mut components = path.split('/').peekable();
    while let Some(component) = components.next() {
        if components.peek().is_none() {
            return component.starts_with("._")
                || component == ".DS_Store"
                || JUNK_DIRS.contains(&component);
        }
        if JUNK_DIRS.contains(&component) {
            return true;
        }
    }
    false
}

/// Directory names skipped when reading a directory from disk (on top of [`is_junk`]):
/// virtualenvs, JavaScript dependencies and Metaflow's local datastore.
pub(crate) const LOCAL_JUNK_DIRS: &[&str] =
    &["__pycache__", ".git", ".venv", "node_modules", ".metaflow"];

/// The first component of a normalised path.
pub(crate) fn top(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}
