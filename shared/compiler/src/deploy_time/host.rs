//! Runs a program in monty and answers what it asks the host: the clock
//! (`datetime.now()`, `date.today()`, `time.time()`), the environment (always empty:
//! deploy environments differ), module-level literal constants, the deploying user.
//! Everything else it asks for (files, unknown names, async work) stops the run.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{Datelike, Timelike};
use monty::{MontyRun, RunProgress};
use monty_types::{
    CompileOptions, DictPairs, ExcType, MontyDate, MontyDateTime, MontyException, MontyObject,
    MontyTimeZone, NameLookupResult, OsFunctionCall, PrintWriter, ResourceLimits, ResourceTracker,
};

use super::Limits;
use super::allocator::SandboxMemory;
use super::paths::{HOST_EXISTS, HOST_ISDIR, HOST_ISFILE, PackageFiles};
use super::program::{HOST_GETUSER, HOST_TIME, HOST_TIME_NS};

/// Host calls one evaluation may make: a backstop against code looping on the clock
/// (time spent in the host does not count towards the time limit).
const MAX_HOST_CALLS: usize = 1000;

/// What the host knows that the sandboxed code may ask for.
pub(super) struct Host<'a> {
    /// The deploying user, for `getpass.getuser()`; `None` when the code runs before a
    /// deployment is known (`IncludeFile` / `Config` defaults, evaluated as the package
    /// is checked), which refuses the call.
    pub user_name: Option<&'a str>,
    /// Module-level literal constants, served when the code reads them.
    pub constants: &'a BTreeMap<String, serde_json::Value>,
    /// The package's files, for `os.path.exists` and friends; `None` where the package
    /// is not known (deploy-time `Parameter` functions), which refuses those calls.
    pub files: Option<&'a PackageFiles>,
}

/// Why a run did not produce a value.
#[derive(Debug)]
pub(super) enum Failure {
    /// monty could not compile the program.
    Compile(MontyException),
    /// The code raised.
    Exception(MontyException),
    /// The time limit stopped the code.
    TimeLimit,
    /// The memory limit stopped the code.
    MemoryLimit(MontyException),
    /// The code read a name nothing defines (an import alias, a non-literal module
    /// value, a name from a module the sandbox lacks); the exception carries where.
    UndefinedName {
        /// The name.
        name: String,
        /// The abort, with its traceback.
        exception: MontyException,
    },
    /// The code asked for something the sandbox does not provide; the exception
    /// carries the traceback of where it asked.
    Unsupported {
        /// What it asked for.
        reason: String,
        /// The abort, with its traceback.
        exception: MontyException,
    },
}

