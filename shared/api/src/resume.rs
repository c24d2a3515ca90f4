//! `POST /flows/{flow}/runs/{run_id}/resume`: a new run of the live version that clones
//! every task the origin run finished successfully (Metaflow's `resume [STEP]`), with the
//! origin's parameter values. The plan is checked first ([`dropflow_task::resume::plan`]):
//! a run still running, a run that succeeded, or a live graph other than the one the run
//! ran is 409; `from_step` names the step (and those after it) to run again.

use dropflow_contract::api::RunResumed;
use dropflow_contract::ports::{Execution, Executions, StartOutcome};
use dropflow_contract::records::DeploymentState;
use dropflow_contract::start_input::{Resume, ResumedExecutionInput};
use dropflow_task::resume::{self, ResumeConflict};
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::answer::{Answer, answer};
use crate::catalog;
use crate::deps::{ApiPorts, Deps};
use crate::error::{ApiError, code};
use crate::names;
use crate::params;
use crate::progress;
use crate::request::ApiRequest;
use crate::runs::find;

/// The optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeBody {
    /// Metaflow's `resume STEP`: this step and every one after it run again.
    from_step: Option<String>,
}

/// Resumes run `run` of `flow` (see the module's documentation). With an
/// `Idempotency-Key`, the new run's name derives from the origin and the key, so a
/// retried or doubled request answers the run the first one started (200).
pub async fn resume<P: ApiPorts>(
    deps: &Deps<P>,
    request: &ApiRequest,
    flow: &str,
    run: &str,
) -> Answer {
    let body = parse_body(&request.body).map_err(|problem| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_BODY,
            format!("the body must be empty or {{\"from_step\": \"STEP\"}}: {problem}"),
        )
    })?;
    let key = crate::runs::idempotency_key(request)?;
    let (state, origin) = find(deps, flow, run).await?;
    let origin_run = names::run_id(&origin.name);
    let origin_version = origin_version(deps, &state, &origin, &origin_run).await?;
    let live = catalog::live_version(deps, &state).await?;
    let live_manifest = catalog::manifest(deps, &state.state_machine, &live.version).await?;
    let origin_manifest = if origin_version == live.version {
        live_manifest.clone()
    } else {
        catalog::manifest(deps, &state.state_machine, &origin_version).await?
    };
    let plan = resume::plan(
        &origin_run,
        &origin.status,
        &origin_manifest,
        &live_manifest,
        body.from_step.as_deref(),
    )
    .map_err(conflict)?;

    // The origin's values, checked against the live version as a start's are (what the
    // answer shows is every parameter's value, defaults included).
    let unreadable = |problem: String| {
        ApiError::new(
            StatusCode::CONFLICT,
            code::RESUME_CONFLICT,
            format!(
                "run {origin_run}'s parameter values do not fit the live version ({problem}); \
                 start a new run instead"
            ),
        )
        .with("reason", "parameters")
    };
    let given = params::parse_body(origin.input.as_deref().unwrap_or("").as_bytes())
        .map_err(|e| unreadable(ApiError::from(e).message))?;
    let valid = params::check(given, &live_manifest.parameters)
        .map_err(|e| unreadable(ApiError::from(e).message))?;
    let parameters = valid.effective;
    let input = ResumedExecutionInput {
        parameters: dropflow_contract::pyjson::dumps(&Value::Object(valid.values)),
        resume: Resume {
            origin_run: origin_run.clone(),
            rerun: plan.rerun.iter().cloned().collect(),
        },
    };
    let input = serde_json::to_string(&input).expect("a resumed input serialises");
    let name = match &key {
        Some(key) => names::from_idempotency_key(&format!("resume-{}-{key}", origin.name)),
        None => names::generated(),
    };
    let resumed_answer = |status, name: &str, execution_arn: &str, run_status: &str, date: &str| {
        let resumed = RunResumed {
            run_id: names::run_id(name),
            origin_run_id: origin_run.clone(),
            from_step: plan.from_step.clone(),
            rerun: plan.rerun.iter().cloned().collect(),
            execution_arn: execution_arn.to_string(),
            flow: state.flow.clone(),
            state_machine: state.state_machine.clone(),
            version: live.version.clone(),
            status: run_status.to_string(),
            start_date: date.to_string(),
            parameters: parameters.clone(),
        };
        answer(status, &resumed)
    };
    // The run a used name started, when it is this resume; `None`: another run.
    let same = |found: Execution| {
        (found.input.as_deref() == Some(input.as_str())).then(|| {
            resumed_answer(
                StatusCode::OK,
                &found.name,
                &found.execution_arn,
                &found.status,
                found.start_date.as_deref().unwrap_or_default(),
            )
        })
    };
    let taken = || {
        ApiError::new(
            StatusCode::CONFLICT,
            code::IDEMPOTENCY_CONFLICT,
            format!(
                "an execution named {name} exists and is not this resume of {origin_run}; \
                 retry with another Idempotency-Key"
            ),
        )
    };
    // Step Functions answers a start with a used name and the same input as a success:
    // a repeated key is looked up first, so that its answer says the run is not new.
    let arn = names::execution_arn(&state.state_machine_arn, &name).ok_or_else(|| {
        ApiError::internal(dropflow_contract::ServiceError::new(
            "execution ARN",
            format!("{} is not a state machine ARN", state.state_machine_arn),
        ))
    })?;
    if key.is_some()
        && let Some(found) = deps.executions.describe(&arn).await?
    {
        return same(found).ok_or_else(taken);
    }
    match deps
        .executions
        .start(&state.alias_arn, &name, &input)
        .await?
    {
        StartOutcome::Started {
            execution_arn,
            start_date,
        } => {
            tracing::info!(
                state_machine = %state.state_machine,
                origin_run = %origin_run,
                run_id = %names::run_id(&name),
                "run resumed"
            );
            Ok(resumed_answer(
                StatusCode::CREATED,
                &name,
                &execution_arn,
                "RUNNING",
                &start_date,
            ))
        }
        StartOutcome::AlreadyExists => match deps.executions.describe(&arn).await? {
            Some(found) => same(found).ok_or_else(taken),
            None => Err(taken()),
        },
        StartOutcome::StateMachineMissing => Err(ApiError::flow_not_found(flow)),
        StartOutcome::LimitExceeded => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::TOO_MANY_RUNS,
            "Step Functions' limit on open executions is reached; retry later",
        )),
    }
}

