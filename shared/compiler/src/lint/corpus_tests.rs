//! Runs lint over the corpus of broken flows in `tests/flows/lint/`: each file's header
//! says the message and line Metaflow prints for it (verified against real Metaflow by
//! `tests/lint_conformance.py`; see the corpus README).

use std::collections::BTreeSet;
use std::path::Path;

use super::lint;
use crate::graph::FlowGraph;
use crate::python::parse_module;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/flows/lint");

struct Expectation {
    message: String,
    line: Option<u32>,
}

/// Reads the `# expect:` and `# line:` header.
fn expectation(path: &Path, source: &str) -> Expectation {
    let mut message = None;
    let mut line = None;
    for header in source.lines().take_while(|l| l.starts_with('#')) {
        let (key, value) = header[1..].split_once(':').unwrap_or_default();
        match key.trim() {
            "expect" => message = Some(unescape(value.trim())),
            "line" => {
                line = Some(match value.trim() {
                    "none" => None,
                    n => Some(
                        n.parse()
                            .unwrap_or_else(|_| panic!("{}: bad line", path.display())),
                    ),
                })
            }
            _ => {}
        }
    }
    Expectation {
        message: message.unwrap_or_else(|| panic!("{}: no '# expect:'", path.display())),
        line: line.unwrap_or_else(|| panic!("{}: no '# line:'", path.display())),
    }
}

/// `\n` is a newline and `\\` a backslash, as in `tests/lint_conformance.py`.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[test]
fn corpus_matches_metaflow() {
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("tests/flows/lint exists")
        .map(|entry| entry.expect("readable corpus directory").path())
        .filter(|path| path.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "corpus has {} files", files.len());

    let mut failures = Vec::new();
    let mut checks = BTreeSet::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("readable corpus file");
        let expected = expectation(path, &source);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let module = parse_module(&name, &source).expect("corpus files are valid Python");
        let [flow] = module.flows.as_slice() else {
            panic!("{name}: expected exactly one flow class");
        };
        match lint(FlowGraph::new(flow)) {
            Ok(_) => failures.push(format!(
                "{name}: lint passed, expected {:?}",
                expected.message
            )),
            Err(error) => {
                checks.insert(error.check);
                if error.message != expected.message || error.line != expected.line {
                    failures.push(format!(
                        "{name}:\n  expected {:?} at {:?}\n  got      {:?} at {:?}",
                        expected.message, expected.line, error.message, error.line
                    ));
                }
                assert_eq!(error.file, name, "errors name the flow file");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "corpus mismatches:\n{}",
        failures.join("\n")
    );

    // Every check that can fire with Metaflow's default settings has a corpus case.
    let reachable = [
        "check_reserved_words",
        "check_basic_steps",
        "check_annotation_name_conflict",
        "check_start_end_degree",
        "check_that_end_is_end",
        "check_step_names",
        "check_num_args",
        "check_static_transitions",
        "check_valid_transitions",
        "check_unknown_transitions",
        "check_for_acyclicity",
        "check_for_orphans",
        "check_split_join_balance",
        "check_switch_splits",
        "check_empty_foreaches",
        "check_parallel_step_after_next",
        "check_join_followed_by_parallel_step",
        "check_parallel_foreach_calls_parallel_step",
        "check_ambiguous_joins",
    ];
    let missing: Vec<_> = reachable.iter().filter(|c| !checks.contains(*c)).collect();
    assert!(missing.is_empty(), "no corpus case for {missing:?}");
}

#[test]
fn unescape_reads_newlines_and_backslashes() {
    assert_eq!(unescape(r"a\nb\\c"), "a\nb\\c");
}
