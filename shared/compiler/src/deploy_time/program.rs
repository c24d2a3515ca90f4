//! Builds the Python program the sandbox runs for one deploy-time default: the function
//! (and the module functions it calls) at their own line numbers, so tracebacks point
//! into the flow file, followed by the imports and shims it needs, a Metaflow-shaped
//! `ParameterContext`, and the call. Nothing else of the flow file runs.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crate::python::ModuleInfo;

use super::paths;
use super::source::{self, Analysis};

/// Standard-library modules monty 0.0.23 implements (`StandardLib` in monty's `modules`).
pub(super) const SANDBOX_MODULES: &[&str] = &[
    "sys",
    "typing",
    "asyncio",
    "pathlib",
    "os",
    "math",
    "json",
    "re",
    "datetime",
    "unicodedata",
    "itertools",
    "dataclasses",
    "collections",
    "functools",
    "base64",
    "binascii",
];

/// Modules monty lacks that dropflow provides in part, answered by the host:
/// (module, [(attribute, host function)]).
const SHIM_MODULES: &[(&str, &[(&str, &str)])] = &[
    (
        "time",
        &[
            ("time", HOST_TIME),
            ("time_ns", HOST_TIME_NS),
            ("monotonic", HOST_TIME),
            ("perf_counter", HOST_TIME),
        ],
    ),
    ("getpass", &[("getuser", HOST_GETUSER)]),
];

/// Host function: seconds since the epoch, as a float (`time.time()`).
pub(super) const HOST_TIME: &str = "_dropflow_time";
/// Host function: nanoseconds since the epoch, as an int (`time.time_ns()`).
pub(super) const HOST_TIME_NS: &str = "_dropflow_time_ns";
/// Host function: the deploying user (`getpass.getuser()`).
pub(super) const HOST_GETUSER: &str = "_dropflow_getuser";
/// Every host function, passed to the program as inputs.
pub(super) const HOST_FUNCTIONS: &[&str] = &[
    HOST_TIME,
    HOST_TIME_NS,
    HOST_GETUSER,
    paths::HOST_EXISTS,
    paths::HOST_ISFILE,
    paths::HOST_ISDIR,
];

/// Inputs carrying the `ParameterContext` fields, in this order.
pub(super) const CONTEXT_INPUTS: &[&str] = &[
    "_dropflow_flow_name",
    "_dropflow_user_name",
    "_dropflow_parameter_name",
    "_dropflow_ds_type",
];

/// How a lambda default is bound in the program (closed by `)`).
pub(super) const LAMBDA_PREFIX: &str = "_dropflow_default = (";

/// The deploy-time default to call.
#[derive(Debug, Clone, Copy)]
pub(super) enum DefaultFunction<'a> {
    /// `default=name_of_a_module_function`.
    Named {
        /// Function name.
        name: &'a str,
        /// Line of its `def`.
        line: u32,
        /// Source of the whole `def`.
        source: &'a str,
    },
    /// `default=lambda ctx: ...`.
    Lambda {
        /// Source of the lambda expression.
        source: &'a str,
        /// Line of the parameter's assignment.
        line: u32,
    },
    /// An expression evaluated once, with no context (`IncludeFile(default=
    /// script_path("movies.csv"))`), as Python evaluates it when the class is defined.
    Expression {
        /// Source of the expression.
        source: &'a str,
        /// Line of the parameter's assignment.
        line: u32,
    },
}

impl DefaultFunction<'_> {
    /// Name for messages: the function's name or `<lambda>`.
    pub fn label(&self) -> &str {
        match self {
            DefaultFunction::Named { name, .. } => name,
            DefaultFunction::Lambda { .. } => "<lambda>",
            DefaultFunction::Expression { source, .. } => source,
        }
    }

    /// Line of the function in the flow file.
    pub fn line(&self) -> u32 {
        match self {
            DefaultFunction::Named { line, .. }
            | DefaultFunction::Lambda { line, .. }
            | DefaultFunction::Expression { line, .. } => *line,
        }
    }
}

