#!/usr/bin/env bash
# The GPU this runner has: its name (as nvidia-smi reports it) and the GPU count. effcheck records the same
# scope in each run's ledger (that is what keeps one GPU's timings from gating another's); here it names
# the job's artifacts. Writes name=, count= and slug= (lower-case, [a-z0-9-]) to $GITHUB_OUTPUT, or stdout.
# A runner that mixes GPU models fails: no single scope for its timed claims.
set -euo pipefail
if ! names=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1); then
    echo "::error::nvidia-smi failed on this gpu runner: ${names}" >&2
    exit 1
fi
first=$(printf '%s\n' "$names" | head -n 1)
count=$(printf '%s\n' "$names" | grep -c .)
if [ "$(printf '%s\n' "$names" | sort -u | grep -c .)" != 1 ]; then
    echo "::error::this runner mixes GPU models (${names//$'\n'/, }): no single hardware scope for a baseline" >&2
    exit 1
fi
slug=$(printf '%sx-%s' "$count" "$first" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')
{
    echo "name=$first"
    echo "count=$count"
    echo "slug=$slug"
} >> "${GITHUB_OUTPUT:-/dev/stdout}"
