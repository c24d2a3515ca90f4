//! The layout of Metaflow's `python flow.py package save` archives.
//!
//! Measured on Metaflow 2.19.39 (code-package layout version 1, which Metaflow writes since
//! 2.16): a gzip-compressed PAX tar (gzip even when the output is named `.tar`), without
//! directory entries, holding
//!
//! - the user's files at the archive root, relative to the flow file's directory
//!   (`flow.py`, `helper.py`, `mylib/__init__.py`; only `.py` by default);
//! - `.mf_code/` — Metaflow's own code (`.mf_code/metaflow/...`, ~420 files, ~6 MB);
//! - `.mf_meta/INFO` — JSON whose `"script"` is the flow file's basename, beside
//!   `.mf_meta/CONFIG` and `.mf_meta/DIST_INFO`;
//! - `.mf_install` — a JSON marker at the root (`{"version": 1, "module_files": []}`).
//!
//! Older Metaflow (layout version 0) put `INFO`, `CONFIG` and `metaflow/` at the root;
//! [`legacy_script`] recognises that too.

use std::collections::BTreeMap;

use super::error::PackageError;
use super::path::{normalise, top};

/// Where Metaflow puts its own code.
pub(crate) const CODE_DIR: &str = ".mf_code";
/// Where Metaflow puts INFO, CONFIG and DIST_INFO.
pub(crate) const META_DIR: &str = ".mf_meta";
/// The file naming the flow script.
pub(crate) const INFO: &str = ".mf_meta/INFO";
/// The configs Metaflow resolved when it saved the package
/// (`{"user_configs": {NAME: [VALUE, PLAIN]}}`); kept as a user file, because the
/// flow's `Config`s read it ([`crate::flow_inputs`]).
pub const CONFIG: &str = ".mf_meta/CONFIG";
/// Metaflow's layout marker at the archive root.
pub(crate) const MARKER: &str = ".mf_install";

/// What a path is to a Metaflow code package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The user's file.
    User,
    /// `.mf_meta/INFO`: read, then dropped.
    Info,
    /// Metaflow's own code or metadata: skipped, but proves the layout.
    Internal,
}

/// The role of a normalised path.
pub(crate) fn role(path: &str) -> Role {
    if path == INFO {
        Role::Info
    } else if path == CONFIG {
        Role::User
    } else if path == MARKER || matches!(top(path), CODE_DIR | META_DIR) {
        Role::Internal
    } else {
        Role::User
    }
}

/// The flow script named by `.mf_meta/INFO`, checked against the package's files.
pub(crate) fn script_from_info(
    info: &[u8],
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<String, PackageError> {
    let bad = |reason: String| PackageError::BadMetaflowInfo { reason };
    let value: serde_json::Value = serde_json::from_slice(info)
        .map_err(|error| bad(format!("{INFO} is not valid JSON ({error})")))?;
    let Some(script) = value.get("script").and_then(serde_json::Value::as_str) else {
        return Err(bad(format!("{INFO} has no \"script\" string")));
    };
    let path = match normalise(script.as_bytes()) {
        Ok(Some(path)) => path,
        Ok(None) | Err(_) => {
            return Err(bad(format!(
                "{INFO} names the script `{}`, which is not a relative file path",
                script.escape_debug()
            )));
        }
    };
    if !files.contains_key(&path) {
        return Err(bad(format!(
            "{INFO} names the script `{path}`, which is not in the package"
        )));
    }
    Ok(path)
}

/// Recognises a layout-version-0 package (Metaflow before 2.16): a root `INFO` that is JSON
/// with a `"script"` present in the package, beside Metaflow's code in `metaflow/`. Returns
/// the script and removes Metaflow's entries (`INFO`, `CONFIG`, `metaflow/`,
/// `metaflow_extensions/`) from `files`; returns `None` and leaves `files` alone otherwise.
pub(crate) fn legacy_script(files: &mut BTreeMap<String, Vec<u8>>) -> Option<String> {
    let info = files.get("INFO")?;
    if !files.contains_key("metaflow/__init__.py") {
        return None;
    }
    let script = script_from_info(info, files).ok()?;
    files.retain(|path, _| {
        let metaflows = matches!(path.as_str(), "INFO" | "CONFIG")
            || matches!(top(path), "metaflow" | "metaflow_extensions");
        !metaflows || path == &script
    });
    Some(script)
}
