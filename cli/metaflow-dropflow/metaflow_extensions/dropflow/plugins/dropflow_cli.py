"""`python flow.py dropflow create|trigger|list-runs|terminate|delete`: Metaflow's
`step-functions` commands for dropflow, each one `dropflow` command run with `--json`
(`deploy`, `run`, `runs`, `stop`, `undeploy`; `compile` names the state machine the
others address). Nothing is checked or built here: the
flow is linted and compiled by dropflow's compile function, parameters are checked by
the `dropflow` command against the deployed flow and by the trigger API."""

import inspect
import json
import os
import sys

from metaflow._vendor import click
from metaflow.exception import MetaflowException
from metaflow.parameters import current_flow
from metaflow.util import get_username

from .dropflow_command import STATE_DIR_ENV, DropflowCommand, DropflowCommandError, Target
from .run_list import list_runs_of
from .run_parameters import parameter_words, run_variable
from .state_machine_name import state_machine_name

# Metaflow's `list-runs` flags and the status each selects.
RUN_STATES = [
    ("running", "RUNNING"),
    ("succeeded", "SUCCEEDED"),
    ("failed", "FAILED"),
    ("timed_out", "TIMED_OUT"),
    ("aborted", "ABORTED"),
]


def target_options(func):
    """`--local`, `--state-dir`, `--api`, `--bucket`: on the `dropflow` group (where the
    Deployer puts them) and on each command (`create --local`)."""
    func = click.option(
        "--bucket",
        default=None,
        help="The deployment bucket (default: $DROPFLOW_BUCKET).",
    )(func)
    func = click.option(
        "--api",
        default=None,
        help="The trigger API's URL (default: $DROPFLOW_API).",
    )(func)
    func = click.option(
        "--state-dir",
        default=None,
        help="The local stack's state directory (implies --local; default: "
        "$DROPFLOW_STATE_DIR).",
    )(func)
    func = click.option(
        "--local",
        is_flag=True,
        default=False,
        help="Use the local stack (.dropflow/local.json here or in a parent directory).",
    )(func)
    return func


def flow_parameter_options(cmd):
    """The flow's parameters as `--NAME VALUE` options of `trigger`, taken as text: the
    `dropflow` command converts and checks them against the deployed flow (its
    defaults, its types, Metaflow's messages), so what is not given is the deployed
    default. Like Metaflow's `add_custom_parameters`, the options are built when the
    command is loaded for a flow, and the Deployer sees them (`has_flow_params`)."""
    if not hasattr(cmd, "original_params"):
        cmd.original_params = list(cmd.params)
    cmd.has_flow_params = True
    flow_cls = getattr(current_flow, "flow_cls", None)
    if flow_cls is None:
        return cmd
    parameters = [p for _, p in flow_cls._get_parameters() if not p.IS_CONFIG_PARAMETER]
    for parameter in parameters[::-1]:
        help_text = parameter.kwargs.get("help") or ""
        cmd.params.insert(
            0,
            click.Option(
                ("--" + parameter.name,),
                type=str,
                default=None,
                help=(help_text + " [default: the deployed default]").strip(),
            ),
        )
    return cmd


@click.group()
def cli():
    pass


@cli.group(help="Commands related to dropflow (AWS Step Functions deployed from S3).")
@click.option(
    "--name",
    default=None,
    type=str,
    help="State machine name. The flow name is used instead if this option is not "
    "specified (not with @project: use --branch).",
)
@target_options
@click.pass_obj
def dropflow(obj, name=None, local=False, state_dir=None, api=None, bucket=None):
    obj.dropflow_name = name
    # A local stack named by the environment (as DROPFLOW_API names one on AWS): how
    # Metaflow's own test runner, which adds no options, reaches one.
    state_dir = state_dir or os.environ.get(STATE_DIR_ENV) or None
    obj.dropflow_target = Target(local, state_dir, api, bucket)
    obj.dropflow_command = DropflowCommand()


def _flow_file(obj):
    """The flow file's absolute path (`obj.flow.script_name` is its base name)."""
    return os.path.abspath(inspect.getfile(obj.flow.__class__))


def _included_files(obj, flow_file):
    """The files the flow's `IncludeFile` defaults name, when they are under the flow's
    directory: Metaflow reads them on the laptop when it deploys, dropflow's compile
    function reads them from the package, so they are packed whatever their suffix. A
    default computed by a function is the compile function's to evaluate (it names the
    file to add if it is missing)."""
    from metaflow.includefile import IncludeFile

    root = os.path.dirname(os.path.realpath(flow_file))
    files = []
    for _, param in obj.flow._get_parameters():
        if not isinstance(param, IncludeFile):
            continue
        # The default as the flow wrote it (Parameter keeps it apart from the kwargs that
        # IncludeFile.init wraps in an uploading DeployTimeField).
        default = getattr(param, "_override_kwargs", {}).get("default")
        if not isinstance(default, str) or not default:
            continue
        path = os.path.realpath(default)
        if os.path.isfile(path) and os.path.commonpath([root, path]) == root:
            files.append(path)
    return sorted(set(files))


