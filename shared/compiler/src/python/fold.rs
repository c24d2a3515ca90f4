//! Constant folding: the value of an expression Python would compute from literals and
//! module-level constants alone (`8 * GB`, `24 * HOUR`, `2**10`, `"prefix-" + NAME`,
//! `json.dumps({...})`, `dict(a=1)`, f-strings over constants), without running Python.
//! Anything else (a call to user code, `os.environ`, an attribute of an object) is not a
//! constant and stays source text for the caller to report.

use std::collections::BTreeMap;

use dropflow_contract::pyjson;
use ruff_python_ast::{
    Expr, ExprBinOp, ExprCall, ExprFString, FStringPart, InterpolatedStringElement, Operator,
    UnaryOp,
};
use serde_json::{Number, Value as Json};

use super::value::literal;

/// Module-level `NAME = <constant>` values, by name.
pub type Constants = BTreeMap<String, Json>;

/// The value of `expr`, if it is a constant expression over `constants`.
pub fn fold(expr: &Expr, constants: &Constants) -> Option<Json> {
    if let Some(value) = literal(expr) {
        return Some(value);
    }
    match expr {
        Expr::Name(name) => constants.get(name.id.as_str()).cloned(),
        Expr::List(list) => fold_all(&list.elts, constants),
        Expr::Tuple(tuple) => fold_all(&tuple.elts, constants),
        Expr::Set(set) => fold_all(&set.elts, constants),
        Expr::Dict(dict) => {
            let mut map = serde_json::Map::new();
            for item in &dict.items {
                let key = super::value::json_key(fold(item.key.as_ref()?, constants)?)?;
                map.insert(key, fold(&item.value, constants)?);
            }
            Some(Json::Object(map))
        }
        Expr::UnaryOp(op) => {
            let operand = fold(&op.operand, constants)?;
            match op.op {
                UnaryOp::Not => Some(Json::Bool(!truthy(&operand))),
                UnaryOp::UAdd => operand.is_number().then_some(operand),
                UnaryOp::USub => match number(&operand)? {
                    Num::Int(i) => Some(Json::from(i.checked_neg()?)),
                    Num::Float(f) => float(-f),
                },
                UnaryOp::Invert => Some(Json::from(!operand.as_i64()?)),
            }
        }
        Expr::BinOp(binop) => binary(binop, constants),
        Expr::If(conditional) => {
            if truthy(&fold(&conditional.test, constants)?) {
                fold(&conditional.body, constants)
            } else {
                fold(&conditional.orelse, constants)
            }
        }
        Expr::Call(call) => builtin_call(call, constants),
        Expr::FString(fstring) => fstring_value(fstring, constants),
        _ => None,
    }
}

fn fold_all(elements: &[Expr], constants: &Constants) -> Option<Json> {
    elements
        .iter()
        .map(|e| fold(e, constants))
        .collect::<Option<Vec<_>>>()
        .map(Json::Array)
}

fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64() != Some(0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

/// A JSON number as Python sees it; booleans are the ints 0 and 1 there.
fn number(value: &Json) -> Option<Num> {
    match value {
        Json::Bool(b) => Some(Num::Int(i64::from(*b))),
        Json::Number(n) => n
            .as_i64()
            .map(Num::Int)
            .or_else(|| n.as_f64().map(Num::Float)),
        _ => None,
    }
}

fn float(value: f64) -> Option<Json> {
    Number::from_f64(value).map(Json::Number)
}

fn as_float(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    }
}

fn binary(binop: &ExprBinOp, constants: &Constants) -> Option<Json> {
    let left = fold(&binop.left, constants)?;
    let right = fold(&binop.right, constants)?;
    // Sequences first: `+` concatenates, `*` repeats.
    match (binop.op, &left, &right) {
        (Operator::Add, Json::String(a), Json::String(b)) => {
            return Some(Json::String(format!("{a}{b}")));
        }
        (Operator::Add, Json::Array(a), Json::Array(b)) => {
            return Some(Json::Array(a.iter().chain(b).cloned().collect()));
        }
        (Operator::Mult, Json::String(s), count) | (Operator::Mult, count, Json::String(s))
            if count.is_i64() =>
        {
            let count = usize::try_from(count.as_i64()?).unwrap_or(0);
            return (s.len().saturating_mul(count) <= 1 << 20)
                .then(|| Json::String(s.repeat(count)));
        }
        (Operator::Mult, Json::Array(items), count)
        | (Operator::Mult, count, Json::Array(items))
            if count.is_i64() =>
        {
            let count = usize::try_from(count.as_i64()?).unwrap_or(0);
            if items.len().saturating_mul(count) > 1 << 16 {
                return None;
            }
            return Some(Json::Array(
                std::iter::repeat_n(items, count)
                    .flatten()
                    .cloned()
                    .collect(),
            ));
        }
        _ => {}
    }
    let (a, b) = (number(&left)?, number(&right)?);
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => int_op(binop.op, a, b),
        _ => float_op(binop.op, as_float(a), as_float(b)),
    }
}

