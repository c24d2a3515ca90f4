//! Metaflow's `FlowGraph._traverse_graph`, with the same results in polynomial time.
//!
//! Metaflow walks every path from the start step, and each visit overwrites the
//! visited node's `split_parents`/`split_branches` (and the enclosing split's
//! `matching_join`) and moves the node to the end of `sorted_nodes`: the last visit
//! wins. Walking every path is exponential in the number of sequential split/join
//! diamonds, so this walk memoizes: a node reached again in a state it was already
//! walked from would redo exactly the same writes in the same order, so instead of
//! walking it again we replay the writes recorded the first time.
//!
//! The walk from a node depends on its `(split_parents, split_branches)` and on which
//! nodes its subtree would find on the path (Metaflow's `seen` loop guard). Nodes on
//! the path all reach the current node, so only those it also reaches back (its cycle
//! mates) matter; in an acyclic graph none do.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use super::node::NodeType;

/// One node's `(split_parents, split_branches)`, as node indices.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct SplitState {
    pub parents: Vec<usize>,
    pub branches: Vec<usize>,
}

/// A write made by a visit; replaying a walk's writes in order reproduces its effect.
#[derive(Debug, Clone)]
enum Write {
    /// The node is (re)appended to `sorted_nodes`.
    Visit(usize),
    /// The node's split state is overwritten.
    State(usize, Rc<SplitState>),
    /// A join sets the `matching_join` of the split it closes.
    MatchingJoin { split: usize, join: usize },
}

impl Write {
    /// Writes with the same key overwrite each other.
    fn key(&self) -> (u8, usize) {
        match self {
            Write::Visit(node) => (0, *node),
            Write::State(node, _) => (1, *node),
            Write::MatchingJoin { split, .. } => (2, *split),
        }
    }
}

/// What the traversal computes for every node (indices into the graph's node list).
pub(super) struct Traversal {
    /// Visited nodes, in the order of their last visit (Metaflow's `sorted_nodes`).
    pub sorted: Vec<usize>,
    pub in_funcs: Vec<BTreeSet<usize>>,
    pub state: Vec<Option<Rc<SplitState>>>,
    pub matching_join: Vec<Option<usize>>,
}

type MemoKey = (usize, Vec<usize>, Vec<usize>, Vec<usize>);

struct Walker<'a> {
    types: &'a [Option<NodeType>],
    children: &'a [Vec<usize>],
    /// For cyclic graphs only: `reach[n][m]` when `m` is reachable from `n`.
    reach: Option<Vec<Vec<bool>>>,
    on_path: Vec<bool>,
    path: Vec<usize>,
    clock: u64,
    last_visit: Vec<Option<u64>>,
    out: Traversal,
    memo: HashMap<MemoKey, Rc<[Write]>>,
    /// Scratch for de-duplicating writes: the generation that last saw each key.
    dedup_mark: Vec<u64>,
    dedup_generation: u64,
}

/// Walks the graph from `start`. `children[n]` lists `n`'s known targets in the order
/// written (duplicates kept, unknown targets already dropped).
pub(super) fn traverse(
    types: &[Option<NodeType>],
    children: &[Vec<usize>],
    start: Option<usize>,
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
        clock: 0,
        last_visit: vec![None; n],
        out: Traversal {
            sorted: Vec::new(),
            in_funcs: vec![BTreeSet::new(); n],
            state: vec![None; n],
            matching_join: vec![None; n],
        },
        memo: HashMap::new(),
        dedup_mark: vec![0; 3 * n],
        dedup_generation: 0,
    };
    if let Some(start) = start {
        walker.walk(start, &[], &[]);
    }
    let mut sorted: Vec<usize> = (0..n).filter(|&i| walker.last_visit[i].is_some()).collect();
    sorted.sort_by_key(|&i| walker.last_visit[i]);
    walker.out.sorted = sorted;
    walker.out
}

impl Walker<'_> {
    fn apply(&mut self, write: &Write) {
        match write {
            Write::Visit(node) => {
                self.last_visit[*node] = Some(self.clock);
                self.clock += 1;
            }
            Write::State(node, state) => self.out.state[*node] = Some(state.clone()),
            Write::MatchingJoin { split, join } => self.out.matching_join[*split] = Some(*join),
        }
    }

    fn emit(&mut self, writes: &mut Vec<Write>, write: Write) {
        self.apply(&write);
        writes.push(write);
    }

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

    /// Metaflow's `traverse(node, seen, split_parents, split_branches)`; returns the
    /// writes it made, de-duplicated to the last write of each key.
    fn walk(&mut self, node: usize, parents: &[usize], branches: &[usize]) -> Rc<[Write]> {
        let key = (
            node,
            parents.to_vec(),
            branches.to_vec(),
            self.relevant_path(node),
        );
        if let Some(writes) = self.memo.get(&key).cloned() {
            for write in writes.iter() {
                self.apply(write);
            }
            return writes;
        }

        let mut writes = Vec::new();
        self.emit(&mut writes, Write::Visit(node));
        let state = |parents: &[usize], branches: &[usize]| {
            Rc::new(SplitState {
                parents: parents.to_vec(),
                branches: branches.to_vec(),
            })
        };
        let ty = self.types[node];
        let mut child_parents = parents.to_vec();
        let mut child_branches = branches.to_vec();
        let add_split_branch = ty.is_some_and(NodeType::opens_split);
        match ty {
            Some(NodeType::Join) => {
                // A join without an enclosing split is left alone.
                if let Some(&split) = parents.last() {
                    let popped = &branches[..branches.len().saturating_sub(1)];
                    self.emit(&mut writes, Write::MatchingJoin { split, join: node });
                    self.emit(&mut writes, Write::State(node, state(parents, popped)));
                    child_parents.pop();
                    child_branches.pop();
                }
            }
            _ => {
                self.emit(&mut writes, Write::State(node, state(parents, branches)));
                if add_split_branch {
                    child_parents.push(node);
                }
            }
        }

        for &child in &self.children[node] {
            // Loops are cut by the path guard, as in Metaflow.
            if self.on_path[child] {
                continue;
            }
            self.out.in_funcs[child].insert(node);
            let mut branches = child_branches.clone();
            if add_split_branch {
                branches.push(child);
            }
            self.on_path[child] = true;
            self.path.push(child);
            let child_writes = self.walk(child, &child_parents, &branches);
            self.path.pop();
            self.on_path[child] = false;
            writes.extend(child_writes.iter().cloned());
        }

        let writes: Rc<[Write]> = self.last_of_each_key(writes).into();
        self.memo.insert(key, writes.clone());
        writes
    }

    /// Keeps only the last write of each key, in order.
    fn last_of_each_key(&mut self, writes: Vec<Write>) -> Vec<Write> {
        self.dedup_generation += 1;
        let generation = self.dedup_generation;
        let mut kept: Vec<Write> = Vec::with_capacity(writes.len());
        for write in writes.into_iter().rev() {
            let (kind, node) = write.key();
            let slot = &mut self.dedup_mark[usize::from(kind) * self.types.len() + node];
            if *slot != generation {
                *slot = generation;
                kept.push(write);
            }
        }
        kept.reverse();
        kept
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
