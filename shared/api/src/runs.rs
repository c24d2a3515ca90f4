//! The run routes: start (`POST /flows/{flow}/runs`), list, describe and stop.

use dropflow_contract::api::{
    RunDetail, RunList, RunStarted, RunStopped, RunSummary, TriggeringEvent,
};
use dropflow_contract::layout;
use dropflow_contract::ports::{Execution, Executions, ListOutcome, StartOutcome, StopOutcome};
use dropflow_contract::records::{DeploymentState, read_json};
use dropflow_contract::triggers::{TriggeredRun, started_by_events};
use lambda_http::http::StatusCode;
use serde_json::{Map, Value};

use crate::answer::{Answer, answer};
use crate::catalog;
use crate::deps::{ApiPorts, Deps};
use crate::error::{ApiError, code};
use crate::names;
use crate::params::{self, ValidInput};
use crate::progress;
use crate::request::ApiRequest;

/// Execution statuses `?status=` accepts (Step Functions' own).
pub const STATUSES: [&str; 6] = [
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];

/// Runs listed per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i32 = 50;
/// The largest `limit` (Step Functions' page size limit).
pub const MAX_LIMIT: i32 = 1000;

/// An `Idempotency-Key` header that is empty or not text (a 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadIdempotencyKey;

impl From<BadIdempotencyKey> for ApiError {
    fn from(_: BadIdempotencyKey) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_IDEMPOTENCY_KEY,
            "the Idempotency-Key header must be non-empty text",
        )
    }
}

/// The request's `Idempotency-Key` (`None` when absent), for starting and resuming runs.
pub(crate) fn idempotency_key(request: &ApiRequest) -> Result<Option<String>, BadIdempotencyKey> {
    match request.idempotency_key() {
        None => Ok(None),
        Some(Ok(key)) if !key.is_empty() => Ok(Some(key.to_string())),
        Some(_) => Err(BadIdempotencyKey),
    }
}

/// `POST /flows/{flow}/runs`: checks the parameters against the live version's manifest,
/// then starts an execution on the `live` alias with Metaflow's input form. 201 for a new
/// run; 200 with the existing run when the `Idempotency-Key` was used before with the same
/// parameters; 409 when it was used with others.
pub async fn start<P: ApiPorts>(deps: &Deps<P>, request: &ApiRequest, flow: &str) -> Answer {
    // Everything that needs no AWS call first: size, JSON, the key.
    let given = params::parse_body(&request.body)?;
    let key = idempotency_key(request)?;
    let state = catalog::resolve(deps, flow).await?;
    let live = catalog::live_version(deps, &state).await?;
    let manifest = catalog::manifest(deps, &state.state_machine, &live.version).await?;
    let valid = params::check(given, &manifest.parameters)?;

    let name = key
        .as_deref()
        .map(names::from_idempotency_key)
        .unwrap_or_else(names::generated);
    let execution_arn = names::execution_arn(&state.state_machine_arn, &name).ok_or_else(|| {
        ApiError::internal(dropflow_contract::ServiceError::new(
            "execution ARN",
            format!("{} is not a state machine ARN", state.state_machine_arn),
        ))
    })?;
    if key.is_some()
        && let Some(existing) = deps.executions.describe(&execution_arn).await?
    {
        return existing_run(
            deps,
            &state,
            &live.version,
            existing,
            &valid,
            key.as_deref(),
        )
        .await;
    }
    match deps
        .executions
        .start(&state.alias_arn, &name, &valid.input)
        .await?
    {
        StartOutcome::Started {
            execution_arn,
            start_date,
        } => {
            tracing::info!(
                state_machine = %state.state_machine,
                version = %live.version,
                run_id = %names::run_id(&name),
                "run started"
            );
            Ok(answer(
                StatusCode::CREATED,
                &run_started(
                    &state,
                    &live.version,
                    &name,
                    &execution_arn,
                    "RUNNING",
                    &start_date,
                    &valid,
                ),
            ))
        }
        StartOutcome::AlreadyExists => match deps.executions.describe(&execution_arn).await? {
            Some(existing) => {
                existing_run(
                    deps,
                    &state,
                    &live.version,
                    existing,
                    &valid,
                    key.as_deref(),
                )
                .await
            }
            None => Err(ApiError::new(
                StatusCode::CONFLICT,
                code::IDEMPOTENCY_CONFLICT,
                format!("an execution named {name} exists; retry with another Idempotency-Key"),
            )),
        },
        StartOutcome::StateMachineMissing => Err(ApiError::flow_not_found(flow)),
        StartOutcome::LimitExceeded => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::TOO_MANY_RUNS,
            "Step Functions' limit on open executions is reached; retry later",
        )),
    }
}

