//! One step of a flow as Metaflow's `DAGNode` models it: its type, its edges, and the
//! split/join bookkeeping that graph traversal fills in.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::python::{StepDef, TransitionKind};

/// Decorators that make a step a `@parallel` step (Metaflow's `IS_PARALLEL`).
const PARALLEL_DECORATORS: &[&str] = &["parallel", "pytorch_parallel"];

pub use dropflow_contract::NodeType;

impl From<TransitionKind> for NodeType {
    fn from(kind: TransitionKind) -> Self {
        match kind {
            TransitionKind::Linear => NodeType::Linear,
            TransitionKind::Join => NodeType::Join,
            TransitionKind::Split => NodeType::Split,
            TransitionKind::Foreach => NodeType::Foreach,
            TransitionKind::SplitSwitch => NodeType::SplitSwitch,
        }
    }
}

/// One step with everything Metaflow's `DAGNode` knows about it.
///
/// The parse-time fields come straight from the step's source; `in_funcs`,
/// `split_parents`, `split_branches`, `matching_join` and `is_inside_foreach` are filled
/// in by [`super::FlowGraph::new`] exactly as Metaflow's graph traversal does, so lint
/// and the compiler see the same values Metaflow would.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Step (method) name.
    pub name: String,
    /// Metaflow's node type; `None` when the step has no valid `self.next(...)`.
    pub node_type: Option<NodeType>,
    /// Steps whose transitions reach this one during traversal, sorted by name.
    pub in_funcs: Vec<String>,
    /// Transition targets, in the order written (unknown names included).
    pub out_funcs: Vec<String>,
    /// Enclosing split and foreach steps, outermost first.
    pub split_parents: Vec<String>,
    /// For each enclosing split, the first step of the branch this node is on.
    pub split_branches: Vec<String>,
    /// For a split or foreach: the join step that closes it.
    pub matching_join: Option<String>,
    /// The node runs once per foreach item (a foreach encloses it and it is not that
    /// foreach's join).
    pub is_inside_foreach: bool,
    /// `foreach='x'`: the artifact iterated over.
    pub foreach_param: Option<String>,
    /// `self.next(..., num_parallel=N)`: a fan-out to a `@parallel` step.
    pub parallel_foreach: bool,
    /// The step carries a `@parallel` decorator.
    pub parallel_step: bool,
    /// `condition='x'` of a switch.
    pub condition: Option<String>,
    /// Switch cases: key → step.
    pub switch_cases: BTreeMap<String, String>,
    /// Positional arguments including `self` (2 for a join).
    pub num_args: usize,
    /// The last statement is a `self.next(...)` call.
    pub has_tail_next: bool,
    /// That call is not a supported transition form.
    pub invalid_tail_next: bool,
    /// Line of the `def`.
    pub func_lineno: u32,
    /// Line of the final `self.next(...)` (0 when there is none).
    pub tail_next_lineno: u32,
    /// `@step(start=True)`.
    pub is_start_step: bool,
    /// `@step(end=True)`.
    pub is_end_step: bool,
    /// The source definition (decorators, docstring, ...).
    pub step: StepDef,
}

impl Node {
    /// The node as Metaflow's `DAGNode._parse` leaves it, before graph analysis.
    pub(super) fn from_step(step: &StepDef) -> Node {
        let tail = &step.tail;
        Node {
            name: step.name.clone(),
            node_type: tail.kind.map(NodeType::from),
            in_funcs: Vec::new(),
            out_funcs: tail.out_funcs.clone(),
            split_parents: Vec::new(),
            split_branches: Vec::new(),
            matching_join: None,
            is_inside_foreach: false,
            foreach_param: tail.foreach_param.clone(),
            parallel_foreach: tail.num_parallel.is_some(),
            parallel_step: step
                .decorators
                .iter()
                .any(|d| PARALLEL_DECORATORS.contains(&d.name.as_str())),
            condition: tail.condition.clone(),
            switch_cases: tail.switch_cases.clone(),
            num_args: step.num_args,
            has_tail_next: tail.has_tail_next,
            invalid_tail_next: tail.invalid_tail_next,
            func_lineno: step.line,
            tail_next_lineno: tail.line,
            is_start_step: step.is_start_step,
            is_end_step: step.is_end_step,
            step: step.clone(),
        }
    }

    /// Whether this node's type is `ty`.
    pub fn is(&self, ty: NodeType) -> bool {
        self.node_type == Some(ty)
    }
}
