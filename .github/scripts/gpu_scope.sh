#!/usr/bin/env bash
# The hardware scope a GPU baseline belongs to: the GPU name (as nvidia-smi reports it) and the GPU count.
# Writes name=, count= and slug= (for cache keys: lower-case, [a-z0-9-], never two dashes in a row, so
# `effcheck-baseline-<slug>--` cannot prefix-match another GPU's key) to $GITHUB_OUTPUT, or stdout.
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
