//! What a flow reads from its own package when it is deployed: `Config` values (which
//! decorators and parameter defaults may use) and `IncludeFile` defaults.
//!
//! Metaflow resolves both on the deploying laptop. dropflow resolves them from the
//! uploaded package, which is also what every task unpacks, so a task sees the same
//! configuration the compiler saw: the compiler substitutes config references
//! (`@resources(cpu=cfg.cpu)`) with their values, and tasks let Metaflow resolve the
//! same defaults from the same files.

mod config;
mod error;
mod include_file;
mod reference;

pub use config::{ConfigEntry, resolve_configs};
pub use error::FlowInputError;
pub use include_file::check_include_files;
pub use reference::substitute;

use crate::package::SourcePackage;
use crate::python::{Constants, FlowClass};

/// Resolves the flow's configs, substitutes their uses, and checks its included files.
/// Returns the configs (with their values, where dropflow can compute them).
pub fn apply(
    flow: &mut FlowClass,
    constants: &Constants,
    package: &SourcePackage,
) -> Result<Vec<ConfigEntry>, FlowInputError> {
    let configs = resolve_configs(flow, constants, package)?;
    substitute(flow, &configs)?;
    check_include_files(flow, constants, package)?;
    Ok(configs)
}

/// A path as written in the flow (`./data.csv`, `data.csv`) as a package path. Tasks run
/// in the package root, where Metaflow opens relative paths.
fn package_path(path: &str) -> &str {
    let mut path = path;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path
}

#[cfg(test)]
mod tests;
