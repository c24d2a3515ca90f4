//! `dropflow`: deploy a flow and see its report (`deploy`, `undeploy`), run and follow it
//! (`run`, `runs`, `status`, `stop`, `logs`, `flows`), preview what it deploys as (`compile`),
//! look at its graph (`graph`), and run the whole service on 127.0.0.1 (`local up|down`).

mod client_cmd;
mod compile_cmd;
mod graph_cmd;
mod local_cmd;
mod output;
mod run_args;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dropflow_cli::target::TargetFlags;
use dropflow_compiler::compile::OptionsLayer;

/// Deploy Metaflow flows to AWS Step Functions by uploading them to S3.
#[derive(Debug, Parser)]
#[command(name = "dropflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which stack (the local one, or AWS: `--api`/`--bucket`, else `--stack`'s outputs, else
/// DROPFLOW_API / DROPFLOW_BUCKET) and how to print.
#[derive(Debug, Args)]
struct ClientArgs {
    /// Use the local stack (`.dropflow/local.json` here or in a parent directory).
    #[arg(long)]
    local: bool,
    /// The local stack's state directory (implies --local).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The dropflow CloudFormation stack: its ApiUrl and BucketName outputs (default:
    /// $DROPFLOW_STACK; --api and --bucket win over them).
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// Print the result as JSON (for scripts and CI).
    #[arg(long)]
    json: bool,
}

/// The trigger API, for the commands that use it.
#[derive(Debug, Args)]
struct ApiArg {
    /// The trigger API's URL (default: $DROPFLOW_API; the stack's ApiUrl output).
    #[arg(long, value_name = "URL")]
    api: Option<String>,
}

/// The deployment bucket, for the commands that use it.
#[derive(Debug, Args)]
struct BucketArg {
    /// The deployment bucket (default: $DROPFLOW_BUCKET; the stack's BucketName output).
    #[arg(long, value_name = "NAME")]
    bucket: Option<String>,
}

