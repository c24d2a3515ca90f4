//! The ASL document model.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// States of one scope (the machine, a `Parallel` branch or a `Map` processor), in the
/// order they were emitted.
pub type States = IndexMap<String, State>;

/// A whole state machine definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    /// Human-readable description shown in the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Name of the first state.
    pub start_at: String,
    /// Execution timeout (Metaflow's `--workflow-timeout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// All top-level states.
    pub states: States,
}

impl StateMachine {
    /// The definition as compact JSON, as it is sent to Step Functions.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ASL model always serialises")
    }

    /// The definition as indented JSON, for people.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("ASL model always serialises")
    }
}

/// One state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    /// Calls a service integration.
    Task(TaskState),
    /// Routes on the input.
    Choice(ChoiceState),
    /// Runs a processor once per item.
    Map(MapState),
    /// Runs branches concurrently.
    Parallel(ParallelState),
    /// Waits.
    Wait(WaitState),
    /// Stops the execution as failed.
    Fail(FailState),
    /// Stops the execution (or scope) as succeeded.
    Succeed(SucceedState),
}

/// A `Succeed` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SucceedState {
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Where a state goes next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transition {
    /// The next state's name.
    Next(String),
    /// This state ends its scope (`"End": true`).
    End(bool),
}

impl Transition {
    /// `"Next": name`.
    pub fn next(name: impl Into<String>) -> Self {
        Transition::Next(name.into())
    }

    /// `"End": true`.
    pub fn end() -> Self {
        Transition::End(true)
    }

    /// The target, if this is a `Next`.
    pub fn target(&self) -> Option<&str> {
        match self {
            Transition::Next(name) => Some(name),
            Transition::End(_) => None,
        }
    }
}

/// `ResultPath`: a JSONPath, or `null` to discard the result and keep the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResultPath {
    /// Keep the state's input as its output.
    Discard(()),
    /// Put the result at this path of the input.
    Path(String),
}

impl ResultPath {
    /// `"ResultPath": null`.
    pub fn discard() -> Self {
        ResultPath::Discard(())
    }
}

/// A `Task` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The integration ARN (`arn:aws:states:::lambda:invoke`, ...).
    pub resource: String,
    /// The request payload template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
    /// Reshapes the result before `ResultPath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<serde_json::Value>,
    /// Where the result goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    /// Selects the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
    /// Retries for errors the integration reports.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub retry: Vec<RetryRule>,
    /// Where errors go when retries are exhausted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub catch: Vec<CatchRule>,
    /// Next state or end.
    #[serde(flatten)]
    pub transition: Transition,
}

/// One `Retry` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryRule {
    /// Error names this rule matches.
    pub error_equals: Vec<String>,
    /// Seconds before the first retry.
    pub interval_seconds: u32,
    /// Number of retries.
    pub max_attempts: u32,
    /// Multiplier of the interval per retry (a float, as statelint requires).
    pub backoff_rate: f64,
    /// Upper bound of the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    /// `FULL` adds jitter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<String>,
}

/// One `Catch` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CatchRule {
    /// Error names this rule matches.
    pub error_equals: Vec<String>,
    /// Where the error output goes.
    pub result_path: String,
    /// The state to go to.
    pub next: String,
}

/// A `Choice` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceState {
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Rules, first match wins.
    pub choices: Vec<ChoiceRule>,
    /// Where to go when no rule matches (absent: `States.NoChoiceMatched`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// One choice rule: `Variable` compared with one operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceRule {
    /// The JSONPath compared.
    pub variable: String,
    /// String equality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_equals: Option<String>,
    /// Numeric less-than.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numeric_less_than: Option<f64>,
    /// Boolean equality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boolean_equals: Option<bool>,
    /// Target state.
    pub next: String,
}

