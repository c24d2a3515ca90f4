//! Printing a command's result: its `Display` for people, its JSON with `--json`. A
//! closed stdout (`dropflow runs F | head`) ends the output, not the process with a panic.

use std::fmt::Display;
use std::io::Write;

use serde::Serialize;

/// Prints `value` as `--json` asks.
pub fn emit<T: Serialize + Display>(value: &T, json: bool) {
    if json {
        line(&serde_json::to_string_pretty(value).expect("outputs serialise"));
    } else {
        line(&value.to_string());
    }
}

/// Prints `text` and a newline on stdout.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Rewrites the terminal's current line with `text` (no newline).
pub fn rewrite(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\r\x1b[2K{text}");
    let _ = out.flush();
}

/// Prints `text` as it is (no newline added) and flushes.
pub fn text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{text}");
    let _ = out.flush();
}
