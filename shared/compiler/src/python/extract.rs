//! Reads a parsed module into [`ModuleInfo`]: flow classes, steps, transitions,
//! decorators and parameters. Transition typing follows Metaflow's `DAGNode._parse`.

use ruff_python_ast::{Expr, ExprCall, Stmt, StmtClassDef, StmtFunctionDef};
use ruff_text_size::Ranged;

use super::fold::{Constants, fold};
use super::lines::LineIndex;
use super::model::{
    Decorator, FlowClass, ModuleFunction, ModuleInfo, ParameterDef, ParameterKind,
    ParameterProblem, PlainMethod, StepDef, TailNext, TransitionKind, is_parameter_attribute,
};
use super::value::{Value, literal, source_text};

/// Walks one module's statements.
pub(super) struct Extractor<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub lines: LineIndex,
    /// The module's constants ([`module_constants`]), for folding arguments.
    pub constants: Constants,
}

/// Module-level `NAME = <constant expression>` (and `NAME: T = ...`) assignments, in
/// order, each folded over the ones before it (`HOUR = 3600`, `DAY = 24 * HOUR`). A name
/// assigned twice keeps its last constant value; one reassigned to something that is not
/// a constant is dropped.
pub(super) fn module_constants(body: &[Stmt]) -> Constants {
    let mut constants = Constants::new();
    for stmt in body {
        let (target, value) = match stmt {
            Stmt::Assign(assign) => match assign.targets.as_slice() {
                [Expr::Name(target)] => (target, &*assign.value),
                _ => continue,
            },
            Stmt::AnnAssign(assign) => match (&*assign.target, &assign.value) {
                (Expr::Name(target), Some(value)) => (target, &**value),
                _ => continue,
            },
            _ => continue,
        };
        match fold(value, &constants) {
            Some(value) => constants.insert(target.id.to_string(), value),
            None => constants.remove(target.id.as_str()),
        };
    }
    constants
}

