//! Flow graph → state machine. Each Metaflow task becomes the step Lambda's `start`
//! phase, the Batch job (`batch:submitJob.sync`) and the `finish` phase; splits become
//! `Parallel`, foreaches `Map`, switches `Choice` (recursive switches loop back).
//!
//! States per step `S`, in one scope:
//! - `S`        step Lambda `start`: task id, input paths, job request → `{"task": ...}`
//! - `S.job`    Batch job; on failure → `S.retry` (if the step retries) or `S.report`
//! - `S.retry`  Choice: attempts left? → `S.wait` → `S` (next attempt, same task id)
//! - `S.done`   step Lambda `finish`: reads what the task wrote → `{"ctx", "splits"?, "next"?}`
//! - `S.report` step Lambda `fail`: records the failure, returns the task's error and cause
//! - `S.split` / `S.foreach` / `S.route`: the Parallel, Map or Choice after a split step
//! - `Failed` (one per scope): ends the execution with the reported error and cause
//!
//! Payloads stay tiny: a context object (run id, task pathspec, foreach indices) flows
//! from step to step; commands and input paths are built by the Lambda, not the ASL.

use std::collections::HashSet;

use serde_json::Value;

use super::manifest::StepPlan;
use super::options::{DeployOptions, Platform};
use crate::asl::{
    Branch, CatchRule, ChoiceRule, ChoiceState, FailState, ItemProcessor, MapState, Mode,
    ParallelState, ProcessorConfig, ResultPath, ResultWriter, RetryRule, State, StateMachine,
    States, TaskState, Template, Transition, WaitState,
};
use crate::graph::{FlowGraph, NodeType};
use crate::naming::state_name;

/// Payload paths shared with the step Lambda's protocol (see `crate::task`).
pub mod paths {
    /// The prepared task (start phase output), carried through the job to `finish`.
    pub const TASK: &str = "$.task";
    /// The task's attempt number (0-based).
    pub const ATTEMPT: &str = "$.task.attempt";
    /// The error caught from the Batch job.
    pub const ERROR: &str = "$.error";
    /// Foreach split indices returned by `finish` of a foreach step.
    pub const SPLITS: &str = "$.splits";
    /// The context handed to children.
    pub const CTX: &str = "$.ctx";
    /// The step chosen by a switch, returned by `finish`.
    pub const NEXT: &str = "$.next";
}

/// Emits the state machine for a linted graph.
pub struct StateMachineBuilder<'a> {
    graph: &'a FlowGraph,
    plans: &'a std::collections::BTreeMap<String, StepPlan>,
    options: &'a DeployOptions,
    platform: &'a Platform,
    manifest_location: &'a str,
    emitted: HashSet<String>,
}

