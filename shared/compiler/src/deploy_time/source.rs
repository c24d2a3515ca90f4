//! Reads a deploy-time function's source (a module-level `def` or a `lambda`) with the
//! same parser as the flow file: which names it reads, how it uses them, how many
//! arguments it takes, and the `datetime.utcnow()` calls the sandbox answers as `now()`.

use std::collections::{BTreeMap, BTreeSet};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, Parameters, Stmt};
use ruff_text_size::{Ranged, TextRange};

/// What a function's source needs from its module.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Analysis {
    /// Names read and never bound anywhere in the source: builtins, module-level
    /// constants and functions, imported names.
    pub free: BTreeSet<String>,
    /// Attributes read on each free name (`datetime.now()` → `datetime: {now}`).
    pub attributes: BTreeMap<String, BTreeSet<String>>,
    /// Free names called directly (`time()`).
    pub called: BTreeSet<String>,
    /// Whether the function accepts a second positional argument (Metaflow calls
    /// `fun(ctx, deploy_time)` first).
    pub takes_deploy_time: bool,
    /// The source with `datetime.utcnow` rewritten to `datetime.now` (the sandbox's
    /// clock is UTC, and monty has no `utcnow`) and imports of `os` / `os.path` bound
    /// to the sandbox's `os` stand-in ([`super::paths::OS_SHIM`]), which adds `os.path`.
    pub source: String,
}

/// Analyses a module-level `def` (its whole source text, decorators included).
pub(super) fn analyze_def(source: &str) -> Result<Analysis, String> {
    let parsed = ruff_python_parser::parse_module(source).map_err(|e| e.error.to_string())?;
    let body = &parsed.syntax().body;
    let Some(Stmt::FunctionDef(function)) = body.first() else {
        return Err("expected a function definition".to_string());
    };
    let mut names = Names::default();
    for stmt in body {
        names.visit_stmt(stmt);
    }
    // The function's own name is bound by its `def`, but it is not a local of its body.
    names.bound.remove(function.name.as_str());
    Ok(names.finish(source, takes_two(&function.parameters)))
}

/// Analyses a `lambda` expression's source text.
pub(super) fn analyze_lambda(source: &str) -> Result<Analysis, String> {
    let parsed = ruff_python_parser::parse_expression(source).map_err(|e| e.error.to_string())?;
    let expr = parsed.expr();
    let Expr::Lambda(lambda) = expr else {
        return Err("expected a lambda".to_string());
    };
    let mut names = Names::default();
    names.visit_expr(expr);
    let takes_deploy_time = lambda.parameters.as_deref().is_some_and(takes_two);
    Ok(names.finish(source, takes_deploy_time))
}

fn takes_two(parameters: &Parameters) -> bool {
    parameters.posonlyargs.len() + parameters.args.len() >= 2 || parameters.vararg.is_some()
}

/// Collects name reads, bindings and attribute uses.
#[derive(Default)]
struct Names {
    read: BTreeSet<String>,
    bound: BTreeSet<String>,
    attributes: BTreeMap<String, BTreeSet<String>>,
    called: BTreeSet<String>,
    utcnow: Vec<TextRange>,
    /// Import statements of `os` / `os.path`, and the assignments replacing them.
    os_imports: Vec<(TextRange, String)>,
}

impl Names {
    fn finish(self, source: &str, takes_deploy_time: bool) -> Analysis {
        let free: BTreeSet<String> = self.read.difference(&self.bound).cloned().collect();
        let attributes = self
            .attributes
            .into_iter()
            .filter(|(name, _)| free.contains(name))
            .collect();
        let called = self
            .called
            .into_iter()
            .filter(|name| free.contains(name))
            .collect();
        let mut rewritten = source.to_string();
        let mut replacements: Vec<(TextRange, String)> = self
            .utcnow
            .into_iter()
            .map(|range| (range, "now".to_string()))
            .chain(self.os_imports)
            .collect();
        replacements.sort_by_key(|(r, _)| std::cmp::Reverse(r.start()));
        for (range, text) in replacements {
            let span = range.start().to_usize()..range.end().to_usize();
            // A statement over several lines keeps them, as blank lines.
            let text = text + &"\n".repeat(source[span.clone()].matches('\n').count());
            rewritten.replace_range(span, &text);
        }
        Analysis {
            free,
            attributes,
            called,
            takes_deploy_time,
            source: rewritten,
        }
    }

    fn bind(&mut self, name: &str) {
        self.bound.insert(name.to_string());
    }
}

/// `import os`, `import os.path`, `import os as o` (possibly among other modules) as
/// assignments from the sandbox's `os` stand-in, on as many lines as the statement had
/// so the lines after it keep their numbers. `None` when no `os` is imported.
fn os_import(import: &ruff_python_ast::StmtImport) -> Option<String> {
    if !import
        .names
        .iter()
        .any(|a| matches!(a.name.as_str(), "os" | "os.path"))
    {
        return None;
    }
    let parts: Vec<String> = import
        .names
        .iter()
        .map(|alias| match (alias.name.as_str(), &alias.asname) {
            ("os" | "os.path", None) => format!("os = {}", super::paths::OS_SHIM),
            ("os", Some(asname)) => format!("{asname} = {}", super::paths::OS_SHIM),
            ("os.path", Some(asname)) => format!("{asname} = {}.path", super::paths::OS_SHIM),
            (name, Some(asname)) => format!("import {name} as {asname}"),
            (name, None) => format!("import {name}"),
        })
        .collect();
    Some(parts.join("; "))
}

