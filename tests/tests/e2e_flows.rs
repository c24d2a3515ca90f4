//! End to end on ONE local stack (`dropflow_cli::local::Stack`): each flow is deployed by
//! uploading it (tarred) to the local bucket, started (on its `live` alias, over the
//! trigger API, or on its schedule's target as EventBridge would), run to the end
//! with real Metaflow tasks, and compared with a local `python flow.py run` of the same
//! flow: the artifacts of the compared steps (read with Metaflow's Client on both sides),
//! the attempt those steps succeeded on, and the number of tasks per step.
//!
//! One `#[test]` runs the whole table (a few cases at a time, the stack allows
//! `MAX_JOBS` Batch jobs at once) and fails with every failing case, each named by its
//! flow. Wall times per case (deployed execution, local run) are printed at the end;
//! `cargo test ... -- --nocapture` shows them. `DROPFLOW_E2E_CASES=word,...` runs only the
//! cases whose label holds one of the words.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use dropflow_cli::local::{Options, Registry, Stack};
use dropflow_tests::{python, repo_root};

mod common;
use common::{
    USER, borrowed, deployed, dump, ended, execute, history_events, http, s3, stack_env, tarball,
};
use serde_json::{Value, json};

/// Batch jobs the stack runs at once (CI has 2 cores).
const MAX_JOBS: usize = 4;
/// Cases in flight at once.
const CASES_AT_ONCE: usize = 3;
/// How long one execution may take.
const EXECUTION_TIMEOUT: Duration = Duration::from_secs(900);
/// The uploader, named in each upload's `user` object metadata (`x-amz-meta-user`).
const UPLOADER: &str = "alice-uploader";

/// Flows uploaded once each: (path under the repository, flow name). A directory is
/// uploaded whole, its flow in `flow.py` (the local run starts there, where the flow's
/// relative paths point).
const FLOWS: &[(&str, &str)] = &[
    ("examples/parameter_flow.py", "ParameterFlow"),
    ("examples/deployment_info_flow.py", "DeploymentInfoFlow"),
    ("examples/hourly_flow.py", "HourlyFlow"),
    ("tests/flows/shapes/branch.py", "BranchFlow"),
    ("tests/flows/shapes/foreach.py", "ForeachFlow"),
    ("tests/flows/shapes/nested_foreach.py", "NestedForeachFlow"),
    (
        "tests/flows/shapes/branch_in_foreach.py",
        "BranchInForeachFlow",
    ),
    ("tests/flows/shapes/switch.py", "SwitchFlow"),
    (
        "tests/flows/shapes/switch_in_foreach.py",
        "SwitchInForeachFlow",
    ),
    (
        "tests/flows/shapes/recursive_switch.py",
        "RecursiveSwitchFlow",
    ),
    (
        "tests/flows/shapes/recursive_switch_in_foreach.py",
        "RecursiveSwitchInForeachFlow",
    ),
    ("tests/flows/e2e/retry_once.py", "RetryOnceFlow"),
    ("tests/flows/e2e/catch_error.py", "CatchErrorFlow"),
    ("tests/flows/e2e/fail_for_good.py", "FailForGoodFlow"),
    ("tests/flows/e2e/fail_in_foreach.py", "FailInForeachFlow"),
    ("tests/flows/e2e/retry_in_foreach.py", "RetryInForeachFlow"),
    ("tests/flows/e2e/inputs", "InputsFlow"),
];

