"""Whether a pull request changed anything a workflow checks, decided inside the workflow.

    python changed.py PATTERN...

A `paths:` filter on the trigger would leave a required check pending forever when it does not match, so
the workflows always run, and this tiny step decides whether their heavy jobs do. PATTERNs follow GitHub's
`paths` syntax: `*` stops at `/`, `**` does not, a leading `!` excludes, and a later pattern overrides an
earlier one. Only a pull request is filtered (EVENT=pull_request): its checkout is the merge commit,
whose first parent is the base, so `git diff HEAD^1 HEAD` is what merging would change. Every other event
(main, the merge queue, manual and scheduled runs) runs everything: main's runs feed the history. Writes
`run=true|false` to $GITHUB_OUTPUT and says why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence


def _regex(pattern: str) -> re.Pattern[str]:
    """GitHub's glob as a regular expression.

    >>> bool(_regex("**.md").match("docs/a.md")), bool(_regex("*.md").match("docs/a.md"))
    (True, False)
    >>> bool(_regex("docs/examples/**").match("docs/examples/user-ci.yml"))
    True
    """
    out = ""
    for token in re.split(r"(\*\*|\*|\?)", pattern):
        out += {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out + r"\Z")


def matters(path: str, patterns: Sequence[str]) -> bool:
    """The last pattern that matches decides (GitHub's rule for `paths`).

    >>> ci = ["**", "!**.md", "!docs/**", "docs/quickstart.md", "docs/examples/**"]
    >>> [matters(p, ci) for p in ("effcheck/cli.py", "README.md", "docs/x.png", "docs/quickstart.md")]
    [True, False, False, True]
    """
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _regex(pattern[1:] if negated else pattern).match(path):
            verdict = not negated
    return verdict


def main(patterns: Sequence[str]) -> int:
    event = os.environ.get("EVENT", "")
    if event != "pull_request":
        run, why = True, f"a {event or 'manual'} run checks everything"
    else:
        done = subprocess.run(["git", "diff", "--name-only", "HEAD^1", "HEAD"], capture_output=True, text=True)
        if done.returncode != 0:  # no merge commit to read: check everything rather than guess
            run, why = True, f"git diff failed ({done.stderr.strip()[:200]}): everything runs"
        else:
            hits = [p for p in done.stdout.splitlines() if p and matters(p, patterns)]
            run = bool(hits)
            why = (f"{len(hits)} changed file(s) CI checks, e.g. {', '.join(hits[:5])}" if hits
                   else "this pull request changes nothing CI checks (prose only): the heavy jobs are skipped")
    print(why)
    with open(os.environ.get("GITHUB_OUTPUT", os.devnull), "a", encoding="utf-8") as out:
        out.write(f"run={'true' if run else 'false'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
