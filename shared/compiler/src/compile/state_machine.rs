//! Flow graph → state machine. Each Metaflow task becomes the step Lambda's `start`
//! phase, the Batch job (`batch:submitJob.sync`) and the `finish` phase; splits become
//! `Parallel`, foreaches `Map`, switches `Choice` (recursive switches loop back).
//!
//! States per step `S`:
//! - `S`        step Lambda `start`: task id, input paths, job request → `{"task": ...}`;
//!   its payload's `from` says what its input is, known from the graph (the execution
//!   input, a parent's context, a foreach child's, a join's inputs)
//! - `S.cloned` Choice: a resumed run's task the start phase cloned from the origin run
//!   (`$.cloned`) skips its job → `S.done`; any other → `S.job`
//! - `S.job`    the Batch job; on failure → `S.retry` (if the step retries) or the scope's
//!   failure state
//! - `S.retry`  Choice: attempts left? → `S.wait` (if the step waits) → `S.again`
//! - `S.again`  step Lambda `start` with `from: retry`: the next attempt, same task id
//! - `S.loop`   step Lambda `start` with `from: parent`: the next iteration of a step that
//!   loops on itself but is not entered from a parent (a foreach child, a join)
//! - `S.done`   step Lambda `finish`: reads what the task wrote → `{"ctx", "splits"?, "next"?}`
//! - `S.split` / `S.foreach` / `S.route`: the Parallel, Map or Choice after a split step
//!
//! Foreaches are Distributed Maps by default (`distributed_map = false`: inline Maps):
//! the foreach step's `finish` writes the split indices to S3 and the Map's `ItemReader`
//! reads them, so neither the payload nor the parent's history grows with the width.
//!
//! Failures: the machine's scope (and each Distributed Map processor, which runs as its
//! own executions) has `TaskFailed` (step Lambda `fail`: records the failure, fetches the
//! task's error) and `Failed` (ends with that error and cause). A child execution's
//! `fail` also leaves its failure in the run's area, where the parent's `fail` finds it
//! when the Map Run fails (`States.ExceedToleratedFailureThreshold`). An inline nested scope
//! ends in `Failed.<first step>` with the failed state's JSON as cause; the enclosing
//! Parallel or Map catches it and hands it to its own scope's failure path.
//!
//! Payloads stay tiny: a context object (run id, task pathspec, foreach indices) flows
//! from step to step; commands and input paths are built by the Lambda, not the ASL.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::exit_hooks::ExitHooks;
use crate::asl::{
    Branch, CatchRule, ChoiceRule, ChoiceState, FailState, ItemProcessor, ItemReader, MapState,
    Mode, ParallelState, ProcessorConfig, ReaderConfig, ResultPath, ResultWriter, RetryRule, State,
    StateMachine, States, TaskState, Template, Transition, WaitState,
};
use crate::graph::NodeType;
use crate::lint::LintedGraph;
use crate::naming::state_name;
use dropflow_contract::StepPlan;
use dropflow_contract::options::{DeployOptions, Platform};
use dropflow_contract::payload::Payload;
use dropflow_contract::start_input::StartFrom;

pub use dropflow_contract::paths;

/// Emits the state machine for a linted graph.
pub struct StateMachineBuilder<'a> {
    graph: &'a LintedGraph,
    plans: &'a BTreeMap<String, StepPlan>,
    options: &'a DeployOptions,
    platform: &'a Platform,
    manifest_location: &'a str,
    exit_hooks: Option<&'a ExitHooks>,
    emitted: HashSet<String>,
}

/// Where failures go in one scope.
struct Scope {
    /// The state a failed task goes to.
    on_failure: String,
    /// The states that close the scope, added once it is complete.
    closing: Vec<(String, State)>,
}

impl<'a> StateMachineBuilder<'a> {
    /// The manifest's location, which the step Lambda's phases are given.
    pub(super) fn manifest_location(&self) -> &str {
        self.manifest_location
    }