def _target(obj, local, state_dir, api, bucket):
    return obj.dropflow_target.merged(Target(local, state_dir, api, bucket))


def _top_level():
    """The top-level options given to `python flow.py`."""
    return click.get_current_context().find_root().params


def _project_options():
    """Metaflow's `--branch`/`--production` (top-level options of a @project flow)."""
    params = _top_level()
    words = []
    if params.get("branch"):
        words += ["--branch", params["branch"]]
    if params.get("production"):
        words.append("--production")
    return words


def _check_top_level(obj):
    """Top-level options `create` cannot honour are refused, not ignored. (Metaflow's
    processed config values look the same whether given or defaulted, so the command
    line and the variables that set them are read.)"""
    top = sys.argv[1 : sys.argv.index("dropflow")] if "dropflow" in sys.argv else []
    for option, variable in [
        ("--config", "METAFLOW_FLOW_CONFIG"),
        ("--config-value", "METAFLOW_FLOW_CONFIG_VALUE"),
    ]:
        if option in top or any(w.startswith(option + "=") for w in top) or os.environ.get(
            variable
        ):
            raise MetaflowException(
                "dropflow create does not take %s (or %s): dropflow reads a Config "
                "from the package (its default file); put the file in the flow's "
                "directory and add its suffix with --package-suffixes"
                % (option, variable)
            )
    others = [spec for spec in obj.tl_decospecs if spec != "retry"]
    if others:
        raise MetaflowException(
            "dropflow create takes --with retry only (dropflow's --with-retry); put "
            "%s on the steps as decorators instead"
            % ", ".join("--with " + s for s in others)
        )


