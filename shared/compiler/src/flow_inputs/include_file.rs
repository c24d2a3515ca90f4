//! `IncludeFile` defaults must be files of the package: the task that creates the run's
//! parameters (Metaflow's `init`) reads the default from the unpacked package and stores
//! its content in the datastore, as `step-functions create` does from the laptop.

use super::config::string_value;
use super::error::FlowInputError;
use super::{Constants, package_path};
use crate::package::SourcePackage;
use crate::python::{FlowClass, ParameterKind};

/// Checks that every `IncludeFile` default names a file in the package.
pub fn check_include_files(
    flow: &FlowClass,
    constants: &Constants,
    package: &SourcePackage,
) -> Result<(), FlowInputError> {
    for def in flow
        .parameters
        .iter()
        .filter(|def| def.kind == ParameterKind::IncludeFile)
    {
        let Some(default) = def
            .kwarg("default")
            .filter(|v| v.as_literal() != Some(&serde_json::Value::Null))
        else {
            continue;
        };
        let path =
            string_value(constants, default).ok_or_else(|| FlowInputError::IncludeFileDefault {
                file: flow.file.clone(),
                line: def.line,
                parameter: def.name.clone(),
                default: default.describe(),
            })?;
        if package.file(package_path(&path)).is_none() {
            return Err(FlowInputError::IncludeFileMissing {
                file: flow.file.clone(),
                line: def.line,
                parameter: def.name.clone(),
                path,
            });
        }
    }
    Ok(())
}
