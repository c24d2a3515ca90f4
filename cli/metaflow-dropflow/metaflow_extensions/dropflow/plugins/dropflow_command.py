"""The `dropflow` command, run with `--json`: everything this extension does is one of its
commands (`deploy`, `run`, `runs`, `stop`, `undeploy`, `flows`), so there is one
implementation of deploying and running flows, the command's."""

import json
import os
import shutil
import subprocess

from metaflow.exception import MetaflowException

# The variable naming the `dropflow` executable when it is not on PATH.
BIN_ENV = "DROPFLOW_BIN"
# The variable naming a local stack's state directory (as `--state-dir` does).
STATE_DIR_ENV = "DROPFLOW_STATE_DIR"


class DropflowCommandError(MetaflowException):
    """The `dropflow` command failed; the message is its own (the API's reason, the
    deploy report's errors)."""

    headline = "dropflow"


class Target(object):
    """Which dropflow stack to talk to: the local stack (`local`, `state_dir`: the
    command's `--local`, `--state-dir`) or AWS (`api`, `bucket`: `--api`, `--bucket`, else
    DROPFLOW_API / DROPFLOW_BUCKET in the environment)."""

    def __init__(self, local=False, state_dir=None, api=None, bucket=None):
        self.local = bool(local) or state_dir is not None
        self.state_dir = state_dir
        self.api = api
        self.bucket = bucket

    def merged(self, other):
        """This target with what `other` sets on top (a subcommand's options over its
        group's)."""
        return Target(
            local=self.local or other.local,
            state_dir=other.state_dir or self.state_dir,
            api=other.api or self.api,
            bucket=other.bucket or self.bucket,
        )

    def to_dict(self):
        """The target as JSON-able fields (kept in the deployer's attribute file)."""
        return {
            "local": self.local,
            "state_dir": self.state_dir,
            "api": self.api,
            "bucket": self.bucket,
        }

    @classmethod
    def from_dict(cls, fields):
        """The inverse of `to_dict`."""
        return cls(**{k: (fields or {}).get(k) for k in cls().to_dict()})

    def flags(self, api=True, bucket=False):
        """The command-line flags naming this target."""
        words = []
        if self.state_dir:
            words += ["--state-dir", self.state_dir]
        elif self.local:
            words.append("--local")
        if api and self.api:
            words += ["--api", self.api]
        if bucket and self.bucket:
            words += ["--bucket", self.bucket]
        return words


def executable(env=None):
    """The `dropflow` executable: $DROPFLOW_BIN, else `dropflow` on PATH."""
    env = os.environ if env is None else env
    given = env.get(BIN_ENV)
    if given:
        if not os.access(given, os.X_OK):
            raise DropflowCommandError(
                "%s=%s is not an executable file; point it at the `dropflow` command "
                "(cargo install --locked --path cli installs it)" % (BIN_ENV, given)
            )
        return given
    found = shutil.which("dropflow", path=env.get("PATH"))
    if found is None:
        raise DropflowCommandError(
            "the `dropflow` command was not found on PATH: install it from the dropflow "
            "repository with `cargo install --locked --path cli`, or set %s to its path"
            % BIN_ENV
        )
    return found


class DropflowCommand(object):
    """Runs `dropflow ARGS --json` in `cwd` with `env` (default: this process's)."""

    def __init__(self, env=None, cwd=None):
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd

    def run_plain(self, args):
        """Runs `dropflow ARGS`; returns its exit code, stdout and stderr."""
        command = [executable(self.env)] + list(args)
        try:
            done = subprocess.run(
                command,
                env=self.env,
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
            )
        except OSError as e:
            raise DropflowCommandError("%s: %s" % (command[0], e))
        return done.returncode, done.stdout, done.stderr

    def run(self, args, allow_failure=False):
        """Runs `dropflow ARGS` (ARGS holding `--json`) and returns `(succeeded,
        document)`. A failure that printed no JSON (a refused parameter, an unreachable
        stack) raises `DropflowCommandError` with the command's message; one that printed
        JSON (a failed deploy report) raises too unless `allow_failure`."""
        returncode, stdout, stderr = self.run_plain(args)
        document = None
        if stdout.strip():
            try:
                document = json.loads(stdout)
            except ValueError:
                document = None
        if document is None:
            message = _error_text(stderr) or stdout.strip()
            raise DropflowCommandError(
                message or "`dropflow %s` exited %d" % (" ".join(args), returncode)
            )
        if returncode != 0 and not allow_failure:
            raise DropflowCommandError(
                _error_text(stderr) or json.dumps(document, indent=2)
            )
        return returncode == 0, document


def _error_text(stderr):
    """The command's error lines without its `error: ` prefix."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    errors = [line[len("error: ") :] for line in lines if line.startswith("error: ")]
    return "\n".join(errors or lines).strip()
