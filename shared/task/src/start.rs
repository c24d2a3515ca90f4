//! The start phase: from a state's input, the task to run (run id, deterministic task
//! id, attempt, input paths, split index) and its Batch job.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::command::{
    INLINE_INPUT_PATHS_MAX, JobSettings, OVERRIDES_BUDGET, OVERRIDES_LIMIT, TRIGGER_EVENTS_MAX,
    base_environment, job_request, overrides_size, parameters_file, rebase_environment,
    trigger_events_json,
};
use super::datastore::Datastore;
use super::error::{TaskError, TaskResult};
use super::ids::{PARAMS_STEP, PARAMS_TASK, pathspec, run_id, task_id};
use super::parameters;
use super::paths::{
    Parent, ProbeScope, foreach_siblings, full_list, order_by_in_funcs, prefix_form,
    probe_foreach_join,
};
use super::records::{TaskRecord, TaskStatus, input_file_key};
use super::{bucket_url, now, step_plan, write_record};
use dropflow_contract::NodeType;
use dropflow_contract::protocol::{
    Ctx, EnvVar, ErrorInfo, Inputs, StartRequest, StartResponse, Task,
};
use dropflow_contract::start_input::{
    ForeachChildInput, ForeachJoinInput, ParentInput, Resume, ResumedExecutionInput, RetryInput,
    StartFrom, StaticJoinInput,
};
use dropflow_contract::triggers::{TriggerKind, TriggeredRun, TriggeringEvent};
use dropflow_contract::{Manifest, StepPlan};

/// The shapes a start state's input comes in.
#[derive(Debug, Clone, PartialEq)]
pub enum StartInput {
    /// The start step's first attempt: the execution input (parameter values).
    Execution(Value),
    /// A retry: `{"task": <previous attempt>, "error": …}`.
    Retry {
        /// The failed attempt.
        task: Box<Task>,
        /// Why it failed.
        error: Option<ErrorInfo>,
    },
    /// A linear step, a switch target or a loop iteration: `{"ctx", "next"?}`.
    Parent(Ctx),
    /// A foreach child: `{"ctx": <foreach step's ctx>, "index": i}`.
    ForeachChild(Ctx, u32),
    /// A static join: the branches' outputs `[{"ctx"}, …]`.
    StaticJoin(Vec<Ctx>),
    /// A foreach join: `{"ctx": <foreach step's ctx>, "width": n, "items"}` (Distributed
    /// Map) or `{"ctx", "splits": [0..n-1]}` (inline Map).
    ForeachJoin(Ctx, u32),
}

impl StartInput {
    /// Decodes `input` as the kind `from` its start state says it is; an input of another
    /// shape is an `InvalidRequest` naming the kind and the field at fault.
    pub fn decode(from: StartFrom, input: &Value) -> TaskResult<Self> {
        fn typed<T: DeserializeOwned>(from: StartFrom, input: &Value) -> TaskResult<T> {
            serde_json::from_value(input.clone()).map_err(|e| {
                TaskError::InvalidRequest(format!(
                    "the input of a start from {} does not fit: {e} (the state machine's \
                     start state and its input disagree: redeploy the flow)",
                    from.as_str()
                ))
            })
        }
        Ok(match from {
            StartFrom::Execution => Self::Execution(input.clone()),
            StartFrom::Retry => {
                let RetryInput { task, error } = typed(from, input)?;
                Self::Retry {
                    task: Box::new(task),
                    error,
                }
            }
            StartFrom::Parent => Self::Parent(typed::<ParentInput>(from, input)?.ctx),
            StartFrom::ForeachChild => {
                let ForeachChildInput { ctx, index } = typed(from, input)?;
                Self::ForeachChild(ctx, index)
            }
            StartFrom::StaticJoin => {
                let branches: StaticJoinInput = typed(from, input)?;
                if branches.is_empty() {
                    return Err(TaskError::InvalidRequest(
                        "a join's input has no branches".into(),
                    ));
                }
                Self::StaticJoin(branches.into_iter().map(|b| b.ctx).collect())
            }
            StartFrom::ForeachJoin => {
                let ForeachJoinInput { ctx, width, splits } = typed(from, input)?;
                let width = match (width, splits) {
                    (Some(width), None) => width,
                    (None, Some(splits)) => split_count(&splits)?,
                    _ => {
                        return Err(TaskError::InvalidRequest(
                            "the input of a start from foreach_join needs \"width\" or \
                             \"splits\", not both"
                                .into(),
                        ));
                    }
                };
                Self::ForeachJoin(ctx, width)
            }
        })
    }

