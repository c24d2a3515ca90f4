//! The Batch job of a task attempt: an `sh -c` script that fetches and unpacks the code
//! package, runs Metaflow's `init` for the start step's `_parameters` task (once per
//! run), then `python FLOW.py … step NAME …` (in a run started by `@trigger`'s events,
//! through [`TRIGGER_LAUNCHER`], which sets Metaflow's `current.trigger`), with stdout
//! and stderr captured by Metaflow's mflog and saved to the datastore
//! (`<attempt>.task_stderr.log`) whatever the outcome; the job exits with the task's
//! exit code.
//!
//! Only POSIX `sh`, `mktemp`, `mkfifo` and `tar`, plus the image's Python with Metaflow
//! and boto3, are needed. Every interpolated value is shell-quoted ([`quote`]).
//! `@environment` variables are in the job definition already and are not repeated.
//!
//! Metadata: `--metadata=local` (files in the datastore) unless the step Lambda is
//! configured with a metadata service ([`JobSettings::metadata_url`]): then
//! `--metadata=service`, with `METAFLOW_SERVICE_URL` and `METAFLOW_DEFAULT_METADATA` in
//! the job's environment. Either way the job gets `METAFLOW_RUNTIME_NAME=step-functions`
//! and the deployment's `METAFLOW_PRODUCTION_TOKEN`, as Metaflow's Step Functions tasks
//! do, so runs carry the `runtime:step-functions` and `production:<token>` tags. On AWS
//! the service's API key (`METAFLOW_SERVICE_AUTH_KEY`) comes from the job definition's
//! `secrets` and is never in a state's input; only the local stack, which has no such
//! resolution, sets [`JobSettings::metadata_auth_key`] and so passes it in the overrides.

use super::ids::{PARAMS_STEP, PARAMS_TASK};
use super::shell::quote;
use dropflow_contract::protocol::{ContainerOverrides, EnvVar, Inputs, JobRequest, Task};
use dropflow_contract::triggers::TriggeringEvent;
use dropflow_contract::{Manifest, StepPlan, TaskEnvironment};

/// The user tasks run as (`METAFLOW_USER`), as Metaflow's Step Functions tasks do.
pub const TASK_USER: &str = "SFN";
/// Batch's limit on container overrides (command, environment, resources).
pub const OVERRIDES_LIMIT: usize = 8192;
/// What the start phase aims to stay under before offloading to S3.
pub const OVERRIDES_BUDGET: usize = 6144;
/// `--input-paths` longer than this are written to S3 and fetched by the task.
pub const INLINE_INPUT_PATHS_MAX: usize = 1024;
/// Where the task keeps a fetched `--input-paths` value.
const INPUT_PATHS_FILE: &str = ".dropflow-input-paths";
/// Where the task keeps fetched parameter values.
const PARAMETERS_FILE: &str = ".dropflow-parameters.env";

/// Downloads `s3://$1/$2` to `$3`, honouring an emulator's endpoint.
pub(super) const FETCH_FUNCTION: &str = r#"fetch() { python -c 'import boto3,os,sys;e=os.environ.get("METAFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL");boto3.client("s3",**({"endpoint_url":e} if e else {})).download_file(*sys.argv[1:])' "$@"; }"#;

/// The Metaflow a task installs when its image has none (a plain `python:3.x` image, as
/// Metaflow's own Batch jobs run on): the version dropflow is tested with.
pub const TASK_METAFLOW_VERSION: &str = "2.19.39";

/// Makes a plain Python image able to run the task, as Metaflow's own Batch job script
/// does: `boto3` and `requests` are installed when `boto3` is missing (Metaflow installs
/// them always, unless `METAFLOW_SKIP_INSTALL_DEPENDENCIES`), and Metaflow itself
/// ([`TASK_METAFLOW_VERSION`]) when the image has none. An image that has both installs
/// nothing; each check looks the module up without importing it. A failed install ends the
/// job with exit code 73 and pip's error in the job's log.
pub(super) fn dependencies_lines() -> Vec<String> {
    vec![
        r#"has() { python -c 'import importlib.util,sys;sys.exit(importlib.util.find_spec(sys.argv[1]) is None)' "$1"; }"#.to_string(),
        r#"install() { echo "dropflow: installing $* (missing from the image)" >&2; python -m pip install -qqq --no-compile --no-cache-dir --disable-pip-version-check "$@" || exit 73; }"#.to_string(),
        "has boto3 || install boto3 requests".to_string(),
        format!("has metaflow || install metaflow=={TASK_METAFLOW_VERSION}"),
    ]
}

