//! Config references in decorator and parameter arguments (`@resources(cpu=cfg.cpu)`,
//! `@project(name=config_expr("cfg.project"))`, `default=cfg["alpha"]`,
//! `@environment(vars={"MODE": cfg.mode})`, `@batch(**cfg.batch)`) replaced by the values
//! they stand for, so the rest of the compiler sees literals.

use ruff_python_ast::Expr;
use serde_json::Value as Json;

use super::config::ConfigEntry;
use super::error::FlowInputError;
use crate::python::{FlowClass, ParameterKind, Value, literal};

/// What an expression evaluates to.
enum Evaluated {
    /// A value, and whether a config was read to get it.
    Known { value: Json, reads_config: bool },
    /// Not something dropflow evaluates (a call, arithmetic, a config with a parser).
    Unknown,
}

/// A key a config reference asked for and did not find.
struct MissingKey {
    config: String,
    key: String,
    available: String,
}

/// Replaces every argument that reads a resolved config with its value. Arguments that
/// read no config, or that dropflow cannot evaluate, are left as written.
pub fn substitute(flow: &mut FlowClass, configs: &[ConfigEntry]) -> Result<(), FlowInputError> {
    if configs.is_empty() {
        return Ok(());
    }
    let file = flow.file.clone();
    let substitute_all = |line: u32,
                          args: &mut Vec<Value>,
                          kwargs: &mut Vec<(String, Value)>|
     -> Result<(), FlowInputError> {
        for arg in args.iter_mut() {
            substitute_value(arg, configs, &file, line)?;
        }
        let mut expanded = Vec::with_capacity(kwargs.len());
        for (key, mut value) in std::mem::take(kwargs) {
            substitute_value(&mut value, configs, &file, line)?;
            match (key.as_str(), value) {
                // `**cfg.batch`: its keys become keyword arguments.
                (
                    "**",
                    Value::Literal {
                        value: Json::Object(map),
                    },
                ) => expanded.extend(
                    map.into_iter()
                        .map(|(k, v)| (k, Value::Literal { value: v })),
                ),
                (_, value) => expanded.push((key, value)),
            }
        }
        *kwargs = expanded;
        Ok(())
    };
    for decorator in &mut flow.decorators {
        substitute_all(decorator.line, &mut decorator.args, &mut decorator.kwargs)?;
    }
    for step in &mut flow.steps {
        for decorator in &mut step.decorators {
            substitute_all(decorator.line, &mut decorator.args, &mut decorator.kwargs)?;
        }
    }
    for parameter in &mut flow.parameters {
        if parameter.kind != ParameterKind::Config {
            substitute_all(parameter.line, &mut Vec::new(), &mut parameter.kwargs)?;
        }
    }
    Ok(())
}

fn substitute_value(
    value: &mut Value,
    configs: &[ConfigEntry],
    file: &str,
    line: u32,
) -> Result<(), FlowInputError> {
    let source = match value {
        Value::Name { name } => name.clone(),
        Value::Expression { source } => source.clone(),
        Value::Literal { .. } | Value::Lambda { .. } => return Ok(()),
    };
    let Ok(parsed) = ruff_python_parser::parse_expression(&source) else {
        return Ok(());
    };
    match evaluate(parsed.expr(), configs) {
        Ok(Evaluated::Known {
            value: resolved,
            reads_config: true,
        }) => *value = Value::Literal { value: resolved },
        Ok(_) => {}
        Err(missing) => {
            return Err(FlowInputError::ConfigKey {
                file: file.to_string(),
                line,
                reference: source,
                config: missing.config,
                key: missing.key,
                available: missing.available,
            });
        }
    }
    Ok(())
}

