//! Metaflow's `check_split_join_balance`: walking every path from the start with a
//! stack of open splits, every join must close the innermost open split with one
//! branch from each of its children, and the end must be reached with no split open.
//!
//! Metaflow walks every path, which is exponential in sequential split/join diamonds;
//! the walk from a node depends only on the node and the stack, so a `(node, stack)`
//! pair that was walked without finding a problem is not walked again.
//!
//! Metaflow crashes (`IndexError`) when a step outside any split leads to a join that
//! closes a split: a foreach or split whose child is directly the join, or a step on
//! another path. dropflow reports those instead; see [`crash_replacement`].

use std::collections::{BTreeSet, HashSet};

use crate::graph::{FlowGraph, Node, NodeType};

use super::LintError;
use super::checks::{ambiguous_join, empty_foreach};

const CHECK: &str = "check_split_join_balance";

pub(super) fn check_split_join_balance(graph: &FlowGraph) -> Result<(), LintError> {
    let (Some(start), Some(_)) = (&graph.start_step, &graph.end_step) else {
        return Ok(());
    };
    let Some(start) = graph.index(start) else {
        return Ok(());
    };
    let mut walk = Balance {
        graph,
        clean: HashSet::new(),
        on_path: vec![false; graph.len()],
    };
    walk.walk(start)
}

struct Balance<'g> {
    graph: &'g FlowGraph,
    /// `(node, open splits)` pairs already walked without finding a problem.
    clean: HashSet<(usize, Vec<usize>)>,
    /// Loop guard; never needed after `check_for_acyclicity`, which always runs first.
    on_path: Vec<bool>,
}

/// One pending call of Metaflow's recursive `traverse(node, split_stack)`.
struct Frame {
    node: usize,
    /// The open splits the call was made with.
    stack: Vec<usize>,
    /// The open splits handed to the node's targets.
    child_stack: Vec<usize>,
    /// Position in the node's targets.
    next: usize,
}