/// The events that started a `@trigger` run, as the launcher reads them: the JSON of
/// the task's [`Task::trigger_events`].
pub const TRIGGER_EVENTS_VAR: &str = "DROPFLOW_TRIGGER_EVENTS";
/// Set (to `1`) in the start step's launcher: it also registers the task's
/// `execution-triggers` metadata.
pub const EXECUTION_TRIGGERS_VAR: &str = "DROPFLOW_EXECUTION_TRIGGERS";
/// The most bytes of [`trigger_events_json`] a job carries (inline in its script, so
/// within the overrides' [`OVERRIDES_BUDGET`]): a handful of events take a few hundred;
/// a run whose events are larger fails at its start step (`dropflow.TriggerTooLarge`).
pub const TRIGGER_EVENTS_MAX: usize = 2048;

/// Runs `python FLOW.py ARGS…` as `python -c LAUNCHER FLOW.py ARGS…` for a `@trigger`
/// run's tasks, doing what Argo's `ArgoWorkflowsInternalDecorator.task_pre_step` does:
/// `current.trigger` is `Trigger([{"timestamp", "id", "name", "type": "event"}, …])` from
/// [`TRIGGER_EVENTS_VAR`], and with [`EXECUTION_TRIGGERS_VAR`] (the start step) the
/// task registers that list (sorted as `Trigger` sorts it) as its `execution-triggers`
/// metadata, which the Client's `Run.trigger` reads. The metadata is registered right
/// after Metaflow registers the task (`register_task_id`, called by
/// `MetaflowTask.run_step` with the task's own metadata provider), with the attempt's
/// `attempt_id:N` tag. The flow file then runs as `__main__` with the same argv and
/// `sys.path[0]` as `python FLOW.py` would have.
pub const TRIGGER_LAUNCHER: &str = r#"import json,os,runpy,sys
from metaflow import current
from metaflow.events import Trigger
t=[{"timestamp":e.get("timestamp"),"id":e["id"],"name":e["name"],"type":e.get("type","event")} for e in json.loads(os.environ["DROPFLOW_TRIGGER_EVENTS"])]
current._update_env({"trigger":Trigger(t)})
if os.environ.get("DROPFLOW_EXECUTION_TRIGGERS"):
 from metaflow.metadata_provider import MetaDatum
 from metaflow.task import MetaflowTask
 v=json.dumps(t);run_step=MetaflowTask.run_step
 def hooked(task,*a,**k):
  md=task.metadata;register=md.register_task_id
  def registered(run_id,step,task_id,attempt=0,*b,**c):
   r=register(run_id,step,task_id,attempt,*b,**c)
   md.register_metadata(run_id,step,task_id,[MetaDatum(field="execution-triggers",value=v,type="execution-triggers",tags=["attempt_id:%d"%attempt])])
   return r
  md.register_task_id=registered
  return run_step(task,*a,**k)
 MetaflowTask.run_step=hooked
sys.argv=sys.argv[1:]
sys.path[0]=os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0],run_name="__main__")"#;

/// Looks a module up in the uv project's environment (`inuv boto3`), without importing it.
const IN_UV_FUNCTION: &str = r#"inuv() { "$UV" run --no-sync python -c 'import importlib.util,sys;sys.exit(importlib.util.find_spec(sys.argv[1]) is None)' "$1"; }"#;

/// How a task runs Python in `environment`: the image's `python`, or the uv project's
/// (`uv run --no-sync python`, as Metaflow's uv environment runs its steps).
pub(super) fn interpreter(environment: TaskEnvironment) -> &'static str {
    match environment {
        TaskEnvironment::Local => "python",
        TaskEnvironment::Uv => "\"$UV\" run --no-sync python",
    }
}

