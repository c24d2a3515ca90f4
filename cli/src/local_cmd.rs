//! `dropflow local up|down`: the local stack from the command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use dropflow_cli::local::{self, DEFAULT_BUCKET, DEFAULT_PORT, DEFAULT_REGION, Options, Summary};
use tracing_subscriber::EnvFilter;

/// `dropflow local ...`.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Bring the stack up on 127.0.0.1 (no Docker, no AWS account) and return once it
    /// answers; endpoints go to <state dir>/local.json, with `metadata_url`: Metaflow's
    /// metadata service (what METAFLOW_SERVICE_URL should be, with
    /// METAFLOW_DEFAULT_METADATA=service, for the Client to read the stack's runs) and
    /// `metadata_auth_key`, the key it requires (METAFLOW_SERVICE_AUTH_KEY; generated per
    /// `up`).
    Up(UpArgs),
    /// Stop every process `up` started.
    Down {
        /// The stack's state directory.
        #[arg(long, default_value = ".dropflow")]
        state_dir: PathBuf,
    },
}

/// `dropflow local up` options.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Base port: the AWS emulator on it, the Lambda Invoke API on +1, the trigger API on
    /// +2, the metadata service (local.json's metadata_url) on +3; 0 picks free ports.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Where pid files, logs, Batch job directories and local.json go.
    #[arg(long, default_value = ".dropflow")]
    state_dir: PathBuf,
    /// Python with moto[server]==5.2.5 and metaflow (default: $DROPFLOW_PYTHON, else
    /// .venv/bin/python here or in a parent directory).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Region of every resource.
    #[arg(long, default_value = DEFAULT_REGION)]
    region: String,
    /// Deployment bucket.
    #[arg(long, default_value = DEFAULT_BUCKET)]
    bucket: String,
    /// Batch jobs run at once (0: the number of CPUs, at least 2).
    #[arg(long, default_value_t = 0)]
    max_jobs: usize,
    /// An image jobs may name (`@batch(image=...)`, `dropflow.toml` `image`) and the bin
    /// directory of a Python environment standing in for it: `python:3.12=/tmp/plain/bin`
    /// runs those jobs with a venv that lacks Metaflow, as a plain image would. Repeatable.
    #[arg(long = "image", value_name = "NAME=DIR", value_parser = Options::parse_image)]
    images: Vec<(String, PathBuf)>,
    /// Run in this process (logs on stderr) instead of in the background.
    #[arg(long)]
    foreground: bool,
}

/// Runs a `local` subcommand.
pub fn run(command: LocalCommand) -> Result<(), String> {
    match command {
        LocalCommand::Up(args) => up(args).map_err(|e| e.to_string()),
        LocalCommand::Down { state_dir } => {
            println!("{}", local::down(&state_dir));
            Ok(())
        }
    }
}

fn up(args: UpArgs) -> Result<(), local::LocalError> {
    let python = local::find_python(args.python.as_deref())?;
    let options = Options {
        state_dir: args.state_dir,
        port: args.port,
        python,
        region: args.region,
        bucket: args.bucket,
        max_jobs: args.max_jobs,
        images: args.images,
    };
    if args.foreground {
        tracing_subscriber::fmt()
            .with_env_filter(
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
            )
            .with_target(false)
            .with_writer(std::io::stderr)
            .init();
        return local::run_foreground(options);
    }
    let exe = std::env::current_exe()
        .map_err(local::LocalError::io("finding the dropflow executable"))?;
    let endpoints = local::spawn_daemon(&exe, &options)?;
    let pid = std::fs::read_to_string(options.state_dir.join("dropflow.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_default();
    println!(
        "{}",
        Summary {
            endpoints: &endpoints,
            state_dir: &options.state_dir,
            pid,
            functions: &[],
        }
    );
    Ok(())
}
