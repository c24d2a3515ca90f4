//! Finds the flow in a source package: the `FlowSpec` subclass instantiated under
//! `if __name__ == "__main__":`, or else the only flow class that nothing else extends.

use serde::Serialize;

use crate::python::{self, FlowClass, ModuleInfo, SyntaxError};

/// Why no single flow could be picked.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum DiscoveryError {
    /// No `FlowSpec` subclass anywhere.
    #[error(
        "no Metaflow flow found in {searched}: no class derives from FlowSpec. Upload the flow file (e.g. `tar czf flow.tar.gz my_flow.py`)."
    )]
    NoFlow {
        /// The files searched.
        searched: String,
    },
    /// Several flows and nothing to choose between them.
    #[error(
        "several Metaflow flows found: {candidates}. Keep one flow per package, or instantiate the one to deploy under `if __name__ == \"__main__\":`."
    )]
    AmbiguousFlow {
        /// `file:Class` of each candidate.
        candidates: String,
    },
    /// `.mf_meta/INFO` names a script that is not in the package.
    #[error(
        "the package's .mf_meta/INFO names the flow script '{script}', which is not in the package"
    )]
    MissingScript {
        /// The named script.
        script: String,
    },
    /// A `.py` file that is not UTF-8.
    #[error("{file} is not UTF-8 text; save it as UTF-8")]
    NotUtf8 {
        /// The file.
        file: String,
    },
    /// The flow file does not parse.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
}

impl DiscoveryError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DiscoveryError::NoFlow { .. } => "discover.no_flow",
            DiscoveryError::AmbiguousFlow { .. } => "discover.ambiguous_flow",
            DiscoveryError::MissingScript { .. } => "discover.missing_script",
            DiscoveryError::NotUtf8 { .. } => "discover.not_utf8",
            DiscoveryError::Syntax(_) => "python.syntax",
        }
    }
}

/// The chosen flow and the module it lives in.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundFlow {
    /// The flow file's module.
    pub module: ModuleInfo,
    /// Index of the flow class in `module.flows`.
    index: usize,
}

impl FoundFlow {
    /// The flow class.
    pub fn flow(&self) -> &FlowClass {
        &self.module.flows[self.index]
    }

    /// The flow class, mutable: deploy-time substitutions ([`crate::flow_inputs`]).
    pub fn flow_mut(&mut self) -> &mut FlowClass {
        &mut self.module.flows[self.index]
    }
}

/// Picks the flow among `files` (path, bytes). `script` (from Metaflow's package
/// INFO, or the single uploaded file) restricts the search to that file.
pub fn find_flow<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    script: Option<&str>,
) -> Result<FoundFlow, DiscoveryError> {
    let mut candidates: Vec<(&str, &[u8])> = files
        .into_iter()
        .filter(|(path, _)| path.ends_with(".py"))
        .collect();
    if let Some(script) = script {
        candidates.retain(|(path, _)| *path == script);
        if candidates.is_empty() {
            return Err(DiscoveryError::MissingScript {
                script: script.to_string(),
            });
        }
    }
    let searched = if candidates.len() == 1 {
        candidates[0].0.to_string()
    } else {
        format!("{} Python files", candidates.len())
    };
    let mut modules = Vec::new();
    let mut first_syntax_error = None;
    for (path, bytes) in candidates {
        let source = std::str::from_utf8(bytes).map_err(|_| DiscoveryError::NotUtf8 {
            file: path.to_string(),
        })?;
        // Cheap pre-filter: a file that never mentions FlowSpec cannot hold a flow.
        if !source.contains("FlowSpec") && script.is_none() {
            continue;
        }
        match python::parse_module(path, source) {
            Ok(module) if !module.flows.is_empty() => modules.push(module),
            Ok(_) => {}
            Err(error) => {
                first_syntax_error.get_or_insert(error);
            }
        }
    }
    // Flows instantiated under the main guard win.
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    for (m, module) in modules.iter().enumerate() {
        for (f, flow) in module.flows.iter().enumerate() {
            if module.main_instantiations.contains(&flow.name) {
                chosen.push((m, f));
            }
        }
    }
    if chosen.is_empty() {
        // Otherwise: flow classes that no other flow class in the same file extends.
        for (m, module) in modules.iter().enumerate() {
            for (f, flow) in module.flows.iter().enumerate() {
                if !is_extended(module, flow) {
                    chosen.push((m, f));
                }
            }
        }
    }
    match chosen.as_slice() {
        [(m, f)] => Ok(FoundFlow {
            module: modules.swap_remove(*m),
            index: *f,
        }),
        [] => Err(match first_syntax_error {
            Some(error) => DiscoveryError::Syntax(error),
            None => DiscoveryError::NoFlow { searched },
        }),
        many => Err(DiscoveryError::AmbiguousFlow {
            candidates: many
                .iter()
                .map(|(m, f)| format!("{}:{}", modules[*m].file, modules[*m].flows[*f].name))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// True when another flow class of the same module derives from `flow`.
fn is_extended(module: &ModuleInfo, flow: &FlowClass) -> bool {
    module
        .flows
        .iter()
        .any(|other| other.bases.iter().any(|base| base == &flow.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "from metaflow import FlowSpec, step\nclass A(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.end)\n    @step\n    def end(self):\n        pass\n";

    fn files<'a>(list: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a [u8])> {
        list.iter().map(|(p, s)| (*p, s.as_bytes())).collect()
    }

    #[test]
    fn the_only_flow_is_found_among_helpers() {
        let found = find_flow(files(&[("util.py", "X = 1\n"), ("flow.py", FLOW)]), None).unwrap();
        assert_eq!(found.flow().name, "A");
        assert_eq!(found.module.file, "flow.py");
    }

    #[test]
    fn main_guard_picks_between_flows() {
        let two =
            format!("{FLOW}class B(FlowSpec):\n    pass\nif __name__ == '__main__':\n    B()\n");
        let found = find_flow(files(&[("flow.py", &two)]), None).unwrap();
        assert_eq!(found.flow().name, "B");
    }

    #[test]
    fn several_flows_without_main_guard_are_named() {
        let error = find_flow(files(&[("a.py", FLOW), ("b.py", FLOW)]), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "several Metaflow flows found: a.py:A, b.py:A. Keep one flow per package, or instantiate the one to deploy under `if __name__ == \"__main__\":`."
        );
    }

    #[test]
    fn a_subclassed_base_flow_is_not_a_candidate() {
        let source = format!("{FLOW}class B(A):\n    pass\n");
        assert_eq!(
            find_flow(files(&[("f.py", &source)]), None)
                .unwrap()
                .flow()
                .name,
            "B"
        );
    }

    #[test]
    fn no_flow_and_syntax_errors_are_reported() {
        let error = find_flow(files(&[("x.py", "print(1)\n")]), None).unwrap_err();
        assert_eq!(error.code(), "discover.no_flow");
        let error =
            find_flow(files(&[("x.py", "class A(FlowSpec):\n  def (\n")]), None).unwrap_err();
        assert_eq!(error.code(), "python.syntax");
        assert!(
            error.to_string().starts_with("x.py:2: Python syntax error"),
            "{error}"
        );
    }

    #[test]
    fn the_script_hint_restricts_the_search() {
        let error = find_flow(files(&[("flow.py", FLOW)]), Some("other.py")).unwrap_err();
        assert_eq!(error.code(), "discover.missing_script");
        let found = find_flow(files(&[("a.py", FLOW), ("b.py", FLOW)]), Some("b.py")).unwrap();
        assert_eq!(found.module.file, "b.py");
    }
}