/// Python's int arithmetic (floor division and modulo round towards minus infinity);
/// `None` on overflow, division by zero or an operator that is not arithmetic.
fn int_op(op: Operator, a: i64, b: i64) -> Option<Json> {
    let value = match op {
        Operator::Add => a.checked_add(b)?,
        Operator::Sub => a.checked_sub(b)?,
        Operator::Mult => a.checked_mul(b)?,
        Operator::Div => return (b != 0).then(|| float(a as f64 / b as f64))?,
        Operator::FloorDiv => {
            let quotient = a.checked_div(b)?;
            if (a % b != 0) && ((a < 0) != (b < 0)) {
                quotient - 1
            } else {
                quotient
            }
        }
        Operator::Mod => {
            let remainder = a.checked_rem(b)?;
            if remainder != 0 && ((remainder < 0) != (b < 0)) {
                remainder + b
            } else {
                remainder
            }
        }
        Operator::Pow if b >= 0 => a.checked_pow(u32::try_from(b).ok()?)?,
        Operator::Pow => return float((a as f64).powf(b as f64)),
        Operator::LShift => a.checked_shl(u32::try_from(b).ok()?)?,
        Operator::RShift => a.checked_shr(u32::try_from(b).ok()?)?,
        Operator::BitOr => a | b,
        Operator::BitAnd => a & b,
        Operator::BitXor => a ^ b,
        Operator::MatMult => return None,
    };
    Some(Json::from(value))
}

fn float_op(op: Operator, a: f64, b: f64) -> Option<Json> {
    let value = match op {
        Operator::Add => a + b,
        Operator::Sub => a - b,
        Operator::Mult => a * b,
        Operator::Div if b != 0.0 => a / b,
        Operator::FloorDiv if b != 0.0 => (a / b).floor(),
        Operator::Mod if b != 0.0 => a - b * (a / b).floor(),
        Operator::Pow => a.powf(b),
        _ => return None,
    };
    float(value)
}

/// `json.dumps(x)`, `dict(k=v)`, `str(x)`, `int(x)`, `float(x)`, `bool(x)` over constants.
fn builtin_call(call: &ExprCall, constants: &Constants) -> Option<Json> {
    let callee = match &*call.func {
        Expr::Name(name) => name.id.to_string(),
        Expr::Attribute(attribute) => match &*attribute.value {
            Expr::Name(module) => format!("{}.{}", module.id, attribute.attr),
            _ => return None,
        },
        _ => return None,
    };
    let args = &call.arguments.args;
    let keywords = &call.arguments.keywords;
    if callee == "dict" && args.is_empty() {
        let mut map = serde_json::Map::new();
        for keyword in keywords {
            map.insert(
                keyword.arg.as_ref()?.to_string(),
                fold(&keyword.value, constants)?,
            );
        }
        return Some(Json::Object(map));
    }
    let [arg] = &**args else {
        return None;
    };
    if !keywords.is_empty() {
        return None;
    }
    let value = fold(arg, constants)?;
    match callee.as_str() {
        "json.dumps" => Some(Json::String(pyjson::dumps(&value))),
        "str" => Some(Json::String(python_str(&value)?)),
        "bool" => Some(Json::Bool(truthy(&value))),
        "int" => match &value {
            Json::String(s) => s.trim().parse::<i64>().ok().map(Json::from),
            other => match number(other)? {
                Num::Int(i) => Some(Json::from(i)),
                Num::Float(f) if f.is_finite() && f.abs() < 9.0e18 => {
                    Some(Json::from(f.trunc() as i64))
                }
                Num::Float(_) => None,
            },
        },
        "float" => match &value {
            Json::String(s) => s.trim().parse::<f64>().ok().and_then(float),
            other => float(as_float(number(other)?)),
        },
        _ => None,
    }
}

