//! A step's role in the flow graph, as Metaflow's `DAGNode.type` names it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A node's role in the graph, as Metaflow's `DAGNode.type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeType {
    /// The entry step, when its own transition is linear (or missing).
    Start,
    /// `self.next(self.a)` from a step taking only `self`.
    Linear,
    /// A static fan-out: `self.next(self.a, self.b, ...)`.
    Split,
    /// A step taking `inputs`: `def join(self, inputs)`.
    Join,
    /// `self.next(self.a, foreach='x')` or `self.next(self.a, num_parallel=n)`.
    Foreach,
    /// `self.next({'k': self.a, ...}, condition='x')`.
    SplitSwitch,
    /// The terminal step.
    End,
}

impl NodeType {
    /// Metaflow's spelling (`"split-switch"`), used in messages and pictures.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Start => "start",
            NodeType::Linear => "linear",
            NodeType::Split => "split",
            NodeType::Join => "join",
            NodeType::Foreach => "foreach",
            NodeType::SplitSwitch => "split-switch",
            NodeType::End => "end",
        }
    }

    /// A static split or a foreach: the node types that open a branch needing a join.
    pub fn opens_split(self) -> bool {
        matches!(self, NodeType::Split | NodeType::Foreach)
    }
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
