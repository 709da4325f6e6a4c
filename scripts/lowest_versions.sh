#!/usr/bin/env bash
# Lowest-versions job: install every direct dependency at the lower bound pyproject.toml allows (torch,
# timm, transformers, diffusers, peft, accelerate, rwkv, ... and the test tools), then run effcheck's tests
# and the deterministic benchmarks (architecture facts: nothing timed, no GPU, no weights). A bound that
# names no real release, or one the code does not work with, fails here instead of in a user's install.
#   scripts/lowest_versions.sh [VENV]     (default .lowest-venv; rebuilt from nothing each time)
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci
venv=$(realpath -m "${1:-.lowest-venv}")
python=${PYTHON:-python3}

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" scripts/lowest_versions.py pyproject.toml > "$venv/lowest-constraints.txt"
echo "lower bounds from pyproject.toml:"; sed 's/^/  /' "$venv/lowest-constraints.txt"
if ! "$venv/bin/python" scripts/pip_install.py -c "$venv/lowest-constraints.txt" -- -e '.[all,test]'; then
    echo "lowest-versions: the lower bounds above do not install together (see the lines above); raise" \
         "the named bound in pyproject.toml to a real release that installs" >&2
    exit 1
fi
echo "resolved (direct dependencies at their bounds, the rest as pip chose):"
"$venv/bin/python" -m pip freeze --exclude-editable | sed 's/^/  /'

status=0
run_pytest() {  # pytest's exit 5 (nothing collected) is a failure here: a job that tests nothing passes nothing
    "$venv/bin/python" -m pytest -p no:cacheprovider "$@" || { rc=$?; echo "lowest-versions: pytest $* exited $rc" >&2; status=1; }
}
run_pytest tests/ -q
run_pytest benchmarks/ -q -m "not timed and not gpu and not weights" --benchmark-storage="file://$venv/benchmarks"
exit "$status"
