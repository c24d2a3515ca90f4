//! `--input-paths` for every shape. Metaflow's `step` decodes the value with
//! `util.decompress_list` and gives the task its `inputs` in exactly that order
//! (`metaflow/cli_components/step_cmd.py`, `metaflow/task.py`), so the order is part of
//! the result:
//!
//! - one parent (linear step, switch target, foreach child, loop iteration):
//!   `RUN/step/task`;
//! - static join: each branch's last task, as a full comma list, in the order of the
//!   join's `in_funcs`;
//! - foreach join: the last task of the body for every split, in split order, in the
//!   prefix form `RUN/step/:id0,id1,…` (a body that can end in several steps, e.g. a
//!   switch inside the foreach, gives `RUN/:stepA/id0,stepB/id1,…`; which step ran for
//!   each split is found by [`probe_foreach_join`]).
//!
//! The prefix must end in `/` (`RUN/square:square-0` decodes to `RUN/squaresquare-0`).

use futures_util::{StreamExt, TryStreamExt, stream};

use super::datastore::{Datastore, TaskFiles, latest_done_attempt};
use super::error::{TaskError, TaskResult};
use super::ids::task_id;

/// Concurrent datastore listings while probing a foreach join's inputs.
const PROBE_CONCURRENCY: usize = 32;

/// A parent task: its step and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// Step.
    pub step: String,
    /// Task id.
    pub task: String,
}

impl Parent {
    /// Parses `step/task_id`.
    pub fn parse(step_task: &str) -> TaskResult<Self> {
        match step_task.split_once('/') {
            Some((step, task)) if !step.is_empty() && !task.is_empty() && !task.contains('/') => {
                Ok(Self {
                    step: step.to_string(),
                    task: task.to_string(),
                })
            }
            _ => Err(TaskError::InvalidRequest(format!(
                "{step_task:?} is not a step/task_id pair"
            ))),
        }
    }
}

/// `RUN/step/task` for each parent, comma-separated.
pub fn full_list(run: &str, parents: &[Parent]) -> String {
    parents
        .iter()
        .map(|p| format!("{run}/{}/{}", p.step, p.task))
        .collect::<Vec<_>>()
        .join(",")
}

/// A static join's parents in the order of its `in_funcs` (parents of other steps,
/// which a switch inside a branch can give, keep their place after them).
pub fn order_by_in_funcs(in_funcs: &[String], mut parents: Vec<Parent>) -> Vec<Parent> {
    parents.sort_by_key(|p| {
        in_funcs
            .iter()
            .position(|f| *f == p.step)
            .unwrap_or(in_funcs.len())
    });
    parents
}

/// Several parents in Metaflow's prefix form: `RUN/step/:a,b` when they share a step,
/// `RUN/:s1/a,s2/b` otherwise; one parent as its plain path.
pub fn prefix_form(run: &str, parents: &[Parent]) -> String {
    match parents {
        [] => String::new(),
        [one] => format!("{run}/{}/{}", one.step, one.task),
        [first, rest @ ..] if rest.iter().all(|p| p.step == first.step) => {
            let ids: Vec<&str> = parents.iter().map(|p| p.task.as_str()).collect();
            format!("{run}/{}/:{}", first.step, ids.join(","))
        }
        _ => {
            let suffixes: Vec<String> = parents
                .iter()
                .map(|p| format!("{}/{}", p.step, p.task))
                .collect();
            format!("{run}/:{}", suffixes.join(","))
        }
    }
}

/// The task of body step `end` for each split of a foreach nested in `outer`.
pub fn foreach_siblings(end: &str, outer: &[u32], splits: u32) -> Vec<Parent> {
    let mut stack = outer.to_vec();
    stack.push(0);
    (0..splits)
        .map(|i| {
            *stack.last_mut().expect("pushed") = i;
            Parent {
                step: end.to_string(),
                task: task_id(end, &stack, None),
            }
        })
        .collect()
}

/// Where a foreach join looks for its parents in the datastore.
#[derive(Debug, Clone, Copy)]
pub struct ProbeScope<'a> {
    /// Datastore root.
    pub root: &'a str,
    /// Flow name.
    pub flow: &'a str,
    /// Run id.
    pub run: &'a str,
    /// The join step (for messages).
    pub join: &'a str,
}

