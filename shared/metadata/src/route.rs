//! The endpoints of Metaflow's metadata service (the paths its `service` provider builds:
//! `_obj_path`, `_create_path`, the heartbeat URLs, `/tag/mutate`, `/filtered_tasks`),
//! matched on percent-decoded path segments. Every id is checked here: not empty, at most
//! [`MAX_ID_BYTES`], no `/` (an id is one path segment, and the store's keys rely on it)
//! and no control characters.

use super::error::{ApiError, code};
use super::http::decode;
use super::model::Id;

/// The longest id accepted (the reference service's `VARCHAR(255)`).
pub const MAX_ID_BYTES: usize = 255;

/// A run: flow and run id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPath {
    /// Flow name.
    pub flow: String,
    /// Run id (a number or a name).
    pub run: Id,
}

/// A step of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPath {
    /// The run.
    pub run: RunPath,
    /// Step name.
    pub step: String,
}

/// A task of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPath {
    /// The step.
    pub step: StepPath,
    /// Task id.
    pub task: Id,
}

impl TaskPath {
    /// The flow name.
    pub fn flow(&self) -> &str {
        &self.step.run.flow
    }
}

/// One endpoint with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /ping`: `pong`, with the version header.
    Ping,
    /// `GET /version`: the version as text.
    Version,
    /// `GET /healthcheck`: `{"status": "UP"}` when the store answers.
    Healthcheck,
    /// `GET /flows`.
    ListFlows,
    /// `GET /flows/{flow}`.
    GetFlow(String),
    /// `POST /flows/{flow}`.
    CreateFlow(String),
    /// `GET /flows/{flow}/runs`.
    ListRuns(String),
    /// `POST /flows/{flow}/run` (a new run; its id given in the body or assigned).
    CreateRun(String),
    /// `GET /flows/{flow}/runs/{run}`.
    GetRun(RunPath),
    /// `POST /flows/{flow}/runs/{run}/heartbeat`.
    RunHeartbeat(RunPath),
    /// `PATCH` (or `POST`) `/flows/{flow}/runs/{run}/tag/mutate`.
    MutateRunTags(RunPath),
    /// `GET /flows/{flow}/runs/{run}/steps`.
    ListSteps(RunPath),
    /// `GET /flows/{flow}/runs/{run}/artifacts` (latest attempt of each task).
    ListRunArtifacts(RunPath),
    /// `GET /flows/{flow}/runs/{run}/metadata`.
    ListRunMetadata(RunPath),
    /// `GET …/steps/{step}`.
    GetStep(StepPath),
    /// `POST …/steps/{step}/step`.
    CreateStep(StepPath),
    /// `GET …/steps/{step}/tasks`.
    ListTasks(StepPath),
    /// `GET …/steps/{step}/filtered_tasks?metadata_field_name=…&pattern=…`.
    FilteredTasks(StepPath),
    /// `POST …/steps/{step}/task` (a new task; its id given in the body or assigned).
    CreateTask(StepPath),
    /// `GET …/steps/{step}/artifacts` (latest attempt of each task).
    ListStepArtifacts(StepPath),
    /// `GET …/tasks/{task}`.
    GetTask(TaskPath),
    /// `POST …/tasks/{task}/heartbeat`.
    TaskHeartbeat(TaskPath),
    /// `GET …/tasks/{task}/artifacts` (latest attempt) and
    /// `GET …/tasks/{task}/attempt/{n}/artifacts`.
    ListTaskArtifacts(TaskPath, Option<u32>),
    /// `GET …/tasks/{task}/artifacts/{name}` (latest attempt) and
    /// `GET …/tasks/{task}/artifacts/{name}/attempt/{n}`.
    GetArtifact(TaskPath, String, Option<u32>),
    /// `POST …/tasks/{task}/artifact` (a list of artifacts).
    CreateArtifacts(TaskPath),
    /// `GET …/tasks/{task}/metadata`.
    ListTaskMetadata(TaskPath),
    /// `POST …/tasks/{task}/metadata` (a list of metadata).
    CreateMetadata(TaskPath),
}

