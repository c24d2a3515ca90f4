//! What a start phase's input is. The compiler knows, for every start state it emits,
//! what reaches it (from the flow graph), and says so in the request's `from` tag; the
//! step Lambda decodes the input as that kind and nothing else:
//!
//! | `from`          | state input                                                   |
//! |-----------------|---------------------------------------------------------------|
//! | `execution`     | the execution input (parameter values); start step only       |
//! | `retry`         | `{"task": <failed attempt>, "error"}` ([`RetryInput`])         |
//! | `parent`        | `{"ctx", "next"?}`: linear step, switch target, loop iteration |
//! | `foreach_child` | `{"ctx": <foreach step's ctx>, "index"}` ([`ForeachChildInput`]) |
//! | `static_join`   | the branches' outputs `[{"ctx"}, …]` ([`StaticJoinInput`])     |
//! | `foreach_join`  | `{"ctx": <foreach step's ctx>, "width"}` or `{…, "splits"}`    |
//!
//! One start state takes one kind of input, so the states where a second kind arrives
//! are separate start states with their own tag: a retry goes `S.retry` (Choice) →
//! `S.wait` (if the step waits) → `S.again` (`from: retry`) → `S.job`, and a step that
//! loops on itself but is not entered from a parent (a foreach child, a join) has its
//! switch route the next iteration to `S.loop` (`from: parent`). The extra start state
//! replaces the re-entry into `S`, so a retry or an iteration adds no state to the
//! execution's history.

use serde::{Deserialize, Serialize};

use crate::protocol::{Ctx, ErrorInfo, Task};

/// The kind of a start state's input, fixed by the compiler per state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    /// The start step's first attempt: the execution input.
    Execution,
    /// The next attempt of a failed task: [`RetryInput`].
    Retry,
    /// A linear step, a switch target or a loop iteration: [`ParentInput`].
    Parent,
    /// A foreach child: [`ForeachChildInput`].
    ForeachChild,
    /// The join of a static split: [`StaticJoinInput`].
    StaticJoin,
    /// The join of a foreach: [`ForeachJoinInput`].
    ForeachJoin,
}

/// A retry's input: the failed attempt, as the start phase returned it, and its error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryInput {
    /// The failed attempt.
    pub task: Task,
    /// Why it failed, as the job state's `Catch` recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// A step after one parent task: the parent's finish output (other fields ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentInput {
    /// The parent's context.
    pub ctx: Ctx,
}

/// A foreach child: the Map's item selector output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeachChildInput {
    /// The foreach step's context.
    pub ctx: Ctx,
    /// The split index.
    pub index: u32,
}

/// A static join: the Parallel state's output, one branch's last finish output each.
pub type StaticJoinInput = Vec<ParentInput>;

/// A foreach join: the foreach step's finish output, passed through the Map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeachJoinInput {
    /// The foreach step's context.
    pub ctx: Ctx,
    /// The number of splits (Distributed Map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// The split indices `0..n` (inline Map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<Vec<u32>>,
}

/// The execution input's key for a resumed run's [`Resume`] (beside `"Parameters"`).
pub const RESUME_KEY: &str = "Resume";

/// What makes a run a resumed one (Metaflow's `resume [STEP]`): the run it clones
/// from and the steps that run again whatever the origin did. It travels in the
/// execution input ([`ResumedExecutionInput`]), then in every [`crate::protocol::Task`]
/// and [`crate::protocol::Ctx`] of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The origin run id (`sfn-…`).
    pub origin_run: String,
    /// `resume STEP`'s step and every step after it; empty: every task that succeeded
    /// in the origin run is cloned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rerun: Vec<String>,
}

impl Resume {
    /// Whether the tasks of `step` are cloned when their origin task succeeded.
    pub fn may_clone(&self, step: &str) -> bool {
        !self.rerun.iter().any(|s| s == step)
    }
}

/// A resumed run's execution input: the origin's parameter values in Metaflow's form
/// (`"Parameters"`, a JSON object as text) and the [`Resume`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumedExecutionInput {
    /// The parameter values, a JSON object as text.
    #[serde(rename = "Parameters")]
    pub parameters: String,
    /// The origin and what runs again.
    #[serde(rename = "Resume")]
    pub resume: Resume,
}

impl ResumedExecutionInput {
    /// Reads `input` as a resumed run's execution input; `None` for any other input (a
    /// plain run's parameters, even one with a parameter called `Resume`, have no
    /// `"Parameters"` text beside it).
    pub fn from_input(input: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(input.clone()).ok()
    }
}
