//! The step Lambda payloads the compiled state machine sends, as templates: each field a
//! fixed value or a JSONPath into the state's data (or its context object). The compiler
//! turns them into `Parameters` as they are; the keys and phase names live here, beside
//! the serde types in [`crate::protocol`] and [`crate::hook_protocol`] that decode them,
//! and the tests below fill each template from a sample state and decode it.

use serde_json::Value;

use crate::exit_hooks::RunOutcome;
use crate::paths;
use crate::start_input::StartFrom;

/// The payloads' keys.
pub mod keys {
    /// The phase ([`super::phase`]); selects the [`crate::protocol::Request`] variant.
    pub const PHASE: &str = "phase";
    /// The step (start, finish).
    pub const STEP: &str = "step";
    /// The kind of a start state's input ([`crate::start_input::StartFrom`]).
    pub const FROM: &str = "from";
    /// A first attempt's start state is followed by `S.cloned`: the task may be cloned.
    pub const MAY_CLONE: &str = "may_clone";
    /// The state's input (start, fail).
    pub const INPUT: &str = "input";
    /// The manifest URL (the start step's first attempt, hooks).
    pub const MANIFEST: &str = "manifest";
    /// The execution's name (the start step's first attempt, hooks).
    pub const EXECUTION: &str = "execution";
    /// The task (finish), or a foreach iteration's finished task (its kept result).
    pub const TASK: &str = "task";
    /// The Batch job's id (finish).
    pub const BATCH: &str = "batch";
    /// The foreach step whose Distributed Map runs a child execution (fail).
    pub const FOREACH: &str = "foreach";
    /// Which exit hooks (hook, hooked).
    pub const ON: &str = "on";
    /// The hook states' progress (hooked).
    pub const HOOK: &str = "hook";
    /// A foreach child's input: the foreach step's context.
    pub const CTX: &str = "ctx";
    /// A foreach child's input: its split index.
    pub const INDEX: &str = "index";
}

/// The phase names, as [`crate::protocol::Request`]'s `phase` tag spells them.
pub mod phase {
    /// [`crate::protocol::Request::Start`].
    pub const START: &str = "start";
    /// [`crate::protocol::Request::Finish`].
    pub const FINISH: &str = "finish";
    /// [`crate::protocol::Request::Fail`].
    pub const FAIL: &str = "fail";
    /// [`crate::protocol::Request::Hook`].
    pub const HOOK: &str = "hook";
    /// [`crate::protocol::Request::Hooked`].
    pub const HOOKED: &str = "hooked";
}

/// The whole state's data.
pub const STATE: &str = "$";
/// The execution's name (context object).
pub const EXECUTION_NAME: &str = "$$.Execution.Name";
/// A Map iteration's item: the split index (context object).
pub const MAP_ITEM: &str = "$$.Map.Item.Value";
/// A foreach iteration's finished task, `step/task_id`.
pub const CTX_TASK: &str = "$.ctx.task";

/// One field of a payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A fixed value.
    Value(Value),
    /// A JSONPath (`$…`) or context path (`$$…`) read when the state runs.
    Path(String),
}

/// A payload template: fields in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    fields: Vec<(&'static str, Field)>,
}

impl Payload {
    fn value(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.fields.push((key, Field::Value(value.into())));
        self
    }

    fn path(mut self, key: &'static str, path: &str) -> Self {
        self.fields.push((key, Field::Path(path.to_string())));
        self
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[(&'static str, Field)] {
        &self.fields
    }

    /// A start state of `step` whose input is of kind `from`. The start step's first
    /// attempt (`from: execution`) also carries the manifest and the execution's name;
    /// every first attempt's says `may_clone` (its state machine skips the job of a task
    /// cloned from a resumed run's origin).
    pub fn start(step: &str, from: StartFrom, manifest: &str) -> Self {
        let mut payload = Self::default()
            .value(keys::PHASE, phase::START)
            .value(keys::STEP, step)
            .value(keys::FROM, from.as_str())
            .path(keys::INPUT, STATE);
        if from != StartFrom::Retry {
            payload = payload.value(keys::MAY_CLONE, true);
        }
        match from {
            StartFrom::Execution => payload
                .value(keys::MANIFEST, manifest)
                .path(keys::EXECUTION, EXECUTION_NAME),
            _ => payload,
        }
    }

    /// The finish state of `step`: the task and its Batch job's id.
    pub fn finish(step: &str) -> Self {
        Self::default()
            .value(keys::PHASE, phase::FINISH)
            .value(keys::STEP, step)
            .path(keys::TASK, paths::TASK)
            .path(keys::BATCH, paths::BATCH)
    }

    /// A scope's failure state; `foreach` in a Distributed Map's child executions.
    pub fn fail(foreach: Option<&str>) -> Self {
        let payload = Self::default()
            .value(keys::PHASE, phase::FAIL)
            .path(keys::INPUT, STATE);
        match foreach {
            Some(step) => payload.value(keys::FOREACH, step),
            None => payload,
        }
    }

    /// The state building the exit hooks' job for `on`.
    pub fn hook(on: RunOutcome, manifest: &str) -> Self {
        Self::hook_phase(phase::HOOK, on, manifest)
    }

    /// The state recording how the exit hooks for `on` went, from `hook` (a path).
    pub fn hooked(on: RunOutcome, manifest: &str, hook: &str) -> Self {
        Self::hook_phase(phase::HOOKED, on, manifest).path(keys::HOOK, hook)
    }

    fn hook_phase(phase: &str, on: RunOutcome, manifest: &str) -> Self {
        Self::default()
            .value(keys::PHASE, phase)
            .value(keys::ON, on.attribute())
            .value(keys::MANIFEST, manifest)
            .path(keys::EXECUTION, EXECUTION_NAME)
    }

    /// A foreach's item selector: each child's input (`from: foreach_child`).
    pub fn foreach_child() -> Self {
        Self::default()
            .path(keys::CTX, paths::CTX)
            .path(keys::INDEX, MAP_ITEM)
    }

    /// What a foreach iteration keeps of its last finish output: its task, so the
    /// Map's result stays tiny (the join finds its inputs itself).
    pub fn foreach_iteration_result() -> Self {
        Self::default().path(keys::TASK, CTX_TASK)
    }
}

impl StartFrom {
    /// The tag as the payload spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Execution => "execution",
            Self::Retry => "retry",
            Self::Parent => "parent",
            Self::ForeachChild => "foreach_child",
            Self::StaticJoin => "static_join",
            Self::ForeachJoin => "foreach_join",
        }
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