impl Extractor<'_> {
    fn line(&self, node: &impl Ranged) -> u32 {
        self.lines.line_of(node.range().start())
    }

    pub fn module(&self, body: &[Stmt]) -> ModuleInfo {
        let mut info = ModuleInfo {
            file: self.file.to_string(),
            flows: Vec::new(),
            main_instantiations: Vec::new(),
            constants: self.constants.clone(),
            functions: Vec::new(),
            imports: Vec::new(),
        };
        for stmt in body {
            match stmt {
                Stmt::ClassDef(class) => {
                    if let Some(flow) = self.flow_class(class, &info.flows, &info.constants) {
                        info.flows.push(flow);
                    }
                }
                Stmt::FunctionDef(function) => info.functions.push(ModuleFunction {
                    name: function.name.to_string(),
                    line: self.line(function),
                    source: self.text(function),
                }),
                Stmt::Import(import) => {
                    for alias in &import.names {
                        info.imports.push(alias.name.to_string());
                    }
                }
                Stmt::ImportFrom(import) => {
                    if let Some(module) = &import.module {
                        info.imports.push(module.to_string());
                    }
                }
                Stmt::If(if_stmt) if is_main_guard(&if_stmt.test) => {
                    collect_instantiations(&if_stmt.body, &mut info.main_instantiations);
                }
                _ => {}
            }
        }
        info
    }

    fn text(&self, node: &impl Ranged) -> String {
        self.source
            .get(node.range().start().to_usize()..node.range().end().to_usize())
            .unwrap_or_default()
            .to_string()
    }

    /// A class is a flow if a base is `FlowSpec` (any module path) or an earlier flow class.
    /// `constants` are the module constants defined above the class (a parameter's name
    /// may be one).
    fn flow_class(
        &self,
        class: &StmtClassDef,
        earlier: &[FlowClass],
        constants: &Constants,
    ) -> Option<FlowClass> {
        let bases: Vec<&Expr> = class
            .arguments
            .as_ref()
            .map(|a| a.args.iter().collect())
            .unwrap_or_default();
        let mut inherited: Vec<&FlowClass> = Vec::new();
        let mut is_flow = false;
        for base in &bases {
            match dotted_last(base).as_deref() {
                Some("FlowSpec") => is_flow = true,
                Some(name) => {
                    if let Some(parent) = earlier.iter().find(|f| f.name == name) {
                        is_flow = true;
                        inherited.push(parent);
                    }
                }
                None => {}
            }
        }
        if !is_flow {
            return None;
        }
        let mut flow = FlowClass {
            name: class.name.to_string(),
            file: self.file.to_string(),
            line: self.line(&class.name),
            bases: bases.iter().filter_map(|b| dotted_last(b)).collect(),
            doc: docstring(&class.body),
            decorators: class
                .decorator_list
                .iter()
                .map(|d| self.decorator(&d.expression))
                .collect(),
            steps: Vec::new(),
            parameters: Vec::new(),
            ignored_parameters: Vec::new(),
            plain_methods: Vec::new(),
        };
        // Python's MRO for same-file bases: later bases first so earlier ones override.
        for parent in inherited.iter().rev() {
            for step in &parent.steps {
                upsert(&mut flow.steps, step.clone(), |s| &s.name);
            }
            for parameter in &parent.parameters {
                upsert(&mut flow.parameters, parameter.clone(), |p| &p.attribute);
            }
            for parameter in &parent.ignored_parameters {
                upsert(&mut flow.ignored_parameters, parameter.clone(), |p| {
                    &p.attribute
                });
            }
        }
        for stmt in &class.body {
            let (target, value, line) = match stmt {
                Stmt::FunctionDef(function) => {
                    if let Some(step) = self.step(function) {
                        upsert(&mut flow.steps, step, |s| &s.name);
                    } else if !function.decorator_list.is_empty() {
                        flow.plain_methods.push(PlainMethod {
                            name: function.name.to_string(),
                            line: self.line(&function.name),
                            decorators: function
                                .decorator_list
                                .iter()
                                .map(|d| self.decorator(&d.expression))
                                .collect(),
                        });
                    }
                    continue;
                }
                Stmt::Assign(assign) => match assign.targets.as_slice() {
                    [Expr::Name(target)] => (target, &*assign.value, self.line(assign)),
                    _ => continue,
                },
                Stmt::AnnAssign(assign) => match (&*assign.target, &assign.value) {
                    (Expr::Name(target), Some(value)) => (target, &**value, self.line(assign)),
                    _ => continue,
                },
                _ => continue,
            };
            let Some(parameter) = self.parameter(target.id.as_str(), value, line, constants) else {
                continue;
            };
            // Metaflow's `_get_parameters` never sees these attributes.
            let list = if is_parameter_attribute(&parameter.attribute) {
                &mut flow.parameters
            } else {
                &mut flow.ignored_parameters
            };
            upsert(list, parameter, |p| &p.attribute);
        }
        Some(flow)
    }

    fn decorator(&self, expr: &Expr) -> Decorator {
        let (callee, call) = match expr {
            Expr::Call(call) => (&*call.func, Some(call)),
            other => (other, None),
        };
        let name = dotted_last(callee).unwrap_or_else(|| source_text(callee, self.source));
        let (args, kwargs) = call.map(|c| self.arguments(c)).unwrap_or_default();
        Decorator {
            name,
            line: self.line(expr),
            args,
            kwargs,
        }
    }

    fn arguments(&self, call: &ExprCall) -> (Vec<Value>, Vec<(String, Value)>) {
        let args = call
            .arguments
            .args
            .iter()
            .map(|a| Value::from_expr(a, self.source, &self.constants))
            .collect();
        let kwargs = call
            .arguments
            .keywords
            .iter()
            .map(|k| {
                let name = k
                    .arg
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "**".into());
                (
                    name,
                    Value::from_expr(&k.value, self.source, &self.constants),
                )
            })
            .collect();
        (args, kwargs)
    }

    fn step(&self, function: &StmtFunctionDef) -> Option<StepDef> {
        let mut is_step = false;
        let mut is_start_step = false;
        let mut is_end_step = false;
        let mut step_line = 0;
        let mut decorators = Vec::new();
        for decorator in &function.decorator_list {
            let parsed = self.decorator(&decorator.expression);
            if parsed.name == "step" {
                is_step = true;
                step_line = parsed.line;
                is_start_step = parsed
                    .kwarg("start")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                is_end_step = parsed
                    .kwarg("end")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            } else {
                decorators.push(parsed);
            }
        }
        if !is_step {
            return None;
        }
        let num_args = function.parameters.args.len();
        Some(StepDef {
            name: function.name.to_string(),
            line: self.line(&function.name),
            num_args,
            is_start_step,
            is_end_step,
            decorators,
            step_line,
            doc: docstring(&function.body),
            tail: self.tail_next(&function.body, num_args),
        })
    }

    /// Mirrors `DAGNode._parse`: only a last-statement `self.next(...)` counts.
    fn tail_next(&self, body: &[Stmt], num_args: usize) -> TailNext {
        let mut tail = TailNext::default();
        let Some(Stmt::Expr(statement)) = body.last() else {
            return tail;
        };
        let Expr::Call(call) = &*statement.value else {
            return tail;
        };
        let Expr::Attribute(callee) = &*call.func else {
            return tail;
        };
        let Expr::Name(receiver) = &*callee.value else {
            return tail;
        };
        if receiver.id.as_str() != "self" || callee.attr.as_str() != "next" {
            return tail;
        }
        tail.has_tail_next = true;
        tail.invalid_tail_next = true;
        tail.line = self.line(statement);

        let args = &call.arguments.args;
        let keywords = &call.arguments.keywords;
        let has_condition = keywords
            .iter()
            .any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "condition"));
        if let ([Expr::Dict(cases)], true) = (&**args, has_condition) {
            let condition = keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "condition"))
                .and_then(|k| literal(&k.value))
                .and_then(|v| v.as_str().map(str::to_string));
            if let (Some(switch_cases), Some(condition)) = (switch_cases(cases), condition) {
                tail.kind = Some(TransitionKind::SplitSwitch);
                tail.out_funcs = switch_cases.iter().map(|(_, step)| step.clone()).collect();
                tail.switch_cases = switch_cases.into_iter().collect();
                tail.condition = Some(condition);
                tail.invalid_tail_next = false;
            }
            // A malformed switch keeps no targets and stays invalid, as in Metaflow.
            return tail;
        }
        let mut out_funcs = Vec::new();
        for arg in args.iter() {
            match arg {
                Expr::Attribute(attribute) => out_funcs.push(attribute.attr.to_string()),
                // Metaflow's `e.attr` raises AttributeError here: an invalid transition.
                _ => return tail,
            }
        }
        tail.out_funcs = out_funcs;
        match keywords.len() {
            1 => {
                let keyword = &keywords[0];
                let name = keyword.arg.as_ref().map(|a| a.as_str());
                if name == Some("foreach") {
                    tail.kind = Some(TransitionKind::Foreach);
                    if tail.out_funcs.len() == 1 {
                        tail.foreach_param =
                            literal(&keyword.value).and_then(|v| v.as_str().map(str::to_string));
                        tail.invalid_tail_next = false;
                    }
                } else if name == Some("num_parallel") {
                    tail.kind = Some(TransitionKind::Foreach);
                    if tail.out_funcs.len() == 1 {
                        tail.num_parallel = Some(Value::from_expr(
                            &keyword.value,
                            self.source,
                            &self.constants,
                        ));
                        tail.invalid_tail_next = false;
                    }
                }
            }
            0 => {
                if tail.out_funcs.len() > 1 {
                    tail.kind = Some(TransitionKind::Split);
                    tail.invalid_tail_next = false;
                } else if tail.out_funcs.len() == 1 {
                    tail.kind = Some(if num_args > 1 {
                        TransitionKind::Join
                    } else {
                        TransitionKind::Linear
                    });
                    tail.invalid_tail_next = false;
                }
            }
            _ => {}
        }
        tail
    }

    fn parameter(
        &self,
        attribute: &str,
        value: &Expr,
        line: u32,
        constants: &Constants,
    ) -> Option<ParameterDef> {
        let Expr::Call(call) = value else {
            return None;
        };
        let kind = match dotted_last(&call.func).as_deref() {
            Some("Parameter") => ParameterKind::Parameter,
            Some("IncludeFile") => ParameterKind::IncludeFile,
            Some("Config") => ParameterKind::Config,
            _ => return None,
        };
        let (args, keywords) = self.arguments(call);
        let call = SignatureCall {
            class: kind.class_name(),
            signature: signature(kind),
            args,
            keywords,
            has_star_args: call
                .arguments
                .args
                .iter()
                .any(|a| matches!(a, Expr::Starred(_))),
        };
        let (name, problem) = call.name(attribute, constants);
        Some(ParameterDef {
            attribute: attribute.to_string(),
            name,
            kind,
            line,
            kwargs: call.kwargs(),
            problem,
        })
    }
}

