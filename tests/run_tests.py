"""Runs every test binary of the workspace, a few at a time, the slowest first.

`tests/run.sh` calls it after `cargo test --workspace --no-run`; it reads the list of test
binaries from cargo's JSON messages on stdin:

    cargo test --workspace --no-run --message-format=json | python tests/run_tests.py

`cargo test` runs its binaries one after another, and many of ours spend most of their time
waiting (on the emulator, on Metaflow tasks, on a server to start): side by side they keep
both cores busy. Each binary runs in its package's directory, as `cargo test` runs it, with
libtest's own arguments (`--jobs N` binaries at once, default 3; anything after `--` goes to
every binary, for example a test-name filter). A binary's output is printed whole when it
ends, then a summary with each binary's wall time. A binary that runs past `--timeout`
seconds (default 1200, or `DROPFLOW_TEST_TIMEOUT`) is killed with every process it started
and fails. The exit status is non-zero when any binary failed, and every failure is listed.

Wall times are kept in `target/dropflow-test-times.json`: the next run starts the slowest
binaries first (on a clean clone, `SLOW_FIRST` stands in).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMES = REPO / "target" / "dropflow-test-times.json"

# The slowest binaries (by their last clean-clone run), started first when no timings
# are recorded yet: the end-to-end table far ahead of the rest.
SLOW_FIRST = (
    "e2e_flows",
    "step_lambda",
    "local_stack",
    "metaflow_extension",
    "exit_hooks",
    "metadata_service",
    "client",
    "iam_enforcement",
    "compile_lambda",
    "deploy_concurrency",
    "alerts",
)

# Binaries whose passing tests' output is worth printing: the end-to-end table's wall
# times per flow.
SHOW_OUTPUT = ("e2e_flows",)


@dataclass
class Binary:
    """One test executable and where cargo would run it."""

    name: str
    executable: str
    directory: Path

    @property
    def key(self) -> str:
        """Stable across rebuilds (the executable's hash suffix is not)."""
        return f"{self.directory.relative_to(REPO)}:{self.name}"


@dataclass
class Outcome:
    binary: Binary
    returncode: int
    seconds: float
    output: str


def binaries_from_cargo(lines) -> list[Binary]:
    """The test executables in cargo's `--message-format=json` messages."""
    found: dict[str, Binary] = {}
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message.get("profile", {}).get("test"):
            continue
        target = message["target"]
        directory = Path(message["manifest_path"]).parent
        binary = Binary(target["name"], message["executable"], directory)
        found[binary.executable] = binary
    return list(found.values())


def slowest_first(binaries: list[Binary]) -> list[Binary]:
    """Recorded wall times, longest first; without them, `SLOW_FIRST` then the rest."""
    try:
        recorded = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        recorded = {}
    if all(binary.key in recorded for binary in binaries):
        return sorted(binaries, key=lambda binary: -recorded[binary.key])

    def rank(binary: Binary) -> int:
        return SLOW_FIRST.index(binary.name) if binary.name in SLOW_FIRST else len(SLOW_FIRST)

    return sorted(binaries, key=rank)


def kill_session(session: int) -> None:
    """Kills every process of `session`: the binary, started as its leader, and all it
    started, also those in process groups of their own (`dropflow local up`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == session:
                os.kill(int(entry.name), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def run(binary: Binary, extra: list[str], timeout: float, print_lock: threading.Lock) -> Outcome:
    """Runs one binary in a session of its own; past `timeout` seconds the whole session
    (the test and what it started: emulators, tasks) is killed and the binary fails."""
    started = time.monotonic()
    command = [
        binary.executable,
        *(["--show-output"] if binary.name in SHOW_OUTPUT else []),
        *extra,
    ]
    try:
        process = subprocess.Popen(
            command,
            cwd=binary.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        process = None
        returncode, output = 127, f"could not start {binary.executable}: {error}\n"
    if process is not None:
        try:
            stdout, _ = process.communicate(timeout=timeout)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            kill_session(process.pid)
            stdout, _ = process.communicate()
            returncode = 124
            stdout += (
                f"\n{binary.key} ran past {timeout:.0f} s (DROPFLOW_TEST_TIMEOUT): killed with "
                "everything it started\n"
            ).encode()
        output = stdout.decode("utf-8", "replace")
    outcome = Outcome(binary, returncode, time.monotonic() - started, output)
    with print_lock:
        status = "ok" if returncode == 0 else f"FAILED (exit {returncode})"
        print(f"\n--- {binary.key} ({binary.executable}): {status} in {outcome.seconds:.1f} s")
        sys.stdout.write(output)
        sys.stdout.flush()
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3, help="test binaries at once")
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("DROPFLOW_TEST_TIMEOUT", "1200")),
        help="seconds one binary may run before it is killed (default 1200, or "
        "$DROPFLOW_TEST_TIMEOUT)",
    )
    parser.add_argument("extra", nargs="*", help="arguments for every binary (after --)")
    arguments = parser.parse_args()
    if arguments.jobs < 1:
        parser.error("--jobs must be at least 1")

    binaries = binaries_from_cargo(sys.stdin)
    if not binaries:
        print("error: no test binaries in cargo's output (did the build fail?)", file=sys.stderr)
        return 1
    ordered = slowest_first(binaries)
    print(f"{len(ordered)} test binaries, {arguments.jobs} at a time")

    lock = threading.Lock()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=arguments.jobs) as pool:
        outcomes = list(
            pool.map(lambda b: run(b, arguments.extra, arguments.timeout, lock), ordered)
        )
    wall = time.monotonic() - started

    print(f"\n==> test binaries: {wall:.0f} s wall for {len(outcomes)}; the longest:")
    for outcome in sorted(outcomes, key=lambda o: -o.seconds)[:12]:
        print(f"    {outcome.seconds:7.1f} s  {outcome.binary.key}")
    failed = [outcome for outcome in outcomes if outcome.returncode != 0]
    if not failed:
        try:
            TIMES.write_text(
                json.dumps({o.binary.key: round(o.seconds, 1) for o in outcomes}, indent=1)
            )
        except OSError:
            pass
        return 0
    print(f"\n==> {len(failed)} test binaries FAILED:")
    for outcome in failed:
        print(f"    {outcome.binary.key} (exit {outcome.returncode}): {outcome.binary.executable}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