/// How a case's execution is started.
#[derive(Clone, Copy)]
enum Start {
    /// StartExecution on the `live` alias with this input (what the trigger API sends).
    Input(&'static str),
    /// `POST /flows/FLOW/runs` with this body on the stack's trigger API.
    Http(&'static str),
    /// As EventBridge Scheduler fires the flow's schedule: StartExecution on the
    /// schedule's target with the target's input, both read from the emulator.
    Schedule,
}

/// What a case expects beyond "same as the local run".
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The execution succeeds; the compared steps' artifacts and the task counts equal
    /// the local run's.
    Same,
    /// As `Same`, but `deployment_info` is a deploy-time value: `who` is the uploader,
    /// `when` an ISO timestamp taken at deploy time; compared apart from the rest.
    DeployTime,
    /// The execution fails and its cause holds this text, as the local run's output does.
    Fails(&'static str),
}

struct Case {
    /// The name failures and timings use.
    label: &'static str,
    flow: &'static str,
    /// How the execution starts.
    start: Start,
    /// Arguments after `run` for the local run.
    local_args: &'static [&'static str],
    /// Steps whose (single) task's artifacts are compared.
    steps: &'static [&'static str],
    expect: Expect,
    /// For `Expect::Fails`: the failed task (`step/task_id`) the execution's cause names.
    failed_task: Option<&'static str>,
    /// Extra checks on the deployed run's dump (the local run's equal it).
    check: fn(&Value) -> Result<(), String>,
}

/// Cases whose parent executions must have the same number of history events: the same
/// flow at different foreach widths (a Distributed Map's iterations are child executions).
const SAME_PARENT_HISTORY: [&str; 2] = ["foreach (width 7)", "foreach (width 2)"];

fn no_check(_: &Value) -> Result<(), String> {
    Ok(())
}