@dropflow.command(help="Deploy a new version of this workflow with dropflow.")
@click.option(
    "--tag",
    "tags",
    multiple=True,
    default=None,
    help="Annotate all objects produced by the runs with the given tag. You can "
    "specify this option multiple times to attach multiple tags.",
)
@click.option(
    "--namespace",
    "user_namespace",
    default=None,
    help="Change the namespace from the default (production token) to the given tag.",
)
@click.option(
    "--max-workers",
    default=None,
    type=int,
    help="Maximum number of parallel processes (default 100).",
)
@click.option(
    "--workflow-timeout", default=None, type=int, help="Workflow timeout in seconds."
)
@click.option(
    "--use-distributed-map/--no-use-distributed-map",
    default=None,
    help="Foreaches as Distributed Maps (dropflow's default) or inline Maps.",
)
@click.option("--image", default=None, help="Default container image.")
@click.option("--job-queue", default=None, help="Default AWS Batch job queue.")
@click.option(
    "--platform",
    type=click.Choice(["ec2", "fargate"]),
    default=None,
    help="fargate: every step gets a Fargate job definition.",
)
@click.option(
    "--timeout",
    default=120,
    show_default=True,
    type=int,
    help="Seconds to wait for the deploy report.",
)
@target_options
@click.option(
    "--deployer-attribute-file",
    default=None,
    type=str,
    hidden=True,
    help="Write the workflow name to the file specified. Used internally for Metaflow's "
    "Deployer API.",
)
@click.pass_obj
def create(
    obj,
    tags=None,
    user_namespace=None,
    max_workers=None,
    workflow_timeout=None,
    use_distributed_map=None,
    image=None,
    job_queue=None,
    platform=None,
    timeout=120,
    local=False,
    state_dir=None,
    api=None,
    bucket=None,
    deployer_attribute_file=None,
):
    _check_top_level(obj)
    target = _target(obj, local, state_dir, api, bucket)
    flow_file = _flow_file(obj)
    included = _included_files(obj, flow_file)
    args = ["deploy", flow_file, "--json", "--timeout", str(timeout)]
    # One upload key per deployed state machine, as Metaflow's Step Functions identifies a
    # deployment by its state machine: keyed by the file name instead, two flows in files
    # of the same name (Metaflow's test suite writes every flow to test_flow.py) would
    # replace each other's deployment.
    try:
        state_machine = _name(obj, included)
        args += ["--key", state_machine + ".tar.gz"]
    except DropflowCommandError as e:
        # A flow that does not compile cannot be deployed: the compiler says why.
        raise DropflowCommandError(getattr(e, "detail", None) or str(e))
    args += target.flags(api=False, bucket=True)
    args += ["--package-suffixes", ",".join(obj.package_suffixes)]
    for path in included:
        args += ["--include", path]
    user = get_username()
    if user:
        args += ["--user", user]
    for tag in tags or []:
        args += ["--tag", tag]
    for option, value in [
        ("--namespace", user_namespace),
        ("--max-workers", max_workers),
        ("--workflow-timeout", workflow_timeout),
        ("--name", obj.dropflow_name),
        ("--image", image),
        ("--job-queue", job_queue),
        ("--platform", platform),
    ]:
        if value is not None:
            args += [option, str(value)]
    if use_distributed_map is not None:
        args += ["--distributed-map", "true" if use_distributed_map else "false"]
    if "retry" in obj.tl_decospecs:
        args.append("--with-retry")
    # Metaflow's top-level --environment: uv ships the project's lock (dropflow packs
    # pyproject.toml and uv.lock from the flow's directory); local is the default.
    environment = getattr(obj.environment, "TYPE", "local")
    if environment == "uv":
        args += ["--environment", "uv"]
    elif environment != "local":
        raise click.UsageError(
            "dropflow runs --environment=local or --environment=uv; "
            "--environment=%s is not supported yet (use uv, or bake the packages into the image)"
            % environment
        )
    args += _project_options()

    obj.echo("Deploying *%s* with dropflow..." % os.path.basename(flow_file), bold=True)
    _, outcome = obj.dropflow_command.run(args, allow_failure=True)
    report = outcome["report"]
    if report["status"] == "failed":
        errors = [e["message"] for e in report.get("errors") or []]
        raise DropflowCommandError(
            "\n".join(errors) or report.get("summary") or "the deployment failed"
        )
    # A superseded upload's report may name no state machine (the newer upload's deploy
    # was still running): it is the one the key deploys.
    name = report.get("state_machine") or state_machine
    version = report.get("version")
    if deployer_attribute_file:
        with open(deployer_attribute_file, "w") as f:
            json.dump(
                {
                    "name": name,
                    "flow_name": report.get("flow") or obj.flow.name,
                    "metadata": obj.metadata.metadata_str(),
                    "additional_info": {
                        "target": target.to_dict(),
                        "status": report["status"],
                        "version": version,
                        "key": outcome.get("key"),
                    },
                },
                f,
            )
    obj.echo(
        "State Machine *%s*%s for flow *%s*: %s (s3://%s/%s)."
        % (
            name,
            " version *%s*" % version if version else "",
            report.get("flow") or obj.flow.name,
            report["status"],
            outcome.get("bucket"),
            outcome.get("key"),
        ),
        bold=True,
    )
    if report.get("summary"):
        obj.echo(report["summary"], indent=True)
    for warning in report.get("warnings") or []:
        obj.echo("warning: %s" % warning, indent=True)
    schedule = (report.get("changes") or {}).get("schedule")
    if schedule and schedule.get("expression"):
        obj.echo(
            "Schedule: %s (%s)" % (schedule["expression"], schedule.get("timezone")),
            indent=True,
        )


def _name(obj, included=None):
    """The deployed state machine's name, as dropflow names it for this flow file
    (`included`: the files `_included_files` found, when the caller has them)."""
    flow_file = _flow_file(obj)
    if included is None:
        included = _included_files(obj, flow_file)
    return state_machine_name(
        obj.dropflow_command,
        flow_file,
        obj.dropflow_name,
        _project_options(),
        obj.package_suffixes,
        included,
    )


@flow_parameter_options
@dropflow.command(help="Trigger the workflow on dropflow.")
@click.option(
    "--run-id-file",
    default=None,
    show_default=True,
    type=str,
    help="Write the ID of this run to the file specified.",
)
@target_options
@click.option(
    "--deployer-attribute-file",
    default=None,
    show_default=True,
    type=str,
    help="Write the metadata and pathspec of this run to the file specified.\nUsed "
    "internally for Metaflow's Deployer API.",
    hidden=True,
)
@click.pass_obj
def trigger(
    obj,
    run_id_file=None,
    local=False,
    state_dir=None,
    api=None,
    bucket=None,
    deployer_attribute_file=None,
    **kwargs
):
    target = _target(obj, local, state_dir, api, bucket)
    given = {}
    for _, parameter in obj.flow._get_parameters():
        if parameter.IS_CONFIG_PARAMETER:
            continue
        option = parameter.name.replace("-", "_").lower()
        value = kwargs.get(option)
        if value is None:
            # As `python flow.py run` reads it (click's variable for the `run` command),
            # so a value given that way reaches a scheduled run too.
            value = os.environ.get(run_variable(option))
        if value is not None:
            given[parameter.name] = value
    name = _name(obj)
    _, outcome = obj.dropflow_command.run(
        ["run", name, "--json"] + target.flags() + ["--"] + parameter_words(given)
    )
    started = outcome["started"]
    run_id = started["run_id"]
    if run_id_file:
        with open(run_id_file, "w") as f:
            f.write(str(run_id))
    if deployer_attribute_file:
        with open(deployer_attribute_file, "w") as f:
            json.dump(
                {
                    "name": started.get("state_machine") or name,
                    "metadata": obj.metadata.metadata_str(),
                    "pathspec": "/".join((started.get("flow") or obj.flow.name, run_id)),
                },
                f,
            )
    obj.echo(
        "Workflow *%s* triggered on dropflow (run-id *%s*)."
        % (started.get("state_machine") or name, run_id),
        bold=True,
    )


