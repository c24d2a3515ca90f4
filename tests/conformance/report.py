"""Metaflow's `test/core/run_tests.py` log → a table of graph × test results, with the
reason for every failure. Used by `tests/conformance.sh`:

    python report.py LOG [LOG...] [OUT.md]

Several logs (runs of parts of the suite) make one table: a case a later log finished
replaces what an earlier one said of it.

The runner logs `[pid N] ### test 'T' graph 'G' in context 'C': MESSAGE ###` lines, and
after a failure the failed commands' output (`STDOUT follows:` / `STDERR follows:`). A
case's outcome is its last `success`/`failed` line; its reason, the message logged before
it and the last meaningful line of the commands' stderr."""

from __future__ import annotations

import re
import sys
from collections import defaultdict

LINE = re.compile(r"### test '([^']+)' graph '([^']+)'(?: in context '[^']+')?: (.*?) ###")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse(text: str) -> dict[tuple[str, str], dict]:
    cases: dict[tuple[str, str], dict] = defaultdict(lambda: {"messages": [], "stderr": []})
    current = None
    in_stderr = False
    for raw in text.splitlines():
        line = ANSI.sub("", raw)
        match = LINE.search(line)
        if match:
            test, graph, message = match.groups()
            current = cases[(test, graph)]
            current["messages"].append(message)
            in_stderr = False
            continue
        if line.startswith("[pid ") and "###" in line:
            current, in_stderr = None, False
            continue
        if line == "STDERR follows:":
            in_stderr = True
            continue
        if line == "STDOUT follows:":
            in_stderr = False
            continue
        if current is not None and in_stderr and line.strip():
            current["stderr"].append(line.strip())
    return cases


# MetadataCheck reads the run in the default namespace, `user:<METAFLOW_USER>`; runs of a
# deployed flow carry their production token's namespace instead, on Metaflow's Step
# Functions (its runs' user is `SFN`) as on dropflow, so this one check cannot pass for
# any scheduler that sets a production token. It fails before checking anything else, so
# the context also runs it in the run's production namespace (production_check.py): the
# case passes when that one passes.
NAMESPACE_ONLY = "passed but MetadataCheck's namespace (as on Metaflow's Step Functions)"
PRODUCTION = "passed (MetadataCheck in the production namespace)"
VERDICT = re.compile(r"^checker '([^']+)' says that results (are ok|failed)$")


def verdicts(case: dict) -> dict[str, bool]:
    """Each check's verdict: check name → passed."""
    found = (VERDICT.match(m) for m in case["messages"])
    return {m.group(1): m.group(2) == "are ok" for m in found if m}


def namespace_only(case: dict, checks: dict[str, bool]) -> bool:
    """Every one of Metaflow's checks passed except MetadataCheck, which failed on the
    namespace alone (its first Traceback is the only one before the next check)."""
    return (
        checks.get("python3-metadata") is False
        and all(ok for name, ok in checks.items() if name != "python3-metadata")
        and any("MetaflowNamespaceMismatch" in line for line in case["stderr"])
        and sum("Traceback" in line for line in case["stderr"]) == 1
    )


# Metaflow's Step Functions sets METAFLOW_PRODUCTION_TOKEN in every task's environment, so a
# deployed run's tasks see `current.namespace == "production:<token>"` (dropflow's too); a
# check that expects the user's namespace there (CurrentSingletonTest) fails on any such
# scheduler, after every other check passed.
TASK_NAMESPACE = "fails as on Metaflow's Step Functions (tasks run in the production namespace)"
PRODUCTION_EXPECTED = re.compile(r"Expected result: \{'production:[^']+'\}, got \{'user:[^']+'\}")


def production_namespace_expected(case: dict, checks: dict[str, bool]) -> bool:
    """Metaflow's own checks passed but for the namespace, and the production-namespace
    check failed only on a task's `current.namespace` being the production token."""
    return (
        checks.get("python3-cli") is True
        and checks.get("python3-metadata-production") is False
        and any(PRODUCTION_EXPECTED.search(line) for line in case["stderr"])
    )


# Metaflow's `tag add`/`tag remove` commands look the run up in the default namespace too
# ("No run found for F in namespace user:tester"), so CliCheck's tag mutations fail on a
# deployed run, on Metaflow's Step Functions as here.
TAG_COMMANDS = "passed (MetadataCheck in the production namespace; CliCheck's `tag` commands read the default namespace)"
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Mismatch|Failed)\b")