impl ClientArgs {
    fn flags(&self, api: Option<&ApiArg>, bucket: Option<&BucketArg>) -> TargetFlags {
        TargetFlags {
            local: self.local,
            state_dir: self.state_dir.clone(),
            api: api.and_then(|a| a.api.clone()),
            bucket: bucket.and_then(|b| b.bucket.clone()),
            stack: self.stack.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deploy a flow: pack it as Metaflow's `package save` does, upload it under flows/,
    /// wait for the deploy report and print it (non-zero exit when it failed).
    Deploy {
        /// The flow file (its directory is packed), the flow's directory, or a .tar.gz.
        path: PathBuf,
        /// The key under flows/ (default: the flow file's or directory's name + .tar.gz).
        #[arg(long)]
        key: Option<String>,
        /// More file suffixes to pack, comma-separated (Metaflow's --package-suffixes).
        #[arg(long = "package-suffixes", value_name = "SUFFIXES")]
        package_suffixes: Vec<String>,
        /// A file under the flow's directory to pack whatever its suffix, e.g. the file an
        /// `IncludeFile` default names (repeatable).
        #[arg(long, value_name = "FILE")]
        include: Vec<PathBuf>,
        /// Seconds to wait for the deploy report.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        #[command(flatten)]
        options: Box<DeployFlags>,
        #[command(flatten)]
        bucket: BucketArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Undeploy a flow: delete its upload under flows/ and wait for the report.
    Undeploy {
        /// State machine name or flow class name.
        flow: String,
        /// Seconds to wait for the report.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        bucket: BucketArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Start a run: `dropflow run ParameterFlow --alpha 0.5 --wait`. Parameters are
    /// checked against the deployed flow first; nothing starts when one is wrong.
    Run {
        /// State machine name or flow class name.
        flow: String,
        /// Follow the run until it ends (non-zero exit unless it succeeds).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
        /// The flow's parameters, `--name value`; also dropflow's --wait/--json/--local.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "PARAMETERS"
        )]
        args: Vec<String>,
    },
    /// List a flow's runs, newest first.
    Runs {
        /// State machine name or flow class name.
        flow: String,
        /// Only runs with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
        #[arg(long)]
        status: Option<String>,
        /// At most this many (1 to 1000; default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// The next page (printed after a full page).
        #[arg(long)]
        next_token: Option<String>,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// A run's status and per-step progress.
    Status {
        /// State machine name or flow class name.
        flow: String,
        /// Run id (`sfn-...`).
        run_id: String,
        /// Follow it until it ends (non-zero exit unless it succeeds).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Resume a run that failed, timed out or was stopped: a new run (the same parameter
    /// values) that clones every task that succeeded and runs the rest.
    Resume {
        /// State machine name or flow class name.
        flow: String,
        /// The run to resume (`sfn-...`).
        run_id: String,
        /// Run this step and every step after it again (Metaflow's `resume STEP`).
        #[arg(long)]
        from_step: Option<String>,
        /// Follow the new run until it ends (non-zero exit unless it succeeds).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Stop a running run.
    Stop {
        /// State machine name or flow class name.
        flow: String,
        /// Run id (`sfn-...`).
        run_id: String,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Print a task's saved log (stdout, or stderr with --stderr): `dropflow logs FLOW RUN`
    /// reads the run's failed task, `... RUN STEP` the step's only task, `... STEP/TASK`
    /// one task of a foreach.
    Logs {
        /// State machine name or flow class name.
        flow: String,
        /// Run id (`sfn-...`).
        run_id: String,
        /// `STEP` or `STEP/TASK` (or use --step and --task).
        #[arg(value_name = "STEP[/TASK]")]
        target: Option<String>,
        /// The step.
        #[arg(long)]
        step: Option<String>,
        /// The task id (`work-2` in a foreach).
        #[arg(long)]
        task: Option<String>,
        /// The attempt (0 for the first; default: the newest).
        #[arg(long)]
        attempt: Option<u32>,
        /// The task's stderr instead of its stdout.
        #[arg(long)]
        stderr: bool,
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// List the deployed flows.
    Flows {
        #[command(flatten)]
        api: ApiArg,
        #[command(flatten)]
        common: ClientArgs,
    },
    /// Compile a flow (a .py file, a directory or a tarball) and write what `deploy` would
    /// deploy (a file or directory is packed as `deploy` packs it).
    Compile {
        /// Flow file, directory, .tar/.tar.gz, or `python flow.py package save` output.
        path: PathBuf,
        /// Directory for state_machine.json and deployment.json.
        #[arg(long, default_value = "dropflow-out")]
        out: PathBuf,
        /// More file suffixes to pack, comma-separated (as `deploy`).
        #[arg(long = "package-suffixes", value_name = "SUFFIXES")]
        package_suffixes: Vec<String>,
        /// A file to pack whatever its suffix (as `deploy`; repeatable).
        #[arg(long, value_name = "FILE")]
        include: Vec<PathBuf>,
        #[command(flatten)]
        options: Box<DeployFlags>,
    },
    /// Print the flow graph as a Mermaid flowchart.
    Graph {
        /// Flow file, directory or tarball.
        path: PathBuf,
    },
    /// Run dropflow on 127.0.0.1: AWS emulator, functions, Batch as local processes.
    Local {
        #[command(subcommand)]
        command: local_cmd::LocalCommand,
    },
}

/// Deploy options; they override the package's dropflow.toml.
#[derive(Debug, Args)]
struct DeployFlags {
    /// Concurrent tasks per foreach (default 100).
    #[arg(long)]
    max_workers: Option<u32>,
    /// Execution timeout in seconds.
    #[arg(long)]
    workflow_timeout: Option<u64>,
    /// Tag every run (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Namespace the tasks run in.
    #[arg(long)]
    namespace: Option<String>,
    /// @project branch.
    #[arg(long)]
    branch: Option<String>,
    /// @project production branch.
    #[arg(long)]
    production: bool,
    /// State machine name (not with @project).
    #[arg(long)]
    name: Option<String>,
    /// Default container image.
    #[arg(long)]
    image: Option<String>,
    /// Default Batch job queue.
    #[arg(long)]
    job_queue: Option<String>,
    /// Add @retry to every step without one (Metaflow's `--with retry`).
    #[arg(long)]
    with_retry: bool,
    /// `false`: foreaches as inline Maps (at most 1,000 wide); `true` (the default):
    /// Distributed Maps.
    #[arg(long, value_name = "true|false")]
    distributed_map: Option<bool>,
    /// Deploying user (`user.<name>` project branches, `context.user_name`); default:
    /// Metaflow's user name (METAFLOW_USER, SUDO_USER, USERNAME, USER).
    #[arg(long)]
    user: Option<String>,
    /// `fargate`: every step gets a Fargate job definition (default `ec2`).
    #[arg(long)]
    platform: Option<dropflow_compiler::compile::ComputePlatform>,
    /// Metaflow's `--environment`: `uv` runs every task in the project of the package's
    /// `pyproject.toml` and `uv.lock` (default `local`: the image's Python).
    #[arg(long)]
    environment: Option<dropflow_compiler::compile::TaskEnvironment>,
}

impl DeployFlags {
    fn into_layer(self) -> OptionsLayer {
        OptionsLayer {
            max_workers: self.max_workers,
            max_workers_per_step: None,
            workflow_timeout: self.workflow_timeout,
            tags: (!self.tags.is_empty()).then_some(self.tags),
            namespace: self.namespace,
            branch: self.branch,
            production: self.production.then_some(true),
            name: self.name,
            image: self.image,
            job_queue: self.job_queue,
            retry_by_default: self.with_retry.then_some(true),
            distributed_map: self.distributed_map,
            aws_tags: None,
            user: self.user,
            platform: self.platform,
            environment: self.environment,
            assign_public_ip: None,
            // Alert targets come from dropflow.toml or the object metadata only.
            notify_on_error: None,
            notify_on_success: None,
        }
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Compile {
            path,
            out,
            package_suffixes,
            include,
            options,
        } => compile_cmd::run(
            &path,
            &out,
            options.into_layer(),
            &package_suffixes,
            &include,
        )
        .map(|()| true),
        Command::Graph { path } => graph_cmd::run(&path).map(|()| true),
        Command::Local { command } => local_cmd::run(command).map(|()| true),
        Command::Deploy {
            path,
            key,
            package_suffixes,
            include,
            timeout,
            options,
            bucket,
            common,
        } => client(client_cmd::deploy(
            client_cmd::DeployArgs {
                path: &path,
                key,
                package_suffixes,
                include,
                options: options.into_layer(),
                timeout: Duration::from_secs(timeout),
            },
            &common.flags(None, Some(&bucket)),
            common.json,
        )),
        Command::Undeploy {
            flow,
            timeout,
            api,
            bucket,
            common,
        } => client(client_cmd::undeploy(
            &flow,
            Duration::from_secs(timeout),
            &common.flags(Some(&api), Some(&bucket)),
            common.json,
        )),
        Command::Run {
            flow,
            wait,
            api,
            common,
            args,
        } => {
            let (own, params) = run_args::split(&args);
            let mut flags = common.flags(Some(&api), None);
            flags.local |= own.local;
            flags.state_dir = own.state_dir.map(PathBuf::from).or(flags.state_dir);
            flags.api = own.api.or(flags.api);
            client(client_cmd::run(
                &flow,
                &params,
                wait || own.wait,
                &flags,
                common.json || own.json,
            ))
        }
        Command::Runs {
            flow,
            status,
            limit,
            next_token,
            api,
            common,
        } => client(client_cmd::runs(
            &flow,
            status.as_deref(),
            limit,
            next_token.as_deref(),
            &common.flags(Some(&api), None),
            common.json,
        )),
        Command::Status {
            flow,
            run_id,
            wait,
            api,
            common,
        } => client(client_cmd::status(
            &flow,
            &run_id,
            wait,
            &common.flags(Some(&api), None),
            common.json,
        )),
        Command::Resume {
            flow,
            run_id,
            from_step,
            wait,
            api,
            common,
        } => client(client_cmd::resume(
            &flow,
            &run_id,
            from_step.as_deref(),
            wait,
            &common.flags(Some(&api), None),
            common.json,
        )),
        Command::Stop {
            flow,
            run_id,
            api,
            common,
        } => client(client_cmd::stop(
            &flow,
            &run_id,
            &common.flags(Some(&api), None),
            common.json,
        )),
        Command::Logs {
            flow,
            run_id,
            target,
            step,
            task,
            attempt,
            stderr,
            api,
            common,
        } => client_cmd::log_target(target.as_deref(), step, task).and_then(|(step, task)| {
            let query = dropflow_cli::client::LogQuery {
                step,
                task,
                attempt,
                stream: if stderr {
                    dropflow_task::saved_logs::LogStream::Stderr
                } else {
                    dropflow_task::saved_logs::LogStream::Stdout
                },
            };
            client(client_cmd::logs(
                &flow,
                &run_id,
                &query,
                &common.flags(Some(&api), None),
                common.json,
            ))
        }),
        Command::Flows { api, common } => client(client_cmd::flows(
            &common.flags(Some(&api), None),
            common.json,
        )),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a client command; `Ok(false)` when its outcome is a failure (a failed deploy, a
/// run that did not succeed).
fn client(
    work: impl Future<Output = Result<bool, dropflow_cli::client::error::ClientError>>,
) -> Result<bool, String> {
    client_cmd::block_on(work).map_err(|e| e.to_string())
}