    /// A builder over a graph that passed lint and the step plans computed from it.
    pub fn new(
        graph: &'a LintedGraph,
        plans: &'a BTreeMap<String, StepPlan>,
        options: &'a DeployOptions,
        platform: &'a Platform,
        manifest_location: &'a str,
    ) -> Self {
        Self {
            graph,
            plans,
            options,
            platform,
            manifest_location,
            exit_hooks: None,
            emitted: HashSet::new(),
        }
    }

    /// Runs `hooks` after the run ends (see [`super::hook_states`]).
    pub fn with_exit_hooks(mut self, hooks: &'a ExitHooks) -> Self {
        self.exit_hooks = Some(hooks).filter(|h| !h.is_empty());
        self
    }

    /// Builds the whole machine.
    pub fn build(mut self, comment: String) -> StateMachine {
        let start = self.graph.start().to_string();
        let mut states = States::new();
        let scope = self.reporting_scope(None);
        self.visit(&start, &mut states, &scope, None);
        states.extend(scope.closing);
        if let Some(hooks) = self.exit_hooks {
            let end = self.graph.end();
            super::hook_states::add(&self, hooks, end, &mut states);
        }
        StateMachine {
            comment: Some(comment),
            start_at: state_name(&start),
            timeout_seconds: self.options.workflow_timeout,
            states,
        }
    }

