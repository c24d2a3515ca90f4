//! The client commands (`deploy`, `run`, `runs`, `status`, `stop`, `resume`, `flows`,
//! `undeploy`) as a user runs them: this crate's `dropflow` binary against a local stack
//! it brought up with `dropflow local up --port 0 --state-dir TMP` (real moto, the compile
//! function, the trigger API, real Metaflow tasks), `--json` output parsed back into the
//! client's own output types.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dropflow_cli::client::deploy::DeployOutcome;
use dropflow_cli::client::report::Status;
use dropflow_cli::client::shown::Shown;
use dropflow_cli::client::types::RunOutcome;
use dropflow_contract::api::{FlowList, RunDetail, RunList, RunStopped};
use serde::de::DeserializeOwned;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv's Python (Metaflow, moto): `$DROPFLOW_PYTHON`, else `<repo>/.venv/bin/python`.
fn python() -> PathBuf {
    let path = std::env::var_os("DROPFLOW_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.is_file(),
        "{} does not exist: run `bash tests/run.sh --setup-only` once",
        path.display()
    );
    path
}

/// Runs `dropflow ARGS` as the user `dropflow-ci` from `cwd`.
fn dropflow_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropflow"))
        .args(args)
        .current_dir(cwd)
        .env("DROPFLOW_PYTHON", python())
        .env("USERNAME", "dropflow-ci")
        .env_remove("METAFLOW_USER")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The command's `--json` output, parsed; the command must have exited `success`.
fn json<T: DeserializeOwned>(output: &Output, success: bool) -> T {
    assert_eq!(output.status.success(), success, "{}", text(output));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not the expected JSON ({e}):\n{}", text(output)))
}

/// A local stack, stopped with `dropflow local down` when dropped (also on a panic).
struct LocalStack {
    dir: tempfile::TempDir,
}

impl LocalStack {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let out = dropflow_in(
            dir.path(),
            &[
                "local",
                "up",
                "--port",
                "0",
                "--state-dir",
                state.to_str().unwrap(),
                "--max-jobs",
                "2",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains(&format!(
                "dropflow local down --state-dir {}",
                state.display()
            )),
            "the stop hint names the state directory: {printed}"
        );
        Self { dir }
    }

    fn state(&self) -> String {
        self.dir.path().join("state").display().to_string()
    }

    /// `dropflow ARGS --state-dir STATE`, from a directory without a `.dropflow`.
    fn dropflow(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let state = self.state();
        all.extend(["--state-dir", &state]);
        dropflow_in(self.dir.path(), &all)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let state = self.state();
        dropflow_in(self.dir.path(), &["local", "down", "--state-dir", &state]);
    }
}

/// A copy of `examples/` with fresh modification times.
fn examples_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_root().join("examples")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    copy
}

