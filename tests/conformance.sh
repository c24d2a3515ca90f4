#!/usr/bin/env bash
# Metaflow's own core test suite on dropflow (not part of tests/run.sh: it runs for hours
# in full):
#
#   bash tests/conformance.sh METAFLOW_CHECKOUT [run_tests.py options]
#
# METAFLOW_CHECKOUT is a checkout of Netflix/metaflow (its test/core is not on PyPI and
# not in this repository). Its test/core is copied to target/conformance/core with
# dropflow's own context (tests/conformance/contexts.json: Metaflow's `scheduler`
# executor with `python test_flow.py dropflow create`, then `dropflow trigger
# --run-id-file`, the run followed through the metadata service, then Metaflow's
# CliCheck and MetadataCheck), a local stack is brought up in target/conformance/stack,
# and Metaflow's runner runs there with the Metaflow extension (cli/metaflow-dropflow) on
# PYTHONPATH. Options after the checkout go to run_tests.py, for example
# `--tests BasicArtifactTest,MergeArtifactsTest --graphs linear,branch --num-parallel 2`.
# The graph × test table, with the reason for every failure, is printed and written to
# target/conformance/results.md; the runner's whole log is target/conformance/run.log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

die() {
    printf 'error: %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 2
}

(($#)) || die "which Metaflow checkout?" \
    "usage: bash tests/conformance.sh METAFLOW_CHECKOUT [run_tests.py options]"
CHECKOUT="$(cd "$1" 2>/dev/null && pwd)" || die "$1: no such directory"
shift
[[ -f $CHECKOUT/test/core/run_tests.py ]] ||
    die "$CHECKOUT has no test/core/run_tests.py: it is not a checkout of Netflix/metaflow" \
        "(git clone https://github.com/Netflix/metaflow; its test/core is the suite)"
grep -q '"scheduler"' "$CHECKOUT/test/core/run_tests.py" ||
    die "$CHECKOUT/test/core/run_tests.py has no scheduler executor (Metaflow added it in 2026)" \
        "check out a newer Netflix/metaflow"

bash tests/run.sh --setup-only >/dev/null
cargo build -q -p dropflow-cli --bin dropflow
DROPFLOW="$REPO/target/debug/dropflow"

WORK="$REPO/target/conformance"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -r "$CHECKOUT/test/core" "$WORK/core"
cp tests/conformance/contexts.json "$WORK/core/contexts.json"
COMMIT="$(git -C "$CHECKOUT" rev-parse --short HEAD 2>/dev/null || echo unknown)"

STACK="$WORK/stack"
"$DROPFLOW" local up --state-dir "$STACK" --port 0 --python "$REPO/.venv/bin/python"
trap '"$DROPFLOW" local down --state-dir "$STACK" >/dev/null 2>&1 || true' EXIT

# The stack's endpoints for Metaflow (tasks get theirs from the stack; these are for the
# runner's `dropflow` commands, its polling Client and its checks).
eval "$("$REPO/.venv/bin/python" - "$STACK/local.json" <<'PY'
import json, shlex, sys
stack = json.load(open(sys.argv[1]))
env = {
    # Also for the runner's own Client, which follows each run (its metadata provider is
    # chosen when it imports Metaflow, before a case's environment is applied).
    "METAFLOW_DEFAULT_METADATA": "service",
    "METAFLOW_DEFAULT_DATASTORE": "s3",
    "METAFLOW_SERVICE_URL": stack["metadata_url"],
    "METAFLOW_SERVICE_AUTH_KEY": stack["metadata_auth_key"],
    "METAFLOW_DATASTORE_SYSROOT_S3": "s3://%s/metaflow" % stack["bucket"],
    "METAFLOW_S3_ENDPOINT_URL": stack["s3_endpoint"],
    "AWS_ENDPOINT_URL": stack["s3_endpoint"],
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": stack["region"],
}
for name, value in env.items():
    print("export %s=%s" % (name, shlex.quote(value)))
PY
)"
export DROPFLOW_STATE_DIR="$STACK" DROPFLOW_BIN="$DROPFLOW"
# Metaflow's runner copies USER into every case's environment (and fails without it);
# its own Client, which follows each run, reads the user name when it imports Metaflow
# (METAFLOW_USER; USER=root does not count), before a case's environment is applied.
export USER="${USER:-$(id -un)}" METAFLOW_USER=tester
export PYTHONPATH="$REPO/cli/metaflow-dropflow${PYTHONPATH:+:$PYTHONPATH}"
# tests/conformance/bin: the production-namespace MetadataCheck (production_check.py).
export PATH="$REPO/tests/conformance/bin:$REPO/.venv/bin:$PATH"

printf '==> Metaflow test/core (%s) on the local stack: run_tests.py %s\n' "$COMMIT" "$*"
start=$SECONDS
(cd "$WORK/core" && python run_tests.py --contexts python3-dropflow --inherit-env "$@") \
    >"$WORK/run.log" 2>&1 || true
printf '==> %ss; Metaflow %s, commit %s\n\n' "$((SECONDS - start))" \
    "$(python -c 'import metaflow; print(metaflow.__version__)' 2>/dev/null)" "$COMMIT"
python tests/conformance/report.py "$WORK/run.log" "$WORK/results.md"
