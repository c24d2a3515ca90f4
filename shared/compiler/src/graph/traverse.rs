//! Metaflow's `FlowGraph._traverse_graph`, with the same results in polynomial time.
//!
//! Metaflow walks every path from the start step depth-first, and each visit
//! overwrites the visited node's `split_parents`/`split_branches` (and the enclosing
//! split's `matching_join`) and moves the node to the end of `sorted_nodes`: the last
//! visit wins. Walking every path is exponential in the number of sequential
//! split/join diamonds.
//!
//! This walk visits the same tree of paths in exactly the reverse order (targets last
//! to first, a node after everything below it), so the first write it meets for a
//! node is the one Metaflow makes last, and it keeps that one. A node reached again in
//! the same state as before heads a subtree identical to one already walked, which in
//! Metaflow's order comes *earlier*, so every write in it is overwritten later: the
//! subtree is skipped. The state is the node's `(split_parents, split_branches)` plus
//! the nodes on the path that its subtree could run into (Metaflow's `seen` loop
//! guard); nodes on the path all reach the current node, so only those it also reaches
//! back (its cycle mates) matter, and in an acyclic graph there are none.
//!
//! A valid flow has few states per node, so this is fast. A malformed one (splits
//! that are never joined, loops through splits) can still have exponentially many
//! states; there Metaflow never finishes, and this walk stops after a fixed amount of
//! work and says so ([`Traversal::complete`]), so lint can reject the flow.

use std::collections::{BTreeSet, HashSet};

use super::node::NodeType;

/// One node's `(split_parents, split_branches)`, as node indices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct SplitState {
    pub parents: Vec<usize>,
    pub branches: Vec<usize>,
}

/// What the traversal computes for every node (indices into the graph's node list).
pub(super) struct Traversal {
    /// False when the walk stopped at its work budget; the results are then partial.
    pub complete: bool,
    /// Visited nodes, in the order of their last visit (Metaflow's `sorted_nodes`).
    pub sorted: Vec<usize>,
    pub in_funcs: Vec<BTreeSet<usize>>,
    pub state: Vec<Option<SplitState>>,
    pub matching_join: Vec<Option<usize>>,
}

/// A node, its split state, and the path nodes its subtree could run into.
type StateKey = (usize, SplitState, Vec<usize>);

/// One pending call of Metaflow's recursive `traverse`, walked in reverse.
struct Frame {
    node: usize,
    /// The state the node was reached in (what its own visit writes).
    state: SplitState,
    /// The state handed to targets (a target's branch is added for splits).
    child_state: SplitState,
    add_split_branch: bool,
    /// Targets not walked yet: `children[node][..remaining]`, walked last first.
    remaining: usize,
}

struct Walker<'a> {
    types: &'a [Option<NodeType>],
    children: &'a [Vec<usize>],
    /// For cyclic graphs only: `reach[n][m]` when `m` is reachable from `n`.
    reach: Option<Vec<Vec<bool>>>,
    on_path: Vec<bool>,
    path: Vec<usize>,
    /// Order in which last visits are found (reverse of Metaflow's visit order).
    found: Vec<usize>,
    is_found: Vec<bool>,
    out: Traversal,
    walked: HashSet<StateKey>,
    /// Work done so far (states entered, weighted by size), and how much is allowed.
    work: u64,
    budget: u64,
}

/// Walks the graph from `start`. `children[n]` lists `n`'s known targets in the order
/// written (duplicates kept, unknown targets already dropped). `budget` bounds the
/// work.
pub(super) fn traverse(
    types: &[Option<NodeType>],
    children: &[Vec<usize>],
    start: Option<usize>,
    budget: u64,
) -> Traversal {
    let n = types.len();
    let mut walker = Walker {
        types,
        children,
        reach: if is_acyclic(children) {
            None
        } else {
            Some(reachability(children))
        },
        on_path: vec![false; n],
        path: Vec::new(),
        found: Vec::new(),
        is_found: vec![false; n],
        out: Traversal {
            complete: true,
            sorted: Vec::new(),
            in_funcs: vec![BTreeSet::new(); n],
            state: vec![None; n],
            matching_join: vec![None; n],
        },
        walked: HashSet::new(),
        work: 0,
        budget,
    };
    if let Some(start) = start {
        walker.walk_from(start);
    }
    let mut sorted = std::mem::take(&mut walker.found);
    sorted.reverse();
    walker.out.sorted = sorted;
    walker.out
}

