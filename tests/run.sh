#!/usr/bin/env bash
# dropflow's one test command, for developers and CI alike (`.ci/run` execs it):
#
#   bash tests/run.sh               install the pinned tools if needed, then run fmt, clippy,
#                                   every test binary (the end-to-end table on the local stack
#                                   included, a few binaries at a time), the doc tests, the lint
#                                   conformance check and the moto patch checks
#   bash tests/run.sh --setup-only  only install the pinned tools (.venv/, tests/node_modules/)
#
# Installs are idempotent: the Python venv is rebuilt only when tests/requirements.txt (or
# the interpreter) changes, and `npm ci` runs only when tests/package-lock.json (or node)
# changes. Stamps record what was installed; delete .venv/ or tests/node_modules/ to force.
set -euo pipefail

START_SECONDS=$SECONDS
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

section() { printf '\n==> %s\n' "$*"; }
die() {
    printf '\nerror: %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}
elapsed() { printf '\n==> total elapsed: %ss\n' "$((SECONDS - START_SECONDS))"; }
trap elapsed EXIT

SETUP_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --setup-only) SETUP_ONLY=1 ;;
        -h | --help)
            sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            trap - EXIT
            exit 0
            ;;
        *) die "unknown argument: $arg" "usage: bash tests/run.sh [--setup-only]" ;;
    esac
done

# sha256 of the given files plus any extra words, as one hex string.
fingerprint() {
    local extra="$1"
    shift
    { cat "$@"; printf '%s' "$extra"; } | sha256sum | cut -d' ' -f1
}

# ---------------------------------------------------------------------------------------
section "prerequisites"

BOOTSTRAP_PYTHON="${DROPFLOW_BOOTSTRAP_PYTHON:-python3}"

command -v cargo >/dev/null 2>&1 ||
    die "cargo not found." "Install Rust 1.95 with rustup: rustup toolchain install 1.95 --component rustfmt,clippy"
cargo fmt --version >/dev/null 2>&1 ||
    die "cargo fmt (rustfmt) not found." "Install it: rustup component add rustfmt"
cargo clippy --version >/dev/null 2>&1 ||
    die "cargo clippy not found." "Install it: rustup component add clippy"

command -v "$BOOTSTRAP_PYTHON" >/dev/null 2>&1 ||
    die "$BOOTSTRAP_PYTHON not found (Python 3.11 to 3.14 is needed)." \
        "Debian/Ubuntu: apt-get install python3 python3-venv" \
        "or point DROPFLOW_BOOTSTRAP_PYTHON at a python3.11+ interpreter."
# Python >= 3.11: networkx 3.6.1 (from cfn-lint) needs it; moto, statelint and cfn-lint need
# >= 3.10; cfn-lint 1.58.0 needs < 3.15; metaflow 2.19.39 declares no bound.
PY_VERSION="$("$BOOTSTRAP_PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null)" ||
    die "$BOOTSTRAP_PYTHON ($(command -v "$BOOTSTRAP_PYTHON")) does not run." \
        "Install Python 3.11 to 3.14 (Debian/Ubuntu: apt-get install python3 python3-venv)" \
        "or point DROPFLOW_BOOTSTRAP_PYTHON at a python3.11+ interpreter."
"$BOOTSTRAP_PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 15) else 1)' ||
    die "$BOOTSTRAP_PYTHON is Python $PY_VERSION; 3.11 to 3.14 is needed." \
        "Install a python3.11+ and point DROPFLOW_BOOTSTRAP_PYTHON at it."
"$BOOTSTRAP_PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
    die "$BOOTSTRAP_PYTHON cannot create virtual environments (venv/ensurepip missing)." \
        "Debian/Ubuntu: apt-get install python3-venv"

{ command -v node && command -v npm; } >/dev/null 2>&1 ||
    die "node and npm not found (Node.js >= 20.16 is needed for asl-validator)." \
        "Install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm, if its nodejs is >= 20)."
NODE_VERSION="$(node --version)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 16) ? 0 : 1)' ||
    die "node $NODE_VERSION is too old: asl-validator 4.0.0 (via jsep) needs Node.js >= 20.16." \
        "Install Node.js 20.16 or newer."

printf '%s\n' "$(cargo --version)" "$("$BOOTSTRAP_PYTHON" --version) ($(command -v "$BOOTSTRAP_PYTHON"))" \
    "node $NODE_VERSION, npm $(npm --version 2>/dev/null)"

# Engineers share this work tree: serialize installs so two runs never rebuild the venv or
# node_modules under each other. flock is in util-linux; without it, go on unlocked.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$REPO/tests/.setup.lock"
    flock 9
fi

# ---------------------------------------------------------------------------------------
section "python tools (.venv from tests/requirements.txt)"

