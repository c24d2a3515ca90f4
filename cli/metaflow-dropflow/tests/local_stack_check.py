"""The extension as a Metaflow user drives it, on a local stack already up in the working
directory (`.dropflow/local.json`): `python flow.py dropflow create --local` of a broken
flow (non-zero, the lint text with file:line) and of ParameterFlow (twice at once);
`trigger` with a wrong value (non-zero, the reason, nothing started); then Metaflow's
Deployer API: `Deployer(...).dropflow(local=True).create()` (a RuntimeError with the
lint text for the broken flow; unchanged for ParameterFlow), `trigger(alpha=0.5)`, the
run followed to its end and its artifact read with Metaflow's Client;
`from_deployment`, `list_deployed_flows` and `get_triggered_run`, which Metaflow's Step
Functions deployer does not implement; a value from `METAFLOW_RUN_<NAME>`; `resume` of a
succeeded run (refused) and of a stopped one; `delete`.

Run by `cli/tests/metaflow_extension.rs`: python local_stack_check.py FLOW BROKEN_FLOW
with the extension on PYTHONPATH and DROPFLOW_BIN naming the `dropflow` command."""

import json
import os
import subprocess
import sys
import time


def client_environment():
    """Metaflow's Client pointed at the local stack: its metadata service (with its key)
    and its S3."""
    with open(os.path.join(".dropflow", "local.json")) as f:
        stack = json.load(f)
    return {
        "METAFLOW_DEFAULT_METADATA": "service",
        "METAFLOW_SERVICE_URL": stack["metadata_url"],
        "METAFLOW_SERVICE_AUTH_KEY": stack["metadata_auth_key"],
        "METAFLOW_S3_ENDPOINT_URL": stack["s3_endpoint"],
        "AWS_ENDPOINT_URL": stack["s3_endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack["region"],
    }


def flow_command(flow, *args):
    """`python FLOW ARGS`; its exit code and output."""
    done = subprocess.run(
        [sys.executable, flow] + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    output = "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        done.returncode,
        done.stdout,
        done.stderr,
    )
    print("$ python %s %s\n%s" % (os.path.basename(flow), " ".join(args), output))
    return done.returncode, done.stdout + done.stderr


def timed(label, started):
    print("[%5.1f s] %s" % (time.time() - started, label), flush=True)


def main(flow, broken):
    started = time.time()
    os.environ.update(client_environment())

    # A broken flow: refused by the compile function, its lint text with file:line.
    code, output = flow_command(broken, "dropflow", "create", "--local")
    assert code != 0, output
    assert (
        "flow.py:11: Step work is missing a self.next() transition to the next step."
        in output
    ), output
    timed("broken flow refused", started)

    # The flow, deployed with the command twice at once (S3 events come at least once
    # and concurrently): both succeed, each with its own upload's report: one deploys, the
    # other finds it deployed, or, its S3 event being the older one, is superseded.
    creating = [
        subprocess.Popen(
            [sys.executable, flow, "dropflow", "create", "--local"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )
        for _ in range(2)
    ]
    outputs = []
    for process in creating:
        output, _ = process.communicate()
        outputs.append((process.returncode, output))
    print("$ python parameter_flow.py dropflow create --local  (twice at once)")
    statuses = []
    for code, output in outputs:
        print("exit %d\n%s" % (code, output))
        assert code == 0, output
        assert "State Machine ParameterFlow" in output, output
        status = output.split("for flow ParameterFlow: ")[1].split(" ")[0]
        statuses.append(status)
        if status != "superseded":
            assert "State Machine ParameterFlow version" in output, output
        else:
            assert "a newer event for this key" in output, output
    assert "deployed" in statuses, statuses
    assert set(statuses) <= {"deployed", "unchanged", "superseded"}, statuses
    timed("created", started)

    # A value the parameter's type refuses: the reason, nothing started.
    code, output = flow_command(flow, "dropflow", "trigger", "--local", "--alpha", "fast")
    assert code != 0, output
    refused = "Invalid value for '--alpha': fast is not a valid floating point value"
    assert refused in output, output
    code, output = flow_command(flow, "dropflow", "list-runs", "--local")
    assert code == 0, output
    assert "No executions for ParameterFlow found on dropflow." in output, output
    timed("wrong parameter refused", started)

    # Metaflow's Deployer API.
    from metaflow import Deployer, namespace
    from metaflow_extensions.dropflow.plugins.dropflow_command import DropflowCommandError
    from metaflow_extensions.dropflow.plugins.dropflow_deployer_objects import (
        DropflowDeployedFlow,
    )

    try:
        Deployer(broken, show_output=False).dropflow(local=True).create()
        raise AssertionError("a broken flow was created")
    except RuntimeError as e:
        # Metaflow builds this message from the command's log files, which its log
        # streaming may not have written yet when the command ends (seen on a loaded
        # machine): the refusal must hold, and the reason when the log made it in (the
        # `dropflow create` command above shows it in any case).
        if "Stderr:" in str(e):
            assert "flow.py:11: Step work is missing a self.next()" in str(e), e
        else:
            assert isinstance(e.__cause__, subprocess.CalledProcessError), repr(e.__cause__)
    timed("Deployer create of the broken flow refused", started)

    deployed = Deployer(flow, show_output=False).dropflow(local=True).create()
    assert deployed.name == "ParameterFlow", deployed.name
    assert deployed.flow_name == "ParameterFlow", deployed.flow_name
    info = deployed.deployer.additional_info
    assert info["status"] == "unchanged", info
    timed("Deployer create (unchanged)", started)
    try:
        deployed.trigger(alpha="fast")
        raise AssertionError("a refused value started a run")
    except DropflowCommandError as e:
        assert "fast is not a valid floating point value" in str(e), e
    assert deployed.list_runs() == [], [r.pathspec for r in deployed.list_runs()]

    triggered = deployed.trigger(alpha=0.5)
    assert triggered.pathspec.startswith("ParameterFlow/sfn-"), triggered.pathspec
    timed("triggered %s" % triggered.pathspec, started)
    status = triggered.wait_for_completion(check_interval=1, timeout=240)
    assert status == "SUCCEEDED", status
    timed("finished: %s" % status, started)

    namespace(None)
    run = triggered.run
    assert run is not None and run.successful, run
    assert run["end"].task.data.alpha == 0.5, run["end"].task.data.alpha
    timed("Client read alpha=0.5 from %s" % run.pathspec, started)

    runs = deployed.list_runs(states=["SUCCEEDED"])
    assert [r.pathspec for r in runs] == [triggered.pathspec], [r.pathspec for r in runs]

    # What Metaflow's Step Functions deployer leaves unimplemented.
    found = DropflowDeployedFlow.from_deployment("ParameterFlow", local=True)
    assert (found.name, found.flow_name) == ("ParameterFlow", "ParameterFlow")
    assert [r.pathspec for r in found.list_runs()] == [triggered.pathspec]
    listed = list(DropflowDeployedFlow.list_deployed_flows("ParameterFlow", local=True))
    assert [f.name for f in listed] == ["ParameterFlow"], [f.name for f in listed]
    again = DropflowDeployedFlow.get_triggered_run(
        "ParameterFlow", triggered.run_id, local=True
    )
    assert again.status == "SUCCEEDED"

    # A value given as `python flow.py run` reads it, METAFLOW_RUN_<NAME> (how Metaflow's
    # test suite gives a parameter without a default), reaches the triggered run.
    run_id_file = os.path.abspath("env-run-id")
    done = subprocess.run(
        [sys.executable, flow, "dropflow", "trigger", "--local", "--run-id-file", run_id_file],
        env=dict(os.environ, METAFLOW_RUN_ALPHA="0.25"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert done.returncode == 0, done.stdout
    run_id = open(run_id_file).read().strip()
    shown = subprocess.run(
        [os.environ["DROPFLOW_BIN"], "status", "ParameterFlow", run_id, "--local", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert shown.returncode in (0, 1), shown.stdout
    assert json.loads(shown.stdout)["parameters"]["alpha"] == 0.25, shown.stdout
    code, output = flow_command(flow, "dropflow", "terminate", "--local", run_id)
    assert code == 0, output
    timed("METAFLOW_RUN_ALPHA=0.25 reached %s" % run_id, started)

    # Resuming a run that succeeded is refused with the reason (Metaflow's `resume`
    # semantics; `tests/tests/resume_run.rs` resumes a failed run end to end).
    code, output = flow_command(flow, "dropflow", "resume", "--local", triggered.run_id)
    assert code != 0, output
    assert "succeeded; only a run that failed, timed out or was stopped can be resumed" in output, output
    timed("resume of a succeeded run refused", started)

    # The run stopped above is resumed once it has ended: a new run of the same values.
    for _ in range(120):
        shown = subprocess.run(
            [os.environ["DROPFLOW_BIN"], "status", "ParameterFlow", run_id, "--local", "--json"],
            stdout=subprocess.PIPE,
            universal_newlines=True,
        )
        if json.loads(shown.stdout)["status"] != "RUNNING":
            break
        time.sleep(0.5)
    resumed_file = os.path.abspath("resumed-run-id")
    code, output = flow_command(
        flow, "dropflow", "resume", "--local", run_id, "--run-id-file", resumed_file
    )
    assert code == 0, output
    resumed = open(resumed_file).read().strip()
    assert resumed.startswith("sfn-") and resumed != run_id, resumed
    assert "resumed on dropflow as run-id %s." % resumed in output, output
    shown = subprocess.run(
        [os.environ["DROPFLOW_BIN"], "status", "ParameterFlow", resumed, "--local", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert json.loads(shown.stdout)["parameters"]["alpha"] == 0.25, shown.stdout
    code, output = flow_command(flow, "dropflow", "terminate", "--local", resumed)
    assert code == 0, output
    timed("stopped run %s resumed as %s (alpha 0.25 reused)" % (run_id, resumed), started)

    # Deleted: the flow is gone from the stack.
    assert deployed.delete()
    assert list(DropflowDeployedFlow.list_deployed_flows(None, local=True)) == []
    timed("deleted", started)


if __name__ == "__main__":
    main(*sys.argv[1:3])
