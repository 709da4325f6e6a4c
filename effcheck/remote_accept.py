"""Acceptance lines and pulled runs' names, so that an acceptance travels to its run and to no other (issue 20).

Acceptance lines (`effcheck-accepted.jsonl`) and baselines name a run by its file stem, and two runners can
save runs of one stem: `--benchmark-save=ci` (or the commit's sha) gives `0002_ci` on each. In the trial,
runner A accepted its `0002_ci` (19,300 params) and, after a pull, runner B's `0002_ci` (19,400, a
regression nobody accepted) became the gate's baseline through A's line. So:
- a pulled run's file is named `<its stem>-<8 hex digits of its hash>.json`: no local run and no other
  runner's run shares its stem (a run saved here later is named by pytest-benchmark, without a hash);
- a line leaves with its run's content hash (`"hash"`), when one run of the storage has that stem;
- a line arrives naming the run of that content as this storage names it; a line whose run is not here
  (yet: a later pull brings both) is left out. Lines without a hash, pushed before, travel as they are.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

HASH_SHOWN = 8


def pulled_name(name: str, digest: str) -> str:
    stem = name.removesuffix(".json")
    return f"{stem}-{digest[:HASH_SHOWN]}.json"


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("run"), str) else None


def qualify(lines: list[str], local: dict[str, Path]) -> list[str]:
    """The lines as pushed: each names its run's content hash where one local run has its stem, and its
    run by the stem it was saved under (a pulled copy's suffix dropped: one line per acceptance, however
    many storages pulled it and pushed again)."""
    by_stem: dict[str, list[str]] = defaultdict(list)
    for digest, path in local.items():
        by_stem[path.stem].append(digest)
    out = []
    for line in lines:
        record = _parse(line)
        if record is not None and "hash" not in record and len(by_stem.get(record["run"], ())) == 1:
            record["hash"] = by_stem[record["run"]][0]
            line = json.dumps(record)
        if record is not None and isinstance(record.get("hash"), str):
            suffix = f"-{record['hash'][:HASH_SHOWN]}"
            if record["run"].endswith(suffix):
                record["run"] = record["run"].removesuffix(suffix)
                line = json.dumps(record)
        out.append(line)
    return list(dict.fromkeys(out))


def localize(lines: list[str], local: dict[str, Path]) -> list[str]:
    """The branch's lines as this storage names their runs; those whose run is not here are left out."""
    stem_of = {digest: path.stem for digest, path in local.items()}
    out = []
    for line in lines:
        record = _parse(line)
        if record is not None and isinstance(record.get("hash"), str):
            stem = stem_of.get(record["hash"])
            if stem is None:
                continue
            if stem != record["run"]:
                record["run"] = stem
                line = json.dumps(record)
        out.append(line)
    return list(dict.fromkeys(out))
