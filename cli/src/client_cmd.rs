//! The client commands: `deploy`, `undeploy`, `run`, `runs`, `status`, `stop`, `logs`,
//! `flows`,
//! each printing one output type (`--json` for scripts) and exiting non-zero when the
//! deployment failed or the run did not succeed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dropflow_cli::client::deploy::{self, DeployOutcome, FLOWS_PREFIX};
use dropflow_cli::client::error::ClientError;
use dropflow_cli::client::report::Status;
use dropflow_cli::client::shown::{Shown, progress_line};
use dropflow_cli::client::types::RunOutcome;
use dropflow_cli::client::{Api, Connection, LogQuery, params};
use dropflow_cli::pack;
use dropflow_cli::target::{self, TargetFlags};
use dropflow_cli::username::get_username;
use dropflow_compiler::compile::OptionsLayer;
use dropflow_contract::api::{RunDetail, RunStarted};

use crate::output::{self, emit};

/// Whether the command's outcome is a success (the exit status).
pub type Succeeded = bool;

/// Runs `work` on a runtime of its own.
pub fn block_on<T>(work: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(work)
}

async fn connect(flags: &TargetFlags) -> Result<Connection, ClientError> {
    let env = |name: &str| std::env::var(name).ok();
    if let Some(stack) = target::stack_name(flags, env) {
        return Connection::from_stack(flags, env, &stack).await;
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let target = target::resolve(flags, env, &cwd)?;
    Ok(Connection::new(target).await)
}

/// `dropflow deploy PATH`.
pub struct DeployArgs<'a> {
    /// Flow file, directory or archive.
    pub path: &'a Path,
    /// Key under `flows/` (default: from the path).
    pub key: Option<String>,
    /// `--package-suffixes`.
    pub package_suffixes: Vec<String>,
    /// `--include`: files packed whatever their suffix.
    pub include: Vec<PathBuf>,
    /// Deploy options (the user filled in).
    pub options: OptionsLayer,
    /// How long to wait for the report.
    pub timeout: Duration,
}

/// Packs, uploads and prints the report.
pub async fn deploy(
    args: DeployArgs<'_>,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let mut options = args.options;
    if options.user.is_none() {
        options.user = Some(get_username().ok_or(ClientError::UnknownUser)?);
    }
    let default_suffixes = std::env::var("METAFLOW_DEFAULT_PACKAGE_SUFFIXES").ok();
    let suffixes = pack::suffixes(default_suffixes.as_deref(), &args.package_suffixes);
    let packed = pack::pack(args.path, &suffixes, &args.include)?;
    let key = flow_key(args.key.as_deref().unwrap_or(&packed.name));
    let connection = connect(flags).await?;
    let store = connection.store()?;
    let mut outcome = deploy::deploy(
        &store,
        &key,
        packed.bytes,
        &deploy::metadata(&options),
        args.timeout,
    )
    .await?;
    outcome.files = packed.files;
    outcome.skipped = packed.skipped;
    emit(&outcome, json);
    Ok(outcome.succeeded())
}

/// `key` under `flows/`.
fn flow_key(key: &str) -> String {
    if key.starts_with(FLOWS_PREFIX) {
        key.to_string()
    } else {
        format!("{FLOWS_PREFIX}{key}")
    }
}

/// `dropflow undeploy FLOW`: deletes the flow's upload and waits for `undeployed`.
pub async fn undeploy(
    flow: &str,
    timeout: Duration,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let connection = connect(flags).await?;
    let detail = connection.api()?.flow(flow).await?;
    // The API names the upload relative to `flows/`.
    let key = Some(detail.source_key)
        .filter(|k| !k.is_empty())
        .map(|k| format!("{FLOWS_PREFIX}{k}"))
        .ok_or_else(|| ClientError::NoSourceKey {
            flow: flow.to_string(),
        })?;
    let outcome: DeployOutcome = deploy::undeploy(&connection.store()?, &key, timeout).await?;
    emit(&outcome, json);
    Ok(outcome.report.status == Status::Undeployed)
}

/// `dropflow run FLOW [--param value ...] [--wait]`.
pub async fn run(
    flow: &str,
    words: &[String],
    wait: bool,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    let detail = api.flow(flow).await?;
    let values = params::parse(words, &detail.parameters)?;
    let started = api.start(flow, &values).await?;
    report_started(&api, flow, started, wait, json).await
}

/// `dropflow resume FLOW RUN [--from-step STEP] [--wait]`: a new run that clones what
/// succeeded in `RUN` and runs the rest, followed to its end with `--wait`.
pub async fn resume(
    flow: &str,
    run_id: &str,
    from_step: Option<&str>,
    wait: bool,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    let resumed = api.resume(flow, run_id, from_step).await?;
    report_started(&api, flow, resumed.into(), wait, json).await
}

