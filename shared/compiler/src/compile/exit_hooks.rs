//! `@exit_hook(on_success=[...], on_error=[...])`: the module-level functions a run calls
//! once it has ended, as Metaflow's `ExitHookDecorator` collects them (a function or its
//! name as a string; several decorators add up). dropflow runs them after the end step
//! succeeds (`on_success`) or after a task fails for good (`on_error`): see
//! [`super::hook_states`] and the step Lambda's hook phases.

use ruff_python_ast::Expr;

pub use dropflow_contract::exit_hooks::{ExitHooks, RunOutcome};

use super::error::CompileError;
use crate::python::{Decorator, FlowClass, ModuleInfo, Value};

/// The attributes of Metaflow's `ExitHookDecorator`.
const ATTRIBUTES: [&str; 3] = ["on_success", "on_error", "options"];

/// Collects the flow's exit hooks, refusing what Metaflow refuses (with its message) and
/// what dropflow cannot run. A hook that is not a function of the flow file gets a
/// warning: Metaflow imports the flow file and looks the name up there, so it works
/// only if the file imports it.
pub fn exit_hooks(
    flow: &FlowClass,
    module: &ModuleInfo,
    warnings: &mut Vec<String>,
) -> Result<ExitHooks, CompileError> {
    let mut hooks = ExitHooks::default();
    // Python applies class decorators bottom up; Metaflow keeps that order.
    for decorator in flow.decorators.iter().rev() {
        if decorator.name != "exit_hook" {
            continue;
        }
        let error = |message: String| CompileError::ExitHook {
            file: flow.file.clone(),
            line: decorator.line,
            message,
        };
        if let Some(first) = decorator.args.first() {
            return Err(error(format!(
                "@exit_hook({}) takes keyword arguments only, e.g. @exit_hook(on_error=[notify])",
                first.describe()
            )));
        }
        for (name, _) in &decorator.kwargs {
            if !ATTRIBUTES.contains(&name.as_str()) {
                return Err(error(format!(
                    "Decorator 'exit_hook' does not support the attribute '{name}'. These attributes are supported: {}.",
                    ATTRIBUTES.join(", ")
                )));
            }
        }
        if let Some(options) = decorator.kwarg("options") {
            let empty =
                matches!(options.as_literal(), Some(serde_json::Value::Object(m)) if m.is_empty());
            if !empty {
                return Err(error(format!(
                    "options={} is not supported by dropflow: hooks run as a Batch job with the start step's job definition (its image, queue and role). Remove options=, or set the start step's @batch(image=...).",
                    options.describe()
                )));
            }
        }
        let on_success = functions(decorator, "on_success").map_err(&error)?;
        let on_error = functions(decorator, "on_error").map_err(&error)?;
        if on_success.is_empty() && on_error.is_empty() {
            return Err(error(
                "Choose at least one of the options on_success/on_error".into(),
            ));
        }
        for name in on_success.iter().chain(&on_error) {
            if !module.functions.iter().any(|f| &f.name == name) {
                warnings.push(format!(
                    "{}:{}: exit hook '{name}' is not a function defined in {}: the hook runs `getattr(<flow module>, '{name}')`, so it fails unless {} imports '{name}'",
                    flow.file, decorator.line, flow.file, flow.file
                ));
            }
        }
        check_module_name(&flow.file).map_err(&error)?;
        hooks.on_success.extend(on_success);
        hooks.on_error.extend(on_error);
    }
    Ok(hooks)
}

/// Metaflow's `exit_hook_script` imports the flow file as the module named by
/// `file.rstrip(".py")`, which strips any trailing `.`, `p` and `y` characters, not the
/// suffix: `happy.py` becomes `ha`, which does not exist.
fn check_module_name(file: &str) -> Result<(), String> {
    let base = file.rsplit('/').next().unwrap_or(file);
    let module = base.trim_end_matches(['.', 'p', 'y']);
    match base.strip_suffix(".py") {
        Some(stem) if stem == module => Ok(()),
        _ => Err(format!(
            "Metaflow's exit hook script imports {base} as the module '{module}' (it strips the characters '.', 'p' and 'y' from the end of the name), so every hook would fail with ModuleNotFoundError. Rename the flow file so its name does not end in 'p' or 'y' before '.py' (e.g. {}_flow.py).",
            base.strip_suffix(".py").unwrap_or(base)
        )),
    }
}