    /// Emits `step` and everything after it up to `exit` (the join closing this scope).
    fn visit(&mut self, step: &str, states: &mut States, scope: &Scope, exit: Option<&str>) {
        if !self.emitted.insert(step.to_string()) {
            return; // switch cases converging on a step already emitted in this scope
        }
        let graph: &'a LintedGraph = self.graph;
        let node = graph.node(step);
        let retry = &self.plans[step].runtime.retry;
        let name = state_name(step);
        let job = state_name(&format!("{step}.job"));
        let done = state_name(&format!("{step}.done"));

        let from = self.start_from(step);
        let cloned = state_name(&format!("{step}.cloned"));
        states.insert(name.clone(), self.start_state(step, from, &cloned));
        states.insert(cloned.clone(), clone_choice(step, &job, &done));
        let on_job_failure = if retry.total_retries > 0 {
            state_name(&format!("{step}.retry"))
        } else {
            scope.on_failure.clone()
        };
        states.insert(job.clone(), self.job_state(&done, &on_job_failure));
        if retry.total_retries > 0 {
            let wait = state_name(&format!("{step}.wait"));
            let again = state_name(&format!("{step}.again"));
            states.insert(
                again.clone(),
                self.start_state(step, StartFrom::Retry, &job),
            );
            let next_attempt = if retry.wait_seconds > 0 {
                wait.clone()
            } else {
                again.clone()
            };
            states.insert(
                on_job_failure,
                State::Choice(ChoiceState {
                    comment: Some(format!(
                        "retry {step}: up to {} retries",
                        retry.total_retries
                    )),
                    choices: vec![ChoiceRule {
                        variable: paths::ATTEMPT.to_string(),
                        string_equals: None,
                        numeric_less_than: Some(f64::from(retry.total_retries)),
                        boolean_equals: None,
                        next: next_attempt,
                    }],
                    default: Some(scope.on_failure.clone()),
                }),
            );
            if retry.wait_seconds > 0 {
                states.insert(
                    wait,
                    State::Wait(WaitState {
                        seconds: retry.wait_seconds,
                        transition: Transition::next(again),
                    }),
                );
            }
        }

        let ends_scope = node.node_type == Some(NodeType::End)
            || exit.is_some_and(|e| node.out_funcs.iter().any(|o| o == e));
        let after_done = match node.node_type {
            _ if ends_scope => Transition::end(),
            Some(NodeType::Split) => Transition::next(state_name(&format!("{step}.split"))),
            Some(NodeType::Foreach) => Transition::next(state_name(&format!("{step}.foreach"))),
            Some(NodeType::SplitSwitch) => Transition::next(state_name(&format!("{step}.route"))),
            _ => Transition::next(state_name(&node.out_funcs[0])),
        };
        let exits_into_foreach_join = ends_scope && exit.is_some_and(|e| self.is_foreach_join(e));
        states.insert(
            done,
            self.finish_state(step, after_done, exits_into_foreach_join),
        );
        if ends_scope {
            return;
        }

        // Lint proved every split and foreach has its join (`LintedGraph::join_of`).
        match (node.node_type, graph.join_of(step).map(str::to_string)) {
            (Some(NodeType::Split), Some(join)) => {
                let branches = node
                    .out_funcs
                    .iter()
                    .map(|child| {
                        let (start_at, states) = self.nested(child, &join, Mode::Inline, step);
                        Branch { start_at, states }
                    })
                    .collect();
                states.insert(
                    state_name(&format!("{step}.split")),
                    State::Parallel(ParallelState {
                        comment: Some(format!("branches of {step}, joined by {join}")),
                        branches,
                        catch: vec![catch_all(&scope.on_failure)],
                        transition: Transition::next(state_name(&join)),
                    }),
                );
                self.visit(&join, states, scope, exit);
            }
            (Some(NodeType::Foreach), Some(join)) => {
                let mode = if self.options.distributed_map {
                    Mode::Distributed
                } else {
                    Mode::Inline
                };
                let (start_at, inner) = self.nested(&node.out_funcs[0], &join, mode, step);
                states.insert(
                    state_name(&format!("{step}.foreach")),
                    self.map_state(step, &join, mode, start_at, inner, &scope.on_failure),
                );
                self.visit(&join, states, scope, exit);
            }
            (Some(NodeType::SplitSwitch), _) => {
                let mut targets: Vec<&String> = Vec::new();
                for target in &node.out_funcs {
                    if !targets.contains(&target) {
                        targets.push(target);
                    }
                }
                // The next iteration of a step entered otherwise than from a parent
                // starts at its own state, whose input is the step's context.
                let loops_back = targets.iter().any(|t| *t == step) && from != StartFrom::Parent;
                let loop_state = state_name(&format!("{step}.loop"));
                if loops_back {
                    let cloned = state_name(&format!("{step}.cloned"));
                    states.insert(
                        loop_state.clone(),
                        self.start_state(step, StartFrom::Parent, &cloned),
                    );
                }
                states.insert(
                    state_name(&format!("{step}.route")),
                    State::Choice(ChoiceState {
                        comment: Some(format!(
                            "switch on {}",
                            node.condition.as_deref().unwrap_or("the condition")
                        )),
                        choices: targets
                            .iter()
                            .map(|target| ChoiceRule {
                                variable: paths::NEXT.to_string(),
                                string_equals: Some(target.to_string()),
                                numeric_less_than: None,
                                boolean_equals: None,
                                next: if loops_back && *target == step {
                                    loop_state.clone()
                                } else {
                                    state_name(target)
                                },
                            })
                            .collect(),
                        default: None,
                    }),
                );
                for target in targets {
                    if target != step {
                        self.visit(target, states, scope, exit);
                    }
                }
            }
            _ => self.visit(&node.out_funcs[0], states, scope, exit),
        }
    }

    /// A nested scope (Parallel branch or Map processor) from `step` up to `join`, opened
    /// by `split` (a split or foreach step).
    fn nested(&mut self, step: &str, join: &str, mode: Mode, split: &str) -> (String, States) {
        let scope = match mode {
            // Child executions report their own failures, and leave them where the
            // parent's fail phase finds them (a Map Run fails with its own error).
            Mode::Distributed => self.reporting_scope(Some((step, split))),
            Mode::Inline => {
                let fail = state_name(&format!("Failed.{step}"));
                Scope {
                    on_failure: fail.clone(),
                    closing: vec![(
                        fail,
                        State::Fail(FailState {
                            comment: Some("hand the failed task to the enclosing scope".into()),
                            error_path: Some("$.error.Error".into()),
                            cause_path: Some("States.JsonToString($)".into()),
                        }),
                    )],
                }
            }
        };
        let mut states = States::new();
        self.visit(step, &mut states, &scope, Some(join));
        states.extend(scope.closing);
        (state_name(step), states)
    }

