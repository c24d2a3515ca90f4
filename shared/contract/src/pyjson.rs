//! JSON text exactly as Python's `json.dumps` writes it with its defaults (`", "` and
//! `": "` separators, `ensure_ascii`, `repr` floats, `NaN`/`Infinity`), and Python's
//! `repr(float)`. One implementation for every side that must agree byte for byte: the
//! execution input `{"Parameters": "{\"alpha\": 0.5}"}` that schedules, the trigger API and
//! Metaflow's `step-functions trigger` send, and the compiler's folding of
//! `json.dumps({...})` in a flow's source.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Metaflow's schedule input: no parameters, every default applies
/// (`metaflow_input` of no values).
pub const SCHEDULE_INPUT: &str = r#"{"Parameters": "{}"}"#;

/// `json.dumps(value)`. A [`Value`] holds no NaN or infinity; [`json_float`] says how they
/// would be written.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Metaflow's execution input: `json.dumps({"Parameters": json.dumps(values)})`.
pub fn metaflow_input(values: &Map<String, Value>) -> String {
    let mut outer = Map::new();
    outer.insert(
        "Parameters".into(),
        Value::String(dumps(&Value::Object(values.clone()))),
    );
    dumps(&Value::Object(outer))
}

/// Python's `repr(float)` (and `str(float)`): the shortest digits that round-trip (of
/// those, the nearest to the value), positional for exponents -4..16 (always with a
/// fractional part), else `1e+16` / `1.5e-05`; `nan`, `inf`, `-inf`.
pub fn repr_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let (digits, exponent) = shortest_digits(value.abs());
    if (-4..16).contains(&exponent) {
        let (integer, fraction) = if exponent >= 0 {
            let width = exponent as usize + 1;
            if digits.len() <= width {
                (format!("{digits:0<width$}"), "0".to_string())
            } else {
                (digits[..width].to_string(), digits[width..].to_string())
            }
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            ("0".to_string(), format!("{zeros}{digits}"))
        };
        format!("{sign}{integer}.{fraction}")
    } else {
        let mantissa = match digits.split_at(1) {
            (first, "") => first.to_string(),
            (first, rest) => format!("{first}.{rest}"),
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs())
    }
}

/// The significant digits and decimal exponent of a finite, non-negative `value` as
/// Python's `repr` picks them: the fewest that read back as `value` and, of those, the
/// nearest to it. Rust's shortest form has the fewest digits but may pick another
/// of equal length (`565140461587472.3` where Python writes `...2`), so the correctly
/// rounded form of that length is preferred whenever it reads back.
fn shortest_digits(value: f64) -> (String, i32) {
    let shortest = format!("{value:e}");
    let length = shortest
        .split_once('e')
        .map_or(1, |(mantissa, _)| mantissa.replace('.', "").len());
    let nearest = format!("{value:.*e}", length - 1);
    let chosen = if nearest.parse::<f64>() == Ok(value) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exponent) = chosen
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent = exponent.parse().expect("an integer exponent");
    (mantissa.replace('.', ""), exponent)
}

/// A float as `json.dumps` writes it: [`repr_float`], but `NaN`, `Infinity`, `-Infinity`.
pub fn json_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        repr_float(value)
    }
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(&json_float(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(key, out);
                out.push_str(": ");
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

/// A string with `ensure_ascii`: everything outside printable ASCII as `\uXXXX` (UTF-16
/// units, lowercase hex), Python's short escapes for the rest.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}").expect("writing to a String");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn metaflow_form_as_python_writes_it() {
        let mut values = Map::new();
        values.insert("alpha".into(), json!(0.5));
        assert_eq!(
            metaflow_input(&values),
            r#"{"Parameters": "{\"alpha\": 0.5}"}"#
        );
        assert_eq!(metaflow_input(&Map::new()), SCHEDULE_INPUT);
    }

    #[test]
    fn separators_order_and_nesting() {
        let value = json!({"b": [1, 2, {"x": null}], "a": true, "c": "s"});
        assert_eq!(
            dumps(&value),
            r#"{"b": [1, 2, {"x": null}], "a": true, "c": "s"}"#
        );
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(dumps(&json!({})), "{}");
    }

    #[test]
    fn strings_are_ascii_with_python_escapes() {
        // Python: json.dumps("é😀\x7f\x01\"\\/\n\t")
        assert_eq!(
            dumps(&json!("é😀\u{7f}\u{1}\"\\/\n\t")),
            r#""\u00e9\ud83d\ude00\u007f\u0001\"\\/\n\t""#
        );
    }

    #[test]
    fn floats_as_python_repr() {
        // Each right-hand side is Python 3's repr() of the left.
        let cases = [
            (0.5, "0.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-0.5, "-0.5"),
            (0.01, "0.01"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e20, "1.5e+20"),
            (1.2345e100, "1.2345e+100"),
            (-2.5e-300, "-2.5e-300"),
            (123456789.125, "123456789.125"),
        ];
        for (value, python) in cases {
            assert_eq!(repr_float(value), python, "{value:e}");
            assert_eq!(json_float(value), python, "{value:e}");
        }
    }

    #[test]
    fn non_finite_floats_as_python_writes_them() {
        assert_eq!(repr_float(f64::NAN), "nan");
        assert_eq!(repr_float(f64::INFINITY), "inf");
        assert_eq!(repr_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(json_float(f64::NAN), "NaN");
        assert_eq!(json_float(f64::INFINITY), "Infinity");
        assert_eq!(json_float(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn integers_stay_integers() {
        assert_eq!(
            dumps(&json!({"n": 5, "m": -3, "big": u64::MAX})),
            r#"{"n": 5, "m": -3, "big": 18446744073709551615}"#
        );
    }

    proptest! {
        /// Python reads back the float it wrote: the text is a float literal that
        /// round-trips (the byte-for-byte comparison with CPython is in dropflow-tests).
        #[test]
        fn repr_round_trips(value in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
            let text = repr_float(value);
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), value.to_bits());
            prop_assert!(text.contains('.') || text.contains('e'), "{}", text);
        }
    }
}
