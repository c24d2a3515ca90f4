//! `IncludeFile` and `Config` defaults computed by the flow file's own functions, as in
//! Metaflow's tutorials: `IncludeFile("movie_data", default=script_path("movies.csv"))`
//! with `script_path` joining `os.path.dirname(__file__)` and the name. Python evaluates
//! the expression when it defines the flow class, on the deploying machine; dropflow
//! evaluates it in the deploy-time sandbox ([`crate::deploy_time::evaluate_expression`])
//! with `__file__` set to the flow file under the sandbox's package root, maps the path
//! back to the package path tasks use, and writes it in place of the expression, so the
//! checks that follow see a literal path (and refuse one the package lacks).

use ruff_python_ast::Expr;
use ruff_python_ast::visitor::{self, Visitor};

use super::error::FlowInputError;
use crate::deploy_time::{self, DeployContext, Limits, PackageFiles, package_relative};
use crate::discover::FoundFlow;
use crate::package::SourcePackage;
use crate::python::{ParameterKind, Value};

/// Evaluates every `IncludeFile` / `Config` `default=` that calls a function, and
/// replaces it with the package path it names. Defaults that read a config
/// (`default=cfg.path`) are left to [`super::substitute`].
pub fn evaluate_computed_defaults(
    found: &mut FoundFlow,
    package: &SourcePackage,
) -> Result<(), FlowInputError> {
    let flow = found.flow();
    let config_attributes: Vec<&str> = flow
        .parameters
        .iter()
        .filter(|def| def.kind == ParameterKind::Config)
        .map(|def| def.attribute.as_str())
        .collect();
    let files = PackageFiles::new(package.files.keys().map(String::as_str));
    let context = DeployContext {
        flow_name: flow.name.clone(),
        user_name: String::new(),
        datastore: "s3".to_string(),
        datastore_root: String::new(),
    };
    let mut resolved = Vec::new();
    for (index, def) in flow.parameters.iter().enumerate() {
        let kind = match def.kind {
            ParameterKind::IncludeFile => "IncludeFile",
            ParameterKind::Config => "Config",
            ParameterKind::Parameter => continue,
        };
        let Some(Value::Expression { source }) = def.kwarg("default") else {
            continue;
        };
        if !calls_a_function(source, &config_attributes) {
            continue;
        }
        let value = deploy_time::evaluate_expression(
            &found.module,
            flow,
            def,
            source,
            &files,
            &context,
            &Limits::default(),
        )
        .map_err(|error| FlowInputError::ComputedDefault {
            error: Box::new(error),
        })?;
        let path =
            package_relative(&value).ok_or_else(|| FlowInputError::ComputedDefaultOutside {
                file: flow.file.clone(),
                line: def.line,
                kind,
                parameter: def.name.clone(),
                default: source.clone(),
                path: value.clone(),
            })?;
        resolved.push((index, path));
    }
    let flow = found.flow_mut();
    for (index, path) in resolved {
        if let Some((_, value)) = flow.parameters[index]
            .kwargs
            .iter_mut()
            .find(|(key, _)| key == "default")
        {
            *value = Value::Literal {
                value: serde_json::Value::String(path),
            };
        }
    }
    Ok(())
}

/// Whether an expression calls something and reads no config.
fn calls_a_function(source: &str, config_attributes: &[&str]) -> bool {
    let Ok(parsed) = ruff_python_parser::parse_expression(source) else {
        return false;
    };
    let mut seen = Seen {
        call: false,
        config: false,
        config_attributes,
    };
    seen.visit_expr(parsed.expr());
    seen.call && !seen.config
}

struct Seen<'a> {
    call: bool,
    config: bool,
    config_attributes: &'a [&'a str],
}

impl<'a> Visitor<'a> for Seen<'_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Call(_) => self.call = true,
            Expr::Name(name) if self.config_attributes.contains(&name.id.as_str()) => {
                self.config = true;
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}