fn evaluate(expr: &Expr, configs: &[ConfigEntry]) -> Result<Evaluated, MissingKey> {
    if let Some(value) = literal(expr) {
        return Ok(Evaluated::Known {
            value,
            reads_config: false,
        });
    }
    let known = |value: Json| Evaluated::Known {
        value,
        reads_config: true,
    };
    match expr {
        Expr::Name(name) => Ok(configs
            .iter()
            .find(|c| c.attribute == name.id.as_str())
            .and_then(|c| c.value.clone())
            .map_or(Evaluated::Unknown, known)),
        Expr::Attribute(attribute) => {
            let Some((config, base)) = config_value(&attribute.value, configs)? else {
                return Ok(Evaluated::Unknown);
            };
            lookup(&config, &base, Key::Name(attribute.attr.as_str())).map(known)
        }
        Expr::Subscript(subscript) => {
            let Some((config, base)) = config_value(&subscript.value, configs)? else {
                return Ok(Evaluated::Unknown);
            };
            let slice = literal(&subscript.slice);
            let key = match &slice {
                Some(Json::String(name)) => Key::Name(name),
                Some(Json::Number(n)) if n.is_i64() => Key::Index(n.as_i64().unwrap_or_default()),
                _ => return Ok(Evaluated::Unknown),
            };
            lookup(&config, &base, key).map(known)
        }
        // `config_expr("cfg.a.b")`: the string is an expression over the configs.
        Expr::Call(call)
            if matches!(&*call.func, Expr::Name(n) if n.id.as_str() == "config_expr")
                && call.arguments.keywords.is_empty() =>
        {
            let [Expr::StringLiteral(text)] = &*call.arguments.args else {
                return Ok(Evaluated::Unknown);
            };
            let Ok(inner) = ruff_python_parser::parse_expression(text.value.to_str()) else {
                return Ok(Evaluated::Unknown);
            };
            let by_name: Vec<ConfigEntry> = configs
                .iter()
                .flat_map(|c| {
                    let mut named = c.clone();
                    named.attribute = c.name.clone();
                    [c.clone(), named]
                })
                .collect();
            evaluate(inner.expr(), &by_name)
        }
        Expr::List(list) => {
            collection(&list.elts, configs).map(|v| v.map_or(Evaluated::Unknown, known))
        }
        Expr::Tuple(tuple) => {
            collection(&tuple.elts, configs).map(|v| v.map_or(Evaluated::Unknown, known))
        }
        Expr::Dict(dict) => {
            let mut map = serde_json::Map::new();
            let mut reads_config = false;
            for item in &dict.items {
                let Some(key) = item.key.as_ref().and_then(literal) else {
                    return Ok(Evaluated::Unknown);
                };
                let Json::String(key) = key else {
                    return Ok(Evaluated::Unknown);
                };
                match evaluate(&item.value, configs)? {
                    Evaluated::Known {
                        value,
                        reads_config: r,
                    } => {
                        reads_config |= r;
                        map.insert(key, value);
                    }
                    Evaluated::Unknown => return Ok(Evaluated::Unknown),
                }
            }
            Ok(Evaluated::Known {
                value: Json::Object(map),
                reads_config,
            })
        }
        _ => Ok(Evaluated::Unknown),
    }
}

/// A list or tuple whose elements all evaluate (`None` when one does not).
fn collection(elements: &[Expr], configs: &[ConfigEntry]) -> Result<Option<Json>, MissingKey> {
    let mut values = Vec::with_capacity(elements.len());
    for element in elements {
        match evaluate(element, configs)? {
            Evaluated::Known { value, .. } => values.push(value),
            Evaluated::Unknown => return Ok(None),
        }
    }
    Ok(Some(Json::Array(values)))
}

/// The value of an expression that reads a config: the config's name and the value.
fn config_value(
    expr: &Expr,
    configs: &[ConfigEntry],
) -> Result<Option<(String, Json)>, MissingKey> {
    let root = root_name(expr);
    let Some(config) = root.and_then(|root| configs.iter().find(|c| c.attribute == root)) else {
        return Ok(None);
    };
    Ok(match evaluate(expr, configs)? {
        Evaluated::Known { value, .. } => Some((config.name.clone(), value)),
        Evaluated::Unknown => None,
    })
}

/// `cfg` in `cfg.a["b"].c` (or in `config_expr(...)`, nothing: that is evaluated whole).
fn root_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Name(name) => Some(name.id.as_str()),
        Expr::Attribute(attribute) => root_name(&attribute.value),
        Expr::Subscript(subscript) => root_name(&subscript.value),
        _ => None,
    }
}

enum Key<'a> {
    Name(&'a str),
    Index(i64),
}

fn lookup(config: &str, base: &Json, key: Key<'_>) -> Result<Json, MissingKey> {
    let found = match (&key, base) {
        (Key::Name(name), Json::Object(map)) => map.get(*name),
        (Key::Index(index), Json::Array(items)) => {
            let index = if *index < 0 {
                items.len() as i64 + index
            } else {
                *index
            };
            usize::try_from(index).ok().and_then(|i| items.get(i))
        }
        _ => None,
    };
    found.cloned().ok_or_else(|| MissingKey {
        config: config.to_string(),
        key: match key {
            Key::Name(name) => format!("key '{name}'"),
            Key::Index(index) => format!("index {index}"),
        },
        available: match base {
            Json::Object(map) if map.is_empty() => "no keys".to_string(),
            Json::Object(map) => map.keys().cloned().collect::<Vec<_>>().join(", "),
            Json::Array(items) => format!("{} items", items.len()),
            Json::Null => "nothing: the configuration is None".to_string(),
            other => format!("no keys: it is {other}"),
        },
    })
}