VENV="$REPO/.venv"
VENV_STAMP="$VENV/.dropflow-requirements.sha256"
PY_ID="$("$BOOTSTRAP_PYTHON" -c 'import sys; print(sys.version, sys.executable)')"
WANT_VENV="$(fingerprint "$PY_ID" tests/requirements.txt)"

if [[ -x "$VENV/bin/python" && -x "$VENV/bin/statelint" && -f "$VENV_STAMP" &&
    "$(cat "$VENV_STAMP")" == "$WANT_VENV" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
    echo "up to date ($VENV)"
else
    # Rebuild from scratch so packages dropped from requirements.txt do not linger.
    echo "installing into $VENV"
    rm -rf "$VENV"
    "$BOOTSTRAP_PYTHON" -m venv "$VENV"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install \
        --no-input --progress-bar off --quiet -r tests/requirements.txt
    echo "$WANT_VENV" >"$VENV_STAMP"
    "$VENV/bin/python" -m pip list --format=freeze 2>/dev/null |
        grep -iE '^(statelint|metaflow|moto|boto3|botocore|cfn-lint)==' | tr '\n' ' '
    echo
fi

# ---------------------------------------------------------------------------------------
section "node tools (npm ci in tests/)"

NODE_STAMP="$REPO/tests/node_modules/.dropflow-lock.sha256"
WANT_NODE="$(fingerprint "$NODE_VERSION" tests/package.json tests/package-lock.json)"

if [[ -x tests/node_modules/.bin/asl-validator && -f "$NODE_STAMP" &&
    "$(cat "$NODE_STAMP")" == "$WANT_NODE" ]]; then
    echo "up to date ($REPO/tests/node_modules)"
else
    (cd tests && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    echo "$WANT_NODE" >"$NODE_STAMP"
    echo "asl-validator $(tests/node_modules/.bin/asl-validator --version)"
fi

if command -v flock >/dev/null 2>&1; then
    flock -u 9
fi

export DROPFLOW_PYTHON="$VENV/bin/python"
export DROPFLOW_STATELINT="$VENV/bin/statelint"
export DROPFLOW_ASL_VALIDATOR="$REPO/tests/node_modules/.bin/asl-validator"
export DROPFLOW_CFN_LINT="$VENV/bin/cfn-lint"
export USERNAME="${USERNAME:-dropflow-ci}"
# A CI build starts from nothing and is thrown away: incremental compilation's caches only
# cost time there.
if [[ -n ${CI:-} ]]; then
    export CARGO_INCREMENTAL=0
fi

if [[ $SETUP_ONLY == 1 ]]; then
    section "setup done"
    printf 'DROPFLOW_PYTHON=%s\nDROPFLOW_STATELINT=%s\nDROPFLOW_ASL_VALIDATOR=%s\n' \
        "$DROPFLOW_PYTHON" "$DROPFLOW_STATELINT" "$DROPFLOW_ASL_VALIDATOR"
    exit 0
fi

# ---------------------------------------------------------------------------------------
# The checks. Each one runs even when an earlier one failed, so a single run reports every
# problem; the summary at the end lists them and the exit code is non-zero if any failed.
FAILED=()
check() {
    local name="$1"
    shift
    section "$name"
    if "$@"; then
        echo "--> ok: $name"
    else
        echo "--> FAILED (exit $?): $name"
        FAILED+=("$name")
    fi
}

check "cargo fmt --all --check" cargo fmt --all --check
check "cargo clippy --workspace --all-targets -- -D warnings" \
    cargo clippy --workspace --all-targets -- -D warnings
check "cargo test --workspace --no-run" cargo test --workspace --no-run
# Every test binary (unit, integration, the end-to-end table on the local stack), a few at
# a time, the slowest first: `cargo test` would run them one after another, and most of
# them spend their time waiting on the emulator and on Metaflow tasks. tests/run_tests.py
# says how; DROPFLOW_TEST_JOBS sets how many run at once.
run_test_binaries() {
    cargo test --workspace --no-run --message-format=json 2>/dev/null |
        "$DROPFLOW_PYTHON" tests/run_tests.py --jobs "${DROPFLOW_TEST_JOBS:-3}"
}
check "test binaries (tests/run_tests.py)" run_test_binaries
check "doc tests (cargo test --workspace --doc)" cargo test --workspace --doc

if [[ -f tests/lint_conformance.py ]]; then
    check "lint conformance (tests/lint_conformance.py)" \
        "$DROPFLOW_PYTHON" tests/lint_conformance.py "$DROPFLOW_PYTHON" tests/flows/lint
else
    section "lint conformance: tests/lint_conformance.py not present, skipped"
fi

check "local stack moto patches (tests/moto_patches.py)" \
    "$DROPFLOW_PYTHON" tests/moto_patches.py

# ---------------------------------------------------------------------------------------
if ((${#FAILED[@]})); then
    section "FAILED: ${#FAILED[@]} check(s)"
    printf '    %s\n' "${FAILED[@]}"
    exit 1
fi
section "all checks passed"