/// An f-string whose interpolations are constants (no conversions, no format specs).
fn fstring_value(fstring: &ExprFString, constants: &Constants) -> Option<Json> {
    let mut text = String::new();
    for part in fstring.value.iter() {
        match part {
            FStringPart::Literal(literal) => text.push_str(literal),
            FStringPart::FString(f) => {
                for element in f.elements.iter() {
                    match element {
                        InterpolatedStringElement::Literal(literal) => text.push_str(literal),
                        InterpolatedStringElement::Interpolation(interpolation) => {
                            if interpolation.format_spec.is_some()
                                || interpolation.debug_text.is_some()
                                || !matches!(
                                    interpolation.conversion,
                                    ruff_python_ast::ConversionFlag::None
                                )
                            {
                                return None;
                            }
                            text.push_str(&python_str(&fold(
                                &interpolation.expression,
                                constants,
                            )?)?);
                        }
                    }
                }
            }
        }
    }
    Some(Json::String(text))
}

/// Python's `str()` of a scalar constant (containers are left to Python).
fn python_str(value: &Json) -> Option<String> {
    match value {
        Json::Null => Some("None".into()),
        Json::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => pyjson::repr_float(n.as_f64()?),
        }),
        Json::Array(_) | Json::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn folded(source: &str, constants: &Constants) -> Option<Json> {
        let parsed = ruff_python_parser::parse_expression(source).expect("an expression");
        fold(parsed.expr(), constants)
    }

    fn constants() -> Constants {
        Constants::from([
            ("GB".to_string(), json!(1024)),
            ("NAME".to_string(), json!("etl")),
            ("TAGS".to_string(), json!(["a"])),
        ])
    }

    /// `json.dumps({1e16: 1, 2.5: 2, None: 3, 1e-07: 4, -3: 5, True: 6})` in CPython 3.11,
    /// for a literal dict and for one folded from a constant.
    #[test]
    fn dict_keys_are_written_as_json_dumps_writes_them() {
        let want = json!({"1e+16": 1, "2.5": 2, "null": 3, "1e-07": 4, "-3": 5, "true": 6});
        let source = "{1e16: 1, 2.5: 2, None: 3, 1e-07: 4, -3: 5, True: 6}";
        assert_eq!(folded(source, &constants()), Some(want.clone()));
        let source = "{1e16: 1, 2.5: 2, None: 3, 1e-07: 4, -3: 5, True: GB // 1024 * 6}";
        assert_eq!(folded(source, &constants()), Some(want));
    }

    /// Expected values are what CPython 3.11 prints for the same expressions.
    #[test]
    fn arithmetic_follows_python() {
        let c = constants();
        for (source, want) in [
            ("8 * GB", json!(8192)),
            ("7 // -2", json!(-4)),
            ("-7 % 3", json!(2)),
            ("2 ** 10", json!(1024)),
            ("2 ** -1", json!(0.5)),
            ("7.5 // 2", json!(3.0)),
            ("-7.5 % 2", json!(0.5)),
            ("1 / 4", json!(0.25)),
            ("True + 1", json!(2)),
            ("'x-' + NAME", json!("x-etl")),
            ("NAME * 2", json!("etletl")),
            ("TAGS + ['b']", json!(["a", "b"])),
            ("not NAME", json!(false)),
            ("GB if NAME else 0", json!(1024)),
            ("dict(a=1, b=NAME)", json!({"a": 1, "b": "etl"})),
            ("int('42')", json!(42)),
            ("float(GB)", json!(1024.0)),
            ("str(GB)", json!("1024")),
            (
                "f'{NAME}-{GB}-{1e-05}-{True}-{None}-{3.0}'",
                json!("etl-1024-1e-05-True-None-3.0"),
            ),
        ] {
            assert_eq!(folded(source, &c), Some(want), "{source}");
        }
    }

    #[test]
    fn json_dumps_writes_what_python_writes() {
        let source = r#"json.dumps({'a': [1, 2.5, None, True], 'é': 'x\u00ff\U0001F600\n"', 'k': 1e-05, 'big': 1.5e20, 'f': 3.0})"#;
        assert_eq!(
            folded(source, &Constants::new()),
            Some(json!(
                r#"{"a": [1, 2.5, null, true], "\u00e9": "x\u00ff\ud83d\ude00\n\"", "k": 1e-05, "big": 1.5e+20, "f": 3.0}"#
            ))
        );
    }

    #[test]
    fn what_python_would_compute_at_run_time_is_not_a_constant() {
        let c = constants();
        for source in [
            "os.environ['HOME']",
            "os.environ.get('X', 'y')",
            "UNKNOWN * 2",
            "compute()",
            "1 // 0",
            "2 ** 200",
            "NAME.upper()",
            "f'{NAME!r}'",
            "f'{GB:>8}'",
            "'x' * 10_000_000",
        ] {
            assert_eq!(folded(source, &c), None, "{source}");
        }
    }
}