fn cases() -> Vec<Case> {
    let case = |label, flow, input, local_args, steps| Case {
        label,
        flow,
        start: Start::Input(input),
        local_args,
        steps,
        expect: Expect::Same,
        failed_task: None,
        check: no_check,
    };
    vec![
        Case {
            check: |d| expect_eq(&d["data"]["end"]["alpha"], &json!(0.01), "alpha"),
            ..case(
                "ParameterFlow (default alpha)",
                "ParameterFlow",
                "{}",
                &[],
                &["end"],
            )
        },
        // Started as a user would: over the trigger API.
        Case {
            check: |d| expect_eq(&d["data"]["end"]["alpha"], &json!(0.5), "alpha"),
            start: Start::Http(r#"{"alpha": 0.5}"#),
            ..case(
                "ParameterFlow (alpha=0.5 over HTTP)",
                "ParameterFlow",
                "",
                &["--alpha", "0.5"],
                &["end"],
            )
        },
        Case {
            expect: Expect::DeployTime,
            ..case(
                "DeploymentInfoFlow",
                "DeploymentInfoFlow",
                "{}",
                &[],
                &["end"],
            )
        },
        Case {
            start: Start::Schedule,
            ..case("HourlyFlow (as scheduled)", "HourlyFlow", "", &[], &["end"])
        },
        Case {
            check: |d| {
                expect_eq(
                    &d["data"]["end"]["sides"],
                    &json!(["left", "right"]),
                    "sides",
                )
            },
            ..case("branch", "BranchFlow", "{}", &[], &["join", "end"])
        },
        Case {
            check: |d| {
                expect_eq(&d["tasks"]["square"], &json!(7), "square tasks")?;
                expect_eq(
                    &d["data"]["end"]["squares"],
                    &json!([1, 4, 9, 16, 25, 36, 49]),
                    "squares",
                )
            },
            ..case(
                "foreach (width 7)",
                "ForeachFlow",
                "{}",
                &[],
                &["collect", "end"],
            )
        },
        // The same Distributed Map (the default) 2 wide: its parent execution's history
        // must be as long as the 7-wide case's (`SAME_PARENT_HISTORY`), the map's
        // iterations being child executions. (`wide_foreach.rs`, run by `tests/soak.sh`,
        // goes 1,000+ wide without a local run to compare with; `step_lambda.rs` covers a
        // join whose input paths are too long for the job command and go through S3.)
        Case {
            check: |d| {
                expect_eq(&d["tasks"]["square"], &json!(2), "square tasks")?;
                expect_eq(&d["data"]["end"]["squares"], &json!([1, 4]), "squares")
            },
            ..case(
                "foreach (width 2)",
                "ForeachFlow",
                r#"{"Parameters": "{\"width\": 2}"}"#,
                &["--width", "2"],
                &["collect", "end"],
            )
        },
        Case {
            check: |d| {
                expect_eq(&d["tasks"]["level2"], &json!(4), "level2 tasks")?;
                expect_eq(
                    &d["data"]["end"]["pairs"],
                    &json!(["a1", "a2", "b1", "b2"]),
                    "pairs",
                )
            },
            ..case(
                "nested_foreach",
                "NestedForeachFlow",
                "{}",
                &[],
                &["join1", "end"],
            )
        },
        Case {
            check: |d| expect_eq(&d["data"]["end"]["totals"], &json!([5, 10]), "totals"),
            ..case(
                "branch_in_foreach",
                "BranchInForeachFlow",
                "{}",
                &[],
                &["collect", "end"],
            )
        },
        Case {
            check: |d| {
                expect_eq(&d["data"]["end"]["size"], &json!("L"), "size")?;
                expect_eq(&d["tasks"].get("small"), &None::<&Value>, "small step")
            },
            ..case("switch (default route)", "SwitchFlow", "{}", &[], &["end"])
        },
        Case {
            check: |d| {
                expect_eq(&d["data"]["end"]["size"], &json!("S"), "size")?;
                expect_eq(&d["tasks"].get("large"), &None::<&Value>, "large step")
            },
            ..case(
                "switch (route=small)",
                "SwitchFlow",
                r#"{"Parameters": "{\"route\": \"small\"}"}"#,
                &["--route", "small"],
                &["end"],
            )
        },
        Case {
            check: |d| {
                expect_eq(
                    &d["data"]["end"]["labels"],
                    &json!(["even-2", "odd-1"]),
                    "labels",
                )
            },
            ..case(
                "switch_in_foreach",
                "SwitchInForeachFlow",
                "{}",
                &[],
                &["collect", "end"],
            )
        },
        Case {
            check: |d| {
                expect_eq(&d["tasks"]["tick"], &json!(3), "tick tasks")?;
                expect_eq(&d["data"]["end"]["count"], &json!(3), "count")
            },
            ..case(
                "recursive_switch (limit 3)",
                "RecursiveSwitchFlow",
                r#"{"Parameters": "{\"limit\": 3}"}"#,
                &["--limit", "3"],
                &["end"],
            )
        },
        // A foreach child that loops on itself: its first iteration starts from the
        // Map's item, the next ones from its own context (the `tick.loop` state).
        Case {
            check: |d| {
                expect_eq(&d["tasks"]["tick"], &json!(4), "tick tasks")?;
                expect_eq(&d["data"]["end"]["counts"], &json!([1, 3]), "counts")
            },
            ..case(
                "recursive_switch_in_foreach",
                "RecursiveSwitchInForeachFlow",
                "{}",
                &[],
                &["collect", "end"],
            )
        },
        Case {
            check: |d| {
                expect_eq(
                    &d["data"]["flaky"]["_attempt"],
                    &json!(1),
                    "flaky's attempt",
                )?;
                expect_eq(&d["data"]["end"]["_attempt"], &json!(0), "end's attempt")?;
                expect_eq(&d["data"]["end"]["succeeded_on"], &json!(1), "succeeded_on")
            },
            ..case(
                "@retry (fails once)",
                "RetryOnceFlow",
                "{}",
                &[],
                &["flaky", "end"],
            )
        },
        Case {
            check: |d| {
                expect_eq(
                    &d["data"]["end"]["caught"],
                    &json!(["builtins.ValueError", "caught boom"]),
                    "caught",
                )?;
                expect_eq(
                    &d["data"]["explode"]["err"],
                    &json!("<MetaflowExceptionWrapper>"),
                    "err",
                )
            },
            ..case("@catch", "CatchErrorFlow", "{}", &[], &["explode", "end"])
        },
        // A package of three files: the Config feeds @environment, @resources and a
        // parameter default; the IncludeFile's content is stored by the run's `init`.
        Case {
            check: |d| {
                expect_eq(
                    &d["data"]["start"]["greeting"],
                    &json!("hello from config"),
                    "greeting",
                )?;
                expect_eq(
                    &d["data"]["start"]["lines"],
                    &json!(["name,count", "a,1", "b,2", "c,3"]),
                    "lines",
                )?;
                expect_eq(&d["data"]["end"]["total"], &json!(60), "total")?;
                expect_eq(&d["data"]["end"]["mode"], &json!("batch"), "mode")
            },
            ..case(
                "Config + IncludeFile package",
                "InputsFlow",
                "{}",
                &[],
                &["start", "end"],
            )
        },
        Case {
            expect: Expect::Fails("ValueError: boom"),
            ..case("fails for good", "FailForGoodFlow", "{}", &[], &[])
        },
        // @retry and @catch in a foreach's child executions, as at top level.
        Case {
            check: |d| {
                expect_eq(
                    &d["data"]["join"]["attempts"],
                    &json!([[1, 0], [2, 1]]),
                    "attempts",
                )?;
                expect_eq(
                    &d["data"]["join"]["caught"],
                    &json!([[1, "caught boom"], [2, null]]),
                    "caught",
                )
            },
            ..case(
                "@retry and @catch in a foreach",
                "RetryInForeachFlow",
                "{}",
                &[],
                &["join"],
            )
        },
        // The failing task runs in a child execution of the foreach's Distributed Map:
        // its error still reaches the run's own cause.
        Case {
            expect: Expect::Fails("ValueError: boom"),
            failed_task: Some("work/work-1"),
            ..case(
                "fails in a foreach child",
                "FailInForeachFlow",
                "{}",
                &[],
                &[],
            )
        },
    ]
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(got: &T, want: &T, what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// What a local `python flow.py run` gave: its dump (when it succeeded) and output.
struct LocalRun {
    ok: bool,
    output: String,
    dump: Option<Value>,
    took: Duration,
}

/// `python FLOW.py --datastore=local --metadata=local run ARGS` in a fresh directory.
fn local_run(path: &Path, flow: &str, args: &[&str], steps: &[&str]) -> Result<LocalRun, String> {
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root: std::ffi::OsString = dir.path().into();
    let envs = [("METAFLOW_DATASTORE_SYSROOT_LOCAL", root.as_os_str())];
    let (script, cwd) = if path.is_dir() {
        (path.join("flow.py"), path)
    } else {
        (path.to_path_buf(), dir.path())
    };
    let out = Command::new(python())
        .arg(script)
        .args([
            "--no-pylint",
            "--datastore=local",
            "--metadata=local",
            "run",
        ])
        .args(args)
        .envs(envs)
        .env("USERNAME", USER)
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("the local run did not start: {e}"))?;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = out.status.success();
    let dump = if ok {
        Some(dump(&envs, dir.path(), flow, steps)?)
    } else {
        None
    };
    Ok(LocalRun {
        ok,
        output,
        dump,
        took: started.elapsed(),
    })
}

struct Timing {
    deployed: Duration,
    local: Duration,
    /// Events in the execution's own history.
    events: usize,
}

async fn run_case(stack: Arc<Stack>, case: &Case) -> Result<Timing, String> {
    let path = repo_root().join(
        FLOWS
            .iter()
            .find(|(_, name)| *name == case.flow)
            .expect("every case's flow is uploaded")
            .0,
    );
    let local = {
        let (flow, args, steps) = (case.flow, case.local_args, case.steps);
        let path = path.clone();
        tokio::task::spawn_blocking(move || local_run(&path, flow, args, steps))
    };
    let alias = deployed(&stack, case.flow).await?;
    let started = Instant::now();
    let execution = match case.start {
        Start::Input(input) => execute(&stack, &alias, input, EXECUTION_TIMEOUT).await?,
        Start::Http(body) => {
            let arn = start_over_http(&stack, case.flow, body)?;
            ended(&stack, &arn, EXECUTION_TIMEOUT).await?
        }
        Start::Schedule => {
            let (target, input) = schedule_target(&stack, case.flow).await?;
            if target != alias {
                return Err(format!("the schedule targets {target}, not {alias}"));
            }
            execute(&stack, &target, &input, EXECUTION_TIMEOUT).await?
        }
    };
    let deployed_took = started.elapsed();
    let local = local
        .await
        .map_err(|e| format!("the local run panicked: {e}"))??;
    let timing = Timing {
        deployed: deployed_took,
        local: local.took,
        events: history_events(&stack, execution.execution_arn()).await?,
    };
    let run = format!("{}/sfn-{}", case.flow, execution.name().unwrap_or_default());
    let moto_log = || {
        let log =
            std::fs::read_to_string(stack.options().state_dir.join("moto.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    };

    if let Expect::Fails(text) = case.expect {
        if execution.status() != &ExecutionStatus::Failed {
            return Err(format!("{run}: {:?}, not FAILED", execution.status()));
        }
        let cause = execution.cause().unwrap_or_default();
        if !cause.contains(text) {
            return Err(format!(
                "{run}: the cause does not hold {text:?}: {:?}: {cause}",
                execution.error()
            ));
        }
        if let Some(task) = case.failed_task
            && !cause.starts_with(&format!("{task} attempt 0 failed"))
        {
            return Err(format!("{run}: the cause does not name {task}: {cause}"));
        }
        if local.ok || !local.output.contains(text) {
            return Err(format!(
                "the local run should fail with {text:?} (ok: {}):\n{}",
                local.ok, local.output
            ));
        }
        let deployed = tokio::task::block_in_place(|| {
            dump(&borrowed(&stack_env(&stack)), &repo_root(), &run, &[])
        })?;
        expect_eq(
            &deployed["successful"],
            &json!(false),
            "deployed run successful",
        )?;
        failed_task_log(&stack, case.flow, &run, text)?;
        return Ok(timing);
    }

    if execution.status() != &ExecutionStatus::Succeeded {
        return Err(format!(
            "{run}: {:?} {:?}: {:?}\nmoto.log (tail):\n{}",
            execution.status(),
            execution.error(),
            execution.cause(),
            moto_log()
        ));
    }
    let Some(mut want) = local.dump else {
        return Err(format!("the local run failed:\n{}", local.output));
    };
    // The Client talks to the stack's metadata service, served on this runtime: block in
    // place so the runtime moves its other work (that service) to another thread.
    let mut got = tokio::task::block_in_place(|| {
        dump(
            &borrowed(&stack_env(&stack)),
            &repo_root(),
            &run,
            case.steps,
        )
    })?;
    expect_eq(&got["successful"], &json!(true), "deployed run successful")?;
    if case.expect == Expect::DeployTime {
        for (side, dump) in [("deployed", &mut got), ("local", &mut want)] {
            let info = dump["data"]["end"]
                .as_object_mut()
                .and_then(|d| d.remove("info"))
                .ok_or(format!(
                    "{side}: no `info` (deployment_info) artifact at end"
                ))?;
            let when = info["when"].as_str().unwrap_or_default();
            // `datetime.now().isoformat()`: YYYY-MM-DDTHH:MM:SS[.ffffff]
            let iso = when.len() >= 19
                && when.as_bytes()[4] == b'-'
                && when.as_bytes()[10] == b'T'
                && when.as_bytes()[13] == b':';
            if !iso {
                return Err(format!("{side}: `when` is not an ISO timestamp: {info}"));
            }
            if side == "local" {
                expect_eq(&info["who"], &json!(USER), "local `who`")?;
            } else {
                // The uploader (the `user` object metadata of the upload), as the seed's
                // `context.user_name`; the run itself is a production run, tagged with its
                // deployment's token instead of a user, as Metaflow's Step Functions runs.
                expect_eq(&info["who"], &json!(UPLOADER), "deployed `who`")?;
                let tags = tokio::task::block_in_place(|| run_tags(&stack, &run))?;
                let production = tags.iter().any(|t| t.starts_with("production:"));
                if !production || !tags.iter().any(|t| t == "runtime:step-functions") {
                    return Err(format!("{run}: not tagged as a production run: {tags:?}"));
                }
            }
        }
    }
    (case.check)(&got).map_err(|e| format!("{run}: {e}\ndeployed: {got}"))?;
    if got != want {
        return Err(format!(
            "{run} differs from the local run\ndeployed: {got}\nlocal:    {want}"
        ));
    }
    Ok(timing)
}

/// The failed task's stderr through the trigger API: the run's one failed task by
/// default, and by the link the run view gives it; both hold `text`.
fn failed_task_log(stack: &Stack, flow: &str, run: &str, text: &str) -> Result<(), String> {
    let run_id = run.rsplit('/').next().unwrap_or_default();
    let get = |path: &str| -> Result<Value, String> {
        let (status, answer) =
            tokio::task::block_in_place(|| http(&stack.endpoints().api_url, "GET", path, ""))?;
        if status != 200 {
            return Err(format!("GET {path}: {status} {answer}"));
        }
        serde_json::from_str(&answer).map_err(|e| format!("GET {path}: {e}: {answer}"))
    };
    let default = get(&format!("/flows/{flow}/runs/{run_id}/logs?stream=stderr"))?;
    let logged = default["text"].as_str().unwrap_or_default();
    if !logged.contains(text) || logged.contains("[MFLOG|") {
        return Err(format!(
            "{run}: the failed task's stderr is not {text:?}: {default}"
        ));
    }
    expect_eq(
        &default["next_offset"],
        &default["size"],
        "the whole log read",
    )?;
    let detail = get(&format!("/flows/{flow}/runs/{run_id}"))?;
    let links: Vec<&str> = detail["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["failed"].as_array().into_iter().flatten())
        .filter_map(|t| t["log"].as_str())
        .collect();
    let [link] = links.as_slice() else {
        return Err(format!("{run}: not one failed task linked: {detail}"));
    };
    let linked = get(link)?;
    expect_eq(&linked["text"], &default["text"], "the linked log")?;
    // What is not there is named.
    let path = format!("/flows/{flow}/runs/{run_id}/logs?step=nosuchstep");
    let (status, answer) =
        tokio::task::block_in_place(|| http(&stack.endpoints().api_url, "GET", &path, ""))?;
    let body: Value = serde_json::from_str(&answer).unwrap_or_default();
    let message = body["message"].as_str().unwrap_or_default();
    if status != 404 || !message.contains("has no step \"nosuchstep\"") {
        return Err(format!("GET {path}: {status} {answer}"));
    }
    Ok(())
}

/// The ARN and input of the target of `flow`'s schedule (named as the state machine).
async fn schedule_target(stack: &Stack, flow: &str) -> Result<(String, String), String> {
    let scheduler = aws_sdk_scheduler::Client::new(stack.sdk());
    let schedule = scheduler
        .get_schedule()
        .name(flow)
        .send()
        .await
        .map_err(|e| format!("GetSchedule {flow}: {e:?}"))?;
    let target = schedule
        .target()
        .ok_or(format!("the schedule {flow} has no target"))?;
    Ok((
        target.arn().to_string(),
        target.input().unwrap_or_default().to_string(),
    ))
}

/// Starts `flow` with `body` over the stack's trigger API; the execution's ARN.
fn start_over_http(stack: &Stack, flow: &str, body: &str) -> Result<String, String> {
    let path = format!("/flows/{flow}/runs");
    let (status, answer) =
        tokio::task::block_in_place(|| http(&stack.endpoints().api_url, "POST", &path, body))?;
    if status != 201 {
        return Err(format!("POST {path} {body}: {status} {answer}"));
    }
    let started: Value = serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer}"))?;
    started["execution_arn"]
        .as_str()
        .map(String::from)
        .ok_or(format!("POST {path}: no execution_arn in {answer}"))
}

/// The system tags of `run` (`Flow/run`), Client-read from the stack.
fn run_tags(stack: &Stack, run: &str) -> Result<Vec<String>, String> {
    let out = Command::new(python())
        .args([
            "-c",
            "import json, sys\nfrom metaflow import Run, namespace\nnamespace(None)\n\
             print(json.dumps(sorted(Run(sys.argv[1]).system_tags)))",
            run,
        ])
        .envs(borrowed(&stack_env(stack)))
        .env("USERNAME", USER)
        .output()
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("run tags: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn flows_run_on_the_local_stack_as_they_run_locally() {
    let total = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path().join("state"), python());
    options.port = 0;
    options.max_jobs = MAX_JOBS;
    let stack = Arc::new(
        Stack::start(options, Registry::new())
            .await
            .unwrap_or_else(|e| panic!("the local stack did not come up: {e}")),
    );
    let s3 = s3(&stack);
    for (path, name) in FLOWS {
        let key = format!("flows/{}.tgz", name.to_lowercase());
        s3.put_object()
            .bucket(&stack.endpoints().bucket)
            .key(&key)
            .body(tarball(&repo_root().join(path)).into())
            .metadata("user", UPLOADER)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: uploading {key}: {e}"));
    }

    // `DROPFLOW_E2E_CASES=foreach,@retry` runs only the cases whose label holds one of
    // those words (for working on one shape); unset, all of them.
    let only = std::env::var("DROPFLOW_E2E_CASES").unwrap_or_default();
    let wanted = |label: &str| only.is_empty() || only.split(',').any(|w| label.contains(w));
    let cases: Vec<Arc<Case>> = cases()
        .into_iter()
        .filter(|c| wanted(c.label))
        .map(Arc::new)
        .collect();
    assert!(
        !cases.is_empty(),
        "DROPFLOW_E2E_CASES={only:?} selects no case"
    );
    let permits = Arc::new(tokio::sync::Semaphore::new(CASES_AT_ONCE));
    let mut handles = Vec::new();
    for case in &cases {
        let (stack, case, permits) = (stack.clone(), case.clone(), permits.clone());
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            run_case(stack, &case).await
        }));
    }
    let mut failures = Vec::new();
    let mut report = String::from(
        "wall time per flow (deployed execution / local run), parent history events:\n",
    );
    let mut parent_events = Vec::new();
    for (case, handle) in cases.iter().zip(handles) {
        match handle.await {
            Ok(Ok(t)) => {
                report.push_str(&format!(
                    "  {:32} {:>6.1} s / {:>5.1} s  {:>4} events\n",
                    case.label,
                    t.deployed.as_secs_f64(),
                    t.local.as_secs_f64(),
                    t.events
                ));
                if SAME_PARENT_HISTORY.contains(&case.label) {
                    parent_events.push((case.label, t.events));
                }
            }
            Ok(Err(e)) => failures.push(format!("{}: {e}", case.label)),
            Err(e) => failures.push(format!("{}: panicked: {e}", case.label)),
        }
    }
    report.push_str(&format!("  total {:.1} s\n", total.elapsed().as_secs_f64()));
    if parent_events.len() == SAME_PARENT_HISTORY.len()
        && parent_events.iter().any(|(_, n)| *n != parent_events[0].1)
    {
        failures.push(format!(
            "the parent's history grows with the foreach's width: {parent_events:?}"
        ));
    }
    eprintln!("{report}");
    assert!(
        failures.is_empty(),
        "{} of {} flows failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