    /// Classifies an untagged `input` by its shape, for a task of the flow's start step
    /// (`is_start`) or another.
    ///
    /// Legacy: state machines compiled before start requests carried `from` keep calling
    /// the updated step Lambda while their executions run (the stack is updated before
    /// the flows are redeployed). Remove this once no deployed version predates the tag,
    /// i.e. every flow has been redeployed and their older executions have ended.
    pub fn classify_legacy(is_start: bool, input: &Value) -> TaskResult<Self> {
        let bad = |what: String| TaskError::InvalidRequest(what);
        if let Some(task) = input.get("task") {
            match serde_json::from_value::<Task>(task.clone()) {
                Ok(task) => {
                    let error = input
                        .get("error")
                        .and_then(|e| serde_json::from_value(e.clone()).ok());
                    return Ok(Self::Retry {
                        task: Box::new(task),
                        error,
                    });
                }
                // A start step's execution input may have a parameter called "task".
                Err(_) if is_start => {}
                Err(e) => return Err(bad(format!("input.task is not a task: {e}"))),
            }
        }
        if is_start {
            return Ok(Self::Execution(input.clone()));
        }
        let ctx_of = |value: &Value, what: &str| -> TaskResult<Ctx> {
            let ctx = value
                .get("ctx")
                .ok_or_else(|| bad(format!("{what} has no \"ctx\"")))?;
            serde_json::from_value(ctx.clone()).map_err(|e| bad(format!("{what}.ctx: {e}")))
        };
        if let Value::Array(branches) = input {
            if branches.is_empty() {
                return Err(bad("a join's input has no branches".into()));
            }
            let ctxs = branches
                .iter()
                .enumerate()
                .map(|(i, b)| ctx_of(b, &format!("input[{i}]")))
                .collect::<TaskResult<Vec<_>>>()?;
            return Ok(Self::StaticJoin(ctxs));
        }
        let ctx = ctx_of(input, "input")?;
        if let Some(splits) = input.get("splits") {
            let splits: Vec<u32> = serde_json::from_value(splits.clone())
                .map_err(|e| bad(format!("input.splits: {e}")))?;
            return Ok(Self::ForeachJoin(ctx, split_count(&splits)?));
        }
        if let Some(width) = input.get("width") {
            let width = width
                .as_u64()
                .and_then(|w| u32::try_from(w).ok())
                .ok_or_else(|| bad(format!("input.width {width} is not a number of splits")))?;
            return Ok(Self::ForeachJoin(ctx, width));
        }
        if let Some(index) = input.get("index") {
            let index = index
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| bad(format!("input.index {index} is not a split index")))?;
            return Ok(Self::ForeachChild(ctx, index));
        }
        Ok(Self::Parent(ctx))
    }

    /// The manifest URL the input carries (a retry's task, a context).
    pub fn manifest(&self) -> Option<&str> {
        match self {
            Self::Execution(_) => None,
            Self::Retry { task, .. } => Some(&task.manifest),
            Self::Parent(ctx) | Self::ForeachChild(ctx, _) | Self::ForeachJoin(ctx, _) => {
                Some(&ctx.manifest)
            }
            Self::StaticJoin(ctxs) => ctxs.first().map(|c| c.manifest.as_str()),
        }
    }
}

/// The number of splits an inline Map's `splits` (`0, 1, …, n-1`) stands for.
fn split_count(splits: &[u32]) -> TaskResult<u32> {
    if splits.iter().enumerate().any(|(i, s)| *s as usize != i) {
        return Err(TaskError::InvalidRequest(
            "input.splits must be 0, 1, ..., n-1".into(),
        ));
    }
    u32::try_from(splits.len())
        .map_err(|_| TaskError::InvalidRequest("input.splits is too long".into()))
}

/// What identifies a first attempt before its job is built.
struct Placement {
    run: String,
    foreach: Vec<u32>,
    iter: Option<u32>,
    split: Option<u32>,
    input_paths: String,
    parameters: Vec<EnvVar>,
    resume: Option<Resume>,
}

