"""What `Deployer(...).dropflow().create()` returns: a deployed flow (trigger, list runs,
delete) and its triggered runs (`.run`, status, terminate), each operation one `dropflow`
command. Unlike Metaflow's Step Functions deployer, `from_deployment`,
`list_deployed_flows` and `get_triggered_run` work: a deployment is found by name from
`dropflow flows`, without the flow file."""

import json
import os
import time
from typing import ClassVar, List, Optional

from metaflow.runner.deployer import DeployedFlow, TriggeredRun

from .dropflow_command import DropflowCommand, DropflowCommandError, Target
from .run_list import list_runs_of
from .run_parameters import parameter_words

# The run states Step Functions (and the API's `?status=`) know.
VALID_STATES = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class DeploymentRef(object):
    """What a deployed flow needs of its deployer, for a deployment found by name
    (`from_deployment`, `list_deployed_flows`) rather than created from a flow file."""

    def __init__(self, name, flow_name, metadata, target, env=None, cwd=None):
        self.name = name
        self.flow_name = flow_name
        self.metadata = metadata
        self.additional_info = {"target": target.to_dict()}
        self.env_vars = dict(os.environ if env is None else env)
        self.cwd = cwd or os.getcwd()
        self.show_output = True
        self.deployer_kwargs = {}


def _current_metadata():
    from metaflow import get_metadata

    return get_metadata()


def _target_of(deployer):
    """The stack a deployer deployed to: what `create` recorded, over the deployer's own
    options."""
    own = Target(**{k: v for k, v in getattr(deployer, "deployer_kwargs", {}).items()
                    if k in ("local", "state_dir", "api", "bucket")})
    recorded = Target.from_dict(getattr(deployer, "additional_info", {}).get("target"))
    return own.merged(recorded)


