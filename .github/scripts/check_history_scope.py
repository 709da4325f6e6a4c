"""Refuse a restored GPU baseline history that was measured on another GPU.

    python check_history_scope.py HISTORY_DIR "GPU NAME" GPU_COUNT

The GPU job keys its history by the GPU it ran on; this is the check that what arrived (a cache hit, a
downloaded artifact) really is that GPU's: the scope file written when the history was saved, and every
`gpu_name` recorded inside its run files, must name this runner's GPU. Exit 0 and say so when it matches
or when there is no history at all (the gate itself then fails closed); exit 1 naming the file and the
GPU otherwise. Files are only read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCOPE_FILE = "effcheck-ci-scope.txt"


def recorded_gpu_names(document: Any) -> Iterator[str]:
    """Every gpu_name value anywhere in a run file (effcheck records it in machine_info and the ledger).

    >>> sorted(set(recorded_gpu_names({"a": {"gpu_name": "NVIDIA H200"}, "b": [{"gpu_name": "Tesla T4"}]})))
    ['NVIDIA H200', 'Tesla T4']
    >>> list(recorded_gpu_names({"gpu_name": None, "cpu": "x"}))
    []
    """
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "gpu_name" and isinstance(value, str):
                yield value
            else:
                yield from recorded_gpu_names(value)
    elif isinstance(document, list):
        for value in document:
            yield from recorded_gpu_names(value)


def read_scope(path: Path) -> dict[str, str]:
    """>>> import tempfile; p = Path(tempfile.mkdtemp()) / SCOPE_FILE; _ = p.write_text("gpu_name=A B\\ngpu_count=2\\n")
    >>> read_scope(p)
    {'gpu_name': 'A B', 'gpu_count': '2'}
    """
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def problems(history: Path, gpu_name: str, gpu_count: str) -> list[str]:
    runs = sorted(history.rglob("*.json"))
    if not runs:
        return []
    scope_path = history / SCOPE_FILE
    if not scope_path.is_file():
        return [f"{history} holds {len(runs)} run file(s) but no {SCOPE_FILE}: its GPU is unknown"]
    scope = read_scope(scope_path)
    found = []
    if (scope.get("gpu_name"), scope.get("gpu_count")) != (gpu_name, gpu_count):
        found.append(f"{scope_path} says {scope.get('gpu_count')} x {scope.get('gpu_name')!r}")
    for run in runs:
        try:
            names = set(recorded_gpu_names(json.loads(run.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            print(f"skipped {run}: not readable JSON ({exc})")  # the gate skips it too, naming it
            continue
        if names - {gpu_name}:
            found.append(f"{run} was measured on {', '.join(sorted(names - {gpu_name}))}")
    return found


def main(argv: list[str]) -> int:
    history, gpu_name, gpu_count = Path(argv[0]), argv[1], argv[2]
    found = problems(history, gpu_name, gpu_count)
    if found:
        print(f"::error::refused the baseline history in {history}: this runner has {gpu_count} x "
              f"{gpu_name!r}, and the history is another GPU's: {'; '.join(found[:3])}"
              f"{f' (and {len(found) - 3} more)' if len(found) > 3 else ''}. A GPU is only gated against "
              "its own runs: seed this GPU's history with a push to main or a manual run of gpu-benchmarks")
        return 1
    count = len(list(history.rglob("*.json"))) if history.is_dir() else 0
    if count == 0:
        print(f"no baseline history in {history} for {gpu_count} x {gpu_name!r} (a pull request's gate fails closed)")
    else:
        print(f"baseline history in {history}: {count} run file(s), all measured on {gpu_count} x {gpu_name!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
