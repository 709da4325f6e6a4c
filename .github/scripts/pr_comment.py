"""Post or update effcheck's one comment on a pull request, a section per workflow (ci, gpu-benchmarks).

    python pr_comment.py REPORT_DIR

Run by the pr-comment workflow, the only job with `pull-requests: write`. REPORT_DIR is the artifact the
benchmark job uploaded (report.md, pr-number). That artifact was made by the pull request's own code, so
it is data only: the PR number must be digits and that PR's head commit must be the commit the triggering
run tested, or nothing is posted; the report goes into the comment as text, through the API, never
through a shell. The section links the run's history page (the artifact effcheck-history-page-*, found
through the API by the run's id, never by a link the artifact carries). Environment: GITHUB_TOKEN,
GITHUB_REPOSITORY, RUN_ID, RUN_HEAD_SHA, RUN_NAME, RUN_URL, RUN_CONCLUSION (from the workflow_run event).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

MARKER = "<!-- effcheck-report -->"
BOT = "github-actions[bot]"  # the comment this job wrote, never one a person pasted the marker into
LIMIT = 60000  # GitHub refuses comments over 65536 characters; leave room for the other section


def section(name: str, text: str) -> str:
    return f"<!-- effcheck:{name}:start -->\n{text.strip()}\n<!-- effcheck:{name}:end -->"


def merge(existing: str | None, name: str, text: str) -> str:
    """The comment body with `name`'s section replaced (or added), other sections kept, sorted by name.

    >>> body = merge(None, "gpu-benchmarks", "gpu v1")
    >>> body = merge(body, "ci", "cpu v1")
    >>> body = merge(body, "gpu-benchmarks", "gpu v2")
    >>> body.count(MARKER), "gpu v1" in body, body.index("cpu v1") < body.index("gpu v2")
    (1, False, True)
    """
    sections = dict(re.findall(r"<!-- effcheck:([\w-]+):start -->\n(.*?)\n<!-- effcheck:\1:end -->",
                               existing or "", flags=re.S))
    sections[name] = text.strip()
    return "\n\n".join([MARKER, "## effcheck", *(section(k, v) for k, v in sorted(sections.items()))])


def section_text(report: str, run_name: str, conclusion: str, url: str) -> str:
    """The section's heading names the run and its outcome; an oversized report is cut, saying where it is.

    >>> section_text("x" * 70000, "ci", "failure", "U").count("truncated")
    1
    """
    if len(report) > LIMIT:
        report = report[:LIMIT] + f"\n\n... (truncated: the whole report is in the run's step summary, {url})"
    return f"### {run_name}: {conclusion} ([run]({url}))\n\n{report}"


def history_links(artifacts: list[dict[str, Any]], repo: str, run_id: str) -> str:
    """A line linking the run's history page artifacts ('' when it has none).

    >>> history_links([{"name": "effcheck-history-page-cpu", "id": 7}, {"name": "x", "id": 8}], "o/r", "42")
    '[history page](https://github.com/o/r/actions/runs/42/artifacts/7) (effcheck history: download, open index.html)'
    >>> history_links([], "o/r", "42")
    ''
    """
    pages = [a for a in artifacts if str(a.get("name", "")).startswith("effcheck-history-page-")]
    links = ", ".join(f"[history page](https://github.com/{repo}/actions/runs/{run_id}/artifacts/{int(a['id'])})"
                      for a in pages)
    return f"{links} (effcheck history: download, open index.html)" if links else ""


def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"https://api.github.com{path}", method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {os.environ['GITHUB_TOKEN']}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def main(report_dir: Path) -> int:
    repo, head_sha = os.environ["GITHUB_REPOSITORY"], os.environ["RUN_HEAD_SHA"]
    number = (report_dir / "pr-number").read_text().strip()
    if not number.isdigit():
        print(f"::error::pr-number in the artifact is not a number: {number[:40]!r}; nothing posted")
        return 1
    pull = api("GET", f"/repos/{repo}/pulls/{number}")
    if pull["head"]["sha"] != head_sha:
        print(f"pull request #{number} is now at {pull['head']['sha'][:12]}, the run tested {head_sha[:12]}: "
              "a newer run will post; nothing posted")
        return 0
    report = (report_dir / "report.md").read_text(encoding="utf-8", errors="replace")
    text = section_text(report, os.environ["RUN_NAME"], os.environ["RUN_CONCLUSION"], os.environ["RUN_URL"])
    run_id = os.environ.get("RUN_ID", "")
    if run_id.isdigit():
        listed = api("GET", f"/repos/{repo}/actions/runs/{run_id}/artifacts?per_page=100")
        link = history_links(listed.get("artifacts", []), repo, run_id)
        if link:
            text = text.replace("\n\n", f"\n\n{link}\n\n", 1)
    mine = None
    page = 1
    while mine is None:
        comments = api("GET", f"/repos/{repo}/issues/{number}/comments?per_page=100&page={page}")
        mine = next((c for c in comments if c["body"].startswith(MARKER) and c["user"]["login"] == BOT), None)
        if len(comments) < 100:
            break
        page += 1
    body = merge(mine["body"] if mine else None, os.environ["RUN_NAME"], text)
    if mine:
        api("PATCH", f"/repos/{repo}/issues/comments/{mine['id']}", {"body": body})
        print(f"updated the effcheck comment on #{number}: {mine['html_url']}")
    else:
        made = api("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
        print(f"posted the effcheck comment on #{number}: {made['html_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