/// Prints a started run, and with `wait` follows it to its end (printing the start first,
/// then the end); whether it succeeded (a run not waited for counts as started well).
async fn report_started(
    api: &Api,
    flow: &str,
    started: RunStarted,
    wait: bool,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let finished = if wait {
        if !json {
            output::line(&Shown(&started).to_string());
        }
        Some(follow(api, flow, &started.run_id, json).await?)
    } else {
        None
    };
    let outcome = RunOutcome { started, finished };
    match &outcome.finished {
        // The start was printed before following.
        Some(detail) if !json => emit(&Shown(detail), false),
        _ => emit(&outcome, json),
    }
    Ok(outcome.succeeded())
}

/// Follows a run, printing a line per change: plain lines when stdout is not a terminal
/// (or with `--json`, on stderr), one line rewritten in place on a terminal.
async fn follow(api: &Api, flow: &str, run_id: &str, json: bool) -> Result<RunDetail, ClientError> {
    let terminal = !json && std::io::stdout().is_terminal();
    let detail = api
        .follow(flow, run_id, |detail| {
            let line = progress_line(detail);
            if json {
                eprintln!("{line}");
            } else if terminal {
                output::rewrite(&line);
            } else {
                output::line(&line);
            }
        })
        .await?;
    if terminal {
        output::line("");
    }
    Ok(detail)
}

/// `dropflow status FLOW RUN [--wait]`.
pub async fn status(
    flow: &str,
    run_id: &str,
    wait: bool,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    let detail = if wait {
        follow(&api, flow, run_id, json).await?
    } else {
        api.run(flow, run_id).await?
    };
    emit(&Shown(&detail), json);
    Ok(!wait || detail.status == "SUCCEEDED")
}

/// `dropflow runs FLOW [--status S]`.
pub async fn runs(
    flow: &str,
    status: Option<&str>,
    limit: Option<u32>,
    next_token: Option<&str>,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    emit(
        &Shown(&api.runs(flow, status, limit, next_token).await?),
        json,
    );
    Ok(true)
}

/// `dropflow stop FLOW RUN`.
pub async fn stop(
    flow: &str,
    run_id: &str,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    emit(&Shown(&api.stop(flow, run_id).await?), json);
    Ok(true)
}

/// `dropflow logs FLOW RUN [STEP[/TASK]]`: a task's saved log, printed as it is read
/// (the whole page document with `--json`).
pub async fn logs(
    flow: &str,
    run_id: &str,
    query: &LogQuery,
    flags: &TargetFlags,
    json: bool,
) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    let whole = api
        .log(flow, run_id, query, |page| {
            if !json {
                output::text(&page.log.text);
            }
        })
        .await?;
    if json {
        output::line(&serde_json::to_string_pretty(&whole).expect("a log page serialises"));
    }
    Ok(true)
}

/// `STEP` or `STEP/TASK` (`dropflow logs`'s optional word), merged with `--step`/`--task`.
pub fn log_target(
    word: Option<&str>,
    step: Option<String>,
    task: Option<String>,
) -> Result<(Option<String>, Option<String>), String> {
    let Some(word) = word else {
        return Ok((step, task));
    };
    if step.is_some() || task.is_some() {
        return Err(format!(
            "give the task either as {word:?} or with --step/--task, not both"
        ));
    }
    match word.split_once('/') {
        None => Ok((Some(word.to_string()), None)),
        Some((step, task)) if !step.is_empty() && !task.is_empty() && !task.contains('/') => {
            Ok((Some(step.to_string()), Some(task.to_string())))
        }
        Some(_) => Err(format!("{word:?} is not STEP or STEP/TASK")),
    }
}

/// `dropflow flows`.
pub async fn flows(flags: &TargetFlags, json: bool) -> Result<Succeeded, ClientError> {
    let api = connect(flags).await?.api()?;
    emit(&Shown(&api.flows().await?), json);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_under_flows() {
        assert_eq!(flow_key("f.tar.gz"), "flows/f.tar.gz");
        assert_eq!(flow_key("flows/team/f.tar.gz"), "flows/team/f.tar.gz");
    }

    #[test]
    fn a_log_is_named_by_step_and_task_or_by_flags() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            log_target(Some("work/work-2"), None, None),
            Ok((some("work"), some("work-2")))
        );
        assert_eq!(
            log_target(Some("start"), None, None),
            Ok((some("start"), None))
        );
        assert_eq!(
            log_target(None, some("work"), some("work-1")),
            Ok((some("work"), some("work-1")))
        );
        assert!(log_target(Some("a/b/c"), None, None).is_err());
        assert!(log_target(Some("/b"), None, None).is_err());
        assert!(log_target(Some("a"), some("b"), None).is_err());
    }
}