impl<'a> StateMachineBuilder<'a> {
    /// A builder over a graph that passed lint and the step plans computed from it.
    pub fn new(
        graph: &'a FlowGraph,
        plans: &'a std::collections::BTreeMap<String, StepPlan>,
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
            emitted: HashSet::new(),
        }
    }

    /// Builds the whole machine.
    pub fn build(mut self, comment: String) -> StateMachine {
        let start = self
            .graph
            .start_step
            .clone()
            .expect("linted graph has a start step");
        let mut states = States::new();
        let fail = "Failed".to_string();
        self.visit(&start, &mut states, &fail, None);
        states.insert(fail, fail_state());
        StateMachine {
            comment: Some(comment),
            start_at: state_name(&start),
            timeout_seconds: self.options.workflow_timeout,
            states,
        }
    }

    /// Emits `step` and everything after it up to `exit` (the join closing this scope).
    fn visit(&mut self, step: &str, states: &mut States, fail: &str, exit: Option<&str>) {
        if !self.emitted.insert(step.to_string()) {
            return; // switch cases converging on a step already emitted in this scope
        }
        let graph: &'a FlowGraph = self.graph;
        let node = graph.node(step);
        let plan = &self.plans[step];
        let name = state_name(step);
        let done = state_name(&format!("{step}.done"));
        let report = state_name(&format!("{step}.report"));
        let retries = plan.runtime.retry.total_retries;

        states.insert(name.clone(), self.start_state(step, &job_state_name(step)));
        let on_failure = if retries > 0 {
            state_name(&format!("{step}.retry"))
        } else {
            report.clone()
        };
        states.insert(job_state_name(step), self.job_state(&done, &on_failure));
        if retries > 0 {
            let wait = state_name(&format!("{step}.wait"));
            let again = if plan.runtime.retry.wait_seconds > 0 {
                wait.clone()
            } else {
                name.clone()
            };
            states.insert(
                on_failure,
                State::Choice(ChoiceState {
                    comment: Some(format!("retry {step} (up to {retries} times)")),
                    choices: vec![ChoiceRule {
                        variable: paths::ATTEMPT.to_string(),
                        string_equals: None,
                        numeric_less_than: Some(f64::from(retries)),
                        next: again,
                    }],
                    default: Some(report.clone()),
                }),
            );
            if plan.runtime.retry.wait_seconds > 0 {
                states.insert(
                    wait,
                    State::Wait(WaitState {
                        seconds: plan.runtime.retry.wait_seconds,
                        transition: Transition::next(name.clone()),
                    }),
                );
            }
        }

        let ends_scope = node.node_type == Some(NodeType::End)
            || exit.is_some_and(|e| node.out_funcs.iter().any(|o| o == e));
        let exits_into_foreach_join = ends_scope && exit.is_some_and(|e| self.is_foreach_join(e));
        let after_done = match node.node_type {
            _ if ends_scope => Transition::end(),
            Some(NodeType::Split) => Transition::next(state_name(&format!("{step}.split"))),
            Some(NodeType::Foreach) => Transition::next(state_name(&format!("{step}.foreach"))),
            Some(NodeType::SplitSwitch) => Transition::next(state_name(&format!("{step}.route"))),
            _ => Transition::next(state_name(&node.out_funcs[0])),
        };
        states.insert(
            done.clone(),
            self.finish_state(step, after_done, exits_into_foreach_join),
        );
        states.insert(report, self.report_state(step, fail));
        if ends_scope {
            return;
        }

        match node.node_type {
            Some(NodeType::Split) => {
                let join = node.matching_join.clone().expect("linted split has a join");
                let branches = node
                    .out_funcs
                    .iter()
                    .map(|child| {
                        let (start_at, states) = self.scope(child, &join);
                        Branch { start_at, states }
                    })
                    .collect();
                states.insert(
                    state_name(&format!("{step}.split")),
                    State::Parallel(ParallelState {
                        comment: Some(format!("branches of {step}, joined by {join}")),
                        branches,
                        transition: Transition::next(state_name(&join)),
                    }),
                );
                self.visit(&join, states, fail, exit);
            }
            Some(NodeType::Foreach) => {
                let join = node
                    .matching_join
                    .clone()
                    .expect("linted foreach has a join");
                let child = node.out_funcs[0].clone();
                let (start_at, inner) = self.scope(&child, &join);
                states.insert(
                    state_name(&format!("{step}.foreach")),
                    self.map_state(step, &join, start_at, inner),
                );
                self.visit(&join, states, fail, exit);
            }
            Some(NodeType::SplitSwitch) => {
                let mut targets: Vec<String> = Vec::new();
                for target in &node.out_funcs {
                    if !targets.contains(target) {
                        targets.push(target.clone());
                    }
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
                                string_equals: Some(target.clone()),
                                numeric_less_than: None,
                                next: state_name(target),
                            })
                            .collect(),
                        default: None,
                    }),
                );
                for target in targets {
                    if target != step {
                        self.visit(&target, states, fail, exit);
                    }
                }
            }
            _ => {
                let next = node.out_funcs[0].clone();
                self.visit(&next, states, fail, exit);
            }
        }
    }

    /// A nested scope (Parallel branch or Map processor) starting at `step`, ending
    /// before `join`.
    fn scope(&mut self, step: &str, join: &str) -> (String, States) {
        let mut states = States::new();
        let fail = state_name(&format!("Failed.{step}"));
        self.visit(step, &mut states, &fail, Some(join));
        states.insert(fail, fail_state());
        (state_name(step), states)
    }

    fn is_foreach_join(&self, join: &str) -> bool {
        self.graph
            .get(join)
            .and_then(|j| j.split_parents.last())
            .and_then(|p| self.graph.get(p))
            .is_some_and(|p| p.node_type == Some(NodeType::Foreach))
    }

    fn lambda_task(&self, payload: Template) -> TaskState {
        TaskState {
            comment: None,
            resource: format!("arn:{}:states:::lambda:invoke", self.platform.partition),
            parameters: Some(
                Template::new()
                    .value("FunctionName", self.platform.step_function_arn.as_str())
                    .nested("Payload", payload)
                    .into(),
            ),
            result_selector: None,
            result_path: None,
            output_path: Some("$.Payload".to_string()),
            retry: vec![lambda_retry()],
            catch: Vec::new(),
            transition: Transition::end(),
        }
    }

    fn start_state(&self, step: &str, job: &str) -> State {
        let mut payload = Template::new()
            .value("phase", "start")
            .value("step", step)
            .path("input", "$");
        if self.graph.start_step.as_deref() == Some(step) {
            payload = payload
                .value("manifest", self.manifest_location)
                .path("execution", "$$.Execution.Name");
        }
        let mut task = self.lambda_task(payload);
        task.comment = Some(format!("prepare a task of {step}"));
        task.transition = Transition::next(job);
        State::Task(task)
    }

    fn job_state(&self, done: &str, on_failure: &str) -> State {
        let job = |field: &str| format!("{}.job.{field}", paths::TASK);
        State::Task(TaskState {
            comment: Some("run the task: python FLOW.py step ...".to_string()),
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
            result_selector: None,
            result_path: Some(ResultPath::discard()),
            output_path: None,
            retry: vec![RetryRule {
                // Batch's SubmitJob admission limit (≈50/s): back off, not counted as an attempt.
                error_equals: vec!["Batch.AWSBatchException".into()],
                interval_seconds: 2,
                max_attempts: 10,
                backoff_rate: 2.0,
                max_delay_seconds: Some(60),
                jitter_strategy: Some("FULL".into()),
            }],
            catch: vec![CatchRule {
                error_equals: vec!["States.ALL".into()],
                result_path: paths::ERROR.to_string(),
                next: on_failure.to_string(),
            }],
            transition: Transition::next(done),
        })
    }

    fn finish_state(
        &self,
        step: &str,
        transition: Transition,
        exits_into_foreach_join: bool,
    ) -> State {
        let payload = Template::new()
            .value("phase", "finish")
            .value("step", step)
            .path("task", paths::TASK);
        let mut task = self.lambda_task(payload);
        task.comment = Some(format!("record {step}'s task and read its transition"));
        if exits_into_foreach_join {
            // Keep each foreach iteration's result tiny: the join finds its inputs itself.
            task.output_path = None;
            task.result_selector = Some(Template::new().path("task", "$.Payload.ctx.task").into());
        }
        task.transition = transition;
        State::Task(task)
    }

    fn report_state(&self, step: &str, fail: &str) -> State {
        let payload = Template::new()
            .value("phase", "fail")
            .value("step", step)
            .path("task", paths::TASK)
            .path("error", paths::ERROR);
        let mut task = self.lambda_task(payload);
        task.comment = Some(format!("record {step}'s failure and fetch its error"));
        task.output_path = None;
        task.result_selector = Some(
            Template::new()
                .path("Error", "$.Payload.error")
                .path("Cause", "$.Payload.cause")
                .into(),
        );
        task.transition = Transition::next(fail);
        State::Task(task)
    }

    fn map_state(&self, step: &str, join: &str, start_at: String, states: States) -> State {
        let distributed = self.options.distributed_map;
        State::Map(MapState {
            comment: Some(format!("foreach of {step}, joined by {join}")),
            items_path: paths::SPLITS.to_string(),
            item_selector: Some(
                Template::new()
                    .path("ctx", paths::CTX)
                    .path("index", "$$.Map.Item.Value")
                    .into(),
            ),
            item_processor: ItemProcessor {
                processor_config: ProcessorConfig {
                    mode: if distributed {
                        Mode::Distributed
                    } else {
                        Mode::Inline
                    },
                    execution_type: distributed.then(|| "STANDARD".to_string()),
                },
                start_at,
                states,
            },
            max_concurrency: self.options.max_workers,
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
            transition: Transition::next(state_name(join)),
        })
    }
}

fn job_state_name(step: &str) -> String {
    state_name(&format!("{step}.job"))
}

fn fail_state() -> State {
    State::Fail(FailState {
        comment: Some("a task failed; Error and Cause come from the task".into()),
        error_path: Some("$.Error".into()),
        cause_path: Some("$.Cause".into()),
    })
}

fn lambda_retry() -> RetryRule {
    RetryRule {
        error_equals: vec![
            "Lambda.ServiceException".into(),
            "Lambda.AWSLambdaException".into(),
            "Lambda.SdkClientException".into(),
            "Lambda.TooManyRequestsException".into(),
        ],
        interval_seconds: 1,
        max_attempts: 6,
        backoff_rate: 2.0,
        max_delay_seconds: Some(30),
        jitter_strategy: Some("FULL".into()),
    }
}