/// Finds the endpoint for `method` and the path's (percent-encoded) `path`.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let mut raw: Vec<&str> = path.split('/').skip(1).collect();
    if raw.len() > 1 && raw.last() == Some(&"") {
        raw.pop();
    }
    let segments = raw
        .iter()
        .map(|s| decode(s, false))
        .collect::<Result<Vec<_>, _>>()?;
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = method;
    let get = |r: Route| allow(m, "GET", r);
    let post = |r: Route| allow(m, "POST", r);
    match s.as_slice() {
        ["ping"] => get(Route::Ping),
        ["version"] => get(Route::Version),
        ["healthcheck"] => get(Route::Healthcheck),
        ["flows"] => get(Route::ListFlows),
        ["flows", f] => {
            let flow = name("flow", f)?;
            match m {
                "GET" => Ok(Route::GetFlow(flow)),
                "POST" => Ok(Route::CreateFlow(flow)),
                _ => Err(not_allowed(m, "GET, POST")),
            }
        }
        ["flows", f, "runs"] => get(Route::ListRuns(name("flow", f)?)),
        ["flows", f, "run"] => post(Route::CreateRun(name("flow", f)?)),
        ["flows", f, "runs", r, rest @ ..] => {
            let run = RunPath {
                flow: name("flow", f)?,
                run: id("run", r)?,
            };
            run_route(m, run, rest)
        }
        _ => Err(ApiError::not_found(format!(
            "no endpoint {method} {path}; this is Metaflow's metadata service API (/ping, /flows/…)"
        ))),
    }
}

fn run_route(m: &str, run: RunPath, rest: &[&str]) -> Result<Route, ApiError> {
    let get = |r: Route| allow(m, "GET", r);
    let post = |r: Route| allow(m, "POST", r);
    match rest {
        [] => get(Route::GetRun(run)),
        ["heartbeat"] => post(Route::RunHeartbeat(run)),
        ["tag", "mutate"] => match m {
            "PATCH" | "POST" => Ok(Route::MutateRunTags(run)),
            _ => Err(not_allowed(m, "PATCH, POST")),
        },
        ["steps"] => get(Route::ListSteps(run)),
        ["artifacts"] => get(Route::ListRunArtifacts(run)),
        ["metadata"] => get(Route::ListRunMetadata(run)),
        ["steps", st, rest @ ..] => {
            let step = StepPath {
                run,
                step: name("step", st)?,
            };
            step_route(m, step, rest)
        }
        _ => Err(unknown(m, rest)),
    }
}

fn step_route(m: &str, step: StepPath, rest: &[&str]) -> Result<Route, ApiError> {
    let get = |r: Route| allow(m, "GET", r);
    let post = |r: Route| allow(m, "POST", r);
    match rest {
        [] => get(Route::GetStep(step)),
        ["step"] => post(Route::CreateStep(step)),
        ["tasks"] => get(Route::ListTasks(step)),
        ["filtered_tasks"] => get(Route::FilteredTasks(step)),
        ["task"] => post(Route::CreateTask(step)),
        ["artifacts"] => get(Route::ListStepArtifacts(step)),
        ["tasks", t, rest @ ..] => {
            let task = TaskPath {
                step,
                task: id("task", t)?,
            };
            task_route(m, task, rest)
        }
        _ => Err(unknown(m, rest)),
    }
}

fn task_route(m: &str, task: TaskPath, rest: &[&str]) -> Result<Route, ApiError> {
    let get = |r: Route| allow(m, "GET", r);
    let post = |r: Route| allow(m, "POST", r);
    match rest {
        [] => get(Route::GetTask(task)),
        ["heartbeat"] => post(Route::TaskHeartbeat(task)),
        ["artifact"] => post(Route::CreateArtifacts(task)),
        ["artifacts"] => get(Route::ListTaskArtifacts(task, None)),
        ["attempt", a, "artifacts"] => get(Route::ListTaskArtifacts(task, Some(attempt(a)?))),
        ["artifacts", n] => get(Route::GetArtifact(task, name("artifact", n)?, None)),
        ["artifacts", n, "attempt", a] => get(Route::GetArtifact(
            task,
            name("artifact", n)?,
            Some(attempt(a)?),
        )),
        ["metadata"] => match m {
            "GET" => Ok(Route::ListTaskMetadata(task)),
            "POST" => Ok(Route::CreateMetadata(task)),
            _ => Err(not_allowed(m, "GET, POST")),
        },
        _ => Err(unknown(m, rest)),
    }
}

fn allow(method: &str, allowed: &'static str, route: Route) -> Result<Route, ApiError> {
    if method == allowed {
        Ok(route)
    } else {
        Err(not_allowed(method, allowed))
    }
}

fn not_allowed(method: &str, allowed: &'static str) -> ApiError {
    ApiError {
        allow: Some(allowed),
        ..ApiError::new(
            405,
            code::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed here; use {allowed}"),
        )
    }
}

fn unknown(method: &str, rest: &[&str]) -> ApiError {
    ApiError::not_found(format!(
        "no endpoint {method} …/{} in Metaflow's metadata service API",
        rest.join("/")
    ))
}