/// The answer for an execution that already has the request's name: the same run (200)
/// when it was started with the same input, else 409.
async fn existing_run<P: ApiPorts>(
    deps: &Deps<P>,
    state: &DeploymentState,
    live_version: &str,
    existing: Execution,
    valid: &ValidInput,
    key: Option<&str>,
) -> Answer {
    if existing.input.as_deref() != Some(valid.input.as_str()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            code::IDEMPOTENCY_CONFLICT,
            format!(
                "Idempotency-Key {:?} was used for run {} with other parameters; use a new key for a new run",
                key.unwrap_or_default(),
                names::run_id(&existing.name)
            ),
        )
        .with("run_id", names::run_id(&existing.name)));
    }
    // The version it runs (it may have started before a newer version went live).
    let version = match &existing.version_arn {
        Some(arn) => catalog::version_id(deps, state, arn).await?,
        None => None,
    };
    Ok(answer(
        StatusCode::OK,
        &run_started(
            state,
            version.as_deref().unwrap_or(live_version),
            &existing.name,
            &existing.execution_arn,
            &existing.status,
            existing.start_date.as_deref().unwrap_or_default(),
            valid,
        ),
    ))
}

fn run_started(
    state: &DeploymentState,
    version: &str,
    name: &str,
    execution_arn: &str,
    status: &str,
    start_date: &str,
    valid: &ValidInput,
) -> RunStarted {
    RunStarted {
        run_id: names::run_id(name),
        execution_arn: execution_arn.to_string(),
        flow: state.flow.clone(),
        state_machine: state.state_machine.clone(),
        version: version.to_string(),
        status: status.to_string(),
        start_date: start_date.to_string(),
        parameters: valid.effective.clone(),
    }
}

