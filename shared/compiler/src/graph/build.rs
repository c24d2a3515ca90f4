//! Builds a [`FlowGraph`] the way Metaflow's `FlowGraph.__init__` does: create the
//! nodes, identify the start and end steps, traverse, post-process.

use std::collections::BTreeMap;

use crate::python::{FlowClass, StepDef};

use super::FlowGraph;
use super::node::{Node, NodeType};
use super::traverse::traverse;

/// Bound on traversal work. Valid flows of thousands of steps need a small fraction of
/// it; only malformed flows with exponentially many split states reach it.
const TRAVERSAL_BUDGET: u64 = 5_000_000;

impl FlowGraph {
    /// Builds the graph of one flow class. Never fails: a malformed flow gets the same
    /// half-analysed graph Metaflow builds, and [`crate::lint::lint`] reports why.
    pub fn new(flow: &FlowClass) -> FlowGraph {
        Self::with_traversal_budget(flow, TRAVERSAL_BUDGET)
    }

    /// [`FlowGraph::new`] with a custom bound on traversal work (tests use a small one).
    pub(crate) fn with_traversal_budget(flow: &FlowClass, budget: u64) -> FlowGraph {
        // Metaflow builds its nodes from `dir(flow)`: one per name (the last definition
        // wins, as in a class body), sorted by name.
        let by_name: BTreeMap<&str, &StepDef> =
            flow.steps.iter().map(|s| (s.name.as_str(), s)).collect();
        let nodes: Vec<Node> = by_name.into_values().map(Node::from_step).collect();

        let mut graph = FlowGraph {
            name: flow.name.clone(),
            file: flow.file.clone(),
            start_step: None,
            end_step: None,
            sorted_nodes: Vec::new(),
            nodes,
            traversal_complete: true,
        };
        graph.identify_start_end();
        graph.traverse(budget);
        graph.postprocess();
        graph
    }

    /// Metaflow's `_identify_start_end`: a single `@step(start=True)` (or the step named
    /// `start`) is the start, likewise for the end; a one-step flow is both. Several
    /// annotated steps leave it unset, for lint to report.
    fn identify_start_end(&mut self) {
        let resolve = |annotated: &dyn Fn(&Node) -> bool, fallback: &str| {
            let mut marked = self.nodes.iter().filter(|n| annotated(n));
            match (marked.next(), marked.next()) {
                (Some(only), None) => Some(only.name.clone()),
                (None, _) => self.contains(fallback).then(|| fallback.to_string()),
                (Some(_), Some(_)) => None,
            }
        };
        let start_step = resolve(&|n| n.is_start_step, "start");
        let end_step = resolve(&|n| n.is_end_step, "end");
        (self.start_step, self.end_step) = (start_step, end_step);
        if let [only] = self.nodes.as_slice() {
            self.start_step = Some(only.name.clone());
            self.end_step = Some(only.name.clone());
        }

        if let Some(name) = self.start_step.clone()
            && self.end_step.as_ref() == Some(&name)
        {
            self.node_mut(&name).node_type = Some(NodeType::End);
            return;
        }
        if let Some(name) = self.start_step.clone() {
            let node = self.node_mut(&name);
            // Only a linear (or untyped) entry becomes `start`; a split entry stays a split.
            if matches!(node.node_type, None | Some(NodeType::Linear)) {
                node.node_type = Some(NodeType::Start);
            }
        }
        if let Some(name) = self.end_step.clone() {
            self.node_mut(&name).node_type = Some(NodeType::End);
        }
    }

    /// Metaflow's `_traverse_graph`; see [`super::traverse`].
    fn traverse(&mut self, budget: u64) {
        let types: Vec<Option<NodeType>> = self.nodes.iter().map(|n| n.node_type).collect();
        // Unknown targets are skipped, as Metaflow does; lint reports them.
        let children: Vec<Vec<usize>> = self
            .nodes
            .iter()
            .map(|n| n.out_funcs.iter().filter_map(|f| self.index(f)).collect())
            .collect();
        let start = self.start_step.as_deref().and_then(|s| self.index(s));
        let result = traverse(&types, &children, start, budget);
        self.traversal_complete = result.complete;

        let names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        let to_names = |indices: &[usize]| indices.iter().map(|&i| names[i].clone()).collect();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            // Index order is name order, so these come out sorted as Metaflow sorts them.
            node.in_funcs = result.in_funcs[i]
                .iter()
                .map(|&j| names[j].clone())
                .collect();
            if let Some(state) = &result.state[i] {
                node.split_parents = to_names(&state.parents);
                node.split_branches = to_names(&state.branches);
            }
            node.matching_join = result.matching_join[i].map(|j| names[j].clone());
        }
        self.sorted_nodes = to_names(&result.sorted);
    }

    /// Metaflow's `_postprocess`: a node is inside a foreach when some enclosing foreach
    /// is not closed by the node itself.
    fn postprocess(&mut self) {
        let inside: Vec<bool> = self
            .nodes
            .iter()
            .map(|node| {
                node.split_parents.iter().any(|parent| {
                    self.get(parent).is_some_and(|p| {
                        p.is(NodeType::Foreach) && p.matching_join.as_ref() != Some(&node.name)
                    })
                })
            })
            .collect();
        for (node, inside) in self.nodes.iter_mut().zip(inside) {
            node.is_inside_foreach = inside;
        }
    }

    fn node_mut(&mut self, name: &str) -> &mut Node {
        let index = self
            .index(name)
            .expect("start and end steps are graph nodes");
        &mut self.nodes[index]
    }
}