/// Checks an id segment: not empty, at most [`MAX_ID_BYTES`], no `/`, no control
/// characters.
pub fn check_id(kind: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("the {kind} id is empty")));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(ApiError::bad_request(format!(
            "the {kind} id is {} bytes; at most {MAX_ID_BYTES} are allowed",
            value.len()
        )));
    }
    if value.contains('/') {
        return Err(ApiError::bad_request(format!(
            "the {kind} id {value:?} contains '/'"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "the {kind} id {value:?} contains a control character"
        )));
    }
    Ok(())
}

fn name(kind: &str, value: &str) -> Result<String, ApiError> {
    check_id(kind, value)?;
    Ok(value.to_string())
}

fn id(kind: &str, value: &str) -> Result<Id, ApiError> {
    check_id(kind, value)?;
    Ok(Id::parse(value))
}

fn attempt(value: &str) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::bad_request(format!("attempt {value:?} is not a non-negative integer"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(run: Id, task: Id) -> TaskPath {
        TaskPath {
            step: StepPath {
                run: RunPath {
                    flow: "F".into(),
                    run,
                },
                step: "s".into(),
            },
            task,
        }
    }

    #[test]
    fn the_clients_paths_route() {
        let t = || task(Id::Name("sfn-x".into()), Id::Number(3));
        let cases = [
            ("GET", "/ping", Route::Ping),
            ("GET", "/flows", Route::ListFlows),
            ("POST", "/flows/F", Route::CreateFlow("F".into())),
            ("POST", "/flows/F/run", Route::CreateRun("F".into())),
            (
                "GET",
                "/flows/F/runs/12",
                Route::GetRun(RunPath {
                    flow: "F".into(),
                    run: Id::Number(12),
                }),
            ),
            (
                "GET",
                "/flows/F/runs/sfn-x/steps/s/tasks/3",
                Route::GetTask(t()),
            ),
            (
                "POST",
                "/flows/F/runs/sfn-x/steps/s/tasks/3/artifact",
                Route::CreateArtifacts(t()),
            ),
            (
                "GET",
                "/flows/F/runs/sfn-x/steps/s/tasks/3/attempt/2/artifacts",
                Route::ListTaskArtifacts(t(), Some(2)),
            ),
            (
                "GET",
                "/flows/F/runs/sfn-x/steps/s/tasks/3/artifacts/value/attempt/0",
                Route::GetArtifact(t(), "value".into(), Some(0)),
            ),
            (
                "POST",
                "/flows/F/runs/sfn-x/steps/s/tasks/3/metadata",
                Route::CreateMetadata(t()),
            ),
            (
                "POST",
                "/flows/F/runs/sfn-x/steps/s/tasks/3/heartbeat",
                Route::TaskHeartbeat(t()),
            ),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(method, path).unwrap(), expected, "{method} {path}");
        }
        assert!(matches!(
            route("PATCH", "/flows/F/runs/1/tag/mutate").unwrap(),
            Route::MutateRunTags(_)
        ));
        // A trailing slash is tolerated; segments are percent-decoded.
        assert_eq!(route("GET", "/flows/").unwrap(), Route::ListFlows);
        assert_eq!(
            route("GET", "/flows/F/runs/a%20b").unwrap(),
            Route::GetRun(RunPath {
                flow: "F".into(),
                run: Id::Name("a b".into())
            })
        );
    }

    #[test]
    fn unknown_paths_and_methods_and_bad_ids_are_4xx() {
        assert_eq!(route("GET", "/nope").unwrap_err().status, 404);
        assert_eq!(
            route("GET", "/flows/F/runs/1/bogus").unwrap_err().status,
            404
        );
        let e = route("DELETE", "/flows/F").unwrap_err();
        assert_eq!((e.status, e.allow), (405, Some("GET, POST")));
        assert_eq!(route("GET", "/flows/F/run").unwrap_err().status, 405);
        assert_eq!(route("GET", "/flows/a%2Fb").unwrap_err().status, 400);
        assert_eq!(
            route("GET", "/flows/F/runs//steps").unwrap_err().status,
            400
        );
        assert_eq!(route("GET", "/flows/%00").unwrap_err().status, 400);
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert_eq!(
            route("GET", &format!("/flows/{long}")).unwrap_err().status,
            400
        );
        assert_eq!(
            route(
                "GET",
                "/flows/F/runs/1/steps/s/tasks/2/attempt/-1/artifacts"
            )
            .unwrap_err()
            .status,
            400
        );
        assert_eq!(
            route(
                "GET",
                "/flows/F/runs/1/steps/s/tasks/2/attempt/+1/artifacts"
            )
            .unwrap_err()
            .status,
            400
        );
    }
}
