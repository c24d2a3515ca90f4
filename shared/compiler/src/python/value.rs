//! Python expressions as dropflow sees them: literals become data, anything else is kept
//! as source text so a message can quote it.

use ruff_python_ast::{Expr, Number, UnaryOp};
use serde::{Deserialize, Serialize};

use super::fold::{Constants, fold};

/// A decorator or `Parameter(...)` argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    /// A literal (`3`, `'x'`, `{'a': [1, 2]}`, `None`), as JSON.
    Literal { value: serde_json::Value },
    /// A bare name (`JSONType`, `int`, `deployment_info`, `SOME_CONSTANT`).
    Name { name: String },
    /// A `lambda`, kept as source text.
    Lambda { source: String },
    /// Anything else, kept as source text.
    Expression { source: String },
}

impl Value {
    /// The literal value, if this is one.
    pub fn as_literal(&self) -> Option<&serde_json::Value> {
        match self {
            Value::Literal { value } => Some(value),
            _ => None,
        }
    }

    /// The literal string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        self.as_literal().and_then(serde_json::Value::as_str)
    }

    /// The literal bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        self.as_literal().and_then(serde_json::Value::as_bool)
    }

    /// How the value reads in Python source, for messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Literal { value } => value.to_string(),
            Value::Name { name } => name.clone(),
            Value::Lambda { source } | Value::Expression { source } => source.clone(),
        }
    }

    /// Converts an expression; `source` is the whole file, used to quote non-literals.
    /// Constant expressions over the module's `constants` (`8 * GB`, `json.dumps(...)`)
    /// become literals, as Python would compute them when the class is defined.
    pub fn from_expr(expr: &Expr, source: &str, constants: &Constants) -> Value {
        if let Some(value) = fold(expr, constants) {
            return Value::Literal { value };
        }
        let text = source_text(expr, source);
        match expr {
            Expr::Name(name) => Value::Name {
                name: name.id.to_string(),
            },
            Expr::Attribute(_) => Value::Name { name: text },
            Expr::Lambda(_) => Value::Lambda { source: text },
            _ => Value::Expression { source: text },
        }
    }
}

/// The source text of an expression.
pub fn source_text(expr: &Expr, source: &str) -> String {
    use ruff_text_size::Ranged;
    source
        .get(expr.range().start().to_usize()..expr.range().end().to_usize())
        .unwrap_or_default()
        .to_string()
}

/// The JSON value of a Python literal expression, or `None` if it is not a literal.
/// Tuples and sets become arrays; dict keys are written as `json.dumps` writes them.
pub fn literal(expr: &Expr) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match expr {
        Expr::NoneLiteral(_) => J::Null,
        Expr::BooleanLiteral(b) => J::Bool(b.value),
        Expr::StringLiteral(s) => J::String(s.value.to_str().to_string()),
        Expr::NumberLiteral(n) => number(&n.value)?,
        Expr::UnaryOp(op) if matches!(op.op, UnaryOp::USub | UnaryOp::UAdd) => {
            let inner = literal(&op.operand)?;
            if matches!(op.op, UnaryOp::UAdd) {
                return inner.is_number().then_some(inner);
            }
            if let Some(i) = inner.as_i64() {
                J::from(-i)
            } else {
                J::from(-inner.as_f64()?)
            }
        }
        Expr::List(l) => J::Array(l.elts.iter().map(literal).collect::<Option<_>>()?),
        Expr::Tuple(t) => J::Array(t.elts.iter().map(literal).collect::<Option<_>>()?),
        Expr::Set(s) => J::Array(s.elts.iter().map(literal).collect::<Option<_>>()?),
        Expr::Dict(d) => {
            let mut map = serde_json::Map::new();
            for item in &d.items {
                let key = json_key(literal(item.key.as_ref()?)?)?;
                map.insert(key, literal(&item.value)?);
            }
            J::Object(map)
        }
        _ => return None,
    })
}

/// A dict key as `json.dumps` writes it: strings as they are, numbers as Python writes
/// them (`1e16` is `"1e+16"`), booleans and `None` as `"true"`, `"false"`, `"null"`;
/// `None` for a key JSON cannot hold (a list, a dict).
pub(crate) fn json_key(key: serde_json::Value) -> Option<String> {
    use serde_json::Value as J;
    match key {
        J::String(s) => Some(s),
        J::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => dropflow_contract::pyjson::json_float(f),
            _ => n.to_string(),
        }),
        J::Bool(b) => Some(if b { "true" } else { "false" }.to_string()),
        J::Null => Some("null".to_string()),
        J::Array(_) | J::Object(_) => None,
    }
}

fn number(number: &Number) -> Option<serde_json::Value> {
    match number {
        Number::Int(int) => int.as_i64().map(serde_json::Value::from),
        Number::Float(float) => serde_json::Number::from_f64(*float).map(serde_json::Value::Number),
        Number::Complex { .. } => None,
    }
}