#[test]
fn deploy_run_follow_stop_and_undeploy_on_the_local_stack() {
    let stack = LocalStack::up();
    let flow_file = repo_root().join("examples/parameter_flow.py");
    let flow_file = flow_file.to_str().unwrap();

    // A broken flow: non-zero exit, Metaflow's lint text with file:line.
    let broken = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join("tests/flows/lint/missing_transition.py"),
        broken.path().join("flow.py"),
    )
    .unwrap();
    let out = stack.dropflow(&["deploy", broken.path().to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.starts_with("packed 1 file: flow.py\nfailed:"),
        "{printed}"
    );
    assert!(
        printed.contains(
            "error: flow.py:11: Step work is missing a self.next() transition to the next step."
        ),
        "{printed}"
    );
    let report: DeployOutcome = json(
        &stack.dropflow(&["deploy", broken.path().to_str().unwrap(), "--json"]),
        false,
    );
    assert_eq!(report.report.status, Status::Failed);
    assert_eq!(report.report.errors[0].file.as_deref(), Some("flow.py"));
    assert_eq!(report.report.errors[0].line, Some(11));

    // The flow's directory, twice: deployed, then unchanged; a copy with other
    // modification times packs to the same bytes, so it is unchanged too.
    let first: DeployOutcome = json(&stack.dropflow(&["deploy", flow_file, "--json"]), true);
    assert_eq!(first.report.status, Status::Deployed, "{first}");
    assert_eq!(first.key, "flows/parameter_flow.tar.gz");
    assert_eq!(
        first.report.version_id.as_deref(),
        Some(first.version_id.as_str())
    );
    assert!(first.files.contains(&"parameter_flow.py".to_string()));
    assert_eq!(first.report.state_machine.as_deref(), Some("ParameterFlow"));
    let second: DeployOutcome = json(&stack.dropflow(&["deploy", flow_file, "--json"]), true);
    assert_eq!(second.report.status, Status::Unchanged, "{second}");
    assert_ne!(second.version_id, first.version_id);
    assert_eq!(second.report.version, first.report.version);
    let copy = examples_copy();
    let copied = copy.path().join("parameter_flow.py");
    let third: DeployOutcome = json(
        &stack.dropflow(&["deploy", copied.to_str().unwrap(), "--json"]),
        true,
    );
    assert_eq!(third.report.status, Status::Unchanged, "{third}");

    let flows: FlowList = json(&stack.dropflow(&["flows", "--json"]), true);
    assert_eq!(flows.flows.len(), 1);
    assert_eq!(flows.flows[0].name, "ParameterFlow");
    assert_eq!(
        flows.flows[0].version,
        first.report.version.clone().unwrap()
    );

    // An unknown parameter: click's text, nothing started.
    let out = stack.dropflow(&["run", "ParameterFlow", "--beta", "1"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: no such option: --beta"
    );
    let out = stack.dropflow(&["run", "ParameterFlow", "--alpha", "fast"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Invalid value for '--alpha': fast is not a valid floating point value"),
        "{}",
        text(&out)
    );
    let runs: RunList = json(&stack.dropflow(&["runs", "ParameterFlow", "--json"]), true);
    assert!(runs.runs.is_empty(), "a refused run started: {runs:?}");

    // A run to its end, with real Metaflow tasks.
    let done: RunOutcome = json(
        &stack.dropflow(&["run", "ParameterFlow", "--alpha", "0.5", "--wait", "--json"]),
        true,
    );
    assert_eq!(done.started.parameters["alpha"], serde_json::json!(0.5));
    let finished = done.finished.expect("--wait follows the run to its end");
    assert_eq!(finished.status, "SUCCEEDED", "{}", Shown(&finished));
    let steps: Vec<&str> = finished.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["start", "end"]);
    assert!(
        finished
            .steps
            .iter()
            .all(|s| s.status.get("succeeded") == Some(&1))
    );

    // A task's saved stdout, as the task printed it (mflog prefixes removed).
    let run_id = done.started.run_id.as_str();
    let out = stack.dropflow(&["logs", "ParameterFlow", run_id, "start"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alpha is 0.500000\n");
    let out = stack.dropflow(&["logs", "ParameterFlow", run_id, "--step", "nosuch"]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("no step \"nosuch\""),
        "{}",
        text(&out)
    );

    // A run stopped while it runs.
    let started: RunOutcome = json(&stack.dropflow(&["run", "ParameterFlow", "--json"]), true);
    assert!(started.finished.is_none());
    let run_id = started.started.run_id.as_str();
    let stopped: RunStopped = json(
        &stack.dropflow(&["stop", "ParameterFlow", run_id, "--json"]),
        true,
    );
    assert_eq!(
        (stopped.run_id.as_str(), stopped.status.as_str()),
        (run_id, "ABORTED")
    );
    // `--wait` follows it to its end (the emulator may report the stop a moment later);
    // a run that did not succeed exits non-zero.
    let status: RunDetail = json(
        &stack.dropflow(&["status", "ParameterFlow", run_id, "--wait", "--json"]),
        false,
    );
    assert_eq!(status.status, "ABORTED");
    let out = stack.dropflow(&["status", "ParameterFlow", run_id]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with(&format!("ParameterFlow/{run_id}: ABORTED")),
        "{}",
        text(&out)
    );

    // The stopped run resumed: a new run with its parameter values, followed to its end.
    let resumed: RunOutcome = json(
        &stack.dropflow(&["resume", "ParameterFlow", run_id, "--wait", "--json"]),
        true,
    );
    assert_ne!(resumed.started.run_id, run_id);
    assert_eq!(resumed.started.parameters["alpha"], serde_json::json!(0.01));
    let finished = resumed.finished.expect("--wait follows the resumed run");
    assert_eq!(finished.status, "SUCCEEDED", "{}", Shown(&finished));
    // A run that succeeded is not resumed; the reason is printed.
    let out = stack.dropflow(&["resume", "ParameterFlow", &resumed.started.run_id]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("succeeded"), "{}", text(&out));

    let all: RunList = json(&stack.dropflow(&["runs", "ParameterFlow", "--json"]), true);
    assert_eq!(all.runs.len(), 3);
    let succeeded: RunList = json(
        &stack.dropflow(&["runs", "ParameterFlow", "--status", "SUCCEEDED", "--json"]),
        true,
    );
    let ids: Vec<&str> = succeeded.runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            resumed.started.run_id.as_str(),
            done.started.run_id.as_str()
        ]
    );

    // Undeploy: the upload is deleted and the report says so.
    let gone: DeployOutcome = json(
        &stack.dropflow(&["undeploy", "ParameterFlow", "--json"]),
        true,
    );
    assert_eq!(gone.report.status, Status::Undeployed, "{gone}");
    assert_eq!(gone.key, "flows/parameter_flow.tar.gz");
    let flows: FlowList = json(&stack.dropflow(&["flows", "--json"]), true);
    assert!(flows.flows.is_empty(), "{flows:?}");
}

#[test]
fn local_finds_the_stack_in_a_parent_directory_or_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dropflow_in(dir.path(), &["flows", "--local"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no local stack found"), "{stderr}");
    assert!(stderr.contains("dropflow local up"), "{stderr}");
}

#[test]
fn without_a_stack_the_flags_to_give_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dropflow"))
        .args(["flows"])
        .current_dir(dir.path())
        .env_remove("DROPFLOW_API")
        .env_remove("DROPFLOW_BUCKET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--api URL") && stderr.contains("DROPFLOW_API"),
        "{stderr}"
    );
}