/// `from os import path, getenv` / `from os.path import join as j` as assignments from
/// the sandbox's `os` stand-in. `None` for other modules.
fn os_import_from(import: &ruff_python_ast::StmtImportFrom) -> Option<String> {
    let base = match import.module.as_ref().map(|m| m.as_str()) {
        Some("os") if import.level == 0 => super::paths::OS_SHIM.to_string(),
        Some("os.path") if import.level == 0 => format!("{}.path", super::paths::OS_SHIM),
        _ => return None,
    };
    if import.names.iter().any(|alias| alias.name.as_str() == "*") {
        return None;
    }
    let parts: Vec<String> = import
        .names
        .iter()
        .map(|alias| {
            let bound = alias.asname.as_ref().unwrap_or(&alias.name);
            format!("{bound} = {base}.{}", alias.name)
        })
        .collect();
    Some(parts.join("; "))
}

/// `datetime` or `<anything>.datetime`: the receiver of a `utcnow` worth rewriting.
fn is_datetime_class(expr: &Expr) -> bool {
    match expr {
        Expr::Name(name) => name.id.as_str() == "datetime",
        Expr::Attribute(attribute) => attribute.attr.as_str() == "datetime",
        _ => false,
    }
}

impl<'a> Visitor<'a> for Names {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(function) => {
                self.bind(&function.name);
                for parameter in function.parameters.iter() {
                    self.bind(parameter.name());
                }
            }
            Stmt::ClassDef(class) => self.bind(&class.name),
            Stmt::Import(import) => {
                for alias in &import.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name);
                    self.bind(bound.as_str().split('.').next().unwrap_or_default());
                }
                if let Some(text) = os_import(import) {
                    self.os_imports.push((import.range(), text));
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    self.bind(alias.asname.as_ref().unwrap_or(&alias.name));
                }
                if let Some(text) = os_import_from(import) {
                    self.os_imports.push((import.range(), text));
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    // monty does not evaluate annotations; neither does the analysis.
    fn visit_annotation(&mut self, _expr: &'a Expr) {}

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) => match name.ctx {
                ExprContext::Load => {
                    self.read.insert(name.id.to_string());
                }
                _ => self.bind(&name.id),
            },
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    for parameter in parameters.iter() {
                        self.bind(parameter.name());
                    }
                }
            }
            Expr::Attribute(attribute) => {
                if let Expr::Name(base) = attribute.value.as_ref() {
                    self.attributes
                        .entry(base.id.to_string())
                        .or_default()
                        .insert(attribute.attr.to_string());
                }
                if attribute.attr.as_str() == "utcnow" && is_datetime_class(&attribute.value) {
                    self.utcnow.push(attribute.attr.range());
                }
            }
            Expr::Call(call) => {
                if let Expr::Name(function) = call.func.as_ref() {
                    self.called.insert(function.id.to_string());
                }
            }
            Expr::Named(named) => {
                if let Expr::Name(target) = named.target.as_ref() {
                    self.bind(&target.id);
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }

    fn visit_except_handler(&mut self, handler: &'a ruff_python_ast::ExceptHandler) {
        let ruff_python_ast::ExceptHandler::ExceptHandler(handler_node) = handler;
        if let Some(name) = &handler_node.name {
            self.bind(name);
        }
        visitor::walk_except_handler(self, handler);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_function_reads_json_datetime_and_context() {
        let analysis = analyze_def(
            "def deployment_info(context):\n    return json.dumps({'who': context.user_name,\n                       'when': datetime.now().isoformat()})",
        )
        .unwrap();
        assert_eq!(
            analysis.free.iter().map(String::as_str).collect::<Vec<_>>(),
            ["datetime", "json"]
        );
        assert_eq!(
            analysis.attributes["datetime"],
            BTreeSet::from(["now".to_string()])
        );
        assert!(!analysis.takes_deploy_time);
    }

    #[test]
    fn locals_are_not_free_and_utcnow_becomes_now() {
        let analysis = analyze_def(
            "def f(ctx, deploy_time=False):\n    x = datetime.datetime.utcnow()\n    for i in range(3):\n        x = [y for y in K]\n    try:\n        import yaml\n    except ImportError as e:\n        pass\n    return str(x) + helper(e)",
        )
        .unwrap();
        assert_eq!(
            analysis.free.iter().map(String::as_str).collect::<Vec<_>>(),
            ["ImportError", "K", "datetime", "helper", "range", "str"]
        );
        assert!(analysis.takes_deploy_time);
        assert!(analysis.source.contains("datetime.datetime.now()"));
        assert!(analysis.called.contains("helper"));
    }

    #[test]
    fn lambda_parameters_are_bound() {
        let analysis = analyze_lambda("lambda ctx: ctx.user_name + PREFIX").unwrap();
        assert_eq!(
            analysis.free.iter().map(String::as_str).collect::<Vec<_>>(),
            ["PREFIX"]
        );
        assert!(!analysis.takes_deploy_time);
    }

    #[test]
    fn os_imports_bind_the_stand_in_and_keep_line_numbers() {
        let analysis = analyze_def(
            "def f(name):\n    import os, json\n    from os.path import (\n        join,\n        dirname as d,\n    )\n    return join(d(__file__), name)",
        )
        .unwrap();
        let lines: Vec<&str> = analysis.source.lines().collect();
        assert_eq!(lines[1], "    os = _dropflow_os; import json");
        assert_eq!(
            lines[2],
            "    join = _dropflow_os.path.join; d = _dropflow_os.path.dirname"
        );
        assert_eq!(lines[6], "    return join(d(__file__), name)");
        assert!(analysis.free.contains("__file__"));
    }
}