/// A `Map` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The array to iterate, in the state input (inline Map).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_path: Option<String>,
    /// Where a Distributed Map reads its items from (an S3 object), instead of the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_reader: Option<Box<ItemReader>>,
    /// Each iteration's input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_selector: Option<serde_json::Value>,
    /// What runs per item.
    pub item_processor: ItemProcessor,
    /// Concurrency bound (Metaflow's `--max-workers`).
    pub max_concurrency: u32,
    /// Distributed Map: results go to S3 instead of the state output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_writer: Option<ResultWriter>,
    /// Selects the output from the results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<serde_json::Value>,
    /// Where the results go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<ResultPath>,
    /// Where errors go.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub catch: Vec<CatchRule>,
    /// Next state or end.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A Map's processor: a nested scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemProcessor {
    /// Inline or distributed.
    pub processor_config: ProcessorConfig,
    /// First state per iteration.
    pub start_at: String,
    /// The scope's states.
    pub states: States,
}

/// `ProcessorConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorConfig {
    /// `INLINE` or `DISTRIBUTED`.
    pub mode: Mode,
    /// `STANDARD` for a distributed map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_type: Option<String>,
}

/// Map processing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Mode {
    /// Iterations run in the parent execution (≈40 concurrent, share its history).
    Inline,
    /// Iterations run as child executions (up to 10,000 concurrent, own histories).
    Distributed,
}

/// A Distributed Map's `ItemReader`: the items are a JSON array in an S3 object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ItemReader {
    /// `arn:aws:states:::s3:getObject`.
    pub resource: String,
    /// `{"InputType": "JSON"}`.
    pub reader_config: ReaderConfig,
    /// `{"Bucket.$": ..., "Key.$": ...}`.
    pub parameters: serde_json::Value,
}

/// An `ItemReader`'s `ReaderConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReaderConfig {
    /// `JSON`: the object is one JSON array.
    pub input_type: String,
}

/// A Distributed Map's `ResultWriter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResultWriter {
    /// `arn:aws:states:::s3:putObject`.
    pub resource: String,
    /// `{"Bucket": ..., "Prefix": ...}`.
    pub parameters: serde_json::Value,
}

/// A `Parallel` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelState {
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// One scope per branch.
    pub branches: Vec<Branch>,
    /// Where errors go.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub catch: Vec<CatchRule>,
    /// Next state or end.
    #[serde(flatten)]
    pub transition: Transition,
}

/// One `Parallel` branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Branch {
    /// First state.
    pub start_at: String,
    /// The branch's states.
    pub states: States,
}

/// A `Wait` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitState {
    /// Seconds to wait.
    pub seconds: u64,
    /// Next state or end.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A `Fail` state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailState {
    /// Optional description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Path of the error name in the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_path: Option<String>,
    /// Path of the cause in the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause_path: Option<String>,
}

impl State {
    /// Every state name this state can go to next, in its own scope.
    pub fn targets(&self) -> Vec<&str> {
        match self {
            State::Task(t) => t
                .transition
                .target()
                .into_iter()
                .chain(t.catch.iter().map(|c| c.next.as_str()))
                .collect(),
            State::Choice(c) => c
                .choices
                .iter()
                .map(|r| r.next.as_str())
                .chain(c.default.as_deref())
                .collect(),
            State::Map(m) => m
                .transition
                .target()
                .into_iter()
                .chain(m.catch.iter().map(|c| c.next.as_str()))
                .collect(),
            State::Parallel(p) => p
                .transition
                .target()
                .into_iter()
                .chain(p.catch.iter().map(|c| c.next.as_str()))
                .collect(),
            State::Wait(w) => w.transition.target().into_iter().collect(),
            State::Fail(_) | State::Succeed(_) => Vec::new(),
        }
    }

    /// Nested scopes (Parallel branches, Map processor) as (start, states).
    pub fn scopes(&self) -> Vec<(&str, &States)> {
        match self {
            State::Map(m) => vec![(m.item_processor.start_at.as_str(), &m.item_processor.states)],
            State::Parallel(p) => p
                .branches
                .iter()
                .map(|b| (b.start_at.as_str(), &b.states))
                .collect(),
            _ => Vec::new(),
        }
    }
}
