//! What a parameter's `default=` is: the one classification the compiler's parameter
//! specs (`compile::parameters`) and the deploy-time evaluation (`deploy_time`) share, so
//! that what one records as deploy-time is exactly what the other evaluates.

use super::model::{ModuleFunction, ModuleInfo, ParameterDef};
use super::value::Value;

/// A parameter's `default=`, classified against its module.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultSource<'a> {
    /// No `default=`.
    Absent,
    /// A literal, or a constant expression folded at compile time.
    Literal(&'a serde_json::Value),
    /// The name of a module-level constant: a literal default too.
    Constant(&'a serde_json::Value),
    /// The name of a module function: a deploy-time default.
    Function(&'a ModuleFunction),
    /// A `lambda`: a deploy-time default; its source.
    Lambda(&'a str),
    /// A name that is neither a module constant nor a module function.
    UnknownName(&'a str),
    /// An expression only Python could evaluate; its source.
    Expression(&'a str),
}

impl DefaultSource<'_> {
    /// Whether the default is computed at deploy time (a function or a lambda).
    pub fn is_deploy_time(&self) -> bool {
        matches!(self, DefaultSource::Function(_) | DefaultSource::Lambda(_))
    }
}

impl ParameterDef {
    /// Classifies this parameter's `default=` against `module`: a module constant's name
    /// is a literal default; a module function's name or a lambda is deploy-time.
    pub fn default_source<'a>(&'a self, module: &'a ModuleInfo) -> DefaultSource<'a> {
        match self.kwarg("default") {
            None => DefaultSource::Absent,
            Some(Value::Literal { value }) => DefaultSource::Literal(value),
            Some(Value::Name { name }) => {
                if let Some(constant) = module.constants.get(name) {
                    DefaultSource::Constant(constant)
                } else if let Some(function) = module.functions.iter().find(|f| &f.name == name) {
                    DefaultSource::Function(function)
                } else {
                    DefaultSource::UnknownName(name)
                }
            }
            Some(Value::Lambda { source }) => DefaultSource::Lambda(source),
            Some(Value::Expression { source }) => DefaultSource::Expression(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::parse_module;

    #[test]
    fn defaults_are_classified_against_the_module() {
        let source = r#"
from metaflow import FlowSpec, Parameter, step
import os
SIZE = 3
def when():
    return "now"
class F(FlowSpec):
    a = Parameter("a")
    b = Parameter("b", default=1)
    c = Parameter("c", default=SIZE)
    d = Parameter("d", default=when)
    e = Parameter("e", default=lambda ctx: "x")
    f = Parameter("f", default=missing)
    g = Parameter("g", default=os.environ["X"])
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"#;
        let mut module = parse_module("flow.py", source).expect("parses");
        // The parser folds a constant's name into its value (`b`); a name it keeps is
        // looked up in the module's constants here.
        let c = module.flows[0]
            .parameters
            .iter_mut()
            .find(|p| p.name == "c")
            .expect("parameter c");
        assert_eq!(
            c.kwarg("default"),
            Some(&Value::Literal {
                value: serde_json::json!(3)
            })
        );
        c.kwargs = vec![(
            "default".to_string(),
            Value::Name {
                name: "SIZE".to_string(),
            },
        )];
        let module = module;
        let flow = &module.flows[0];
        let source_of = |name: &str| {
            flow.parameters
                .iter()
                .find(|p| p.name == name)
                .expect("the parameter")
                .default_source(&module)
        };
        assert_eq!(source_of("a"), DefaultSource::Absent);
        assert_eq!(
            source_of("b"),
            DefaultSource::Literal(&serde_json::json!(1))
        );
        assert_eq!(
            source_of("c"),
            DefaultSource::Constant(&serde_json::json!(3))
        );
        assert!(matches!(source_of("d"), DefaultSource::Function(f) if f.name == "when"));
        assert!(matches!(source_of("e"), DefaultSource::Lambda(s) if s.contains("lambda ctx")));
        assert_eq!(source_of("f"), DefaultSource::UnknownName("missing"));
        assert!(matches!(source_of("g"), DefaultSource::Expression(s) if s.contains("os.environ")));
        let deploy_time: Vec<&str> = ["a", "b", "c", "d", "e", "f", "g"]
            .into_iter()
            .filter(|name| source_of(name).is_deploy_time())
            .collect();
        assert_eq!(deploy_time, ["d", "e"]);
    }
}
