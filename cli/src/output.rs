//! Printing a command's result: its `Display` for people, its JSON with `--json`.

use std::fmt::Display;

use serde::Serialize;

/// Prints `value` as `--json` asks.
pub fn emit<T: Serialize + Display>(value: &T, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("outputs serialise")
        );
    } else {
        println!("{value}");
    }
}