    /// A scope whose failures are reported by the step Lambda before the execution ends:
    /// the whole machine, or (`Some((first step, foreach step))`) a Distributed Map's
    /// child executions.
    fn reporting_scope(&self, child_of: Option<(&str, &str)>) -> Scope {
        let suffix = child_of.map(|(s, _)| format!(".{s}")).unwrap_or_default();
        let report = state_name(&format!("TaskFailed{suffix}"));
        let fail = state_name(&format!("Failed{suffix}"));
        let payload = Payload::fail(child_of.map(|(_, foreach)| foreach));
        let mut task = self.lambda_task(payload.into());
        task.comment = Some("record the failed task and fetch its error".to_string());
        task.transition = Transition::next(fail.clone());
        Scope {
            on_failure: report.clone(),
            closing: vec![
                (report, State::Task(task)),
                (
                    fail,
                    State::Fail(FailState {
                        comment: Some("a task failed: its error and the end of its log".into()),
                        error_path: Some("$.error".into()),
                        cause_path: Some("$.cause".into()),
                    }),
                ),
            ],
        }
    }

    fn is_foreach_join(&self, join: &str) -> bool {
        self.graph
            .get(join)
            .and_then(|j| j.split_parents.last())
            .and_then(|p| self.graph.get(p))
            .is_some_and(|p| p.node_type == Some(NodeType::Foreach))
    }

    /// A direct invocation of the step Lambda: the payload is the state's `Parameters`
    /// and the function's result is the state's result.
    pub(super) fn lambda_task(&self, payload: Template) -> TaskState {
        TaskState {
            comment: None,
            resource: self.platform.step_function_arn.clone(),
            parameters: Some(payload.into()),
            result_selector: None,
            result_path: None,
            output_path: None,
            retry: vec![lambda_retry()],
            catch: Vec::new(),
            transition: Transition::end(),
        }
    }

    /// What reaches `step`'s start state, from the graph: the execution input (the start
    /// step), a join's inputs, a foreach child's input, or a parent's context.
    fn start_from(&self, step: &str) -> StartFrom {
        let node = self.graph.node(step);
        if self.graph.start_step.as_deref() == Some(step) {
            StartFrom::Execution
        } else if node.node_type == Some(NodeType::Join) {
            if self.is_foreach_join(step) {
                StartFrom::ForeachJoin
            } else {
                StartFrom::StaticJoin
            }
        } else if node.in_funcs.iter().any(|parent| {
            parent != step
                && self
                    .graph
                    .get(parent)
                    .is_some_and(|p| p.node_type == Some(NodeType::Foreach))
        }) {
            StartFrom::ForeachChild
        } else {
            StartFrom::Parent
        }
    }

    fn start_state(&self, step: &str, from: StartFrom, job: &str) -> State {
        let payload = Payload::start(step, from, self.manifest_location);
        let mut task = self.lambda_task(payload.into());
        task.transition = Transition::next(job);
        State::Task(task)
    }

    fn job_state(&self, done: &str, on_failure: &str) -> State {
        self.batch_job_state(paths::TASK, paths::BATCH, done, on_failure)
    }

    /// A `batch:submitJob.sync` state for the job at `{from}.job`, its id put at `into`.
    pub(super) fn batch_job_state(
        &self,
        from: &str,
        into: &str,
        done: &str,
        on_failure: &str,
    ) -> State {
        let job = |field: &str| format!("{from}.job.{field}");
        State::Task(TaskState {
            comment: None,
            resource: format!(
                "arn:{}:states:::batch:submitJob.sync",
                self.platform.partition
            ),
            parameters: Some(
                Template::new()
                    .path("JobName", &job("JobName"))
                    .path("JobQueue", &job("JobQueue"))
                    .path("JobDefinition", &job("JobDefinition"))
                    .path("ContainerOverrides", &job("ContainerOverrides"))
                    .into(),
            ),
            // Keep only the job id of Batch's (large) job description.
            result_selector: Some(Template::new().path("JobId", "$.JobId").into()),
            result_path: Some(ResultPath::Path(into.to_string())),
            output_path: None,
            retry: vec![RetryRule {
                // Batch's SubmitJob admission limit (≈50/s): back off, not an attempt.
                error_equals: vec!["Batch.AWSBatchException".into()],
                interval_seconds: 2,
                max_attempts: 10,
                backoff_rate: 2.0,
                max_delay_seconds: Some(60),
                jitter_strategy: Some("FULL".into()),
            }],
            catch: vec![catch_all(on_failure)],
            transition: Transition::next(done),
        })
    }