/// A program ready for the sandbox.
#[derive(Debug, Clone)]
pub(super) struct Program {
    /// Python source.
    pub code: String,
    /// Lines of `code` that are flow-file source, at the flow file's own numbers.
    pub flow_lines: Vec<RangeInclusive<u32>>,
    /// Imports of the flow file the sandbox cannot provide (for messages).
    pub unavailable_imports: Vec<String>,
}

/// Why a program could not be built.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BuildError {
    /// Line in the flow file.
    pub line: u32,
    /// The parser's message.
    pub message: String,
}

/// One piece of flow source placed at its own line.
struct Placed {
    line: u32,
    text: String,
}

/// What the placed sources read from the module, together.
#[derive(Default)]
struct Needs {
    free: BTreeSet<String>,
    attributes: BTreeMap<String, BTreeSet<String>>,
    called: BTreeSet<String>,
}

impl Needs {
    fn absorb(&mut self, analysis: &Analysis) {
        self.free.extend(analysis.free.iter().cloned());
        self.called.extend(analysis.called.iter().cloned());
        for (name, attrs) in &analysis.attributes {
            self.attributes
                .entry(name.clone())
                .or_default()
                .extend(attrs.iter().cloned());
        }
    }
}

/// Builds the program calling `function` with the context.
pub(super) fn build(
    module: &ModuleInfo,
    function: &DefaultFunction<'_>,
) -> Result<Program, BuildError> {
    let mut placed = Vec::new();
    let mut needs = Needs::default();

    let (call_target, arguments) = match function {
        DefaultFunction::Named { name, line, source } => {
            let analysis = source::analyze_def(source).map_err(|message| BuildError {
                line: *line,
                message,
            })?;
            needs.absorb(&analysis);
            placed.push(Placed {
                line: *line,
                text: analysis.source.clone(),
            });
            (
                name.to_string(),
                context_arguments(analysis.takes_deploy_time),
            )
        }
        DefaultFunction::Lambda { source, line } => {
            let analysis = source::analyze_lambda(source).map_err(|message| BuildError {
                line: *line,
                message,
            })?;
            needs.absorb(&analysis);
            placed.push(Placed {
                line: *line,
                text: format!("{LAMBDA_PREFIX}{})", analysis.source),
            });
            (
                "_dropflow_default".to_string(),
                context_arguments(analysis.takes_deploy_time),
            )
        }
        DefaultFunction::Expression { source, line } => {
            let lambda = format!("lambda: {source}");
            let analysis = source::analyze_lambda(&lambda).map_err(|message| BuildError {
                line: *line,
                message,
            })?;
            needs.absorb(&analysis);
            placed.push(Placed {
                line: *line,
                text: format!("{LAMBDA_PREFIX}{})", analysis.source),
            });
            ("_dropflow_default".to_string(), "")
        }
    };

    // Module functions the code calls, transitively.
    let mut included = BTreeSet::new();
    if let DefaultFunction::Named { name, .. } = function {
        included.insert(name.to_string());
    }
    loop {
        let next = needs.free.iter().find(|name| {
            !included.contains(*name) && module.functions.iter().any(|f| &&f.name == name)
        });
        let Some(name) = next.cloned() else { break };
        let helper = module
            .functions
            .iter()
            .find(|f| f.name == name)
            .expect("found above");
        let analysis = source::analyze_def(&helper.source).map_err(|message| BuildError {
            line: helper.line,
            message,
        })?;
        needs.absorb(&analysis);
        placed.push(Placed {
            line: helper.line,
            text: analysis.source,
        });
        included.insert(name);
    }

    let mut code = String::new();
    let mut flow_lines = Vec::new();
    let mut current = 1u32;
    placed.sort_by_key(|p| p.line);
    for piece in &placed {
        while current < piece.line {
            code.push('\n');
            current += 1;
        }
        let start = current;
        code.push_str(&piece.text);
        code.push('\n');
        current += 1 + piece.text.matches('\n').count() as u32;
        flow_lines.push(start..=current - 1);
    }

    code.push_str(paths::OS_SHIM_CODE);
    code.push_str(&imports(module, &needs, &included));
    code.push_str(&context_code());
    code.push_str(&format!("{call_target}({arguments})\n"));

    let unavailable_imports = module
        .imports
        .iter()
        .filter(|m| {
            let top = top_level(m);
            !SANDBOX_MODULES.contains(&top) && !SHIM_MODULES.iter().any(|(s, _)| *s == top)
        })
        .cloned()
        .collect();
    Ok(Program {
        code,
        flow_lines,
        unavailable_imports,
    })
}

