//! What a flow reads from its own package when it is deployed: `Config` values (which
//! decorators and parameter defaults may use) and `IncludeFile` defaults.
//!
//! Metaflow resolves both on the deploying laptop. dropflow resolves them from the
//! uploaded package, which is also what every task unpacks, so a task sees the same
//! configuration the compiler saw: the compiler substitutes config references
//! (`@resources(cpu=cfg.cpu)`) with their values, and tasks let Metaflow resolve the
//! same defaults from the same files.
//!
//! `pipeline::check` calls [`evaluate_computed_defaults`], [`resolve_configs`], [`substitute`] and
//! [`check_include_files`] in that order, with Metaflow's parameter checks between the
//! last two (as Metaflow initialises parameters before it reads included files).

mod computed_default;
mod config;
mod error;
mod include_file;
mod reference;

pub use computed_default::evaluate_computed_defaults;
pub use config::{ConfigEntry, resolve_configs};
pub use error::FlowInputError;
pub use include_file::check_include_files;
pub use reference::substitute;

pub use crate::python::Constants;

/// The environment variable through which tasks receive the configs' values.
pub const CONFIG_ENVIRONMENT: &str = "METAFLOW_FLOW_CONFIG_VALUE";

/// Most bytes of [`CONFIG_ENVIRONMENT`]: it sits in every job definition.
pub const MAX_CONFIG_ENVIRONMENT: usize = 32 * 1024;

/// The value of [`CONFIG_ENVIRONMENT`] (`{"NAME": VALUE, ...}`, what Metaflow's
/// `--config-value` reads from it), so every task runs with exactly the values the
/// compiler used; `None` when no config has a value dropflow computed (configs with a
/// `parser=` are resolved by the tasks themselves).
pub fn config_environment(configs: &[ConfigEntry]) -> Option<String> {
    let values: serde_json::Map<String, serde_json::Value> = configs
        .iter()
        .filter_map(|c| Some((c.name.clone(), c.value.clone()?)))
        .collect();
    (!values.is_empty()).then(|| serde_json::Value::Object(values).to_string())
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
mod computed_default_tests;
#[cfg(test)]
mod tests;
