#!/usr/bin/env bash
# The run history on the repository's own branch (HISTORY_BRANCH, effcheck-history), through effcheck:
#   history.sh pull STORAGE     effcheck pull: the branch's runs into STORAGE/remote/<hash>/ (a missing branch
#                               is said and is no error: main's first push creates it; a pull request's gate
#                               then fails closed in .ci/run); a remote that cannot be read fails the step, so
#                               main never runs "ungated, first baseline" against a history it failed to read
#   history.sh push STORAGE     effcheck push: the runs the branch lacks, one commit, retried, never forced
#   history.sh prune N          effcheck prune --keep N on the branch (runs holding a baseline stay)
# Credentials: GITHUB_TOKEN, when set, goes to git as an http.extraheader through GIT_CONFIG_* variables of
# this process only (as actions/checkout does, but never written to .git/config: the checkout keeps
# persist-credentials false and nothing later in the job can read a token). EFFCHECK: the effcheck to run (default:
# the venv the workflows make at $RUNNER_TEMP/effcheck-tools, else effcheck on PATH).
set -euo pipefail
verb=${1:?usage: history.sh pull|push STORAGE, or prune N}
arg=${2:?usage: history.sh pull|push STORAGE, or prune N}
branch=${HISTORY_BRANCH:-effcheck-history}
server=${GITHUB_SERVER_URL:-https://github.com}
url="$server/${GITHUB_REPOSITORY:?}.git"
effcheck=${EFFCHECK:-${RUNNER_TEMP:-/nonexistent}/effcheck-tools/bin/effcheck}
[ -x "$effcheck" ] || effcheck=effcheck

if [ -n "${GITHUB_TOKEN:-}" ]; then
    basic=$(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 | tr -d '\n')
    echo "::add-mask::$basic"
    export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.$server/.extraheader"
    export GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic"
fi
export GIT_TERMINAL_PROMPT=0  # a missing credential fails at once instead of waiting for a password

case "$verb" in
    pull)
        rc=0
        git ls-remote --exit-code --heads "$url" "refs/heads/$branch" > /dev/null || rc=$?
        if [ "$rc" = 2 ]; then
            echo "::notice::no $branch branch yet: nothing to pull (main's first run creates it with effcheck push)"
            exit 0
        elif [ "$rc" != 0 ]; then
            echo "::error::cannot read $url (git ls-remote exit $rc): the history branch $branch was not pulled"
            exit 1
        fi
        "$effcheck" pull --storage "$arg" --remote "$url" --branch "$branch"
        ;;
    push)
        if [ ! -d "$arg" ]; then
            echo "::warning::no run files in $arg (the run stopped before saving any): nothing pushed to $branch"
            exit 0
        fi
        "$effcheck" push --storage "$arg" --remote "$url" --branch "$branch"
        ;;
    prune)
        "$effcheck" prune --keep "$arg" --remote "$url" --branch "$branch"
        ;;
    *)
        echo "history.sh: unknown verb $verb (pull, push or prune)" >&2
        exit 2
        ;;
esac
