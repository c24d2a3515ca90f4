#!/usr/bin/env bash
# dropflow's demo, from a fresh clone: install the pinned tools, bring the local stack up,
# deploy the seed's ParameterFlow by uploading it to the local bucket, start it over the
# local HTTP API with {"alpha": 0.5}, follow it, and read the run back with Metaflow's
# Client. Stops the stack at the end (pass --keep to leave it running).
#
#   bash infra/local/demo.sh [--keep] [--port N]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
KEEP=0
PORT=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --keep) KEEP=1 ;;
        --port) PORT="$2"; shift ;;
        -h | --help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (usage: bash infra/local/demo.sh [--keep] [--port N])" >&2; exit 2 ;;
    esac
    shift
done

echo "==> installing the pinned tools (.venv: moto 5.2.5, Metaflow 2.19.39)"
bash tests/run.sh --setup-only >/tmp/dropflow-demo-setup.log 2>&1 || {
    tail -20 /tmp/dropflow-demo-setup.log >&2
    exit 1
}

echo "==> building the dropflow command"
cargo build --quiet -p dropflow-cli
DROPFLOW="$REPO/target/debug/dropflow"
STATE="$REPO/.dropflow"

echo "==> starting the local stack"
"$DROPFLOW" local up --port "$PORT" --state-dir "$STATE"
if [[ $KEEP -eq 0 ]]; then
    trap '"$DROPFLOW" local down --state-dir "$STATE" >/dev/null 2>&1 || true' EXIT
fi

USERNAME="${USERNAME:-${USER:-demo}}" "$REPO/.venv/bin/python" "$REPO/infra/local/demo.py" \
    "$STATE/local.json" "$REPO/examples/parameter_flow.py"

if [[ $KEEP -eq 1 ]]; then
    echo "The stack is still up (endpoints in $STATE/local.json); stop it with: $DROPFLOW local down"
fi
