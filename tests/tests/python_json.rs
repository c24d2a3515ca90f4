//! `dropflow_contract::pyjson` against the real interpreter: one Python process writes
//! `repr(f)` and `json.dumps(f)` of a corpus of floats (the repr boundaries, the extremes,
//! NaN and the infinities, and a few thousand pseudo-random bit patterns) and `json.dumps`
//! of a corpus of values (nested dicts, non-ASCII, escapes); dropflow's text must be the
//! same byte for byte.

use std::io::Write;
use std::process::{Command, Stdio};

use dropflow_contract::pyjson::{dumps, json_float, metaflow_input, repr_float};
use serde_json::{Map, Value, json};

/// Reads `{"floats": [bits...], "values": [...]}` and writes, per float,
/// `[repr(f), json.dumps(f)]`, and per value `json.dumps(value)`, as JSON.
const PYTHON: &str = r#"
import json, struct, sys
case = json.load(sys.stdin)
floats = [struct.unpack("<d", struct.pack("<Q", bits))[0] for bits in case["floats"]]
json.dump({
    "floats": [[repr(f), json.dumps(f)] for f in floats],
    "values": [json.dumps(v) for v in case["values"]],
    "metaflow": json.dumps({"Parameters": json.dumps(case["parameters"])}),
}, sys.stdout)
"#;

/// The floats where `repr` changes form or is easy to get wrong, with their neighbours.
fn boundary_floats() -> Vec<f64> {
    let mut floats = vec![
        0.0,
        -0.0,
        0.1,
        0.2 + 0.1,
        1.0 / 3.0,
        2.0 / 3.0,
        1e-7,
        1.5e-7,
        1e-5,
        1e-4,
        0.00011,
        9.999e-5,
        1e15,
        1e16,
        9_999_999_999_999_998.0,
        123_456_789_012_345_680.0,
        1e21,
        1e22,
        1e23,
        1.5e20,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        123_456_789.125,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let neighbours: Vec<f64> = floats
        .iter()
        .filter(|f| f.is_finite() && **f > 0.0)
        .flat_map(|f| {
            let bits = f.to_bits();
            [f64::from_bits(bits - 1), f64::from_bits(bits + 1)]
        })
        .collect();
    floats.extend(neighbours);
    let negated: Vec<f64> = floats.iter().map(|f| -f).collect();
    floats.extend(negated);
    floats
}

/// Deterministic pseudo-random floats: any bit pattern, and values of everyday size.
fn random_floats() -> Vec<f64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut floats = Vec::new();
    for _ in 0..2000 {
        floats.push(f64::from_bits(next()));
        let unit = (next() >> 11) as f64 / (1u64 << 53) as f64;
        let scale = 10f64.powi((next() % 40) as i32 - 20);
        floats.push(unit * scale);
    }
    floats
}

fn values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(-42),
        json!(u64::MAX),
        json!(i64::MIN),
        json!({"b": [1, 2, {"x": null}], "a": true, "c": "s", "d": {"e": {"f": [0.5, -0.0, 1e16]}}}),
        json!("é😀\u{7f}\u{1}\u{1f}\"\\/\n\r\t\u{8}\u{c} ~"),
        json!({"ключ": "值", "emoji 🎉": ["\u{2028}", "\u{fffd}", "\u{10ffff}"]}),
        json!({"floats": [1e-7, 1e-5, 0.0001, 1e15, 1e16, 1.5e20, 123.456, 3.0]}),
        json!(["", " ", "'single'", "<tag>&amp;"]),
    ]
}

#[test]
fn dumps_and_repr_match_cpython_byte_for_byte() {
    let mut floats = boundary_floats();
    floats.extend(random_floats());
    let values = values();
    let mut parameters = Map::new();
    parameters.insert("alpha".into(), json!(0.1));
    parameters.insert("名前".into(), json!("x\ny"));
    parameters.insert("nested".into(), json!({"k": [1, 2.5e-8]}));
    let case = json!({
        "floats": floats.iter().map(|f| f.to_bits()).collect::<Vec<_>>(),
        "values": values,
        "parameters": parameters,
    });

    let mut child = Command::new(dropflow_tests::python())
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(case.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("python runs");
    assert!(output.status.success(), "python failed");
    let python: Value = serde_json::from_slice(&output.stdout).expect("python wrote JSON");

    let python_floats = python["floats"].as_array().unwrap();
    assert_eq!(python_floats.len(), floats.len());
    for (value, written) in floats.iter().zip(python_floats) {
        let bits = value.to_bits();
        assert_eq!(repr_float(*value), written[0], "repr of bits {bits:#x}");
        assert_eq!(
            json_float(*value),
            written[1],
            "json.dumps of bits {bits:#x}"
        );
    }
    let python_values = python["values"].as_array().unwrap();
    for (value, written) in values.iter().zip(python_values) {
        assert_eq!(dumps(value), *written, "json.dumps({value})");
    }
    assert_eq!(metaflow_input(&parameters), python["metaflow"]);
}