/// `GET /flows/{flow}/runs?status=&limit=&next_token=`: newest first, a page at a time.
pub async fn list<P: ApiPorts>(deps: &Deps<P>, request: &ApiRequest, flow: &str) -> Answer {
    let status = match request.query_param("status") {
        None | Some("") => None,
        Some(status) => {
            let upper = status.to_ascii_uppercase();
            if !STATUSES.contains(&upper.as_str()) {
                return Err(invalid_query(format!(
                    "status={status:?} is not one of {}",
                    STATUSES.join(", ")
                )));
            }
            Some(upper)
        }
    };
    let limit = match request.query_param("limit") {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => match text.parse::<i32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(invalid_query(format!(
                    "limit={text:?} must be a number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let next_token = request.query_param("next_token").filter(|t| !t.is_empty());
    let state = catalog::resolve(deps, flow).await?;
    let page = match deps
        .executions
        .list(
            &state.state_machine_arn,
            status.as_deref(),
            limit,
            next_token,
        )
        .await?
    {
        ListOutcome::Page(page) => page,
        ListOutcome::InvalidToken => {
            return Err(invalid_query(
                "next_token is not one this API returned (or it expired); list from the start",
            ));
        }
        ListOutcome::StateMachineMissing => return Err(ApiError::flow_not_found(flow)),
    };
    let runs = page
        .executions
        .into_iter()
        .map(|e| RunSummary {
            run_id: names::run_id(&e.name),
            status: e.status,
            start_date: e.start_date,
            stop_date: e.stop_date,
            execution_arn: e.execution_arn,
        })
        .collect();
    let list = RunList {
        flow: state.flow,
        state_machine: state.state_machine,
        runs,
        next_token: page.next_token,
    };
    Ok(answer(StatusCode::OK, &list))
}

fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code::INVALID_QUERY, message)
}

/// The run `run` of the flow: its execution, or 404.
pub(crate) async fn find<P: ApiPorts>(
    deps: &Deps<P>,
    flow: &str,
    run: &str,
) -> Result<(DeploymentState, Execution), ApiError> {
    let state = catalog::resolve(deps, flow).await?;
    let execution = match names::name_of_run(run)
        .and_then(|name| names::execution_arn(&state.state_machine_arn, name))
    {
        Some(arn) => deps.executions.describe(&arn).await?,
        None => None,
    };
    match execution {
        Some(execution) => Ok((state, execution)),
        None => Err(ApiError::run_not_found(&state.state_machine, run)),
    }
}

/// `GET /flows/{flow}/runs/{run_id}`: status, dates, parameters, the version it runs, the
/// error and cause of a failed run, and per-step progress from the run records.
pub async fn get<P: ApiPorts>(deps: &Deps<P>, flow: &str, run: &str) -> Answer {
    let (state, execution) = find(deps, flow, run).await?;
    let run_id = names::run_id(&execution.name);
    let progress = progress::read(deps, &state.state_machine, &run_id).await?;
    let version = match &execution.version_arn {
        Some(arn) => catalog::version_id(deps, &state, arn).await?,
        None => None,
    }
    .or(progress.version);
    let triggered_by = triggered_by(deps, &state.state_machine, &execution.name).await?;
    let detail = RunDetail {
        run_id,
        flow: state.flow,
        state_machine: state.state_machine,
        parameters: parameters_of(execution.input.as_deref()),
        execution_arn: execution.execution_arn,
        status: execution.status,
        start_date: execution.start_date,
        stop_date: execution.stop_date,
        version,
        error: execution.error,
        cause: execution.cause,
        steps: progress.steps,
        steps_partial: progress.partial,
        triggered_by,
    };
    Ok(answer(StatusCode::OK, &detail))
}

/// What started an event-started run: its events (`id`, `name`, and for a finish event
/// the upstream run, `Flow/run_id`), from the record the delivery wrote before starting
/// it; `None` for a run started otherwise.
async fn triggered_by<P: ApiPorts>(
    deps: &Deps<P>,
    state_machine: &str,
    execution: &str,
) -> Result<Option<Vec<TriggeringEvent>>, dropflow_contract::ServiceError> {
    if !started_by_events(execution) {
        return Ok(None);
    }
    let key = layout::triggered_run_key(state_machine, execution);
    let Some(record) = read_json::<TriggeredRun>(&deps.objects, &key).await? else {
        return Ok(None);
    };
    Ok(Some(
        record
            .events
            .iter()
            .map(|arrival| TriggeringEvent {
                id: arrival.id.clone(),
                name: arrival.event.name.clone(),
                run: arrival.event.finished_run(),
            })
            .collect(),
    ))
}

/// The parameter values in an execution input (either form); `None` when unreadable.
fn parameters_of(input: Option<&str>) -> Option<Map<String, Value>> {
    input.and_then(|input| params::parse_body(input.as_bytes()).ok())
}

/// `DELETE /flows/{flow}/runs/{run_id}`: stops a running run (404 unknown, 409 finished).
pub async fn stop<P: ApiPorts>(
    deps: &Deps<P>,
    request: &ApiRequest,
    flow: &str,
    run: &str,
) -> Answer {
    let (state, execution) = find(deps, flow, run).await?;
    let run_id = names::run_id(&execution.name);
    if execution.status != "RUNNING" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            code::RUN_FINISHED,
            format!(
                "run {run_id} has already finished ({}); only running runs can be stopped",
                execution.status
            ),
        )
        .with("status", execution.status));
    }
    let cause = format!(
        "stopped through the dropflow API (request {})",
        request.request_id
    );
    match deps
        .executions
        .stop(&execution.execution_arn, "dropflow.Stopped", &cause)
        .await?
    {
        StopOutcome::Stopped { stop_date } => {
            let stop_date = recorded_stop_date(deps, &execution.execution_arn, stop_date).await;
            tracing::info!(state_machine = %state.state_machine, run_id = %run_id, "run stopped");
            let stopped = RunStopped {
                run_id,
                flow: state.flow,
                state_machine: state.state_machine,
                execution_arn: execution.execution_arn,
                status: "ABORTED".into(),
                stop_date,
            };
            Ok(answer(StatusCode::OK, &stopped))
        }
        StopOutcome::DoesNotExist => Err(ApiError::run_not_found(&state.state_machine, run)),
    }
}

/// What a stop answer shows for a date that is not one: the epoch.
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// When the execution stopped, as DescribeExecution records it (StopExecution's own
/// answer only when that is unavailable and is a real date; the epoch, which an answer
/// without a date decodes to, is never shown): `None` when neither has one.
async fn recorded_stop_date<P: ApiPorts>(
    deps: &Deps<P>,
    execution_arn: &str,
    answered: String,
) -> Option<String> {
    let answered = (!answered.is_empty() && answered != EPOCH).then_some(answered);
    match deps.executions.describe(execution_arn).await {
        Ok(Some(execution)) => execution
            .stop_date
            .filter(|date| date != EPOCH)
            .or(answered),
        Ok(None) => answered,
        Err(error) => {
            tracing::warn!(execution_arn, error = %error, "the stopped run's stop date is unknown");
            answered
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    /// The parameters as the run view answers them.
    fn answered(input: Option<&str>) -> Value {
        serde_json::to_value(parameters_of(input)).unwrap()
    }

    #[test]
    fn parameters_are_read_back_from_either_input_form() {
        assert_eq!(
            answered(Some(r#"{"Parameters": "{\"alpha\": 0.5}"}"#)),
            json!({"alpha": 0.5})
        );
        assert_eq!(answered(Some(r#"{"alpha": 1}"#)), json!({"alpha": 1}));
        assert_eq!(answered(Some("not json")), Value::Null);
        assert_eq!(answered(None), Value::Null);
    }
}
