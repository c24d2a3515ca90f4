"""The state machine a flow file deploys as, asked of `dropflow compile` (which names it
exactly as `dropflow deploy` does: `--name`, `@project` branches, the user's branch,
hash-shortening), so `trigger`, `list-runs`, `terminate` and `delete` address the
deployment `create` made."""

import json
import os
import shutil
import tempfile

from metaflow.util import get_username

from .dropflow_command import DropflowCommandError


def state_machine_name(
    command, flow_file, name, project_options, package_suffixes, include=()
):
    """The name of the state machine `flow_file` deploys as with these options
    (`include`: the files `create` packs whatever their suffix, so that the flow compiles
    here as it will when deployed)."""
    out = tempfile.mkdtemp(prefix="dropflow-name-")
    try:
        args = ["compile", flow_file, "--out", out]
        args += ["--package-suffixes", ",".join(package_suffixes)]
        for path in include:
            args += ["--include", path]
        if name:
            args += ["--name", name]
        user = get_username()
        if user:
            args += ["--user", user]
        args += project_options
        code, _, stderr = command.run_plain(args)
        deployment = os.path.join(out, "deployment.json")
        if code != 0 or not os.path.exists(deployment):
            error = DropflowCommandError(
                "dropflow compile could not name the state machine: %s" % stderr.strip()
            )
            # The compiler's own words (a lint error with file:line), for `create`.
            error.detail = stderr.strip()
            raise error
        with open(deployment) as f:
            return json.load(f)["state_machine"]
    finally:
        shutil.rmtree(out, ignore_errors=True)