/// Runs `code` with `inputs` (name, value) and returns the value of its last expression.
pub(super) fn run(
    code: &str,
    script: &str,
    inputs: Vec<(String, MontyObject)>,
    host: &Host<'_>,
    limits: &Limits,
) -> Result<MontyObject, Failure> {
    let (names, values): (Vec<String>, Vec<MontyObject>) = inputs.into_iter().unzip();
    let runner = MontyRun::new(code.to_string(), script, names, CompileOptions::default())
        .map_err(Failure::Compile)?;
    let tracker = ResourceTracker::new(
        ResourceLimits::default()
            .max_duration(limits.time)
            .max_memory(limits.memory_bytes),
    );
    // Counted from here until the result (or the failure) is returned.
    let _memory = SandboxMemory::count();
    let mut progress = runner
        .start(values, tracker, PrintWriter::Disabled)
        .map_err(classify)?;
    for _ in 0..=MAX_HOST_CALLS {
        let step = match progress {
            RunProgress::Complete(value) => return Ok(value),
            RunProgress::OsCall(call) => match answer_os(&call.function_call) {
                Ok(value) => call.resume(value, PrintWriter::Disabled),
                Err(reason) => {
                    return Err(unsupported(reason, |e| {
                        call.abort(e, PrintWriter::Disabled)
                    }));
                }
            },
            RunProgress::FunctionCall(call) => {
                let answer = match (call.object_id, call.function_name.as_str()) {
                    (None, HOST_TIME) => Ok(MontyObject::Float(epoch().as_secs_f64())),
                    (None, HOST_TIME_NS) => Ok(MontyObject::Int(
                        i64::try_from(epoch().as_nanos()).unwrap_or(i64::MAX),
                    )),
                    (None, HOST_GETUSER) => host
                        .user_name
                        .map(|user| MontyObject::String(user.to_string()))
                        .ok_or_else(|| {
                            "it asks for the deploying user (getpass.getuser()), which IncludeFile and Config defaults cannot know: they are evaluated when the package is checked, before a deployment".to_string()
                        }),
                    (None, name @ (HOST_EXISTS | HOST_ISFILE | HOST_ISDIR)) => {
                        file_test(host.files, name, &call.args)
                    }
                    (_, other) => Err(format!("it calls {other}(), which the sandbox cannot run")),
                };
                match answer {
                    Ok(value) => call.resume(value, PrintWriter::Disabled),
                    Err(reason) => {
                        return Err(unsupported(reason, |e| {
                            call.abort(e, PrintWriter::Disabled)
                        }));
                    }
                }
            }
            RunProgress::NameLookup(lookup) => {
                if lookup.object_id().is_none()
                    && let Some(value) = host.constants.get(&lookup.name)
                {
                    lookup.resume(
                        NameLookupResult::Value(to_monty(value)),
                        PrintWriter::Disabled,
                    )
                } else if lookup.object_id().is_some() {
                    lookup.resume(NameLookupResult::Undefined, PrintWriter::Disabled)
                } else {
                    let name = lookup.name.clone();
                    let message = format!("name '{name}' is not available in the sandbox");
                    let exception =
                        abort_trace(message, |e| lookup.abort(e, PrintWriter::Disabled));
                    return Err(Failure::UndefinedName { name, exception });
                }
            }
            RunProgress::ResolveFutures(pending) => {
                let reason = "it awaits asynchronous work".to_string();
                return Err(unsupported(reason, |e| {
                    pending.abort(e, PrintWriter::Disabled)
                }));
            }
        };
        progress = step.map_err(classify)?;
    }
    Err(Failure::Unsupported {
        reason: format!(
            "it asked the host for more than {MAX_HOST_CALLS} values (clock reads, constants)"
        ),
        exception: MontyException::new(ExcType::RuntimeError, None),
    })
}

/// Python's `json.dumps(value)`, computed by the sandbox so the text is Python's
/// (`{"a": 1, "b": [1, 2]}`). `Err` carries the Python error message.
pub(super) fn json_dumps(value: MontyObject, limits: &Limits) -> Result<String, String> {
    let constants = BTreeMap::new();
    let host = Host {
        user_name: None,
        constants: &constants,
        files: None,
    };
    let inputs = vec![("_dropflow_value".to_string(), value)];
    match run(
        "import json\njson.dumps(_dropflow_value)\n",
        "<json.dumps>",
        inputs,
        &host,
        limits,
    ) {
        Ok(MontyObject::String(text)) => Ok(text),
        Ok(other) => Err(format!("json.dumps returned {other:?}")),
        Err(Failure::Exception(e) | Failure::Compile(e) | Failure::MemoryLimit(e)) => {
            Err(e.summary())
        }
        Err(Failure::Unsupported { reason, .. }) => Err(reason),
        Err(Failure::UndefinedName { name, .. }) => Err(format!("name '{name}' is not defined")),
        Err(Failure::TimeLimit) => Err("json.dumps ran past the time limit".to_string()),
    }
}

/// Aborts the suspended run with a `PermissionError` to get the traceback of where it
/// asked, and reports `reason`.
fn unsupported(
    reason: String,
    abort: impl FnOnce(MontyException) -> Result<RunProgress, MontyException>,
) -> Failure {
    let exception = abort_trace(reason.clone(), abort);
    Failure::Unsupported { reason, exception }
}

/// Ends a suspended run with an uncatchable `PermissionError(message)`; the returned
/// exception carries the traceback of the suspension.
fn abort_trace(
    message: String,
    abort: impl FnOnce(MontyException) -> Result<RunProgress, MontyException>,
) -> MontyException {
    let exception = MontyException::new(ExcType::PermissionError, Some(message));
    match abort(exception.clone()) {
        Err(traced) => traced,
        Ok(_) => exception,
    }
}

