//! Metaflow's flow linter (`metaflow/lint.py`): the same checks, in the same order,
//! with the same messages, run on a [`FlowGraph`].
//!
//! Messages are Metaflow's text as its CLI prints it (the `*name*` highlight markers
//! removed), so a user sees what `python flow.py check` would have said. Where
//! Metaflow itself crashes on a malformed flow instead of reporting it, lint reports a
//! clear message in its place (see `balance.rs` and `checks.rs`).

mod balance;
mod checks;
mod linted;

pub use linted::LintedGraph;

use std::fmt;

use serde::Serialize;

use crate::graph::FlowGraph;

/// The first problem lint found: which check, what to fix, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
pub struct LintError {
    /// The Metaflow check that failed (e.g. `check_static_transitions`): a stable
    /// identifier for tools, independent of the message text.
    pub check: &'static str,
    /// Metaflow's message, without highlight markers.
    pub message: String,
    /// The flow file.
    pub file: String,
    /// The line Metaflow points at, if it points at one.
    pub line: Option<u32>,
}

impl LintError {
    /// An error at `line`; Metaflow's "no line" is 0, which becomes `None`.
    fn new(check: &'static str, graph: &FlowGraph, line: u32, message: String) -> LintError {
        LintError {
            check,
            message,
            file: graph.file.clone(),
            line: (line != 0).then_some(line),
        }
    }
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Which groups of checks run: the settings of Metaflow's `FlowLinter`. A check runs
/// when any group it belongs to is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintOptions {
    /// Transitions are static and well-formed, splits are joined (default on).
    pub require_static_graph: bool,
    /// Start and end steps, names and arguments (default on).
    pub require_fundamentals: bool,
    /// No loops (default on).
    pub require_acyclicity: bool,
    /// No foreach nested in another foreach (default off, as in Metaflow).
    pub require_non_nested_foreach: bool,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            require_static_graph: true,
            require_fundamentals: true,
            require_acyclicity: true,
            require_non_nested_foreach: false,
        }
    }
}

/// A group of checks, as Metaflow's `ensure_*` decorators tag them.
#[derive(Debug, Clone, Copy)]
enum Group {
    StaticGraph,
    Fundamentals,
    Acyclicity,
    NonNestedForeach,
}

impl LintOptions {
    fn requires(&self, group: Group) -> bool {
        match group {
            Group::StaticGraph => self.require_static_graph,
            Group::Fundamentals => self.require_fundamentals,
            Group::Acyclicity => self.require_acyclicity,
            Group::NonNestedForeach => self.require_non_nested_foreach,
        }
    }
}

type CheckFn = fn(&FlowGraph) -> Result<(), LintError>;

/// Metaflow's checks in registration order, which is the order they run in.
const CHECKS: &[(&[Group], CheckFn)] = {
    use Group::*;
    &[
        (&[Fundamentals], checks::check_reserved_words),
        (&[Fundamentals], checks::check_basic_steps),
        (&[Fundamentals], checks::check_annotation_name_conflict),
        (&[StaticGraph], checks::check_start_end_degree),
        (&[StaticGraph], checks::check_that_end_is_end),
        (&[Fundamentals], checks::check_step_names),
        (&[Fundamentals], checks::check_num_args),
        (&[StaticGraph], checks::check_static_transitions),
        (&[StaticGraph], checks::check_valid_transitions),
        (&[StaticGraph], checks::check_unknown_transitions),
        (&[Acyclicity, StaticGraph], checks::check_for_acyclicity),
        (&[StaticGraph], checks::check_for_orphans),
        (&[StaticGraph], balance::check_split_join_balance),
        (&[StaticGraph], checks::check_switch_splits),
        (&[StaticGraph], checks::check_empty_foreaches),
        (&[StaticGraph], checks::check_parallel_step_after_next),
        (&[StaticGraph], checks::check_join_followed_by_parallel_step),
        (
            &[StaticGraph],
            checks::check_parallel_foreach_calls_parallel_step,
        ),
        (&[NonNestedForeach], checks::check_nested_foreach),
        (&[StaticGraph], checks::check_ambiguous_joins),
        // dropflow's own, last: a flow Metaflow could not analyse in reasonable time.
        (&[StaticGraph], checks::check_graph_complexity),
    ]
};

/// Runs Metaflow's default checks; the first failure is returned, as Metaflow stops
/// at the first `LintWarn`. A graph that passes comes back as a [`LintedGraph`], the only
/// graph the compiler takes.
pub fn lint(graph: FlowGraph) -> Result<LintedGraph, LintError> {
    lint_with(&graph, &LintOptions::default())?;
    LintedGraph::new(graph)
}

/// Runs the checks that `options` require, in Metaflow's order.
pub fn lint_with(graph: &FlowGraph, options: &LintOptions) -> Result<(), LintError> {
    for (groups, check) in CHECKS {
        if groups.iter().any(|&g| options.requires(g)) {
            check(graph)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;