/// The body: empty, or `{"from_step": "STEP"}`; else what is wrong with it.
fn parse_body(body: &[u8]) -> Result<ResumeBody, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ResumeBody::default());
    }
    serde_json::from_slice(body)
}

/// The dropflow version the origin run ran: its execution's version, else the one its
/// task records name.
async fn origin_version<P: ApiPorts>(
    deps: &Deps<P>,
    state: &DeploymentState,
    origin: &Execution,
    origin_run: &str,
) -> Result<String, ApiError> {
    let version = match &origin.version_arn {
        Some(arn) => catalog::version_id(deps, state, arn).await?,
        None => None,
    };
    let version = match version {
        Some(version) => Some(version),
        None => {
            progress::read(deps, &state.state_machine, origin_run)
                .await?
                .version
        }
    };
    version.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            code::RESUME_CONFLICT,
            format!(
                "the version run {origin_run} ran is unknown (it recorded no task), so its \
                 graph cannot be checked; start a new run instead"
            ),
        )
        .with("reason", "version_unknown")
    })
}

/// 409 with the reason ([`ResumeConflict`]'s message) and its kind.
fn conflict(reason: ResumeConflict) -> ApiError {
    let kind = match &reason {
        ResumeConflict::StillRunning { .. } => "still_running",
        ResumeConflict::Succeeded { .. } => "succeeded",
        ResumeConflict::GraphChanged { .. } => "graph_changed",
        ResumeConflict::UnknownStep { .. } => "unknown_step",
    };
    ApiError::new(
        StatusCode::CONFLICT,
        code::RESUME_CONFLICT,
        reason.to_string(),
    )
    .with("reason", kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_empty_or_names_a_step() {
        assert_eq!(parse_body(b"").unwrap().from_step, None);
        assert_eq!(parse_body(b"{}").unwrap().from_step, None);
        assert_eq!(
            parse_body(br#"{"from_step": "train"}"#).unwrap().from_step,
            Some("train".into())
        );
        let error = parse_body(br#"{"step": "train"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `step`"),
            "{error}"
        );
    }

    #[test]
    fn conflicts_name_their_reason() {
        let error = conflict(ResumeConflict::Succeeded {
            run: "sfn-1".into(),
        });
        assert_eq!(error.status, StatusCode::CONFLICT);
        assert_eq!(error.details["reason"], "succeeded");
        assert!(error.message.contains("sfn-1 succeeded"));
    }
}