/// The arguments after `name` of `Parameter`, `IncludeFile` and `Config`, in order.
fn signature(kind: ParameterKind) -> &'static [&'static str] {
    match kind {
        ParameterKind::Parameter => &["default", "type", "help", "required", "show_default"],
        ParameterKind::IncludeFile => &["required", "is_text", "encoding", "help", "parser"],
        ParameterKind::Config => &[
            "default",
            "default_value",
            "help",
            "required",
            "parser",
            "plain",
        ],
    }
}

/// A `Parameter(...)`-style call matched against its class's `__init__` signature the
/// way Python binds it (`name` first, then [`signature`], then `**kwargs`).
struct SignatureCall {
    class: &'static str,
    signature: &'static [&'static str],
    args: Vec<Value>,
    keywords: Vec<(String, Value)>,
    /// A `*args` among the positional arguments: the count is unknown.
    has_star_args: bool,
}

impl SignatureCall {
    /// The parameter name, and why the call makes no parameter, if it does not.
    fn name(&self, attribute: &str, constants: &Constants) -> (String, Option<ParameterProblem>) {
        if let Some(message) = self.type_error() {
            return (
                attribute.to_string(),
                Some(ParameterProblem::TypeError { message }),
            );
        }
        let written = self.args.first().or_else(|| {
            self.keywords
                .iter()
                .find(|(k, _)| k == "name" || k == "**")
                .map(|(_, v)| v)
        });
        let resolved = match written {
            Some(Value::Literal {
                value: serde_json::Value::String(name),
            }) => Some(name.clone()),
            Some(Value::Name { name }) => constants
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            _ => None,
        };
        match (resolved, written) {
            (Some(name), _) => (name, None),
            (None, Some(value)) => {
                let mut source = value.describe();
                if self.keywords.iter().any(|(k, v)| k == "**" && v == value) {
                    source = format!("**{source}");
                }
                (
                    attribute.to_string(),
                    Some(ParameterProblem::NameNotLiteral { source }),
                )
            }
            // Unreachable: no name at all is a TypeError above.
            (None, None) => (attribute.to_string(), None),
        }
    }

