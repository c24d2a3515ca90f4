//! A graph that passed lint, with what the checks proved kept as plain values, so the
//! compiler (which takes only a [`LintedGraph`]) never meets a flow without a start or
//! end step, or a split or foreach without its join (the naga validator's pattern:
//! validation returns what code generation needs).

use std::collections::BTreeMap;
use std::ops::Deref;

use super::LintError;
use crate::graph::{FlowGraph, NodeType};

/// A [`FlowGraph`] that passed Metaflow's checks; only [`super::lint`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct LintedGraph {
    graph: FlowGraph,
    start: String,
    end: String,
    /// Each split and foreach step → the join that closes it.
    joins: BTreeMap<String, String>,
}

impl LintedGraph {
    /// Keeps what the checks proved; a graph they should have refused is an error here,
    /// never a panic later (`check` names this function in the message).
    pub(super) fn new(graph: FlowGraph) -> Result<Self, LintError> {
        let unproven = |what: String| LintError {
            check: "linted_graph",
            message: format!("{what} after every check passed: please report this flow"),
            file: graph.file.clone(),
            line: None,
        };
        let start = graph
            .start_step
            .clone()
            .ok_or_else(|| unproven("no start step".into()))?;
        let end = graph
            .end_step
            .clone()
            .ok_or_else(|| unproven("no end step".into()))?;
        let mut joins = BTreeMap::new();
        for node in graph.nodes() {
            if matches!(node.node_type, Some(NodeType::Split | NodeType::Foreach)) {
                let join = node
                    .matching_join
                    .clone()
                    .ok_or_else(|| unproven(format!("step {} has no join", node.name)))?;
                joins.insert(node.name.clone(), join);
            }
        }
        Ok(LintedGraph {
            graph,
            start,
            end,
            joins,
        })
    }

    /// The start step.
    pub fn start(&self) -> &str {
        &self.start
    }

    /// The end step.
    pub fn end(&self) -> &str {
        &self.end
    }

    /// The join closing `step` when it is a split or a foreach (`None` for other steps).
    pub fn join_of(&self, step: &str) -> Option<&str> {
        self.joins.get(step).map(String::as_str)
    }

    /// The graph itself.
    pub fn graph(&self) -> &FlowGraph {
        &self.graph
    }
}

impl Deref for LintedGraph {
    type Target = FlowGraph;

    fn deref(&self) -> &FlowGraph {
        &self.graph
    }
}