/// The shell functions `environment` needs besides [`dependencies_lines`].
pub(super) fn environment_functions(environment: TaskEnvironment) -> Vec<String> {
    match environment {
        TaskEnvironment::Local => Vec::new(),
        TaskEnvironment::Uv => vec![IN_UV_FUNCTION.to_string()],
    }
}

/// Sets up Metaflow's uv environment in the unpacked package, as its bootstrap does
/// (`uv sync --frozen --no-dev` of the package's `pyproject.toml` and `uv.lock`), with
/// uv from the image's package index when the image lacks it, then what Metaflow needs
/// in the project's environment when the lock does not bring it (`boto3`, `requests`,
/// and Metaflow [`TASK_METAFLOW_VERSION`]). uv is run as its binary (`$UV`), not as
/// `python -m uv`, which would point it at the image's own virtualenv. `None` for the
/// image's own environment.
pub(super) fn environment_setup(environment: TaskEnvironment) -> Option<String> {
    match environment {
        TaskEnvironment::Local => None,
        TaskEnvironment::Uv => Some(format!(
            "{{ has uv || python -m pip install -qqq --no-compile --no-cache-dir --disable-pip-version-check uv; }} && \
             UV=$(python -c 'import uv;print(uv.find_uv_bin())') && \
             \"$UV\" sync --frozen --no-dev --quiet && \
             {{ inuv boto3 || \"$UV\" pip install --quiet --python .venv boto3 requests; }} && \
             {{ inuv metaflow || \"$UV\" pip install --quiet --python .venv metaflow=={TASK_METAFLOW_VERSION}; }}"
        )),
    }
}

/// What the step Lambda's configuration adds to every job.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct JobSettings {
    /// A Metaflow metadata service (`METAFLOW_SERVICE_URL`, e.g.
    /// `https://ID.execute-api.REGION.amazonaws.com/metadata`); `None`: `--metadata=local`.
    pub metadata_url: Option<String>,
    /// The service's API key as `METAFLOW_SERVICE_AUTH_KEY` in every job's overrides: the
    /// local stack only (it lands in execution history); on AWS it is `None` and the job
    /// definitions' `secrets` supply it.
    pub metadata_auth_key: Option<String>,
}

