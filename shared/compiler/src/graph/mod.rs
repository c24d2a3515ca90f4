//! Metaflow's graph model (`metaflow/graph.py`): one [`Node`] per step with its type,
//! edges and split/join bookkeeping, computed without running Python.
//!
//! Lint and the compiler both read this, so it reproduces Metaflow's values exactly,
//! including for malformed flows (which lint then rejects with Metaflow's messages).

mod build;
mod mermaid;
mod node;
mod traverse;

pub use node::{Node, NodeType};

use serde::Serialize;

/// A flow's steps and how they connect, as Metaflow's `FlowGraph` has them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowGraph {
    /// Flow (class) name.
    pub name: String,
    /// Flow file inside the package, for messages.
    pub file: String,
    /// The entry step: the one `@step(start=True)`, else the step named `start`.
    pub start_step: Option<String>,
    /// The terminal step: the one `@step(end=True)`, else the step named `end`.
    pub end_step: Option<String>,
    /// Steps reachable from the start, in Metaflow's traversal order (each placed at
    /// its last visit), which is what `show` prints.
    pub sorted_nodes: Vec<String>,
    /// All steps, sorted by name: Metaflow iterates them in `dir(flow)` order.
    nodes: Vec<Node>,
    /// False when traversal stopped at its work budget (see [`FlowGraph::is_fully_traversed`]).
    #[serde(skip)]
    traversal_complete: bool,
}

impl FlowGraph {
    /// The step called `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.index(name).map(|i| &self.nodes[i])
    }

    /// The step called `name`.
    ///
    /// # Panics
    /// If there is no such step; lint first, or use [`FlowGraph::get`].
    pub fn node(&self, name: &str) -> &Node {
        self.get(name)
            .unwrap_or_else(|| panic!("flow {} has no step named {name}", self.name))
    }

    /// Whether the flow has a step called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    /// All steps in Metaflow's iteration order (alphabetical), which decides which
    /// problem lint reports first.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the flow has no steps.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether the split/join analysis covered the whole graph. It stops at a work bound
    /// on malformed flows whose paths carry exponentially many split states (splits
    /// never joined, loops through splits), where Metaflow itself would not finish;
    /// lint rejects such flows.
    pub fn is_fully_traversed(&self) -> bool {
        self.traversal_complete
    }

    /// Position of `name` in the node list (which is sorted by name).
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.nodes
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
    }

    /// The node at a position returned by [`FlowGraph::index`].
    pub(crate) fn at(&self, index: usize) -> &Node {
        &self.nodes[index]
    }
}

#[cfg(test)]
mod tests;
