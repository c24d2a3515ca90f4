//! The individual checks of Metaflow's `lint.py`, except the split/join balance (see
//! [`super::balance`]). Each iterates nodes in Metaflow's (alphabetical) order and
//! reports the first problem with Metaflow's message and line.

use crate::graph::{FlowGraph, Node, NodeType};

use super::LintError;

const RESERVED_WORDS: &[&str] = &["name", "next", "input", "index", "cmd"];

pub(super) fn check_reserved_words(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes() {
        if RESERVED_WORDS.contains(&node.name.as_str()) {
            return Err(LintError::new(
                "check_reserved_words",
                graph,
                node.func_lineno,
                format!(
                    "Step name {} is a reserved word. Choose another name for the step.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_basic_steps(graph: &FlowGraph) -> Result<(), LintError> {
    let fail = |message: String| Err(LintError::new("check_basic_steps", graph, 0, message));
    if graph.start_step.is_none() {
        let annotated = annotated(graph, |n| n.is_start_step);
        if annotated.len() > 1 {
            return fail(format!(
                "Multiple steps annotated with @step(start=True): {}. Exactly one is allowed.",
                annotated.join(", ")
            ));
        }
        return fail(
            "Your flow must have exactly one start step. Either name a step 'start' or use \
             @step(start=True)."
                .to_string(),
        );
    }
    if graph.end_step.is_none() {
        let annotated = annotated(graph, |n| n.is_end_step);
        if annotated.len() > 1 {
            return fail(format!(
                "Multiple steps annotated with @step(end=True): {}. Exactly one is allowed.",
                annotated.join(", ")
            ));
        }
        return fail(
            "Your flow must have exactly one end step. Either name a step 'end' or use \
             @step(end=True)."
                .to_string(),
        );
    }
    Ok(())
}

/// Names of the annotated steps, sorted.
fn annotated(graph: &FlowGraph, is_annotated: impl Fn(&Node) -> bool) -> Vec<&str> {
    graph
        .nodes()
        .filter(|n| is_annotated(n))
        .map(|n| n.name.as_str())
        .collect()
}

pub(super) fn check_annotation_name_conflict(graph: &FlowGraph) -> Result<(), LintError> {
    let fail = |message: String| {
        Err(LintError::new(
            "check_annotation_name_conflict",
            graph,
            0,
            message,
        ))
    };
    if let Some(start) = &graph.start_step
        && start != "start"
        && graph.contains("start")
    {
        return fail(format!(
            "Ambiguous start step: step '{start}' is annotated with @step(start=True) but a \
             step named 'start' also exists. Remove the 'start' name or the \
             @step(start=True) annotation."
        ));
    }
    if let Some(end) = &graph.end_step
        && end != "end"
        && graph.contains("end")
    {
        return fail(format!(
            "Ambiguous end step: step '{end}' is annotated with @step(end=True) but a step \
             named 'end' also exists. Remove the 'end' name or the @step(end=True) \
             annotation."
        ));
    }
    Ok(())
}

pub(super) fn check_start_end_degree(graph: &FlowGraph) -> Result<(), LintError> {
    let (Some(start), Some(end)) = (start_node(graph), end_node(graph)) else {
        return Ok(());
    };
    const CHECK: &str = "check_start_end_degree";
    // `in_funcs` is only known for a fully traversed graph (see check_graph_complexity).
    if !start.in_funcs.is_empty() && graph.is_fully_traversed() {
        return Err(LintError::new(
            CHECK,
            graph,
            start.func_lineno,
            format!(
                "The start step {} has incoming transitions from {}. A start step must have \
                 no incoming transitions.",
                start.name,
                start.in_funcs.join(", ")
            ),
        ));
    }
    if !end.out_funcs.is_empty() {
        return Err(LintError::new(
            CHECK,
            graph,
            end.func_lineno,
            format!(
                "The end step {} has outgoing transitions. An end step must have no outgoing \
                 transitions (no self.next()).",
                end.name
            ),
        ));
    }
    Ok(())
}

pub(super) fn check_that_end_is_end(graph: &FlowGraph) -> Result<(), LintError> {
    let Some(end) = end_node(graph) else {
        return Ok(());
    };
    const CHECK: &str = "check_that_end_is_end";
    if end.has_tail_next || end.invalid_tail_next {
        return Err(LintError::new(
            CHECK,
            graph,
            end.tail_next_lineno,
            format!(
                "The terminal step {} should not have a self.next() transition. Just remove it.",
                end.name
            ),
        ));
    }
    if end.num_args > 1 {
        // Metaflow points at the (absent) self.next() line: no line at all.
        return Err(LintError::new(
            CHECK,
            graph,
            end.tail_next_lineno,
            format!(
                "The terminal step {} should not be a join step (it gets an extra argument). \
                 Add a join step before it.",
                end.name
            ),
        ));
    }
    Ok(())
}

pub(super) fn check_step_names(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes() {
        let valid_chars = node
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_chars || node.name.starts_with('_') {
            return Err(LintError::new(
                "check_step_names",
                graph,
                node.func_lineno,
                format!(
                    "Step {} has an invalid name. Only lowercase ascii characters, underscores, \
                     and digits are allowed.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_num_args(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes() {
        let message = if node.num_args > 2 {
            format!(
                "Step {} has too many arguments. Normal steps take only 'self' as an argument. \
                 Join steps take 'self' and 'inputs'.",
                node.name
            )
        } else if node.num_args == 2 && !node.is(NodeType::Join) {
            format!(
                "Step {} is both a join step (it takes an extra argument) and a split step (it \
                 transitions to multiple steps). This is not allowed. Add a new step so that \
                 split and join become separate steps.",
                node.name
            )
        } else if node.num_args == 0 {
            format!("Step {} is missing the 'self' argument.", node.name)
        } else {
            continue;
        };
        return Err(LintError::new(
            "check_num_args",
            graph,
            node.func_lineno,
            message,
        ));
    }
    Ok(())
}

pub(super) fn check_static_transitions(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes() {
        if !node.is(NodeType::End) && !node.has_tail_next {
            return Err(LintError::new(
                "check_static_transitions",
                graph,
                node.func_lineno,
                format!(
                    "Step {} is missing a self.next() transition to the next step. Add a \
                     self.next() as the last line in the function.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_valid_transitions(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes() {
        if !node.is(NodeType::End) && node.has_tail_next && node.invalid_tail_next {
            return Err(LintError::new(
                "check_valid_transitions",
                graph,
                node.tail_next_lineno,
                format!(
                    "Step {} specifies an invalid self.next() transition. Make sure the \
                     self.next() expression matches with one of the supported transition \
                     types:\n  \
                     • Linear: self.next(self.step_name)\n  \
                     • Fan-out: self.next(self.step1, self.step2, ...)\n  \
                     • Foreach: self.next(self.step, foreach='variable')\n  \
                     • Switch: self.next({{\"key\": self.step, ...}}, condition='variable')\n\n\
                     For switch statements, keys must be string literals, numbers or config \
                     expressions (self.config.key_name), not variables.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_unknown_transitions(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes() {
        if let Some(unknown) = node.out_funcs.iter().find(|n| !graph.contains(n)) {
            return Err(LintError::new(
                "check_unknown_transitions",
                graph,
                node.tail_next_lineno,
                format!(
                    "Step {} specifies a self.next() transition to an unknown step, {unknown}.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

/// Metaflow walks every path from every node, with the path (excluding the walk's
/// first node) as its loop guard, and reports the first path that closes a loop. A
/// node whose walk finished without finding a loop reaches no loop and none of the
/// nodes leading to it, so walking it again finds nothing: it is skipped, which
/// keeps this linear instead of exponential. The walk keeps its own stack, so long
/// flows cannot overflow the thread's.
pub(super) fn check_for_acyclicity(graph: &FlowGraph) -> Result<(), LintError> {
    let mut clean = vec![false; graph.len()];
    let mut on_path = vec![false; graph.len()];
    let mut path: Vec<usize> = Vec::new();
    for root in 0..graph.len() {
        if clean[root] {
            continue;
        }
        // Each frame is a node and how many of its targets were walked.
        let mut frames: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some((index, next)) = frames.last_mut() {
            let node = graph.at(*index);
            let Some(target) = node.out_funcs.get(*next) else {
                clean[*index] = true;
                frames.pop();
                // The walk's first node is not on the path.
                if let Some(left) = path.pop() {
                    on_path[left] = false;
                }
                continue;
            };
            *next += 1;
            if node.is(NodeType::SplitSwitch) && *target == node.name {
                continue; // a switch may loop on itself
            }
            // Unknown targets are reported by check_unknown_transitions.
            let Some(child) = graph.index(target) else {
                continue;
            };
            if on_path[child] {
                let mut names: Vec<&str> =
                    path.iter().map(|&i| graph.at(i).name.as_str()).collect();
                names.push(target);
                return Err(LintError::new(
                    "check_for_acyclicity",
                    graph,
                    node.tail_next_lineno,
                    format!(
                        "There is a loop in your flow: {}. Break the loop by fixing self.next() \
                         transitions.",
                        names.join("->")
                    ),
                ));
            }
            if !clean[child] {
                path.push(child);
                on_path[child] = true;
                frames.push((child, 0));
            }
        }
    }
    Ok(())
}

/// Metaflow reports `list(orphans)[0]` of a Python set, whose order is arbitrary;
/// dropflow reports the alphabetically first orphan.
pub(super) fn check_for_orphans(graph: &FlowGraph) -> Result<(), LintError> {
    let Some(start) = start_node(graph) else {
        return Ok(());
    };
    let mut seen = vec![false; graph.len()];
    let mut stack = vec![start];
    seen[graph.index(&start.name).unwrap_or_default()] = true;
    while let Some(node) = stack.pop() {
        for target in &node.out_funcs {
            if let Some(child) = graph.index(target)
                && !seen[child]
            {
                seen[child] = true;
                stack.push(graph.at(child));
            }
        }
    }
    let Some(orphan) = graph
        .nodes()
        .zip(&seen)
        .find(|(_, seen)| !**seen)
        .map(|(n, _)| n)
    else {
        return Ok(());
    };
    Err(LintError::new(
        "check_for_orphans",
        graph,
        orphan.func_lineno,
        format!(
            "Step {0} is unreachable from the entry step {1}. Add self.next({0}) in another \
             step or remove {0}.",
            orphan.name, start.name
        ),
    ))
}

pub(super) fn check_switch_splits(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes().filter(|n| n.is(NodeType::SplitSwitch)) {
        let message = if node.out_funcs.len() < 2 {
            format!(
                "Step {} is a switch split but defines {} transitions. Switch splits must \
                 define at least 2 transitions.",
                node.name,
                node.out_funcs.len()
            )
        } else if node.condition.as_deref().unwrap_or_default().is_empty() {
            format!(
                "Step {} is a switch split but has no condition variable.",
                node.name
            )
        } else if node.switch_cases.is_empty() {
            format!(
                "Step {} is a switch split but has no switch cases defined.",
                node.name
            )
        } else {
            continue;
        };
        return Err(LintError::new(
            "check_switch_splits",
            graph,
            node.func_lineno,
            message,
        ));
    }
    Ok(())
}

pub(super) fn check_empty_foreaches(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes().filter(|n| n.is(NodeType::Foreach)) {
        let join = node
            .out_funcs
            .iter()
            .find(|n| graph.get(n).is_some_and(|n| n.is(NodeType::Join)));
        if let Some(join) = join {
            return Err(empty_foreach(graph, node, join));
        }
    }
    Ok(())
}

/// Metaflow's `check_empty_foreaches` message: a foreach followed immediately by a join.
pub(super) fn empty_foreach(graph: &FlowGraph, foreach: &Node, join: &str) -> LintError {
    LintError::new(
        "check_empty_foreaches",
        graph,
        foreach.func_lineno,
        format!(
            "Step {} is a foreach split that has no children: it is followed immediately by \
             a join step, {join}. Add at least one step between the split and the join.",
            foreach.name
        ),
    )
}

pub(super) fn check_parallel_step_after_next(graph: &FlowGraph) -> Result<(), LintError> {
    for node in graph.nodes().filter(|n| n.parallel_foreach) {
        let all_parallel = node
            .out_funcs
            .iter()
            .all(|n| graph.get(n).is_none_or(|n| n.parallel_step));
        if !all_parallel {
            return Err(LintError::new(
                "check_parallel_step_after_next",
                graph,
                node.func_lineno,
                format!(
                    "Step {} is called as a parallel step with self.next(num_parallel=..) but \
                     does not have a @parallel decorator.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

/// Metaflow crashes (`IndexError`) on a `@parallel` step without transitions, i.e. a
/// `@parallel` end step; dropflow reports it.
pub(super) fn check_join_followed_by_parallel_step(graph: &FlowGraph) -> Result<(), LintError> {
    const CHECK: &str = "check_join_followed_by_parallel_step";
    for node in graph.nodes().filter(|n| n.parallel_step) {
        let Some(next) = node.out_funcs.first() else {
            return Err(LintError::new(
                CHECK,
                graph,
                node.func_lineno,
                format!(
                    "An @parallel step should be followed by a join step. Step {} has a \
                     @parallel decorator but no self.next() transition to a join step. Remove \
                     @parallel from {}.",
                    node.name, node.name
                ),
            ));
        };
        if graph.get(next).is_some_and(|n| !n.is(NodeType::Join)) {
            return Err(LintError::new(
                CHECK,
                graph,
                node.func_lineno,
                format!(
                    "An @parallel step should be followed by a join step. Step {next} is called \
                     after an @parallel step but is not a join step. Please add an extra \
                     `inputs` argument to the step."
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_parallel_foreach_calls_parallel_step(
    graph: &FlowGraph,
) -> Result<(), LintError> {
    for node in graph.nodes().filter(|n| n.parallel_step) {
        let caller = graph
            .nodes()
            .find(|caller| caller.out_funcs.contains(&node.name) && !caller.parallel_foreach);
        if let Some(caller) = caller {
            return Err(LintError::new(
                "check_parallel_foreach_calls_parallel_step",
                graph,
                node.func_lineno,
                format!(
                    "Step {} has a @parallel decorator, but is not called with \
                     self.next(num_parallel=...) from step {}.",
                    node.name, caller.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_nested_foreach(graph: &FlowGraph) -> Result<(), LintError> {
    if !graph.is_fully_traversed() {
        return Ok(()); // split parents are partial; check_graph_complexity reports it
    }
    for node in graph.nodes().filter(|n| n.is(NodeType::Foreach)) {
        let nested = node
            .split_parents
            .iter()
            .any(|p| graph.get(p).is_some_and(|p| p.is(NodeType::Foreach)));
        if nested {
            return Err(LintError::new(
                "check_nested_foreach",
                graph,
                node.func_lineno,
                format!(
                    "Nested foreaches are not allowed: Step {} is a foreach split that is nested \
                     under another foreach split.",
                    node.name
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_ambiguous_joins(graph: &FlowGraph) -> Result<(), LintError> {
    if !graph.is_fully_traversed() {
        return Ok(()); // in_funcs are partial; check_graph_complexity reports it
    }
    for node in graph.nodes().filter(|n| n.is(NodeType::Join)) {
        if let Some(error) = ambiguous_join(graph, node) {
            return Err(error);
        }
    }
    Ok(())
}

/// Metaflow's `check_ambiguous_joins` message for `join`, if a switch leads straight to it.
pub(super) fn ambiguous_join(graph: &FlowGraph, join: &Node) -> Option<LintError> {
    let switches: Vec<&str> = join
        .in_funcs
        .iter()
        .filter(|p| graph.get(p).is_some_and(|p| p.is(NodeType::SplitSwitch)))
        .map(String::as_str)
        .collect();
    if switches.is_empty() {
        return None;
    }
    Some(LintError::new(
        "check_ambiguous_joins",
        graph,
        join.func_lineno,
        format!(
            "A conditional path cannot lead directly to a join step.\nIn your conditional \
             step(s) {}, one or more of the possible paths transition directly to the join \
             step {}.\nAs a workaround, please introduce an intermediate, unconditional step on \
             that specific path before joining.",
            switches.join(", "),
            join.name
        ),
    ))
}

/// dropflow's own check: graph traversal stopped at its work bound, which only
/// happens for malformed flows with exponentially many split states (Metaflow would
/// not finish analysing them). Runs last, so Metaflow's own checks report first; the
/// parts of them that read traversal results (`in_funcs`, split parents and
/// branches) are skipped for such a graph.
pub(super) fn check_graph_complexity(graph: &FlowGraph) -> Result<(), LintError> {
    if graph.is_fully_traversed() {
        return Ok(());
    }
    Err(LintError::new(
        "check_graph_complexity",
        graph,
        0,
        format!(
            "Flow {} has too many distinct paths through its splits to analyse. This \
             happens when splits are not joined or when transitions lead back through a \
             split: make sure that every split and foreach has a matching join step and \
             that no self.next() leads back to an earlier step.",
            graph.name
        ),
    ))
}

fn start_node(graph: &FlowGraph) -> Option<&Node> {
    graph.start_step.as_deref().and_then(|s| graph.get(s))
}

fn end_node(graph: &FlowGraph) -> Option<&Node> {
    graph.end_step.as_deref().and_then(|s| graph.get(s))
}