impl std::fmt::Debug for JobSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSettings")
            .field("metadata_url", &self.metadata_url)
            .field(
                "metadata_auth_key",
                &self.metadata_auth_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The environment every task gets besides its job definition's: Metaflow's user
/// (`SFN`, as its Step Functions integration sets), the deploying user's name, the
/// runtime name and production token, and the metadata service if there is one.
pub fn base_environment(manifest: &Manifest, settings: &JobSettings) -> Vec<EnvVar> {
    let mut environment = vec![
        EnvVar::new("METAFLOW_USER", TASK_USER),
        EnvVar::new("USERNAME", manifest.options.user.clone()),
        EnvVar::new("METAFLOW_RUNTIME_NAME", "step-functions"),
        EnvVar::new("METAFLOW_PRODUCTION_TOKEN", manifest.production_token()),
    ];
    if let Some(url) = &settings.metadata_url {
        environment.extend([
            EnvVar::new("METAFLOW_DEFAULT_METADATA", "service"),
            EnvVar::new("METAFLOW_SERVICE_URL", url.clone()),
        ]);
        if let Some(key) = &settings.metadata_auth_key {
            environment.push(EnvVar::new("METAFLOW_SERVICE_AUTH_KEY", key.clone()));
        }
    }
    environment
}

/// `previous` (a former attempt's environment: base and parameter values) with its base
/// replaced by the current one, so that a retry follows the Lambda's configuration.
pub fn rebase_environment(
    manifest: &Manifest,
    settings: &JobSettings,
    previous: Vec<EnvVar>,
) -> Vec<EnvVar> {
    const BASE: [&str; 7] = [
        "METAFLOW_USER",
        "USERNAME",
        "METAFLOW_RUNTIME_NAME",
        "METAFLOW_PRODUCTION_TOKEN",
        "METAFLOW_DEFAULT_METADATA",
        "METAFLOW_SERVICE_URL",
        "METAFLOW_SERVICE_AUTH_KEY",
    ];
    let mut environment = base_environment(manifest, settings);
    environment.extend(
        previous
            .into_iter()
            .filter(|v| !BASE.contains(&v.name.as_str())),
    );
    environment
}

/// The job for `task`, with `environment` as its overrides' environment.
pub fn job_request(
    manifest: &Manifest,
    plan: &StepPlan,
    task: &Task,
    settings: &JobSettings,
    environment: Vec<EnvVar>,
) -> JobRequest {
    JobRequest {
        job_name: super::ids::job_name(&manifest.flow.name, &task.run, &task.id, task.attempt),
        job_queue: plan.runtime.job_queue.clone(),
        job_definition: plan.job_definition.clone(),
        container_overrides: ContainerOverrides {
            command: vec![
                "sh".into(),
                "-c".into(),
                script(manifest, plan, task, settings),
            ],
            environment,
        },
    }
}

/// The size Batch counts for the overrides (their JSON).
pub fn overrides_size(job: &JobRequest) -> usize {
    serde_json::to_vec(&job.container_overrides)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

/// The options before the `step`/`init`/`dump` subcommand.
fn top_level_options(manifest: &Manifest, plan: &StepPlan, settings: &JobSettings) -> Vec<String> {
    let metadata = match settings.metadata_url {
        Some(_) => "--metadata=service",
        None => "--metadata=local",
    };
    let mut options = vec![
        "--quiet".to_string(),
        "--no-pylint".into(),
        metadata.into(),
        "--environment=local".into(),
        "--datastore=s3".into(),
        format!("--datastore-root={}", manifest.datastore_root),
    ];
    for decorator in &plan.runtime.with_decorators {
        options.push(format!("--with={decorator}"));
    }
    // @project's options (its `get_top_level_options`); without @project they do not exist.
    if let Some(project) = &manifest.project {
        let given = project
            .branch
            .strip_prefix("prod.")
            .or_else(|| project.branch.strip_prefix("test."));
        if let Some(branch) = given {
            options.push(format!("--branch={branch}"));
        }
        if project.branch == "prod" || project.branch.starts_with("prod.") {
            options.push("--production".into());
        }
    }
    options
}

/// `@trigger_on_finish`'s `--trigger Flow/run_id` per upstream run (Metaflow's
/// `current.trigger` then reads those runs).
fn trigger_options(task: &Task) -> Vec<String> {
    task.trigger_runs
        .iter()
        .map(|run| format!("--trigger={run}"))
        .collect()
}

/// The launcher's [`TRIGGER_EVENTS_VAR`]: `[{"name", "id", "timestamp"?}, …]`.
pub fn trigger_events_json(events: &[TriggeringEvent]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".into())
}

fn words<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|w| quote(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `fetch BUCKET KEY FILE` for an `s3://` URL.
fn fetch(url: &str, file: &str) -> String {
    let (bucket, key) = super::datastore::split_s3_url(url).unwrap_or(("", url));
    format!("fetch {}", words([bucket, key, file]))
}

/// The `sh -c` script of one attempt.
pub fn script(manifest: &Manifest, plan: &StepPlan, task: &Task, settings: &JobSettings) -> String {
    let flow_file = manifest.flow.file.as_str();
    let mut top = top_level_options(manifest, plan, settings);
    top.extend(trigger_options(task));
    let top: Vec<&str> = top.iter().map(String::as_str).collect();
    let arguments = |subcommand: &[&str]| {
        let mut all = vec![flow_file];
        all.extend(&top);
        all.extend(subcommand);
        words(all)
    };
    let environment = manifest.options.environment;
    let interpreter = interpreter(environment);
    let python = |subcommand: &[&str]| format!("{interpreter} {}", arguments(subcommand));
    let tags: Vec<&str> = manifest
        .options
        .tags
        .iter()
        .flat_map(|t| ["--tag", t.as_str()])
        .collect();

    let mut body = vec![format!(
        "{} && tar -xzf code.tar.gz",
        fetch(&manifest.code_package, "code.tar.gz")
    )];
    body.extend(environment_setup(environment));
    if let Inputs::File(url) = &task.inputs {
        body.push(fetch(url, INPUT_PATHS_FILE));
    }
    if let Some(url) = &task.params_file {
        body.push(format!(
            "{} && . ./{PARAMETERS_FILE}",
            fetch(url, PARAMETERS_FILE)
        ));
    }
    if task.step == manifest.flow.start_step {
        // The `_parameters` task, once per run: a retried start step finds it.
        let params_path = format!("{}/{PARAMS_STEP}/{PARAMS_TASK}", task.run);
        let mut init = vec![
            "init",
            "--run-id",
            task.run.as_str(),
            "--task-id",
            PARAMS_TASK,
        ];
        init.extend(&tags);
        body.push(format!(
            "{{ {} >/dev/null 2>&1 || {}; }}",
            python(&["dump", "--max-value-size=0", &params_path]),
            python(&init)
        ));
    }
    let attempt = task.attempt.to_string();
    let retries = plan.runtime.retry.user_code_retries.to_string();
    let mut step = vec![
        "step",
        task.step.as_str(),
        "--run-id",
        task.run.as_str(),
        "--task-id",
        task.id.as_str(),
        "--retry-count",
        &attempt,
        "--max-user-code-retries",
        &retries,
    ];
    match &task.inputs {
        Inputs::Paths(paths) => step.extend(["--input-paths", paths.as_str()]),
        Inputs::File(_) => step.extend(["--input-paths-filename", INPUT_PATHS_FILE]),
    }
    let split = task.split.map(|i| i.to_string());
    if let Some(split) = &split {
        step.extend(["--split-index", split.as_str()]);
    }
    step.extend(&tags);
    // A resumed run's task that runs again: Metaflow records `origin-run-id`.
    if let Some(resume) = &task.resume {
        step.extend(["--clone-run-id", resume.origin_run.as_str()]);
    }
    let namespace = manifest
        .options
        .namespace
        .as_ref()
        .map(|ns| format!("--namespace={ns}"));
    if let Some(namespace) = &namespace {
        step.push(namespace);
    }
    if task.trigger_events.is_empty() {
        body.push(python(&step));
    } else {
        // A `@trigger` run: `current.trigger` (and the start step's metadata) through
        // the launcher.
        let mut assignments = format!(
            "{TRIGGER_EVENTS_VAR}={}",
            quote(&trigger_events_json(&task.trigger_events))
        );
        if task.step == manifest.flow.start_step {
            assignments.push_str(&format!(" {EXECUTION_TRIGGERS_VAR}=1"));
        }
        body.push(format!(
            "{assignments} {interpreter} -c {} {}",
            quote(TRIGGER_LAUNCHER),
            arguments(&step)
        ));
    }

    let mut lines = vec!["set -u".to_string()];
    lines.extend(dependencies_lines());
    lines.extend(environment_functions(environment));
    lines.extend([
        FETCH_FUNCTION.to_string(),
        "w=$(mktemp -d) && cd \"$w\" && mkdir .logs && mkfifo .logs/out .logs/err || exit 70"
            .to_string(),
        format!(
            "export PYTHONUNBUFFERED=x MF_DATASTORE=s3 MF_DATASTORE_ROOT={} MF_PATHSPEC={} \
             MF_ATTEMPT={attempt} MFLOG_STDOUT=\"$w/.logs/stdout\" MFLOG_STDERR=\"$w/.logs/stderr\"",
            quote(&manifest.datastore_root),
            quote(&task.pathspec),
        ),
        "python -m metaflow.mflog.tee task \"$MFLOG_STDOUT\" <.logs/out &".to_string(),
        "python -m metaflow.mflog.tee task \"$MFLOG_STDERR\" <.logs/err >&2 &".to_string(),
        "{".to_string(),
    ]);
    lines.push(body.join(" &&\n"));
    lines.extend([
        "} >.logs/out 2>.logs/err".to_string(),
        "c=$?".to_string(),
        "wait".to_string(),
        "python -m metaflow.mflog.save_logs".to_string(),
        "exit $c".to_string(),
    ]);
    lines.join("\n")
}

/// The lines of a `parameters.env` file the task sources: `export NAME='value'`.
pub fn parameters_file(values: &[EnvVar]) -> String {
    values
        .iter()
        .map(|v| format!("export {}={}\n", v.name, quote(&v.value)))
        .collect()
}
