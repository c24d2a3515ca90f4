"""Metaflow's MetadataCheck, read in the deployed run's production namespace.

Metaflow's runner starts a check as `PYTHON check_flow.py CLASS RUN_ID OPTIONS...` in the
case's directory, PYTHON being the check's `python` in contexts.json. dropflow's context has
a second metadata check whose PYTHON is this script (through tests/conformance/bin), so it
runs the very same `check_flow.py` and `MetadataCheck`, with one change: MetadataCheck's
first step reads the run in the default namespace, `user:<METAFLOW_USER>`, where a deployed
flow's run is not (it is in `production:<token>`, on Metaflow's Step Functions as here), and
fails there before any artifact, log or task is checked. Here the namespace steps are the
same ones asked of the production namespace:

1. the run carries exactly one `production:` system tag;
2. the run is listed in that namespace;
3. in another namespace (`user:nobody`) fetching it raises `MetaflowNamespaceMismatch`;
4. in the global namespace it is found.

Everything after that, every assertion of the test's `check_results`, is Metaflow's own.
"""

import os
import sys


def _production_namespace_steps(self):
    from metaflow.client import Flow, get_namespace, namespace
    from metaflow.exception import MetaflowNamespaceMismatch

    from metaflow_test import assert_equals, assert_exception

    tokens = [t for t in self.run.system_tags if t.startswith("production:")]
    assert_equals(1, len(tokens))
    namespace(tokens[0])
    assert_equals(True, self.run_id in [run.id for run in Flow(self.flow.name)])
    namespace("user:nobody")
    assert_equals("user:nobody", get_namespace())
    assert_exception(lambda: Flow(self.flow.name)[self.run_id], MetaflowNamespaceMismatch)
    namespace(None)
    assert_equals(None, get_namespace())
    Flow(self.flow.name)[self.run_id]
    # The test's own checks read other objects of this run (`Run(...)` by pathspec):
    # leave the production namespace in place for them.
    namespace(tokens[0])


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[2] != "MetadataCheck":
        sys.exit("usage: production_check.py check_flow.py MetadataCheck RUN_ID [OPTIONS]")
    # The case's directory (check_flow.py, test_flow.py and metaflow_test are there).
    sys.path.insert(0, os.getcwd())
    from metaflow.client import namespace

    import metaflow_test.metadata_check as metadata_check

    metadata_check.MetadataCheck._test_namespace = _production_namespace_steps
    # MetadataCheck's constructor fetches the run before its namespace steps.
    namespace(None)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    # Run it as `python check_flow.py` would: in the `__main__` module itself (not a copy,
    # as runpy makes), so what its checks unpickle by `__main__.<name>` is found.
    import __main__

    __main__.__file__ = script
    with open(script, encoding="utf-8") as f:
        code = compile(f.read(), script, "exec")
    exec(code, __main__.__dict__)


if __name__ == "__main__":
    main()
