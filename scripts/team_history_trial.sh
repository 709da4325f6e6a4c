#!/usr/bin/env bash
# Issue 20's done-when, tried from outside: a scratch git project with its own claim (a tiny torch MLP's
# parameter count), a bare repository as the team's remote, and the steps a team walks: accept the facts,
# push the history branch, change a fact on purpose in a pull request (the facts file's one-line diff),
# gate fresh clones with no history (the pull request passes; a branch that changed the fact without
# accepting it fails closed), and gate a fresh clone against the pulled history alone.
#   bash scripts/team_history_trial.sh [VENV_BIN]   (default: this checkout's .venv/bin)
set -u
V=${1:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin}
export PATH=$V:$PATH
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
G="git -c user.email=dev@x -c user.name=dev"
cd $ROOT
git init -q --bare origin.git
git clone -q origin.git dev 2>/dev/null; cd dev
git checkout -q -b main
cat > test_tiny.py <<'PY'
import os, pytest, torch
from effcheck.records import Claim, Measurement
WIDTH = 32
PARAMS = Claim(id="tiny/mlp/params", statement="the tiny MLP stays under 2,000 parameters", source="our design doc",
               metric="parameters", unit="params", comparison="<=", expected=2000, better="lower", source_kind="user")
@pytest.mark.claim(PARAMS)
def test_params(effcheck):
    model = torch.nn.Sequential(torch.nn.Linear(16, WIDTH), torch.nn.ReLU(), torch.nn.Linear(WIDTH, 8))
    effcheck.check(Measurement(sum(p.numel() for p in model.parameters()), "params", "sum of numel"))
PY
printf '.benchmarks/\n' > .gitignore
echo "== 1. first run with --effcheck-accept (creates the facts file)"
pytest -q -p no:cacheprovider --effcheck-accept 2>&1 | grep -E "effcheck-facts|tiny/mlp|passed|failed"
cat effcheck-facts.txt | grep -v '^#'
$G add -A && $G commit -qm "tiny mlp + facts" && git push -q origin main 2>&1
effcheck push --remote $ROOT/origin.git --branch effcheck-history 2>&1 | tail -2
echo "== 2. a pull request widens the MLP on purpose"
git checkout -q -b widen
sed -i 's/WIDTH = 32/WIDTH = 40/' test_tiny.py
pytest -q -p no:cacheprovider --benchmark-compare 2>&1 | grep -E "^FAIL|passed|failed"
pytest -q -p no:cacheprovider --effcheck-accept=tiny/mlp/params 2>&1 | grep -E "effcheck-facts|tiny/mlp/params [0-9]|passed|failed"
echo "-- the reviewed diff:"; git diff -U0 effcheck-facts.txt | grep '^[-+][a-z]'
$G commit -qam "widen to 40, facts accepted" && git push -q origin widen 2>&1
echo "== 3. a fresh clone of the pull request, no history: gates against the file, fail closed"
cd $ROOT && rm -rf pr && git clone -q -b widen origin.git pr && cd pr
pytest -q -p no:cacheprovider --benchmark-compare --effcheck-require-baseline 2>&1 | grep -E "effcheck gate|tiny/mlp|passed|failed|Can't"
echo "== 4. a fresh clone of a branch that changes the fact without accepting it: fails closed"
git checkout -q -b sneaky origin/main
sed -i 's/WIDTH = 32/WIDTH = 48/' test_tiny.py
pytest -q -p no:cacheprovider --benchmark-compare --effcheck-require-baseline 2>&1 | grep -E "^FAIL|tiny/mlp/params:|passed|failed"
echo "== 5. a fresh clone pulls the team's history and gates (facts file moved away: the history alone)"
cd $ROOT && rm -rf fresh && git clone -q -b main origin.git fresh && cd fresh
effcheck pull --remote $ROOT/origin.git --branch effcheck-history 2>&1 | tail -1
mv effcheck-facts.txt $ROOT/facts.moved
sed -i 's/WIDTH = 32/WIDTH = 48/' test_tiny.py
pytest -q -p no:cacheprovider --benchmark-compare --effcheck-require-baseline 2>&1 | grep -E "^FAIL|tiny/mlp/params:|passed|failed|effcheck gate"
