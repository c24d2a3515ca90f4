//! What dropflow reads out of a flow file: the `FlowSpec` class, its steps, their
//! decorators and transitions, and the flow's parameters. Pure data, no AST inside.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::value::Value;

/// One `FlowSpec` subclass found in a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowClass {
    /// Class name, which is Metaflow's flow name.
    pub name: String,
    /// Path of the file inside the package (e.g. `parameter_flow.py`).
    pub file: String,
    /// Line of the `class` statement.
    pub line: u32,
    /// Base classes as written (last name component: `FlowSpec`, `BaseFlow`).
    pub bases: Vec<String>,
    /// Class docstring, de-indented.
    pub doc: String,
    /// Class decorators (`@schedule`, `@project`, ...), top to bottom.
    pub decorators: Vec<Decorator>,
    /// Steps, in source order (inherited steps from same-file base classes first).
    pub steps: Vec<StepDef>,
    /// `Parameter`, `IncludeFile` and `Config` attributes, in source order.
    pub parameters: Vec<ParameterDef>,
    /// `Parameter`, `IncludeFile` and `Config` attributes Metaflow does not collect
    /// (`FlowSpec._get_parameters` skips names starting with `_` and those in
    /// [`NON_PARAMETER_ATTRIBUTES`]): not parameters of the flow, kept for warnings and
    /// for the call checks Python makes when the class body runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_parameters: Vec<ParameterDef>,
    /// Decorated methods without `@step`, in source order: Metaflow refuses step
    /// decorators on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plain_methods: Vec<PlainMethod>,
}

/// Flow class attributes that are never parameters (`FlowSpec._NON_PARAMETERS`), besides
/// every name starting with `_`.
pub const NON_PARAMETER_ATTRIBUTES: &[&str] = &[
    "cmd",
    "foreach_stack",
    "index",
    "input",
    "script_name",
    "name",
];

/// Whether Metaflow collects a flow class attribute as a parameter (`_get_parameters`).
pub fn is_parameter_attribute(attribute: &str) -> bool {
    !attribute.starts_with('_') && !NON_PARAMETER_ATTRIBUTES.contains(&attribute)
}

/// A decorated method of a flow class that is not a step (no `@step`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlainMethod {
    /// Method name.
    pub name: String,
    /// Line of the `def`.
    pub line: u32,
    /// Its decorators, top to bottom.
    pub decorators: Vec<Decorator>,
}

impl FlowClass {
    /// The class decorator called `name`, if present.
    pub fn decorator(&self, name: &str) -> Option<&Decorator> {
        self.decorators.iter().find(|d| d.name == name)
    }
}

/// A decorator use: `@name`, `@name(...)` or `@module.name(...)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decorator {
    /// The last component of the decorator's name (`retry` for `@metaflow.retry`).
    pub name: String,
    /// Line of the decorator.
    pub line: u32,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments, in source order.
    pub kwargs: Vec<(String, Value)>,
}