    /// Python's `TypeError` for this call, checked in CPython's order: an argument given
    /// twice, too many positional arguments, no name. Unknowable with `*args`/`**kwargs`.
    fn type_error(&self) -> Option<String> {
        if self.has_star_args || self.keywords.iter().any(|(k, _)| k == "**") {
            return None;
        }
        let class = self.class;
        let positional: Vec<&str> = std::iter::once("name")
            .chain(self.signature.iter().copied())
            .collect();
        for (keyword, _) in &self.keywords {
            if let Some(index) = positional.iter().position(|p| p == keyword)
                && index < self.args.len()
            {
                return Some(format!(
                    "{class}.__init__() got multiple values for argument '{keyword}'"
                ));
            }
        }
        if self.args.len() > positional.len() {
            return Some(format!(
                "{class}.__init__() takes from 2 to {} positional arguments but {} were given",
                positional.len() + 1,
                self.args.len() + 1
            ));
        }
        if self.args.is_empty() && !self.keywords.iter().any(|(k, _)| k == "name") {
            return Some(format!(
                "{class}.__init__() missing 1 required positional argument: 'name'"
            ));
        }
        None
    }

    /// Every argument but the name, by name: positional ones first, as the signature
    /// names them, then the keywords as written.
    fn kwargs(&self) -> Vec<(String, Value)> {
        let positional = self
            .args
            .iter()
            .skip(1)
            .zip(self.signature)
            .map(|(value, name)| (name.to_string(), value.clone()));
        let keywords = self.keywords.iter().filter(|(k, _)| k != "name").cloned();
        positional.chain(keywords).collect()
    }
}

