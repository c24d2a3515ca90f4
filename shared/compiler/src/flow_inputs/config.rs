//! Each `Config(...)` of a flow resolved to its value, as Metaflow resolves it when the
//! flow is deployed: the default file read from the package (JSON unless `plain=True`),
//! or `default_value=`.

use serde_json::Value as Json;

use super::error::FlowInputError;
use super::{Constants, MAX_CONFIG_ENVIRONMENT, config_environment, package_path};
use crate::package::{METAFLOW_CONFIG, SourcePackage};
use crate::python::{FlowClass, ParameterDef, ParameterKind, Value};

/// One configuration and what dropflow knows of its value.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    /// The Python attribute (`self.cfg`).
    pub attribute: String,
    /// The configuration's name (`--config NAME`).
    pub name: String,
    /// Its value, when dropflow can compute it without running Python; `None` when a
    /// `parser=` decides it (the tasks parse it themselves from the same package).
    pub value: Option<Json>,
}

/// Resolves every `Config` of `flow`. Tasks resolve the same defaults from the same
/// immutable code package, so what a decorator sees here is what the task sees.
pub fn resolve_configs(
    flow: &FlowClass,
    constants: &Constants,
    package: &SourcePackage,
) -> Result<Vec<ConfigEntry>, FlowInputError> {
    let saved = saved_configs(package);
    let configs = flow
        .parameters
        .iter()
        .filter(|def| def.kind == ParameterKind::Config)
        .map(|def| {
            let value = match saved.get(&def.name) {
                Some(value) => Some(value.clone()),
                None => resolve_one(flow, constants, package, def)?,
            };
            Ok(ConfigEntry {
                attribute: def.attribute.clone(),
                name: def.name.clone(),
                value,
            })
        })
        .collect::<Result<Vec<_>, FlowInputError>>()?;
    if let Some(value) = config_environment(&configs)
        && value.len() > MAX_CONFIG_ENVIRONMENT
    {
        return Err(FlowInputError::ConfigsTooLarge {
            file: flow.file.clone(),
            bytes: value.len(),
            limit: MAX_CONFIG_ENVIRONMENT,
        });
    }
    Ok(configs)
}

/// The values Metaflow's `package save` resolved (`.mf_meta/CONFIG`:
/// `{"user_configs": {NAME: [VALUE, PLAIN]}}`), by config name. Its package leaves the
/// configuration files out, so these are the only source; an unreadable file gives none.
fn saved_configs(package: &SourcePackage) -> serde_json::Map<String, Json> {
    let Some(bytes) = package.file(METAFLOW_CONFIG) else {
        return serde_json::Map::new();
    };
    let Ok(Json::Object(mut root)) = serde_json::from_slice::<Json>(bytes) else {
        return serde_json::Map::new();
    };
    let Some(Json::Object(configs)) = root.remove("user_configs") else {
        return serde_json::Map::new();
    };
    configs
        .into_iter()
        .filter_map(|(name, saved)| match saved {
            Json::Array(mut pair) if !pair.is_empty() => Some((name, pair.swap_remove(0))),
            _ => None,
        })
        .collect()
}

fn resolve_one(
    flow: &FlowClass,
    constants: &Constants,
    package: &SourcePackage,
    def: &ParameterDef,
) -> Result<Option<Json>, FlowInputError> {
    let unsupported = |problem: String| FlowInputError::ConfigUnsupported {
        file: flow.file.clone(),
        line: def.line,
        config: def.name.clone(),
        problem,
    };
    let given = |key: &str| {
        def.kwarg(key)
            .filter(|v| v.as_literal() != Some(&Json::Null))
    };
    let plain = match given("plain") {
        None => false,
        Some(value) => value
            .as_bool()
            .ok_or_else(|| unsupported("plain= must be True or False".into()))?,
    };
    let has_parser = given("parser").is_some();
    let (default_file, default_value) = (given("default"), given("default_value"));
    if default_file.is_some() && default_value.is_some() {
        return Err(FlowInputError::ConfigTwoDefaults {
            file: flow.file.clone(),
            line: def.line,
            config: def.name.clone(),
        });
    }

    if let Some(default) = default_file {
        let path = string_value(constants, default).ok_or_else(|| {
            unsupported(format!(
                "default={} cannot be evaluated without running Python (only string literals, module constants and expressions that call the flow file's functions are evaluated). Write the configuration file's path in the package, e.g. default='config.json', or use default_value={{...}}.",
                default.describe()
            ))
        })?;
        let Some(bytes) = package.file(package_path(&path)) else {
            return Err(FlowInputError::ConfigFileMissing {
                file: flow.file.clone(),
                line: def.line,
                config: def.name.clone(),
                path,
            });
        };
        if has_parser {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(bytes);
        return parse(flow, def, &text, plain, &path).map(Some);
    }

    match default_value {
        None if def.kwarg("required").and_then(Value::as_bool) == Some(true) => {
            Err(FlowInputError::ConfigMissing {
                file: flow.file.clone(),
                line: def.line,
                config: def.name.clone(),
            })
        }
        None => Ok(Some(Json::Null)),
        Some(_) if has_parser => Ok(None),
        Some(Value::Literal {
            value: Json::String(text),
        }) => parse(flow, def, text, plain, "default_value").map(Some),
        Some(Value::Literal {
            value: value @ Json::Object(_),
        }) if !plain => Ok(Some(value.clone())),
        Some(other) => Err(unsupported(format!(
            "default_value={} is not supported; write a dict literal or a JSON string{}.",
            other.describe(),
            if plain {
                " (with plain=True, a string)"
            } else {
                ""
            }
        ))),
    }
}

/// A configuration's text as Metaflow reads it: as is with `plain=True`, else JSON.
fn parse(
    flow: &FlowClass,
    def: &ParameterDef,
    text: &str,
    plain: bool,
    source_name: &str,
) -> Result<Json, FlowInputError> {
    if plain {
        return Ok(Json::String(text.to_string()));
    }
    serde_json::from_str(text).map_err(|e| FlowInputError::ConfigNotJson {
        file: flow.file.clone(),
        line: def.line,
        config: def.name.clone(),
        source_name: source_name.to_string(),
        problem: e.to_string(),
    })
}

/// A string literal, or the name of a module-level string constant.
pub(super) fn string_value(constants: &Constants, value: &Value) -> Option<String> {
    match value {
        Value::Literal {
            value: Json::String(s),
        } => Some(s.clone()),
        Value::Name { name } => constants.get(name)?.as_str().map(str::to_string),
        _ => None,
    }
}