/// For a foreach whose body can end in several steps (`candidates`, the join's
/// `in_funcs`), the step that ran for each split, found by the `DONE.lock` of its task
/// in the datastore; in split order.
pub async fn probe_foreach_join<D: Datastore>(
    store: &D,
    scope: ProbeScope<'_>,
    candidates: &[String],
    outer: &[u32],
    splits: u32,
) -> TaskResult<Vec<Parent>> {
    stream::iter(0..splits)
        .map(|index| async move {
            let mut stack = outer.to_vec();
            stack.push(index);
            for step in candidates {
                let task = task_id(step, &stack, None);
                let files = TaskFiles::new(scope.root, scope.flow, scope.run, step, &task);
                let names = store.list(files.dir()).await?;
                if latest_done_attempt(names.iter().map(String::as_str)).is_some() {
                    return Ok(Parent {
                        step: step.clone(),
                        task,
                    });
                }
            }
            Err(TaskError::JoinInputMissing {
                join: scope.join.to_string(),
                candidates: candidates.join(", "),
                index,
            })
        })
        .buffered(PROBE_CONCURRENCY)
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryDatastore;

    fn parent(step: &str, task: &str) -> Parent {
        Parent {
            step: step.into(),
            task: task.into(),
        }
    }

    #[test]
    fn single_parents_are_plain_paths() {
        assert_eq!(
            prefix_form("sfn-x", &[parent("start", "start")]),
            "sfn-x/start/start"
        );
        assert_eq!(
            full_list("sfn-x", &[parent("tick", "tick-i3")]),
            "sfn-x/tick/tick-i3"
        );
        assert_eq!(
            Parent::parse("square/square-3").unwrap(),
            parent("square", "square-3")
        );
        assert!(Parent::parse("square").is_err());
        assert!(Parent::parse("a/b/c").is_err());
    }

    #[test]
    fn foreach_joins_use_the_prefix_form_in_split_order() {
        let siblings = foreach_siblings("square", &[], 7);
        assert_eq!(
            prefix_form("sfn-x", &siblings),
            "sfn-x/square/:square-0,square-1,square-2,square-3,square-4,square-5,square-6"
        );
        // Nested: the inner join at outer index 1 of 2 takes level2-1-0, level2-1-1.
        assert_eq!(
            prefix_form("sfn-x", &foreach_siblings("level2", &[1], 2)),
            "sfn-x/level2/:level2-1-0,level2-1-1"
        );
        assert_eq!(
            prefix_form("sfn-x", &foreach_siblings("level3", &[1, 2], 1)),
            "sfn-x/level3/level3-1-2-0"
        );
    }

    #[test]
    fn mixed_steps_share_the_run_prefix() {
        let parents = [
            parent("odd", "odd-0"),
            parent("even", "even-1"),
            parent("odd", "odd-2"),
        ];
        assert_eq!(
            prefix_form("sfn-x", &parents),
            "sfn-x/:odd/odd-0,even/even-1,odd/odd-2"
        );
    }

    #[test]
    fn static_joins_follow_in_funcs() {
        let in_funcs = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let given = vec![parent("c", "c"), parent("a", "a"), parent("b", "b")];
        let ordered = order_by_in_funcs(&in_funcs, given);
        assert_eq!(
            full_list("sfn-x", &ordered),
            "sfn-x/a/a,sfn-x/b/b,sfn-x/c/c"
        );
        // Inside a foreach, branch tasks carry the index.
        let ordered =
            order_by_in_funcs(&in_funcs[..2], vec![parent("b", "b-4"), parent("a", "a-4")]);
        assert_eq!(full_list("sfn-x", &ordered), "sfn-x/a/a-4,sfn-x/b/b-4");
    }

    /// What Python's `decompress_list` does, to check the forms round-trip.
    fn decompress(value: &str) -> Vec<String> {
        match value.split_once(':') {
            Some((prefix, suffixes)) => suffixes
                .split(',')
                .map(|s| format!("{prefix}{s}"))
                .collect(),
            None => value.split(',').map(String::from).collect(),
        }
    }

    #[test]
    fn every_form_decodes_to_the_paths_in_order() {
        let mixed = vec![parent("odd", "odd-0"), parent("even", "even-1")];
        let same = foreach_siblings("square", &[2], 3);
        for parents in [mixed, same] {
            let expected: Vec<String> = parents
                .iter()
                .map(|p| format!("sfn-x/{}/{}", p.step, p.task))
                .collect();
            assert_eq!(decompress(&prefix_form("sfn-x", &parents)), expected);
            assert_eq!(decompress(&full_list("sfn-x", &parents)), expected);
        }
    }

    #[tokio::test]
    async fn probing_finds_the_step_that_ran_for_each_split() {
        let store = MemoryDatastore::new();
        let root = "s3://b/metaflow";
        for (step, task) in [
            ("odd", "odd-0"),
            ("even", "even-1"),
            ("odd", "odd-2"),
            ("even", "even-3"),
        ] {
            let files = TaskFiles::new(root, "F", "sfn-x", step, task);
            store.insert(&files.data_json(0), b"{}".to_vec());
            store.insert(&files.done_lock(0), Vec::new());
        }
        // A step that started but never finished does not count.
        let stray = TaskFiles::new(root, "F", "sfn-x", "even", "even-2");
        store.insert(&format!("{}0.attempt.json", stray.dir()), b"{}".to_vec());
        let scope = ProbeScope {
            root,
            flow: "F",
            run: "sfn-x",
            join: "collect",
        };
        let candidates = vec!["even".to_string(), "odd".to_string()];
        let found = probe_foreach_join(&store, scope, &candidates, &[], 4)
            .await
            .unwrap();
        assert_eq!(
            prefix_form("sfn-x", &found),
            "sfn-x/:odd/odd-0,even/even-1,odd/odd-2,even/even-3"
        );
        let missing = probe_foreach_join(&store, scope, &candidates, &[], 5)
            .await
            .unwrap_err();
        assert_eq!(
            missing,
            TaskError::JoinInputMissing {
                join: "collect".into(),
                candidates: "even, odd".into(),
                index: 4
            }
        );
    }
}
