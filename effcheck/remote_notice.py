"""The one line a gated run prints when its storage holds pulled runs that pytest-benchmark cannot see.

`effcheck pull` puts the branch's runs under `<storage>/remote/<hash>/<machine>/`. effcheck's gate reads every
run under the storage; pytest-benchmark's own `--benchmark-compare` (its timing table) looks only in its
machine folder, `<storage>/<machine>/`, so in a fresh folder that pulled a team's history it says "Can't
compare. No benchmark files in '<storage>'", and beside local runs it silently compares with those alone.
Said once, so nobody reads that as "the gate had no baseline".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from effcheck.remote import PULLED_DIR


def pulled_runs_note(config: Any) -> str | None:
    from effcheck.errors import EffcheckError
    from effcheck.options import storage_dir
    from effcheck.preflight import named_to_benchmark
    from effcheck.store import list_runs

    if not config.getoption("benchmark_compare", None) or named_to_benchmark(config):
        return None  # not compared by pytest-benchmark; or a named run, which it loads by its path
    try:
        storage = storage_dir(config)
    except EffcheckError:
        return None
    pulled = list_runs(Path(storage) / PULLED_DIR)
    if not pulled:
        return None
    return (f"pytest-benchmark's own --benchmark-compare reads only its machine folder under {storage} and does "
            f"not see the {len(pulled)} run(s) pulled under {Path(storage) / PULLED_DIR}: effcheck's gate "
            "compares each claim with them (name a run, --benchmark-compare=RUN, for pytest-benchmark's timings)")