#[test]
fn deploy_without_a_user_name_says_what_metaflow_needs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dropflow"))
        .args(["deploy", "flow.py", "--bucket", "b"])
        .current_dir(dir.path())
        .env_remove("METAFLOW_USER")
        .env_remove("SUDO_USER")
        .env_remove("USERNAME")
        .env_remove("USER")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Unknown user") && stderr.contains("METAFLOW_USER"),
        "{stderr}"
    );
}

/// `dropflow ARGS` against AWS (no `--local`): the credentials, region and endpoint of the
/// standard chain pointed at the local stack's emulator, no `DROPFLOW_*` target variables.
fn dropflow_aws(cwd: &Path, endpoints: &dropflow_cli::local::Endpoints, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dropflow"))
        .args(args)
        .current_dir(cwd)
        .env("DROPFLOW_PYTHON", python())
        .env("USERNAME", "dropflow-ci")
        .env("AWS_ENDPOINT_URL", &endpoints.s3_endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", &endpoints.region)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_CLOUDFORMATION")
        .env_remove("DROPFLOW_API")
        .env_remove("DROPFLOW_BUCKET")
        .env_remove("DROPFLOW_STACK")
        .env_remove("METAFLOW_USER")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

#[test]
fn a_cloudformation_stack_name_gives_the_api_and_the_bucket() {
    let stack = LocalStack::up();
    let file = stack.dir.path().join("state/local.json");
    let endpoints: dropflow_cli::local::Endpoints =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    // A CloudFormation stack in the emulator with the deployed stack's two outputs, as
    // `sam deploy --stack-name dropflow-prod` leaves them.
    let create = format!(
        r#"
import json, boto3
cfn = boto3.client("cloudformation", endpoint_url={endpoint:?}, region_name={region:?},
                   aws_access_key_id="testing", aws_secret_access_key="testing")
cfn.create_stack(StackName="dropflow-prod", TemplateBody=json.dumps({{
    "Resources": {{"Alerts": {{"Type": "AWS::SNS::Topic"}}}},
    "Outputs": {{"ApiUrl": {{"Value": {api:?}}}, "BucketName": {{"Value": {bucket:?}}}}},
}}))
cfn.create_stack(StackName="not-dropflow", TemplateBody=json.dumps({{
    "Resources": {{"Alerts": {{"Type": "AWS::SNS::Topic"}}}},
}}))
"#,
        endpoint = endpoints.s3_endpoint,
        region = endpoints.region,
        api = endpoints.api_url,
        bucket = endpoints.bucket,
    );
    let out = Command::new(python())
        .args(["-c", &create])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let work = tempfile::tempdir().unwrap();
    let flow_file = repo_root().join("examples/parameter_flow.py");
    let deployed: DeployOutcome = json(
        &dropflow_aws(
            work.path(),
            &endpoints,
            &[
                "deploy",
                flow_file.to_str().unwrap(),
                "--stack",
                "dropflow-prod",
                "--json",
            ],
        ),
        true,
    );
    assert_eq!(deployed.bucket, endpoints.bucket);
    assert!(
        matches!(deployed.report.status, Status::Deployed | Status::Unchanged),
        "{}",
        deployed.report
    );
    // The same through DROPFLOW_STACK, for a command that calls the API.
    let mut listing = Command::new(env!("CARGO_BIN_EXE_dropflow"));
    let out = dropflow_aws(work.path(), &endpoints, &["flows", "--json"]);
    assert!(!out.status.success(), "no stack named: {}", text(&out));
    listing
        .args(["flows", "--json"])
        .current_dir(work.path())
        .env("DROPFLOW_STACK", "dropflow-prod")
        .env("AWS_ENDPOINT_URL", &endpoints.s3_endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", &endpoints.region)
        .env_remove("DROPFLOW_API")
        .env_remove("DROPFLOW_BUCKET");
    let flows: FlowList = json(&listing.output().unwrap(), true);
    assert!(
        flows.flows.iter().any(|f| f.flow == "ParameterFlow"),
        "{flows:?}"
    );

    // A stack that does not exist, and one that is not dropflow's: what to do.
    let out = dropflow_aws(work.path(), &endpoints, &["flows", "--stack", "nope"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CloudFormation stack nope:") && stderr.contains("does not exist"),
        "{stderr}"
    );
    let out = dropflow_aws(
        work.path(),
        &endpoints,
        &["flows", "--stack", "not-dropflow"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stack not-dropflow (CREATE_COMPLETE) has no output ApiUrl"),
        "{stderr}"
    );
}

/// The test venv's Metaflow tutorials directory (`metaflow tutorials pull` copies it).
fn tutorials_dir() -> PathBuf {
    let out = Command::new(python())
        .args([
            "-c",
            "import metaflow, os; print(os.path.join(os.path.dirname(metaflow.__file__), 'tutorials'))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Metaflow's first tutorials, copied as `metaflow tutorials pull` copies them, deploy and
/// run unchanged on the local stack, and Metaflow's Client reads their results: 00
/// (hello world) and 01 (its `IncludeFile` default computed by the flow file's own
/// `script_path` helper, the file packed with `--package-suffixes .csv` and read by the
/// tasks from the package). 02 is the same
/// `IncludeFile` with a 22-wide foreach (README: Conformance).
#[test]
fn metaflows_first_tutorials_run_unchanged_on_the_local_stack() {
    let stack = LocalStack::up();
    for (tutorial, flow) in [
        ("00-helloworld", "HelloFlow"),
        ("01-playlist", "PlayListFlow"),
    ] {
        let pulled = stack.dir.path().join(tutorial);
        std::fs::create_dir_all(&pulled).unwrap();
        for entry in std::fs::read_dir(tutorials_dir().join(tutorial)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), pulled.join(entry.file_name())).unwrap();
            }
        }
        // The movie file goes into the package: tasks read an `IncludeFile` default from
        // it (Metaflow uploads it from the laptop when it deploys).
        let deployed: DeployOutcome = json(
            &stack.dropflow(&[
                "deploy",
                pulled.to_str().unwrap(),
                "--package-suffixes",
                ".csv",
                "--json",
            ]),
            true,
        );
        assert_eq!(deployed.report.status, Status::Deployed, "{tutorial}");
        let run: RunOutcome = json(&stack.dropflow(&["run", flow, "--wait", "--json"]), true);
        assert!(run.succeeded(), "{tutorial}: {run}");
    }
    // The playlist the run made, read with Metaflow's Client through the metadata service.
    let endpoints: dropflow_cli::local::Endpoints = serde_json::from_str(
        &std::fs::read_to_string(stack.dir.path().join("state/local.json")).unwrap(),
    )
    .unwrap();
    let out = Command::new(python())
        .args([
            "-c",
            "from metaflow import Flow, namespace\n\
             namespace(None)\n\
             run = Flow('PlayListFlow').latest_run\n\
             assert run.successful, run\n\
             data = run['end'].task.data\n\
             assert data.genre == 'Sci-Fi', data.genre\n\
             assert data.playlist and all(isinstance(t, str) for t in data.playlist)\n\
             movie, genre = data.bonus\n\
             assert genre != 'Sci-Fi', data.bonus\n\
             print(len(data.playlist), 'Sci-Fi titles; bonus', movie, '(', genre, ')')",
        ])
        .env("METAFLOW_DEFAULT_METADATA", "service")
        .env("METAFLOW_SERVICE_URL", &endpoints.metadata_url)
        .env("METAFLOW_SERVICE_AUTH_KEY", &endpoints.metadata_auth_key)
        .env("METAFLOW_S3_ENDPOINT_URL", &endpoints.s3_endpoint)
        .env("AWS_ENDPOINT_URL", &endpoints.s3_endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", &endpoints.region)
        .env("METAFLOW_USER", "dropflow-ci")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    println!("{}", String::from_utf8_lossy(&out.stdout));
}