/// The function names of `on_success=` or `on_error=` (absent: none).
fn functions(decorator: &Decorator, attribute: &str) -> Result<Vec<String>, String> {
    let Some(value) = decorator.kwarg(attribute) else {
        return Ok(Vec::new());
    };
    let not_a_function = || {
        format!(
            "ValueError: Exit hooks inside '{attribute}' must be a function or a string referring to the function"
        )
    };
    let not_iterable = |what: &str| {
        format!(
            "TypeError: {attribute}={} is {what}, not a list; write {attribute}=[function, ...]",
            value.describe()
        )
    };
    match value {
        Value::Literal {
            value: serde_json::Value::Array(items),
        } => items
            .iter()
            .map(|item| item.as_str().map(String::from).ok_or_else(not_a_function))
            .collect(),
        Value::Literal {
            value: serde_json::Value::Null,
        } => Ok(Vec::new()),
        Value::Literal {
            value: serde_json::Value::String(_),
        } => Err(not_iterable(
            "a string (Metaflow would take each character as a function name)",
        )),
        Value::Literal { .. } => Err(not_iterable("not iterable")),
        Value::Name { .. } => Err(not_iterable("a single function")),
        Value::Lambda { .. } => Err(not_iterable("a lambda")),
        Value::Expression { source } => {
            let Ok(parsed) = ruff_python_parser::parse_expression(source) else {
                return Err(not_iterable("not a list"));
            };
            let items = match parsed.expr() {
                Expr::List(list) => &list.elts,
                Expr::Tuple(tuple) => &tuple.elts,
                _ => return Err(not_iterable("not a list")),
            };
            items
                .iter()
                .map(|item| match item {
                    Expr::Name(name) => Ok(name.id.to_string()),
                    Expr::StringLiteral(text) => Ok(text.value.to_str().to_string()),
                    _ => Err(not_a_function()),
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::parse_module;

    fn hooks_of(decorators: &str) -> (Result<ExitHooks, CompileError>, Vec<String>) {
        let source = format!(
            "from metaflow import FlowSpec, step, exit_hook\n\n\
             def notify(run=None):\n    pass\n\n\
             def cleanup():\n    pass\n\n\
             {decorators}\nclass HookFlow(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n"
        );
        let module = parse_module("flow.py", &source).expect("parses");
        let mut warnings = Vec::new();
        let hooks = exit_hooks(&module.flows[0], &module, &mut warnings);
        (hooks, warnings)
    }

    fn message(decorators: &str) -> String {
        hooks_of(decorators).0.unwrap_err().to_string()
    }

    #[test]
    fn functions_and_names_are_collected_bottom_up() {
        let (hooks, warnings) = hooks_of(
            "@exit_hook(on_success=['cleanup'])\n@exit_hook(on_success=[notify], on_error=(notify, cleanup))",
        );
        assert_eq!(
            hooks.unwrap(),
            ExitHooks {
                on_success: vec!["notify".into(), "cleanup".into()],
                on_error: vec!["notify".into(), "cleanup".into()],
            }
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn metaflow_refusals_keep_its_messages() {
        assert_eq!(
            message("@exit_hook()"),
            "flow.py:9: @exit_hook: Choose at least one of the options on_success/on_error"
        );
        assert_eq!(
            message("@exit_hook(on_success=[], on_error=None)"),
            "flow.py:9: @exit_hook: Choose at least one of the options on_success/on_error"
        );
        assert_eq!(
            message("@exit_hook(on_error=[notify, 3])"),
            "flow.py:9: @exit_hook: ValueError: Exit hooks inside 'on_error' must be a function or a string referring to the function"
        );
        assert_eq!(
            message("@exit_hook(on_error=[notify], when='x')"),
            "flow.py:9: @exit_hook: Decorator 'exit_hook' does not support the attribute 'when'. These attributes are supported: on_success, on_error, options."
        );
    }

    #[test]
    fn what_dropflow_cannot_run_is_refused_with_the_fix() {
        assert!(
            message("@exit_hook(on_error=notify)")
                .contains("a single function, not a list; write on_error=[function, ...]")
        );
        assert!(message("@exit_hook(on_error='notify')").contains("each character"));
        assert!(message("@exit_hook([notify])").contains("keyword arguments only"));
        assert!(
            message("@exit_hook(on_error=[notify], options={'image': 'x'})")
                .contains("options={\"image\":\"x\"} is not supported by dropflow")
        );
        assert!(
            hooks_of("@exit_hook(on_error=[notify], options={})")
                .0
                .is_ok()
        );
    }

    #[test]
    fn flow_files_metaflow_cannot_import_are_refused() {
        assert_eq!(check_module_name("flow.py"), Ok(()));
        assert_eq!(check_module_name("sub/hook_flow.py"), Ok(()));
        let error = check_module_name("happy.py").unwrap_err();
        assert!(
            error.contains("imports happy.py as the module 'ha'"),
            "{error}"
        );
        assert!(error.contains("e.g. happy_flow.py"), "{error}");
    }

    #[test]
    fn a_hook_not_defined_in_the_file_is_warned_about() {
        let (hooks, warnings) = hooks_of("@exit_hook(on_error=[notify, 'page_oncall'])");
        assert_eq!(hooks.unwrap().on_error, ["notify", "page_oncall"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with(
            "flow.py:9: exit hook 'page_oncall' is not a function defined in flow.py"
        ));
    }
}
