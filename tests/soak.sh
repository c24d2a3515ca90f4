#!/usr/bin/env bash
# dropflow's long soaks, run before a release (not part of tests/run.sh, which must finish
# in 20 minutes on 2 cores):
#
#   bash tests/soak.sh [WIDTH ...]   a WIDTH-wide foreach of real Metaflow tasks on its own
#                                    local stack, for each WIDTH given (default: 2000)
#
# Installs the pinned tools like tests/run.sh, then runs the ignored `wide_foreach` test
# once per width and prints its figures (wall time, seconds per task, tasks per minute).
# About 2.5-3.3 s of wall time per task on 2 cores: 2,000 wide took 110 minutes (2026-12-07).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

WIDTHS=("$@")
((${#WIDTHS[@]})) || WIDTHS=(2000)
for width in "${WIDTHS[@]}"; do
    [[ $width =~ ^[1-9][0-9]*$ ]] || {
        echo "error: WIDTH must be a positive whole number, got '$width'" >&2
        echo "usage: bash tests/soak.sh [WIDTH ...]" >&2
        exit 2
    }
done

bash tests/run.sh --setup-only >/dev/null
export DROPFLOW_PYTHON="$REPO/.venv/bin/python"
export DROPFLOW_STATELINT="$REPO/.venv/bin/statelint"
export DROPFLOW_ASL_VALIDATOR="$REPO/tests/node_modules/.bin/asl-validator"
export USERNAME="${USERNAME:-dropflow-ci}"

for width in "${WIDTHS[@]}"; do
    printf '\n==> soak: %s-wide foreach on the local stack\n' "$width"
    start=$SECONDS
    DROPFLOW_SOAK_WIDTH="$width" cargo test -p dropflow-tests --test wide_foreach -- \
        --ignored --nocapture
    printf '==> soak %s wide: passed in %ss (build included)\n' "$width" "$((SECONDS - start))"
done