/// Metaflow calls a deploy-time function as `fun(ctx, True)` when it takes two
/// arguments, else `fun(ctx)`.
fn context_arguments(takes_deploy_time: bool) -> &'static str {
    if takes_deploy_time {
        "_dropflow_context, True"
    } else {
        "_dropflow_context"
    }
}

fn top_level(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// Import statements and shims for the free names the flow file's imports can provide.
fn imports(module: &ModuleInfo, needs: &Needs, included: &BTreeSet<String>) -> String {
    let Needs {
        free,
        attributes,
        called,
    } = needs;
    let imported: Vec<&str> = {
        let mut seen = Vec::new();
        for m in &module.imports {
            let top = top_level(m);
            if !seen.contains(&top) {
                seen.push(top);
            }
        }
        seen
    };
    let sandbox: Vec<&str> = imported
        .iter()
        .copied()
        .filter(|m| SANDBOX_MODULES.contains(m))
        .collect();
    let mut code = String::new();
    for name in free {
        let name = name.as_str();
        if name == "__file__" {
            code.push_str(&format!("__file__ = {}\n", paths::FILE_INPUT));
            continue;
        }
        if included.contains(name)
            || module.constants.contains_key(name)
            || ruff_python_stdlib::builtins::is_python_builtin(name, 13, false)
        {
            continue;
        }
        let attrs = attributes.get(name);
        // `datetime` is both a module and its main class: decide by use.
        if name == "datetime" && imported.contains(&"datetime") {
            let module_use = attrs.is_some_and(|a| {
                a.iter().any(|attr| {
                    [
                        "datetime",
                        "date",
                        "time",
                        "timedelta",
                        "timezone",
                        "tzinfo",
                        "MINYEAR",
                        "MAXYEAR",
                        "UTC",
                    ]
                    .contains(&attr.as_str())
                })
            });
            code.push_str(if module_use {
                "import datetime\n"
            } else {
                "from datetime import datetime\n"
            });
            continue;
        }
        if let Some((_, exports)) = SHIM_MODULES
            .iter()
            .find(|(m, _)| *m == name && imported.contains(m))
        {
            // `import time` + `time.time()`; `from time import time` + `time()`.
            let as_function = called.contains(name) && attrs.is_none();
            match exports.iter().find(|(attr, _)| *attr == name) {
                Some((_, host)) if as_function => code.push_str(&format!("{name} = {host}\n")),
                _ => code.push_str(&shim_module(name, exports)),
            }
            continue;
        }
        if name == "os" && imported.contains(&"os") {
            code.push_str(&format!("os = {}\n", paths::OS_SHIM));
            continue;
        }
        // `from os import path` / `from os.path import join` at module level.
        if name == "path" && module.imports.iter().any(|m| m == "os") {
            code.push_str(&format!("path = {}.path\n", paths::OS_SHIM));
            continue;
        }
        if module.imports.iter().any(|m| m == "os.path") && paths::PATH_FUNCTIONS.contains(&name) {
            code.push_str(&format!("{name} = {}.path.{name}\n", paths::OS_SHIM));
            continue;
        }
        if sandbox.contains(&name) {
            code.push_str(&format!("import {name}\n"));
            continue;
        }
        if let Some(host) = SHIM_MODULES
            .iter()
            .filter(|(m, _)| imported.contains(m))
            .flat_map(|(_, exports)| exports.iter())
            .find(|(attr, _)| *attr == name)
            .map(|(_, host)| host)
        {
            code.push_str(&format!("{name} = {host}\n"));
            continue;
        }
        // Perhaps `from <module> import name`: try each imported sandbox module in turn.
        code.push_str(&from_import_chain(name, &sandbox, 0));
    }
    code
}

/// A class standing in for a module monty lacks; its functions call the host.
fn shim_module(name: &str, exports: &[(&str, &str)]) -> String {
    let mut code = format!("class _dropflow_module_{name}:\n");
    for (attr, host) in exports {
        code.push_str(&format!("    def {attr}(self):\n        return {host}()\n"));
    }
    code.push_str(&format!("{name} = _dropflow_module_{name}()\n"));
    code
}

/// `try: from a import name / except ImportError: try: from b import name ...`.
fn from_import_chain(name: &str, modules: &[&str], depth: usize) -> String {
    let Some((first, rest)) = modules.split_first() else {
        return String::new();
    };
    let indent = "    ".repeat(depth);
    let mut code = format!(
        "{indent}try:\n{indent}    from {first} import {name}\n{indent}except ImportError:\n"
    );
    let inner = from_import_chain(name, rest, depth + 1);
    if inner.is_empty() {
        code.push_str(&format!("{indent}    pass\n"));
    } else {
        code.push_str(&inner);
    }
    code
}

/// Metaflow's `ParameterContext` (flow_name, user_name, parameter_name, logger, ds_type,
/// configs), as a class: monty cannot call a callable field of a named tuple.
fn context_code() -> String {
    let [flow_name, user_name, parameter_name, ds_type] = CONTEXT_INPUTS else {
        unreachable!("four context inputs")
    };
    format!(
        "class ParameterContext:
    def __init__(self, flow_name, user_name, parameter_name, logger, ds_type, configs):
        self.flow_name = flow_name
        self.user_name = user_name
        self.parameter_name = parameter_name
        self.logger = logger
        self.ds_type = ds_type
        self.configs = configs
def _dropflow_logger(*args, **kwargs):
    return None
_dropflow_context = ParameterContext({flow_name}, {user_name}, {parameter_name}, _dropflow_logger, {ds_type}, {{}})
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::ModuleFunction;

    fn module(imports: &[&str], functions: &[(&str, u32, &str)]) -> ModuleInfo {
        ModuleInfo {
            file: "flow.py".into(),
            flows: Vec::new(),
            main_instantiations: Vec::new(),
            constants: BTreeMap::from([("PREFIX".to_string(), serde_json::json!("p-"))]),
            functions: functions
                .iter()
                .map(|(name, line, source)| ModuleFunction {
                    name: name.to_string(),
                    line: *line,
                    source: source.to_string(),
                })
                .collect(),
            imports: imports.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn seed_function_gets_its_imports_at_its_own_line() {
        let source = "def deployment_info(context):\n    return json.dumps({'who': context.user_name, 'when': datetime.now().isoformat()})";
        let module = module(
            &["metaflow", "datetime", "json"],
            &[("deployment_info", 5, source)],
        );
        let program = build(
            &module,
            &DefaultFunction::Named {
                name: "deployment_info",
                line: 5,
                source,
            },
        )
        .unwrap();
        let lines: Vec<&str> = program.code.lines().collect();
        assert_eq!(lines[4], "def deployment_info(context):");
        assert_eq!(program.flow_lines, vec![5..=6]);
        assert!(
            program
                .code
                .contains("\nfrom datetime import datetime\nimport json\n")
        );
        assert!(
            program
                .code
                .ends_with("deployment_info(_dropflow_context)\n")
        );
        assert_eq!(program.unavailable_imports, ["metaflow"]);
    }

    #[test]
    fn helpers_shims_and_from_imports() {
        let main =
            "def f(ctx, deploy_time):\n    return helper() + str(time.time()) + dumps(getuser())";
        let helper = "def helper():\n    return PREFIX";
        let module = module(
            &["os", "json", "time", "getpass"],
            &[("helper", 2, helper), ("f", 8, main)],
        );
        let program = build(
            &module,
            &DefaultFunction::Named {
                name: "f",
                line: 8,
                source: main,
            },
        )
        .unwrap();
        assert_eq!(program.flow_lines, vec![2..=3, 8..=9]);
        assert!(program.code.contains("class _dropflow_module_time:"));
        assert!(program.code.contains("getuser = _dropflow_getuser\n"));
        assert!(program.code.contains(
            "try:\n    from os import dumps\nexcept ImportError:\n    try:\n        from json import dumps\n    except ImportError:\n        pass\n"
        ));
        assert!(!program.code.contains("import str"));
        assert!(program.code.ends_with("f(_dropflow_context, True)\n"));
    }
}