def tag_command_failed(line: str) -> bool:
    """A Metaflow `tag` command run by CliCheck exited non-zero."""
    return "CalledProcessError" in line and "'tag', '" in line


def tag_commands_namespace_only(case: dict, checks: dict[str, bool]) -> bool:
    """The production-namespace check passed; Metaflow's two checks failed only on the
    default namespace: MetadataCheck's lookup and CliCheck's `tag` commands."""
    raised = [line for line in case["stderr"] if EXCEPTION.match(line)]
    return (
        checks.get("python3-metadata-production") is True
        and checks.get("python3-cli") is False
        and any(tag_command_failed(line) for line in raised)
        and all(
            "MetaflowNamespaceMismatch" in line or tag_command_failed(line) for line in raised
        )
    )


def outcome(case: dict) -> tuple[str, str]:
    """(`passed` | `PRODUCTION` | `NAMESPACE_ONLY` | `failed` | `skipped` | `not valid`, reason)."""
    messages = case["messages"]
    last = messages[-1] if messages else ""
    skipping = next((m for m in messages if m.startswith("skipping")), None)
    if skipping:
        # The runner logs `success` after skipping a resume test.
        return "skipped", skipping
    if last.startswith("success"):
        return "passed", ""
    checks = verdicts(case)
    if last.startswith("failed") and namespace_only(case, checks):
        production = checks.get("python3-metadata-production")
        return (PRODUCTION if production else NAMESPACE_ONLY), ""
    if last.startswith("failed") and tag_commands_namespace_only(case, checks):
        return TAG_COMMANDS, ""
    if last.startswith("failed") and production_namespace_expected(case, checks):
        return TASK_NAMESPACE, ""
    if last.startswith("failed") and any(m.startswith("The flow should have failed") for m in messages):
        # Metaflow's runner expects a failing flow's trigger to fail; a scheduler's trigger
        # only starts the run (as `step-functions trigger` does), whatever the run does.
        return "not checkable by the scheduler executor", "the run is expected to fail"
    if last.startswith("skipping"):
        return "skipped", last
    if last.startswith("not a valid"):
        return "not valid", ""
    if last.startswith("failed"):
        before = [m for m in messages[:-1] if not m.startswith("running")]
        detail = next(
            (
                line
                for line in reversed(case["stderr"])
                if not line.startswith(("Traceback", "File ", "^", "~"))
            ),
            "",
        )
        reason = "; ".join(filter(None, [before[-1] if before else "", detail[:240]]))
        return "failed", reason
    return "unfinished", "the log ends while the case runs"


# The tests Metaflow's own `python3-sfn` context disables (test/core/contexts.json, commit
# d2dd7f953): what Metaflow's Step Functions is not expected to pass.
SFN_DISABLED = {
    "LargeArtifactTest",
    "WideForeachTest",
    "TagCatchTest",
    "BasicUnboundedForeachTest",
    "NestedUnboundedForeachTest",
    "DetectSegFaultTest",
    "TimeoutDecoratorTest",
    "CardExtensionsImportTest",
    "RunIdFileTest",
}


def table(cases: dict[tuple[str, str], dict]) -> str:
    rows = []
    counts: dict[str, int] = defaultdict(int)
    for (test, graph), case in sorted(cases.items()):
        status, reason = outcome(case)
        counts[status] += 1
        if status == "not valid":
            continue
        if test in SFN_DISABLED:
            reason = "; ".join(filter(None, ["disabled in Metaflow's python3-sfn", reason]))
        rows.append(f"| {test} | {graph} | {status} | {reason.replace('|', '/')} |")
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return "\n".join(
        [f"{summary}", "", "| test | graph | result | reason |", "|---|---|---|---|", *rows]
    )


def main() -> int:
    args = sys.argv[1:]
    out = args.pop() if args and args[-1].endswith(".md") else None
    if not args:
        print("usage: python report.py LOG [LOG...] [OUT.md]", file=sys.stderr)
        return 2
    cases: dict[tuple[str, str], dict] = {}
    for log in args:
        with open(log, encoding="utf-8", errors="replace") as f:
            for key, case in parse(f.read()).items():
                if key not in cases or outcome(case)[0] != "unfinished":
                    cases[key] = case
    result = table(cases)
    print(result)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(result + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