impl Walker<'_> {
    /// The path nodes that the walk from `node` could run into.
    fn relevant_path(&self, node: usize) -> Vec<usize> {
        let Some(reach) = &self.reach else {
            return Vec::new();
        };
        let mut relevant: Vec<usize> = self
            .path
            .iter()
            .copied()
            .filter(|&p| reach[node][p])
            .collect();
        relevant.sort_unstable();
        relevant
    }

    /// Metaflow's recursive `traverse(start, [], [], [])` in reverse order, run with an
    /// explicit stack so long flows cannot overflow the thread's stack.
    fn walk_from(&mut self, start: usize) {
        let children = self.children;
        let root = SplitState {
            parents: Vec::new(),
            branches: Vec::new(),
        };
        let mut frames: Vec<Frame> = self.enter(start, root).into_iter().collect();
        while let Some(frame) = frames.last_mut() {
            // The last target not yet walked and not on the path (the loop guard).
            let targets = &children[frame.node][..frame.remaining];
            let next = targets.iter().rposition(|&c| !self.on_path[c]);
            let Some(position) = next.filter(|_| self.within_budget()) else {
                // Everything below is walked: now the node's own visit.
                let Some(done) = frames.pop() else { break };
                self.visit(done.node, done.state);
                if !frames.is_empty() {
                    self.path.pop();
                    self.on_path[done.node] = false;
                }
                continue;
            };
            let child = targets[position];
            frame.remaining = position;
            self.out.in_funcs[child].insert(frame.node);
            let mut state = frame.child_state.clone();
            if frame.add_split_branch {
                state.branches.push(child);
            }
            self.on_path[child] = true;
            self.path.push(child);
            match self.enter(child, state) {
                Some(callee) => frames.push(callee),
                None => {
                    self.path.pop();
                    self.on_path[child] = false;
                }
            }
        }
    }

    fn within_budget(&mut self) -> bool {
        let within = self.work <= self.budget;
        self.out.complete &= within;
        within
    }

    /// Arrives at `node` in `state`: `None` if this state was walked before (the
    /// subtree is skipped), else the frame that walks its targets.
    fn enter(&mut self, node: usize, state: SplitState) -> Option<Frame> {
        self.work += 1 + state.parents.len() as u64;
        let key = (node, state.clone(), self.relevant_path(node));
        if !self.walked.insert(key) {
            return None;
        }
        let ty = self.types[node];
        let add_split_branch = ty.is_some_and(NodeType::opens_split);
        let mut child_state = state.clone();
        match ty {
            // A join closes the innermost split, if there is one.
            Some(NodeType::Join) => {
                child_state.parents.pop();
                child_state.branches.pop();
            }
            _ if add_split_branch => child_state.parents.push(node),
            _ => {}
        }
        Some(Frame {
            node,
            state,
            child_state,
            add_split_branch,
            remaining: self.children[node].len(),
        })
    }

    /// The node's own visit. Walking in reverse, the first write found for each node
    /// is Metaflow's last, so only writes to still-unset values are kept.
    fn visit(&mut self, node: usize, state: SplitState) {
        if !self.is_found[node] {
            self.is_found[node] = true;
            self.found.push(node);
        }
        let write = match self.types[node] {
            Some(NodeType::Join) => {
                // A join without an enclosing split is left alone.
                let Some(&split) = state.parents.last() else {
                    return;
                };
                if self.out.matching_join[split].is_none() {
                    self.out.matching_join[split] = Some(node);
                }
                let mut branches = state.branches;
                branches.pop();
                SplitState {
                    parents: state.parents,
                    branches,
                }
            }
            _ => state,
        };
        if self.out.state[node].is_none() {
            self.out.state[node] = Some(write);
        }
    }
}

/// Kahn's algorithm: true when no known transition leads back (self-loops included).
fn is_acyclic(children: &[Vec<usize>]) -> bool {
    let mut indegree = vec![0usize; children.len()];
    for targets in children {
        for &t in targets {
            indegree[t] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..children.len()).filter(|&i| indegree[i] == 0).collect();
    let mut removed = 0;
    while let Some(node) = ready.pop() {
        removed += 1;
        for &t in &children[node] {
            indegree[t] -= 1;
            if indegree[t] == 0 {
                ready.push(t);
            }
        }
    }
    removed == children.len()
}

/// `reach[n][m]`: `m` can be reached from `n` in one or more transitions.
fn reachability(children: &[Vec<usize>]) -> Vec<Vec<bool>> {
    let n = children.len();
    (0..n)
        .map(|from| {
            let mut seen = vec![false; n];
            let mut stack: Vec<usize> = children[from].clone();
            while let Some(node) = stack.pop() {
                if !seen[node] {
                    seen[node] = true;
                    stack.extend(children[node].iter().copied());
                }
            }
            seen
        })
        .collect()
}