    fn finish_state(
        &self,
        step: &str,
        transition: Transition,
        exits_into_foreach_join: bool,
    ) -> State {
        let mut task = self.lambda_task(Payload::finish(step).into());
        if exits_into_foreach_join {
            // Keep each foreach iteration's result tiny: the join finds its inputs itself.
            task.result_selector = Some(Template::from(Payload::foreach_iteration_result()).into());
        }
        task.transition = transition;
        State::Task(task)
    }

    fn map_state(
        &self,
        step: &str,
        join: &str,
        mode: Mode,
        start_at: String,
        states: States,
        on_failure: &str,
    ) -> State {
        let distributed = mode == Mode::Distributed;
        State::Map(MapState {
            comment: Some(format!("foreach of {step}, joined by {join}")),
            items_path: (!distributed).then(|| paths::SPLITS.to_string()),
            item_reader: distributed.then(|| {
                Box::new(ItemReader {
                    resource: format!("arn:{}:states:::s3:getObject", self.platform.partition),
                    reader_config: ReaderConfig {
                        input_type: "JSON".to_string(),
                    },
                    parameters: Value::from(
                        Template::new()
                            .path("Bucket", &format!("{}.Bucket", paths::ITEMS))
                            .path("Key", &format!("{}.Key", paths::ITEMS)),
                    ),
                })
            }),
            item_selector: Some(Template::from(Payload::foreach_child()).into()),
            item_processor: ItemProcessor {
                processor_config: ProcessorConfig {
                    mode,
                    execution_type: distributed.then(|| "STANDARD".to_string()),
                },
                start_at,
                states,
            },
            max_concurrency: self.options.max_workers_for(step),
            result_writer: distributed.then(|| ResultWriter {
                resource: format!("arn:{}:states:::s3:putObject", self.platform.partition),
                parameters: Value::from(
                    Template::new()
                        .value("Bucket", self.platform.bucket.as_str())
                        .value("Prefix", "dropflow/map-results"),
                ),
            }),
            result_selector: None,
            result_path: Some(ResultPath::discard()),
            catch: vec![catch_all(on_failure)],
            transition: Transition::next(state_name(join)),
        })
    }
}

/// `S.cloned`: a task cloned from a resumed run's origin goes straight to its finish
/// state `done`; every other task to its job.
fn clone_choice(step: &str, job: &str, done: &str) -> State {
    State::Choice(ChoiceState {
        comment: Some(format!(
            "a resumed run's {step} task cloned from its origin skips its job"
        )),
        choices: vec![ChoiceRule {
            variable: paths::CLONED.to_string(),
            string_equals: None,
            numeric_less_than: None,
            boolean_equals: Some(true),
            next: done.to_string(),
        }],
        default: Some(job.to_string()),
    })
}

/// Catches every error into `$.error` and goes to `next`.
pub(super) fn catch_all(next: &str) -> CatchRule {
    CatchRule {
        error_equals: vec!["States.ALL".into()],
        result_path: paths::ERROR.to_string(),
        next: next.to_string(),
    }
}

fn lambda_retry() -> RetryRule {
    RetryRule {
        error_equals: vec![
            "Lambda.ServiceException".into(),
            "Lambda.AWSLambdaException".into(),
            "Lambda.SdkClientException".into(),
            "Lambda.TooManyRequestsException".into(),
            // The step Lambda's own "S3 did not answer" error: transient by definition.
            "dropflow.StorageError".into(),
        ],
        interval_seconds: 1,
        max_attempts: 6,
        backoff_rate: 2.0,
        max_delay_seconds: None,
        jitter_strategy: None,
    }
}