/// Sorts a raised exception: resource limits (uncatchable in the sandbox) or the code's own.
fn classify(exception: MontyException) -> Failure {
    let message = exception.message().unwrap_or_default();
    match exception.exc_type() {
        ExcType::TimeoutError if message.starts_with("time limit exceeded") => Failure::TimeLimit,
        ExcType::MemoryError if message.starts_with("memory limit exceeded") => {
            Failure::MemoryLimit(exception)
        }
        // CPython formats any `str % x`; monty 0.0.23 has no `%` formatting at all.
        ExcType::TypeError if message.starts_with("unsupported operand type(s) for %: 'str'") => {
            let reason = "it formats a string with '%', which the sandbox (monty) does not support; use an f-string or str.format()".to_string();
            Failure::Unsupported { reason, exception }
        }
        ExcType::ModuleNotFoundError => {
            let reason = format!(
                "it imports a module the sandbox does not provide ({message}); available: the standard-library modules {}, plus time.time() and getpass.getuser()",
                super::program::SANDBOX_MODULES.join(", ")
            );
            Failure::Unsupported { reason, exception }
        }
        _ => Failure::Exception(exception),
    }
}

/// Answers an OS-level request, or says why it is refused.
fn answer_os(call: &OsFunctionCall) -> Result<MontyObject, String> {
    match call {
        // Deploy environments differ: every variable is unset.
        OsFunctionCall::Getenv(args) => Ok(args.default.clone()),
        OsFunctionCall::GetEnviron => Ok(MontyObject::Dict(DictPairs::from(Vec::new()))),
        OsFunctionCall::DateTimeNow(tz) => Ok(MontyObject::DateTime(now(tz.as_ref()))),
        OsFunctionCall::DateToday => {
            let today = chrono::Utc::now().date_naive();
            Ok(MontyObject::Date(MontyDate {
                year: today.year(),
                month: today.month() as u8,
                day: today.day() as u8,
            }))
        }
        other => {
            let (args, _) = other.clone().to_args();
            let path = match args.first() {
                Some(MontyObject::Path(p) | MontyObject::String(p)) => format!(" '{p}'"),
                _ => String::new(),
            };
            Err(format!(
                "it accesses the file system ({}{path})",
                other.name()
            ))
        }
    }
}

/// `os.path.exists` / `isfile` / `isdir` of an absolute, normalised path, answered
/// from the package's files.
fn file_test(
    files: Option<&PackageFiles>,
    function: &str,
    args: &[MontyObject],
) -> Result<MontyObject, String> {
    let test = function.trim_start_matches("_dropflow_");
    let path = match args {
        [MontyObject::String(path)] => path,
        _ => {
            return Err(format!(
                "it calls os.path.{test}() with a value that is not a str path"
            ));
        }
    };
    let files = files.ok_or_else(|| {
        format!(
            "it tests the file system (os.path.{test}('{path}')); only IncludeFile and Config defaults are evaluated against the package's files"
        )
    })?;
    files
        .answer(function, path)
        .map(MontyObject::Bool)
        .ok_or_else(|| format!("it calls {function}(), which the sandbox cannot run"))
}

fn epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The current UTC time, shifted to `tz` when given (`datetime.now(timezone.utc)`);
/// naive otherwise, as Python's `datetime.now()` on a UTC host (Lambda).
fn now(tz: Option<&MontyTimeZone>) -> MontyDateTime {
    let utc = chrono::Utc::now().naive_utc();
    let offset = tz.map_or(0, |tz| tz.offset_seconds);
    let local = utc + chrono::Duration::seconds(i64::from(offset));
    MontyDateTime {
        year: local.year(),
        month: local.month() as u8,
        day: local.day() as u8,
        hour: local.hour() as u8,
        minute: local.minute() as u8,
        second: local.second() as u8,
        microsecond: local.nanosecond() / 1000 % 1_000_000,
        offset_seconds: tz.map(|tz| tz.offset_seconds),
        timezone_name: tz.and_then(|tz| tz.name.clone()),
    }
}

/// A module constant (JSON, as the front end read it) as a Python value.
pub(super) fn to_monty(value: &serde_json::Value) -> MontyObject {
    use serde_json::Value as J;
    match value {
        J::Null => MontyObject::None,
        J::Bool(b) => MontyObject::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => MontyObject::Int(i),
            None => MontyObject::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => MontyObject::String(s.clone()),
        J::Array(items) => MontyObject::List(items.iter().map(to_monty).collect()),
        J::Object(map) => MontyObject::Dict(
            map.iter()
                .map(|(k, v)| (MontyObject::String(k.clone()), to_monty(v)))
                .collect(),
        ),
    }
}