@dropflow.command(help="List all runs of the workflow on dropflow.")
@click.option("--running", is_flag=True, default=False, help="Runs in RUNNING state.")
@click.option(
    "--succeeded", is_flag=True, default=False, help="Runs in SUCCEEDED state."
)
@click.option("--failed", is_flag=True, default=False, help="Runs in FAILED state.")
@click.option(
    "--timed-out", is_flag=True, default=False, help="Runs in TIMED_OUT state."
)
@click.option("--aborted", is_flag=True, default=False, help="Runs in ABORTED state.")
@target_options
@click.pass_obj
def list_runs(obj, local=False, state_dir=None, api=None, bucket=None, **flags):
    target = _target(obj, local, state_dir, api, bucket)
    name = _name(obj)
    states = [state for flag, state in RUN_STATES if flags.get(flag)]
    runs = list_runs_of(obj.dropflow_command, name, target, states)
    for run in runs:
        stopped = (
            " stoppedAt:'%s'" % run["stop_date"] if run.get("stop_date") else ""
        )
        obj.echo(
            "*%s* startedAt:'%s'%s *%s*"
            % (run["run_id"], run.get("start_date"), stopped, run["status"])
        )
    if not runs:
        which = " and ".join("*%s*" % s for s in states)
        obj.echo(
            "No %sexecutions for *%s* found on dropflow."
            % (which + " " if which else "", name)
        )


@dropflow.command(help="Delete the workflow: its upload under flows/ and its deployment.")
@target_options
@click.pass_obj
def delete(obj, local=False, state_dir=None, api=None, bucket=None):
    target = _target(obj, local, state_dir, api, bucket)
    name = _name(obj)
    obj.echo("Deleting *%s* from dropflow..." % name, bold=True)
    _, outcome = obj.dropflow_command.run(
        ["undeploy", name, "--json"] + target.flags(bucket=True)
    )
    obj.echo(outcome["report"].get("summary") or outcome["report"]["status"], indent=True)
    obj.echo(
        "In-flight executions will not be affected. If necessary, terminate them "
        "manually."
    )


@dropflow.command(
    help="Resume a run that failed, timed out or was stopped: a new run with the same "
    "parameter values that clones every task that succeeded and runs the rest."
)
@click.argument("run-id", required=True, type=str)
@click.option(
    "--from-step",
    default=None,
    type=str,
    help="Run this step and every step after it again (as `resume STEP`).",
)
@click.option(
    "--run-id-file",
    default=None,
    type=str,
    help="Write the ID of the new run to the file specified.",
)
@target_options
@click.pass_obj
def resume(
    obj,
    run_id,
    from_step=None,
    run_id_file=None,
    local=False,
    state_dir=None,
    api=None,
    bucket=None,
):
    target = _target(obj, local, state_dir, api, bucket)
    name = _name(obj)
    args = ["resume", name, run_id, "--json"] + target.flags()
    if from_step:
        args += ["--from-step", from_step]
    _, outcome = obj.dropflow_command.run(args)
    started = outcome["started"]
    if run_id_file:
        with open(run_id_file, "w") as f:
            f.write(str(started["run_id"]))
    obj.echo(
        "Run *%s* of *%s* resumed on dropflow as run-id *%s*."
        % (run_id, started.get("state_machine") or name, started["run_id"]),
        bold=True,
    )


@dropflow.command(help="Terminate a run of the workflow on dropflow.")
@click.argument("run-id", required=True, type=str)
@target_options
@click.pass_obj
def terminate(obj, run_id, local=False, state_dir=None, api=None, bucket=None):
    target = _target(obj, local, state_dir, api, bucket)
    name = _name(obj)
    obj.echo(
        "Terminating run *%s* for %s ..." % (run_id, obj.flow.name), bold=True
    )
    _, stopped = obj.dropflow_command.run(["stop", name, run_id, "--json"] + target.flags())
    if stopped.get("stop_date"):
        obj.echo("\nRun terminated at %s." % stopped["stop_date"])
    else:
        obj.echo("\nRun terminated.")