/// Runs the start phase for `request`, whose input was classified as `input`; `settings`
/// are the step Lambda's (the metadata service).
pub async fn start<D: Datastore>(
    request: &StartRequest,
    input: StartInput,
    manifest: &Manifest,
    store: &D,
    settings: &JobSettings,
) -> TaskResult<StartResponse> {
    let plan = step_plan(manifest, &request.step)?;
    let task = match input {
        StartInput::Retry { task, error } => {
            retry(request, *task, error, manifest, plan, store, settings).await?
        }
        input => {
            let placement = place(request, input, manifest, plan, store).await?;
            let task = first_attempt(request, placement, manifest, plan, store, settings).await?;
            if request.may_clone
                && super::cloning::clone_from_origin(store, manifest, &task).await?
            {
                write_record(store, manifest, &submitted_record(manifest, &task)).await?;
                return Ok(StartResponse {
                    task,
                    cloned: true,
                    batch: None,
                });
            }
            task
        }
    };
    write_record(store, manifest, &submitted_record(manifest, &task)).await?;
    Ok(StartResponse {
        task,
        cloned: false,
        batch: None,
    })
}

/// Run, foreach stack, loop iteration, split index and input paths of a first attempt.
async fn place<D: Datastore>(
    request: &StartRequest,
    input: StartInput,
    manifest: &Manifest,
    plan: &StepPlan,
    store: &D,
) -> TaskResult<Placement> {
    let step = request.step.as_str();
    let bad = |what: String| Err(TaskError::InvalidRequest(what));
    let placement = |ctx: &Ctx, foreach, iter, split, input_paths| Placement {
        run: ctx.run.clone(),
        foreach,
        iter,
        split,
        input_paths,
        parameters: Vec::new(),
        resume: ctx.resume.clone(),
    };
    match input {
        StartInput::Execution(value) => {
            let execution = request.execution.as_deref().unwrap_or_default();
            let run = run_id(execution)?;
            // A resumed run's input: the origin's parameter values and the resume.
            let resume = ResumedExecutionInput::from_input(&value).map(|r| r.resume);
            let checked = parameters::resolve(&value, &manifest.parameters)
                .map_err(|e| TaskError::InvalidParameters(e.to_string()))?;
            let mut placed = Placement {
                run: run.clone(),
                foreach: Vec::new(),
                iter: None,
                split: None,
                input_paths: format!("{run}/{PARAMS_STEP}/{PARAMS_TASK}"),
                parameters: Vec::new(),
                resume,
            };
            placed.parameters = parameters::init_environment(&checked, &manifest.parameters)
                .into_iter()
                .map(|(name, value)| EnvVar::new(name, value))
                .collect();
            Ok(placed)
        }
        StartInput::Parent(ctx) => {
            let parent = ctx.step();
            let loops = plan.out_funcs.iter().any(|s| s == step);
            let follows = if parent == step {
                loops
            } else {
                plan.in_funcs.iter().any(|s| s == parent)
            };
            if !follows {
                return bad(format!("step {step} does not follow step {parent}"));
            }
            let iter = loops.then(|| match (parent == step, ctx.iter) {
                (true, Some(k)) => k + 1,
                (true, None) => 1,
                (false, _) => 0,
            });
            Ok(placement(&ctx, ctx.foreach.clone(), iter, None, ctx.path()))
        }
        StartInput::ForeachChild(ctx, index) => {
            let parent = ctx.step();
            let is_foreach_parent = plan.in_funcs.iter().any(|s| s == parent)
                && manifest
                    .steps
                    .get(parent)
                    .is_some_and(|p| p.node_type == NodeType::Foreach);
            if !is_foreach_parent {
                return bad(format!(
                    "step {step} is not a foreach child of step {parent}"
                ));
            }
            let mut foreach = ctx.foreach.clone();
            foreach.push(index);
            let loops = plan.out_funcs.iter().any(|s| s == step);
            Ok(placement(
                &ctx,
                foreach,
                loops.then_some(0),
                Some(index),
                ctx.path(),
            ))
        }
        StartInput::StaticJoin(ctxs) => {
            if plan.node_type != NodeType::Join || foreach_split_of(manifest, plan).is_some() {
                return bad(format!("step {step} is not the join of a static split"));
            }
            let parents = ctxs
                .iter()
                .map(|c| Parent::parse(&c.task))
                .collect::<TaskResult<Vec<_>>>()?;
            let first = &ctxs[0];
            let paths = full_list(&first.run, &order_by_in_funcs(&plan.in_funcs, parents));
            Ok(placement(first, first.foreach.clone(), None, None, paths))
        }
        StartInput::ForeachJoin(ctx, splits) => {
            let Some(foreach_step) = foreach_split_of(manifest, plan) else {
                return bad(format!("step {step} is not the join of a foreach"));
            };
            if ctx.step() != foreach_step {
                return bad(format!(
                    "the foreach join {step} needs the context of {foreach_step}, got {}",
                    ctx.task
                ));
            }
            if splits == 0 {
                return bad(format!("the foreach of {foreach_step} has no splits"));
            }
            let parents = match plan.in_funcs.as_slice() {
                [end] => foreach_siblings(end, &ctx.foreach, splits),
                candidates => {
                    let scope = ProbeScope {
                        root: &manifest.datastore_root,
                        flow: &manifest.flow.name,
                        run: &ctx.run,
                        join: step,
                    };
                    probe_foreach_join(store, scope, candidates, &ctx.foreach, splits).await?
                }
            };
            let paths = prefix_form(&ctx.run, &parents);
            Ok(placement(&ctx, ctx.foreach.clone(), None, None, paths))
        }
        StartInput::Retry { .. } => unreachable!("retries are not placed"),
    }
}