class DropflowTriggeredRun(TriggeredRun):
    """A run started on dropflow: `.run` (Metaflow's `Run`, once `start` has begun),
    `.status`, `.is_running`, `wait_for_completion()`, `terminate()`."""

    def _command(self):
        return DropflowCommand(env=self.deployer.env_vars, cwd=self.deployer.cwd)

    @property
    def run_id(self) -> str:
        """The run id (`sfn-...`)."""
        return self.pathspec.split("/")[-1]

    def _detail(self):
        _, detail = self._command().run(
            ["status", self.deployer.name, self.run_id, "--json"]
            + _target_of(self.deployer).flags()
        )
        return detail

    @property
    def status(self) -> Optional[str]:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED (the execution's status)."""
        return self._detail().get("status")

    @property
    def is_running(self) -> bool:
        """Whether the run has not ended yet."""
        return self.status in ("RUNNING", "PENDING_REDRIVE")

    def wait_for_completion(self, check_interval: int = 5, timeout: Optional[int] = None):
        """Waits for the run to end and returns its status; `TimeoutError` after
        `timeout` seconds."""
        started = time.time()
        while True:
            status = self.status
            if status not in ("RUNNING", "PENDING_REDRIVE"):
                return status
            if timeout is not None and time.time() - started > timeout:
                raise TimeoutError(
                    "%s still %s after %s s" % (self.pathspec, status, timeout)
                )
            time.sleep(check_interval)

    def terminate(self, **kwargs) -> bool:
        """Stops the run (`dropflow stop`); True when the API stopped it."""
        if kwargs:
            raise ValueError(
                "terminate takes no options on dropflow (got %s)" % ", ".join(kwargs)
            )
        try:
            self._command().run(
                ["stop", self.deployer.name, self.run_id, "--json"]
                + _target_of(self.deployer).flags()
            )
        except DropflowCommandError as e:
            if self.deployer.show_output:
                print(e)
            return False
        return True


class DropflowDeployedFlow(DeployedFlow):
    """A flow deployed with dropflow: a state machine with a `live` alias, its schedule
    and job definitions, and the upload under `flows/` it came from."""

    TYPE: ClassVar[Optional[str]] = "dropflow"

    def _command(self):
        return DropflowCommand(env=self.deployer.env_vars, cwd=self.deployer.cwd)

    @property
    def target(self) -> Target:
        """The stack it is deployed on."""
        return _target_of(self.deployer)

    def trigger(self, **kwargs) -> DropflowTriggeredRun:
        """
        Start a run. Keyword arguments are the flow's parameters by name
        (`trigger(alpha=0.5)`; `**{"learning-rate": 0.1}` for a name that is not a
        Python identifier), checked against the deployed flow before anything starts.

        Raises
        ------
        DropflowCommandError
            A parameter was refused (the `dropflow` command's and the API's reason);
            nothing started.
        """
        _, outcome = self._command().run(
            ["run", self.name, "--json"]
            + self.target.flags()
            + ["--"]
            + parameter_words(kwargs)
        )
        started = outcome["started"]
        if self.deployer.show_output:
            print(
                "Workflow %s triggered on dropflow (run-id %s)."
                % (started.get("state_machine"), started["run_id"])
            )
        return DropflowTriggeredRun(
            deployer=self.deployer,
            content=json.dumps(
                {
                    "name": started.get("state_machine") or self.name,
                    "metadata": self.metadata,
                    "pathspec": "/".join(
                        (started.get("flow") or self.flow_name, started["run_id"])
                    ),
                }
            ),
        )

    def list_runs(self, states: Optional[List[str]] = None) -> List[DropflowTriggeredRun]:
        """
        The deployment's runs, newest first, optionally only those in `states`
        (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
        """
        states = list(states or [])
        invalid = set(states) - VALID_STATES
        if invalid:
            raise ValueError(
                "Invalid states found: %s. Valid states are: %s" % (invalid, VALID_STATES)
            )
        if len(states) != len(set(states)):
            raise ValueError("Duplicate states are not allowed")
        return [
            self._triggered_run(run["run_id"])
            for run in list_runs_of(self._command(), self.name, self.target, states)
        ]

    def _triggered_run(self, run_id):
        return DropflowTriggeredRun(
            deployer=self.deployer,
            content=json.dumps(
                {
                    "name": self.name,
                    "metadata": self.metadata,
                    "pathspec": "/".join((self.flow_name, run_id)),
                }
            ),
        )

    def delete(self, **kwargs) -> bool:
        """Undeploys the flow (deletes its upload under `flows/` and waits for the
        `undeployed` report); True when it was undeployed."""
        if kwargs:
            raise ValueError(
                "delete takes no options on dropflow (got %s)" % ", ".join(kwargs)
            )
        try:
            _, outcome = self._command().run(
                ["undeploy", self.name, "--json"] + self.target.flags(bucket=True)
            )
        except DropflowCommandError as e:
            if self.deployer.show_output:
                print(e)
            return False
        return outcome["report"]["status"] == "undeployed"

    @classmethod
    def list_deployed_flows(
        cls, flow_name: Optional[str] = None, env=None, cwd=None, **target
    ):
        """
        Yields the flows deployed on the stack (`dropflow flows`), only those of flow
        class `flow_name` when given. `target`: `local=True`, `state_dir=...`,
        `api=...` (default: $DROPFLOW_API).
        """
        stack = Target(**target)
        command = DropflowCommand(env=env, cwd=cwd)
        _, listed = command.run(["flows", "--json"] + stack.flags())
        metadata = _current_metadata()
        for flow in listed.get("flows") or []:
            if flow_name is None or flow["flow"] == flow_name:
                yield cls(
                    deployer=DeploymentRef(
                        flow["name"], flow["flow"], metadata, stack, env, cwd
                    )
                )

    @classmethod
    def from_deployment(
        cls, identifier: str, metadata: Optional[str] = None, env=None, cwd=None, **target
    ):
        """
        The deployed flow named `identifier` (its state machine name, or its flow
        class when only one deployment has it), found with `dropflow flows`.
        `metadata` is the Metaflow metadata the runs are read with (default: the
        current one); `target` as for `list_deployed_flows`.
        """
        found = [
            flow
            for flow in cls.list_deployed_flows(None, env=env, cwd=cwd, **target)
            if identifier in (flow.name, flow.flow_name)
        ]
        exact = [flow for flow in found if flow.name == identifier]
        if exact:
            found = exact
        if not found:
            raise DropflowCommandError(
                "no deployed flow named %s (see `dropflow flows`)" % identifier
            )
        if len(found) > 1:
            raise DropflowCommandError(
                "%s names several deployments (%s): give the state machine name"
                % (identifier, ", ".join(sorted(f.name for f in found)))
            )
        deployed = found[0]
        if metadata is not None:
            deployed.deployer.metadata = metadata
            deployed.metadata = metadata
        return deployed

    @classmethod
    def get_triggered_run(
        cls, identifier: str, run_id: str, metadata: Optional[str] = None, **target
    ):
        """The run `run_id` of the deployment `identifier` (as for `from_deployment`)."""
        return cls.from_deployment(identifier, metadata, **target)._triggered_run(run_id)
