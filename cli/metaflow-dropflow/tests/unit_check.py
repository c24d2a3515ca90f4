"""The extension's own pieces, without a stack: how a run's parameters and the stack
become `dropflow` command words, how the command's errors are read, and the state
machine name asked of `dropflow compile` for a `@project` flow (Metaflow's
`<project>.<branch>.<Flow>` names). Run by `cli/tests/metaflow_extension.rs` with
DROPFLOW_BIN naming the `dropflow` command and USERNAME=dropflow-ci."""

import os
import tempfile
import unittest

from metaflow_extensions.dropflow.plugins.dropflow_command import (
    DropflowCommand,
    DropflowCommandError,
    Target,
    _error_text,
    executable,
)
from metaflow_extensions.dropflow.plugins.run_parameters import (
    parameter_words,
    run_variable,
)
from metaflow_extensions.dropflow.plugins.dropflow_cli import _included_files
from metaflow_extensions.dropflow.plugins.state_machine_name import state_machine_name

PROJECT_FLOW = """\
from metaflow import FlowSpec, project, step


@project(name="demo")
class ProjFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ProjFlow()
"""


class ParameterWords(unittest.TestCase):
    def test_values_become_text_in_order_and_none_is_left_out(self):
        self.assertEqual(
            parameter_words(
                {"alpha": 0.5, "flag": True, "config": {"a": [1]}, "skip": None, "n": 3}
            ),
            ["--alpha", "0.5", "--flag", "true", "--config", '{"a": [1]}', "--n", "3"],
        )

    def test_the_run_commands_variable_is_clicks(self):
        # What Metaflow's test suite sets for its parameter without a default.
        self.assertEqual(run_variable("no_default_param"), "METAFLOW_RUN_NO_DEFAULT_PARAM")


class Targets(unittest.TestCase):
    def test_flags(self):
        self.assertEqual(Target().flags(), [])
        self.assertEqual(Target(local=True).flags(bucket=True), ["--local"])
        self.assertEqual(Target(state_dir="/s").flags(), ["--state-dir", "/s"])
        aws = Target(api="https://x", bucket="b")
        self.assertEqual(aws.flags(), ["--api", "https://x"])
        self.assertEqual(aws.flags(api=False, bucket=True), ["--bucket", "b"])

    def test_a_command_option_overrides_its_group_and_survives_the_attribute_file(self):
        merged = Target(api="https://group").merged(Target(local=True, api="https://cmd"))
        self.assertEqual(
            merged.to_dict(),
            {"local": True, "state_dir": None, "api": "https://cmd", "bucket": None},
        )
        self.assertEqual(Target.from_dict(merged.to_dict()).to_dict(), merged.to_dict())
        self.assertEqual(Target.from_dict(None).to_dict(), Target().to_dict())


class CommandErrors(unittest.TestCase):
    def test_the_error_lines_lose_their_prefix(self):
        self.assertEqual(
            _error_text("warning: x\nerror: no such option: --beta\n"),
            "no such option: --beta",
        )
        self.assertEqual(_error_text("something else\n"), "something else")

    def test_a_missing_command_says_how_to_install_it(self):
        with self.assertRaises(DropflowCommandError) as caught:
            executable({"PATH": "/nonexistent"})
        self.assertIn("cargo install --locked --path cli", str(caught.exception))
        with self.assertRaises(DropflowCommandError) as caught:
            executable({"DROPFLOW_BIN": "/nonexistent/dropflow"})
        self.assertIn("DROPFLOW_BIN=/nonexistent/dropflow", str(caught.exception))

    def test_a_failure_without_json_raises_the_commands_message(self):
        with self.assertRaises(DropflowCommandError) as caught:
            DropflowCommand(cwd=tempfile.gettempdir()).run(["flows", "--json", "--local"])
        self.assertIn("no local stack found", str(caught.exception))


class StateMachineNames(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.flow = os.path.join(self.dir.name, "proj_flow.py")
        with open(self.flow, "w") as f:
            f.write(PROJECT_FLOW)
        self.command = DropflowCommand()

    def tearDown(self):
        self.dir.cleanup()

    def name(self, options, name=None):
        return state_machine_name(self.command, self.flow, name, options, [".py"])

    def test_project_branches_are_named_as_metaflow_names_them(self):
        self.assertEqual(self.name(["--branch", "dev"]), "demo.test.dev.ProjFlow")
        self.assertEqual(self.name(["--production"]), "demo.prod.ProjFlow")
        self.assertEqual(
            self.name(["--branch", "dev", "--production"]), "demo.prod.dev.ProjFlow"
        )
        self.assertEqual(self.name([]), "demo.user.dropflow-ci.ProjFlow")

    def test_name_is_refused_for_a_project_with_metaflows_text(self):
        with self.assertRaises(DropflowCommandError) as caught:
            self.name([], name="other")
        self.assertIn("--name is not supported for @projects", str(caught.exception))


INCLUDE_FLOW = """\
import os

from metaflow import FlowSpec, IncludeFile, step


def computed():
    return "computed.txt"


class IncludeFlow(FlowSpec):
    here = IncludeFile("here", default="./data/here.txt")
    absolute = IncludeFile("absolute", default=os.path.join(os.getcwd(), "abs.csv"))
    outside = IncludeFile("outside", default=%r)
    missing = IncludeFile("missing", default="missing.txt")
    by_function = IncludeFile("by_function", default=computed)
    no_default = IncludeFile("no_default")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


class IncludedFiles(unittest.TestCase):
    """`create` packs the files IncludeFile defaults name (Metaflow reads them when it
    deploys): those under the flow's directory that exist, whatever their suffix."""

    def test_only_existing_files_under_the_flows_directory(self):
        import importlib.util

        with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as other:
            outside = os.path.join(other, "outside.txt")
            for path in [outside, os.path.join(root, "data", "here.txt"), os.path.join(root, "abs.csv"), os.path.join(root, "computed.txt")]:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write("x")
            flow_file = os.path.join(root, "include_flow.py")
            with open(flow_file, "w") as f:
                f.write(INCLUDE_FLOW % outside)
            cwd = os.getcwd()
            os.chdir(root)
            try:
                spec = importlib.util.spec_from_file_location("include_flow", flow_file)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)

                class Obj:
                    flow = module.IncludeFlow

                files = _included_files(Obj, flow_file)
            finally:
                os.chdir(cwd)
            real = os.path.realpath(root)
            self.assertEqual(
                files,
                [os.path.join(real, "abs.csv"), os.path.join(real, "data", "here.txt")],
            )


if __name__ == "__main__":
    unittest.main()