/// The foreach step a join closes, if it closes a foreach.
fn foreach_split_of<'m>(manifest: &'m Manifest, plan: &StepPlan) -> Option<&'m str> {
    let split = plan.split_parents.last()?;
    let (name, split_plan) = manifest.steps.get_key_value(split)?;
    (plan.node_type == NodeType::Join && split_plan.node_type == NodeType::Foreach)
        .then_some(name.as_str())
}

async fn first_attempt<D: Datastore>(
    request: &StartRequest,
    placed: Placement,
    manifest: &Manifest,
    plan: &StepPlan,
    store: &D,
    settings: &JobSettings,
) -> TaskResult<Task> {
    let step = request.step.as_str();
    let id = task_id(step, &placed.foreach, placed.iter);
    let run = placed.run;
    let file_url = |name: &str| {
        bucket_url(
            manifest,
            &input_file_key(&manifest.state_machine, &run, step, &id, name),
        )
    };
    let inputs = if placed.input_paths.len() > INLINE_INPUT_PATHS_MAX {
        let url = file_url("input-paths")?;
        store
            .put(&url, placed.input_paths.into_bytes(), "text/plain")
            .await?;
        Inputs::File(url)
    } else {
        Inputs::Paths(placed.input_paths)
    };
    let triggered = triggering(manifest, &run, store).await?;
    let mut task = Task {
        manifest: manifest.location.clone(),
        pathspec: pathspec(&manifest.flow.name, &run, step, &id),
        run: run.clone(),
        step: step.to_string(),
        id: id.clone(),
        attempt: 0,
        foreach: placed.foreach,
        iter: placed.iter,
        split: placed.split,
        inputs,
        params_file: None,
        started_at: now(),
        trigger_runs: triggered.runs,
        trigger_events: triggered.events,
        resume: placed.resume,
        job: Default::default(),
    };
    let mut environment = base_environment(manifest, settings);
    environment.extend(placed.parameters.iter().cloned());
    task.job = job_request(manifest, plan, &task, settings, environment);
    if overrides_size(&task.job) > OVERRIDES_BUDGET && !placed.parameters.is_empty() {
        // Large parameter values: the task sources them from a file instead.
        let url = file_url("parameters.env")?;
        store
            .put(
                &url,
                parameters_file(&placed.parameters).into_bytes(),
                "text/plain",
            )
            .await?;
        task.params_file = Some(url);
        let environment = base_environment(manifest, settings);
        task.job = job_request(manifest, plan, &task, settings, environment);
    }
    check_size(&task)?;
    Ok(task)
}

/// What the events that started a run give its tasks.
#[derive(Debug, Default)]
struct Triggering {
    /// `@trigger_on_finish`: the upstream runs (`Flow/run_id`, for Metaflow's `--trigger`).
    runs: Vec<String>,
    /// The events (`run` ones for `@trigger_on_finish`), for `current.trigger` and the
    /// start task's `execution-triggers` metadata.
    events: Vec<TriggeringEvent>,
}

