#!/usr/bin/env python3
"""Checks dropflow's lint corpus against real Metaflow.

Usage: lint_conformance.py PYTHON CORPUS_DIR [--verify-crashes] [--jobs N]

PYTHON is a Python interpreter with Metaflow installed; CORPUS_DIR holds flow files
(tests/flows/lint/*.py) that each start with

    # expect: <message, newlines written as \\n>
    # line: <N or none>
    # metaflow: crashes            (optional)

For every file without `# metaflow: crashes`, this runs `PYTHON FILE --no-pylint check`
and compares the message Metaflow prints (its CLI removes the `*` highlight markers)
and the line it reports with the header. Metaflow reports "no line" as line 0 or
leaves the line out; both mean `none`. Files marked as crashing are skipped, or, with
--verify-crashes, checked to still crash with an internal error (so that a Metaflow
fix is noticed). Exits 1 on any mismatch. Standard library only.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = re.compile(
    r"^\s*Validity checker found an issue"
    r"(?: in file (?P<file>.*?))?(?: on line (?P<line>\d+))?:\s*$"
)
INDENT = "    "
ERASE_TO_EOL = "\x1b[K"


def read_expectation(path):
    """The `# expect:`, `# line:` and `# metaflow: crashes` header of a corpus file."""
    message = line = None
    crashes = False
    for text in path.read_text(encoding="utf-8").splitlines():
        if not text.startswith("#"):
            break
        key, _, value = text[1:].strip().partition(":")
        value = value.strip()
        if key == "expect":
            message = unescape(value)
        elif key == "line":
            line = None if value == "none" else int(value)
        elif key == "metaflow" and value == "crashes":
            crashes = True
    if message is None:
        raise ValueError("%s: no '# expect:' header" % path)
    return message, line, crashes


def unescape(text):
    """`\\n` is a newline and `\\\\` a backslash; nothing else is escaped."""
    out, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append("\n" if following == "n" else following)
        else:
            out.append(char)
    return "".join(out)


def run_metaflow(python, path):
    """Runs `check` on a flow in a scratch directory (Metaflow writes .metaflow there)."""
    env = dict(os.environ, USERNAME="ci", METAFLOW_DEFAULT_METADATA="local")
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [python, str(path.resolve()), "--no-pylint", "check"],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    return result.returncode, result.stdout + result.stderr


def parse_report(output):
    """(message, line) of Metaflow's lint report, or None if it printed none."""
    lines = [l.replace(ERASE_TO_EOL, "").rstrip() for l in output.splitlines()]
    for index, text in enumerate(lines):
        match = HEADER.match(text)
        if not match:
            continue
        body = [l[len(INDENT):] if l.startswith(INDENT) else l for l in lines[index + 1 :]]
        while body and not body[-1].strip():
            body.pop()
        line = int(match.group("line")) if match.group("line") else None
        return "\n".join(body), (line or None)
    return None


def check_file(python, path, verify_crashes):
    """A list of problems with one corpus file (empty when it conforms)."""
    message, line, crashes = read_expectation(path)
    if crashes and not verify_crashes:
        return "skip", []
    code, output = run_metaflow(python, path)
    if crashes:
        if "Internal error" in output and code != 0:
            return "crash", []
        return "fail", ["marked '# metaflow: crashes' but Metaflow did not crash:\n" + output]
    report = parse_report(output)
    if report is None:
        return "fail", ["Metaflow printed no lint report (exit %d):\n%s" % (code, output)]
    problems = []
    if report[0] != message:
        problems.append("message differs\n  expected: %r\n  metaflow: %r" % (message, report[0]))
    if report[1] != line:
        problems.append("line differs: expected %s, metaflow %s" % (line, report[1]))
    return ("fail" if problems else "ok"), problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("python", help="Python interpreter with metaflow installed")
    parser.add_argument("corpus", type=Path, help="directory of corpus flow files")
    parser.add_argument("--verify-crashes", action="store_true",
                        help="check that files marked as crashing still crash Metaflow")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    files = sorted(args.corpus.glob("*.py"))
    if not files:
        print("no corpus files in %s" % args.corpus, file=sys.stderr)
        return 1
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = pool.map(lambda f: check_file(args.python, f, args.verify_crashes), files)
        for path, (status, problems) in zip(files, results):
            print("%-5s %s" % (status, path.name))
            for problem in problems:
                print("      " + problem.replace("\n", "\n      "))
            failures += status == "fail"
    print("%d of %d corpus files do not match Metaflow" % (failures, len(files)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