impl Balance<'_> {
    /// Walks from `start` with an explicit stack, so long flows cannot overflow the
    /// thread's stack.
    fn walk(&mut self, start: usize) -> Result<(), LintError> {
        let graph = self.graph;
        let mut frames: Vec<Frame> = Vec::new();
        self.enter(start, Vec::new(), &mut frames)?;
        while let Some(frame) = frames.last_mut() {
            let node = graph.at(frame.node);
            let Some(target) = node.out_funcs.get(frame.next) else {
                let Some(done) = frames.pop() else { break };
                self.on_path[done.node] = false;
                self.clean.insert((done.node, done.stack));
                continue;
            };
            frame.next += 1;
            if node.is(NodeType::SplitSwitch) && *target == node.name {
                continue;
            }
            // Unknown targets are reported by check_unknown_transitions.
            if let Some(child) = graph.index(target) {
                let stack = frame.child_stack.clone();
                self.enter(child, stack, &mut frames)?;
            }
        }
        Ok(())
    }

    /// Checks `index` on arrival with the open splits `stack` (innermost last), and
    /// pushes the frame that walks its targets unless this was walked before.
    fn enter(
        &mut self,
        index: usize,
        stack: Vec<usize>,
        frames: &mut Vec<Frame>,
    ) -> Result<(), LintError> {
        if self.on_path[index] || self.clean.contains(&(index, stack.clone())) {
            return Ok(());
        }
        let graph = self.graph;
        let node = graph.at(index);
        let mut child_stack = stack.clone();
        match node.node_type {
            Some(NodeType::Split | NodeType::Foreach) => child_stack.push(index),
            Some(NodeType::End) => {
                if let Some(&split) = stack.last() {
                    return Err(LintError::new(
                        CHECK,
                        graph,
                        node.func_lineno,
                        format!(
                            "The terminal step {end} was reached before a split started at \
                             step(s) {roots} were joined. Add a join step before {end}.",
                            end = graph.end_step.as_deref().unwrap_or_default(),
                            roots = graph.at(split).out_funcs.join(", "),
                        ),
                    ));
                }
            }
            Some(NodeType::Join) => {
                self.check_join(node, &stack)?;
                child_stack.pop();
            }
            // A switch hands the same open splits to every case.
            _ => {}
        }
        self.on_path[index] = true;
        frames.push(Frame {
            node: index,
            stack,
            child_stack,
            next: 0,
        });
        Ok(())
    }

    fn check_join(&self, join: &Node, stack: &[usize]) -> Result<(), LintError> {
        let graph = self.graph;
        let Some(&split) = stack.last() else {
            return Err(LintError::new(
                CHECK,
                graph,
                join.func_lineno,
                format!(
                    "Step {} seems like a join step (it takes an extra input argument) but it \
                     is not preceded by a split. Ensure that there is a matching split for \
                     every join.",
                    join.name
                ),
            ));
        };
        if !graph.is_fully_traversed() {
            return Ok(()); // branches are partial; check_graph_complexity reports it
        }
        let roots = &graph.at(split).out_funcs;

        // The branch each incoming step is on, in the split being joined.
        let mut resolved: BTreeSet<&str> = BTreeSet::new();
        for parent in join.in_funcs.iter().filter_map(|p| graph.get(p)) {
            match parent.split_branches.last() {
                Some(branch) => resolved.insert(branch),
                None => return Err(crash_replacement(graph, join, parent, roots)),
            };
        }
        let expected: BTreeSet<&str> = roots.iter().map(String::as_str).collect();
        if resolved.len() != roots.len() || resolved != expected {
            // Metaflow prints the resolved branches in Python set order (arbitrary);
            // dropflow sorts them.
            return Err(LintError::new(
                CHECK,
                graph,
                join.func_lineno,
                format!(
                    "Step {} seems like a join step (it takes an extra input argument) but an \
                     incorrect number of steps ({}) lead to it. This join was expecting {} \
                     incoming paths, starting from split step(s) {}.",
                    join.name,
                    resolved.into_iter().collect::<Vec<_>>().join(", "),
                    roots.len(),
                    roots.join(", "),
                ),
            ));
        }

        // All incoming steps must come from the same lineage (no cross joins).
        let mut lineages = join
            .in_funcs
            .iter()
            .filter_map(|p| graph.get(p))
            .map(lineage);
        if let Some(first) = lineages.next()
            && lineages.any(|other| other != first)
        {
            return Err(LintError::new(
                CHECK,
                graph,
                join.func_lineno,
                format!(
                    "Step {} joins steps from unrelated splits. Ensure that there is a matching \
                     join for every split.",
                    join.name
                ),
            ));
        }
        Ok(())
    }
}

/// The splits enclosing `parent`, not counting the one a join closes.
fn lineage(parent: &Node) -> &[String] {
    let parents = &parent.split_parents;
    if parent.is(NodeType::Join) {
        &parents[..parents.len().saturating_sub(1)]
    } else {
        parents
    }
}

/// Where Metaflow crashes: `parent` leads to `join`, which closes a split, but `parent`
/// is outside every split (it has no branch to resolve).
fn crash_replacement(graph: &FlowGraph, join: &Node, parent: &Node, roots: &[String]) -> LintError {
    // A switch straight into a join: Metaflow's own message for this mistake.
    if parent.is(NodeType::SplitSwitch)
        && let Some(error) = ambiguous_join(graph, join)
    {
        return error;
    }
    match parent.node_type {
        // A foreach straight into its join: Metaflow's own message for this mistake.
        Some(NodeType::Foreach) => empty_foreach(graph, parent, &join.name),
        Some(NodeType::Split) => LintError::new(
            CHECK,
            graph,
            parent.func_lineno,
            format!(
                "Step {} is a split that transitions directly to the join step {}, so that \
                 branch of the split has no steps. Add at least one step between the split and \
                 the join.",
                parent.name, join.name
            ),
        ),
        _ => LintError::new(
            CHECK,
            graph,
            join.func_lineno,
            format!(
                "Step {} seems like a join step (it takes an extra input argument) but step {}, \
                 which leads to it, is outside the split it joins (the split into {}). Ensure \
                 that every step leading to a join comes from a branch of that split.",
                join.name,
                parent.name,
                roots.join(", ")
            ),
        ),
    }
}