/// What started `run`, read once from the record the event delivery wrote, for a flow
/// with `@trigger` or `@trigger_on_finish` and an event-started run (`sfn-ev-...`)
/// only; nothing otherwise (a run started through the API, a missing record). Events
/// whose JSON is over [`TRIGGER_EVENTS_MAX`] fail the task: they would not fit its job.
async fn triggering<D: Datastore>(
    manifest: &Manifest,
    run: &str,
    store: &D,
) -> TaskResult<Triggering> {
    let on_finish = match manifest.triggers.as_ref().map(|t| t.decorator.as_str()) {
        Some("trigger_on_finish") => true,
        Some("trigger") => false,
        _ => return Ok(Triggering::default()),
    };
    let Some(execution) = run
        .strip_prefix("sfn-")
        .filter(|e| dropflow_contract::triggers::started_by_events(e))
    else {
        return Ok(Triggering::default());
    };
    let url = bucket_url(
        manifest,
        &dropflow_contract::layout::triggered_run_key(&manifest.state_machine, execution),
    )?;
    let Some(bytes) = store.get(&url).await? else {
        return Ok(Triggering::default());
    };
    let record: TriggeredRun =
        serde_json::from_slice(&bytes).map_err(|e| TaskError::BadArtifact {
            pathspec: format!("{}/{run}", manifest.flow.name),
            name: url.clone(),
            problem: format!("not the record of the events that started the run: {e}"),
        })?;
    // Argo's tasks get both kinds as events (`current.trigger`, and the start task's
    // `execution-triggers`); a `@trigger_on_finish` run's tasks also get Metaflow's own
    // `--trigger` per upstream run, which sets `current.trigger` from those runs.
    let kind = if on_finish {
        TriggerKind::Run
    } else {
        TriggerKind::Event
    };
    let events = record.triggering_events(kind);
    let size = trigger_events_json(&events).len();
    if size > TRIGGER_EVENTS_MAX {
        return Err(TaskError::TriggerTooLarge {
            run: format!("{}/{run}", manifest.flow.name),
            size,
            limit: TRIGGER_EVENTS_MAX,
        });
    }
    Ok(Triggering {
        runs: if on_finish {
            record.finished_runs()
        } else {
            Vec::new()
        },
        events,
    })
}

/// The next attempt of `previous`: same task, `attempt + 1`, a new job.
async fn retry<D: Datastore>(
    request: &StartRequest,
    previous: Task,
    error: Option<ErrorInfo>,
    manifest: &Manifest,
    plan: &StepPlan,
    store: &D,
    settings: &JobSettings,
) -> TaskResult<Task> {
    if previous.step != request.step {
        return Err(TaskError::InvalidRequest(format!(
            "a retry of step {} cannot start step {}",
            previous.step, request.step
        )));
    }
    let finished_at = now();
    let mut failed = submitted_record(manifest, &previous);
    failed.status = TaskStatus::Failed;
    if let Some(error) = &error {
        let summary = super::fail::batch_summary(&error.cause);
        failed.batch_job_id = summary.job_id;
        failed.error = Some(error.error.clone());
        failed.cause = Some(summary.reason.unwrap_or_else(|| error.cause.clone()));
    }
    failed.duration_ms = super::duration_ms(&previous.started_at, &finished_at);
    failed.finished_at = Some(finished_at);
    write_record(store, manifest, &failed).await?;

    let mut task = previous;
    task.attempt += 1;
    task.started_at = now();
    // The parameter values stay; the base follows the current settings (a metadata
    // service configured since the first attempt); the script names the attempt.
    let previous = std::mem::take(&mut task.job.container_overrides.environment);
    let environment = rebase_environment(manifest, settings, previous);
    task.job = job_request(manifest, plan, &task, settings, environment);
    check_size(&task)?;
    Ok(task)
}

fn check_size(task: &Task) -> TaskResult<()> {
    let size = overrides_size(&task.job);
    if size > OVERRIDES_LIMIT {
        return Err(TaskError::JobTooLarge {
            pathspec: task.pathspec.clone(),
            size,
            limit: OVERRIDES_LIMIT,
        });
    }
    Ok(())
}

/// The record of a task attempt handed to Batch.
pub(crate) fn submitted_record(manifest: &Manifest, task: &Task) -> TaskRecord {
    TaskRecord {
        flow: manifest.flow.name.clone(),
        state_machine: manifest.state_machine.clone(),
        version: manifest.version.clone(),
        run: task.run.clone(),
        step: task.step.clone(),
        task: task.id.clone(),
        attempt: task.attempt,
        pathspec: task.pathspec.clone(),
        status: TaskStatus::Submitted,
        foreach: task.foreach.clone(),
        job_name: task.job.job_name.clone(),
        batch_job_id: None,
        started_at: task.started_at.clone(),
        finished_at: None,
        duration_ms: None,
        splits: None,
        next: None,
        error: None,
        cause: None,
    }
}
