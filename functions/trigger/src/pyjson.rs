//! JSON text exactly as Python's `json.dumps` writes it (`", "` and `": "` separators,
//! `ensure_ascii`, `repr` floats), so that a run started through the API carries the same
//! execution input as one started by Metaflow's `step-functions trigger` or by a schedule:
//! `{"Parameters": "{\"alpha\": 0.5}"}`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use serde_json::{Map, Value};

/// `json.dumps(value)`.
pub fn dumps(value: &impl Serialize) -> String {
    let mut out = Vec::new();
    let mut serializer = Serializer::with_formatter(&mut out, PythonFormatter);
    value
        .serialize(&mut serializer)
        .expect("JSON values serialise");
    String::from_utf8(out).expect("the formatter writes ASCII")
}

/// Metaflow's execution input: `json.dumps({"Parameters": json.dumps(values)})`.
pub fn metaflow_input(values: &Map<String, Value>) -> String {
    let mut outer = Map::new();
    outer.insert("Parameters".into(), Value::String(dumps(values)));
    dumps(&outer)
}

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(python_float(f64::from(value)).as_bytes())
    }

    /// `ensure_ascii`: everything outside printable ASCII as `\uXXXX` (UTF-16 units).
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() && c != '\x7f' {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let text = match escape {
            CharEscape::Quote => "\\\"".to_string(),
            CharEscape::ReverseSolidus => "\\\\".to_string(),
            CharEscape::Solidus => "/".to_string(),
            CharEscape::Backspace => "\\b".to_string(),
            CharEscape::FormFeed => "\\f".to_string(),
            CharEscape::LineFeed => "\\n".to_string(),
            CharEscape::CarriageReturn => "\\r".to_string(),
            CharEscape::Tab => "\\t".to_string(),
            CharEscape::AsciiControl(byte) => format!("\\u{byte:04x}"),
        };
        writer.write_all(text.as_bytes())
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, fixed notation for
/// exponents -4..16 (always with a fractional part), else `1e+16` / `1.5e-05`.
fn python_float(value: f64) -> String {
    if !value.is_finite() {
        // serde_json never holds these; Python would write NaN/Infinity.
        return if value.is_nan() {
            "NaN".into()
        } else if value > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
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
        let mantissa = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(metaflow_input(&Map::new()), dropflow_deploy::SCHEDULE_INPUT);
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
            (0.01, "0.01"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e100, "1.2345e+100"),
            (-2.5e-300, "-2.5e-300"),
            (123456789.125, "123456789.125"),
        ];
        for (value, python) in cases {
            assert_eq!(python_float(value), python, "{value:e}");
        }
    }

    #[test]
    fn integers_stay_integers() {
        assert_eq!(
            dumps(&json!({"n": 5, "m": -3, "big": u64::MAX})),
            r#"{"n": 5, "m": -3, "big": 18446744073709551615}"#
        );
    }
}