impl Decorator {
    /// The keyword argument called `name`.
    pub fn kwarg(&self, name: &str) -> Option<&Value> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A method decorated with `@step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDef {
    /// Method name, which is the step name.
    pub name: String,
    /// Line of the `def` (Metaflow's `func_lineno`).
    pub line: u32,
    /// Number of positional arguments including `self` (Metaflow's `num_args`).
    pub num_args: usize,
    /// `@step(start=True)`.
    pub is_start_step: bool,
    /// `@step(end=True)`.
    pub is_end_step: bool,
    /// Decorators other than `@step`, top to bottom.
    pub decorators: Vec<Decorator>,
    /// Line of the `@step` decorator (the lowest one, if written twice). Decorators are
    /// applied bottom up, so a step decorator below it (a larger line) is applied before
    /// the method is a step, which Metaflow refuses.
    pub step_line: u32,
    /// Method docstring, de-indented.
    pub doc: String,
    /// What the last statement of the body says about the next step.
    pub tail: TailNext,
}

impl StepDef {
    /// The step decorator called `name`, if present.
    pub fn decorator(&self, name: &str) -> Option<&Decorator> {
        self.decorators.iter().find(|d| d.name == name)
    }
}

/// The step's last statement, read the way Metaflow's `DAGNode._parse` reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailNext {
    /// The last statement is a `self.next(...)` call.
    pub has_tail_next: bool,
    /// The call is not one of the supported transition forms.
    pub invalid_tail_next: bool,
    /// Line of the `self.next(...)` call (0 when absent).
    pub line: u32,
    /// The kind of transition, when it is valid.
    pub kind: Option<TransitionKind>,
    /// Target steps, in the order written.
    pub out_funcs: Vec<String>,
    /// `foreach='var'`: the artifact name, when it is a literal string.
    pub foreach_param: Option<String>,
    /// `num_parallel=N` (a `@parallel` fan-out).
    pub num_parallel: Option<Value>,
    /// `condition='var'` of a switch.
    pub condition: Option<String>,
    /// Switch cases: key (as written) → step.
    pub switch_cases: BTreeMap<String, String>,
}

/// How a step hands over to the next, as Metaflow types the node before graph analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransitionKind {
    /// `self.next(self.a)` from a step taking only `self`.
    Linear,
    /// `self.next(self.a)` from a step taking `inputs`.
    Join,
    /// `self.next(self.a, self.b, ...)`.
    Split,
    /// `self.next(self.a, foreach='x')` or `num_parallel=N`.
    Foreach,
    /// `self.next({'k': self.a, ...}, condition='x')`.
    SplitSwitch,
}

/// What kind of flow attribute a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// `Parameter(...)`.
    Parameter,
    /// `IncludeFile(...)`: a local file's content, uploaded at deploy time.
    IncludeFile,
    /// `Config(...)`: a configuration resolved at deploy time.
    Config,
}

impl ParameterKind {
    /// The Metaflow class that makes it: `Parameter`, `IncludeFile` or `Config`.
    pub fn class_name(self) -> &'static str {
        match self {
            ParameterKind::Parameter => "Parameter",
            ParameterKind::IncludeFile => "IncludeFile",
            ParameterKind::Config => "Config",
        }
    }
}

/// A class attribute `attr = Parameter('name', ...)` (or `IncludeFile`, `Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterDef {
    /// The Python attribute (`self.info`): artifacts use this name.
    pub attribute: String,
    /// The parameter name (`deployment_info`): the CLI and Step Functions input use this.
    /// When the call has no usable name ([`ParameterDef::problem`]), the attribute.
    pub name: String,
    /// Parameter, IncludeFile or Config.
    pub kind: ParameterKind,
    /// Line of the assignment.
    pub line: u32,
    /// Arguments by name (`default`, `type`, `help`, `required`, ...), in source order:
    /// positional arguments after the name first, named as the class's signature names
    /// them (`Parameter('alpha', 0.01)` has `default`), then the keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// Why this call cannot make a parameter, when it cannot (checked by the compiler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<ParameterProblem>,
}

/// A `Parameter(...)` (or `IncludeFile`, `Config`) call that does not define a parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParameterProblem {
    /// The call does not match the signature: Python raises this `TypeError` (no name,
    /// too many positional arguments, an argument given twice) when the class is defined.
    TypeError {
        /// Python's message, e.g. `Parameter.__init__() missing 1 required positional
        /// argument: 'name'`.
        message: String,
    },
    /// The name is neither a literal string nor a module-level string constant.
    NameNotLiteral {
        /// The name argument as written.
        source: String,
    },
}

impl ParameterDef {
    /// The keyword argument called `name`.
    pub fn kwarg(&self, name: &str) -> Option<&Value> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A module-level function, kept so deploy-time parameter defaults can be evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleFunction {
    /// Function name.
    pub name: String,
    /// Line of the `def`.
    pub line: u32,
    /// Source text of the whole `def`.
    pub source: String,
}

/// Everything dropflow needs from one Python file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Path of the file inside the package.
    pub file: String,
    /// `FlowSpec` subclasses, in source order.
    pub flows: Vec<FlowClass>,
    /// Class names instantiated under `if __name__ == "__main__":`.
    pub main_instantiations: Vec<String>,
    /// Module-level `NAME = <literal>` assignments.
    pub constants: BTreeMap<String, serde_json::Value>,
    /// Module-level functions.
    pub functions: Vec<ModuleFunction>,
    /// Top-level `import x` / `from x import y` module names.
    pub imports: Vec<String>,
}