/// `{'a': self.x, 'b': self.y}` → cases, or `None` where Metaflow rejects the dict.
fn switch_cases(dict: &ruff_python_ast::ExprDict) -> Option<Vec<(String, String)>> {
    let mut cases = Vec::new();
    for item in &dict.items {
        let key = match item.key.as_ref()? {
            Expr::Attribute(attr) => match &*attr.value {
                Expr::Attribute(inner) => match &*inner.value {
                    Expr::Name(name) if name.id.as_str() == "self" => {
                        format!("config:{}.{}", inner.attr, attr.attr)
                    }
                    _ => return None,
                },
                _ => return None,
            },
            key => match literal(key)? {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
                _ => return None,
            },
        };
        let step = match &item.value {
            Expr::Attribute(attr) => match &*attr.value {
                Expr::Name(name) if name.id.as_str() == "self" => attr.attr.to_string(),
                _ => return None,
            },
            _ => return None,
        };
        cases.push((key, step));
    }
    (!cases.is_empty()).then_some(cases)
}

/// The last component of `a.b.c` or `c`.
fn dotted_last(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(name) => Some(name.id.to_string()),
        Expr::Attribute(attr) => Some(attr.attr.to_string()),
        _ => None,
    }
}

fn is_main_guard(test: &Expr) -> bool {
    let Expr::Compare(compare) = test else {
        return false;
    };
    let sides = [
        &*compare.left,
        compare.comparators.first().unwrap_or(&*compare.left),
    ];
    let has_name = sides
        .iter()
        .any(|e| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__"));
    let has_main = sides
        .iter()
        .any(|e| literal(e).is_some_and(|v| v.as_str() == Some("__main__")));
    has_name && has_main
}

fn collect_instantiations(body: &[Stmt], out: &mut Vec<String>) {
    for stmt in body {
        let value = match stmt {
            Stmt::Expr(e) => &*e.value,
            Stmt::Assign(a) => &*a.value,
            _ => continue,
        };
        if let Expr::Call(call) = value
            && let Some(name) = dotted_last(&call.func)
        {
            out.push(name);
        }
    }
}

fn docstring(body: &[Stmt]) -> String {
    let Some(Stmt::Expr(first)) = body.first() else {
        return String::new();
    };
    let Expr::StringLiteral(text) = &*first.value else {
        return String::new();
    };
    deindent(text.value.to_str())
}

/// Removes the common indentation of all lines but the first, and surrounding blanks.
fn deindent(doc: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push(line.trim().to_string());
        } else {
            out.push(line.get(indent..).unwrap_or(line.trim_start()).to_string());
        }
    }
    out.join("\n").trim().to_string()
}

fn upsert<T>(items: &mut Vec<T>, item: T, key: impl Fn(&T) -> &String) {
    if let Some(existing) = items.iter_mut().find(|i| key(i) == key(&item)) {
        *existing = item;
    } else {
        items.push(item);
    }
}
