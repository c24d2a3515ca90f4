//! `dropflow`: preview what a flow deploys as (`compile`), look at its graph (`graph`),
//! and run the whole service on 127.0.0.1 (`local up|down`).

mod compile_cmd;
mod graph_cmd;
mod local_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use dropflow::compile::OptionsLayer;

/// Deploy Metaflow flows to AWS Step Functions by uploading them to S3.
#[derive(Debug, Parser)]
#[command(name = "dropflow", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile a flow (a .py file, a directory or a tarball) and write what would be deployed.
    Compile {
        /// Flow file, directory, .tar/.tar.gz, or `python flow.py package save` output.
        path: PathBuf,
        /// Directory for state_machine.json and deployment.json.
        #[arg(long, default_value = "dropflow-out")]
        out: PathBuf,
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
    /// Run foreaches as Distributed Maps.
    #[arg(long)]
    distributed_map: bool,
    /// Deploying user (for `user.<name>` project branches).
    #[arg(long)]
    user: Option<String>,
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
            distributed_map: self.distributed_map.then_some(true),
            aws_tags: None,
            user: self.user,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile { path, out, options } => {
            compile_cmd::run(&path, &out, options.into_layer())
        }
        Command::Graph { path } => graph_cmd::run(&path),
        Command::Local { command } => local_cmd::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
