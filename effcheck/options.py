"""The --effcheck-* options, defined once and shared by the pytest plugin and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.devices import parse_device
from effcheck.errors import UsageError
from effcheck.gate import GatePolicy

# name -> argparse/pytest attributes; the prefix (--effcheck- for pytest, -- for the CLI) is added by caller
SESSION_OPTIONS: dict[str, dict[str, Any]] = {
    "device": {
        "default": "auto",
        "metavar": "DEVICE",
        "help": "device to measure on: auto (cuda if available, else cpu), cpu, cuda or cuda:N",
    },
    "json": {
        "default": None,
        "metavar": "PATH",
        "help": "write the run's claims ledger (every claim result and the environment) to PATH",
    },
    "weights": {
        "default": None,
        "metavar": "ROOT",
        "help": "folder of real pretrained weights laid out like the hub (ROOT/<org>/<repo>), for `weights` "
        "benchmarks; nothing is ever downloaded",
    },
    "baseline": {
        "default": None,
        "metavar": "RUN",
        "help": "gate against this saved run (a path, 'latest' or its number such as 0003); "
        "--benchmark-compare alone picks the newest run saved on the same hardware",
    },
    "compare-fail": {
        "action": "append",
        "default": [],
        "metavar": "TOL",
        "help": "regression tolerance, overriding the claims': 5%%, 0.5%%, or PATTERN=2%% for some claim ids "
        "(repeatable; the last match wins)",
    },
    "fail-on-improvement": {
        "action": "store_true",
        "default": False,
        "help": "fail when a metric improved beyond its tolerance (a stale baseline or a broken benchmark)",
    },
    "require-baseline": {
        "action": "store_true",
        "default": False,
        "help": "fail closed: a claim with no baseline fails, and so does a noisy claim's move while its "
        "history is too short to know the drift",
    },
    "accept": {
        "action": "append",
        "nargs": "?",
        "const": "*",
        "default": [],
        "metavar": "PATTERN",
        "help": "accept this run's changes as the new baselines: all claims, or those whose id matches "
        "PATTERN (repeatable); the changes are reported, not failed; accepted architecture facts are "
        "written to the facts file",
    },
    "facts": {
        "default": None,
        "metavar": "PATH",
        "help": "the tracked file of accepted architecture facts (parameters, MACs, bytes, counts), gated "
        "against before the history: default effcheck-facts.txt in pytest's rootdir; none: no file",
    },
    "baseline-branch": {
        "default": None,
        "metavar": "BRANCH",
        "help": "git branch(es) whose saved runs are baselines for every branch (comma-separated; * for any "
        "branch); a run's own branch always serves. Default: the branch a pull request merges into "
        "(GITHUB_BASE_REF), else origin's default branch, else main and master",
    },
}


# Settable only in [tool.pytest.ini_options] (or pytest.ini): project-wide choices, not per-run flags.
INI_ONLY: dict[str, dict[str, Any]] = {
    "autosave": {
        "type": "bool",
        "default": True,
        "help": "save every run that checked claims to pytest-benchmark's storage, the history the gate reads "
        "(default true; an explicit --benchmark-save/--benchmark-autosave still wins)",
    },
}


@dataclass(frozen=True)
class Options:
    device: str = "auto"
    json: str | None = None
    baseline: str | None = None
    gate: GatePolicy = GatePolicy()
    compare: bool = False  # gate against a baseline in this session
    weights: str | None = None
    autosave: bool = True
    facts: str | None = None  # as given: effcheck.accepted_facts.facts_path resolves it
    baseline_branch: str | None = None


def dest(name: str) -> str:
    return "effcheck_" + name.replace("-", "_")


def add_options(add: Any, prefix: str, names: tuple[str, ...] | None = None, ini_fallback: bool = False) -> None:
    """Declare the options through `add` (pytest's group.addoption or argparse's add_argument).

    ini_fallback: the command line's default is None, so an option not given there falls back to the
    ini value of the same name (`effcheck_device = cpu`), and only then to the built-in default.
    """
    for name in names or tuple(SESSION_OPTIONS):
        spec = dict(SESSION_OPTIONS[name])
        if ini_fallback:
            spec["default"] = None
        add(prefix + name, dest=dest(name), **spec)


def _ini_type(spec: dict[str, Any]) -> str:
    if spec.get("action") in ("store_true", "store_false"):
        return "bool"
    if spec.get("action") == "append":
        return "linelist"
    return "string"


def add_ini_options(addini: Any) -> None:
    """Every --effcheck-NAME option as an ini option effcheck_NAME, plus the ini-only ones (pytest's parser.addini)."""
    for name, spec in SESSION_OPTIONS.items():
        kind = _ini_type(spec)
        extra = {} if spec.get("default") is None else {"default": spec["default"]}
        addini(dest(name), help=f"default for --effcheck-{name}: " + spec["help"].replace("%%", "%"), type=kind,
               **extra)
    for name, spec in INI_ONLY.items():
        addini(dest(name), help=spec["help"], type=spec["type"], default=spec["default"])


def option_value(config: Any, name: str) -> Any:
    """The command line's value, else the ini file's, else the built-in default."""
    key = dest(name)
    given = config.getoption(key, None)
    if given is not None and given != []:
        return given
    getini = getattr(config, "getini", None)
    if getini is not None:
        try:
            value = getini(key)
        except (ValueError, KeyError):  # not declared (a config object from elsewhere)
            value = None
        if value is not None and value != "" and value != []:
            return value
    spec = SESSION_OPTIONS.get(name) or INI_ONLY[name]
    return spec.get("default")


def check_writable(path: str) -> str:
    """Fail before the run, not after minutes of measuring, when the ledger could not be written."""
    parent = Path(path).resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--effcheck-json={path}: {probe} is not a writable directory")
    if Path(path).is_dir():
        raise UsageError(f"--effcheck-json={path} is a directory; give a file path")
    return path


def read_options(config: Any) -> Options:
    def get(name: str) -> Any:
        return option_value(config, name)

    json_path = get("json")
    gate = GatePolicy.from_specs(
        get("compare-fail") or [],
        fail_on_improvement=bool(get("fail-on-improvement")),
        require_baseline=bool(get("require-baseline")),
        accept=tuple(get("accept") or ()),
    )
    baseline = get("baseline")
    compare = bool(baseline or gate.require_baseline or config.getoption("benchmark_compare", None))
    if json_path:
        from effcheck.store import check_json_target

        check_json_target(json_path, storage_dir(config))
    return Options(
        device=parse_device(get("device")),
        json=check_writable(json_path) if json_path else None,
        baseline=baseline,
        gate=gate,
        compare=compare,
        weights=get("weights"),
        autosave=bool(get("autosave")),
        facts=get("facts"),
        baseline_branch=get("baseline-branch"),
    )


def storage_dir(config: Any) -> str:
    """pytest-benchmark's storage folder (file storage only: that is where the history lives)."""
    raw = str(config.getoption("benchmark_storage", None) or "file://./.benchmarks")
    if "://" in raw and not raw.startswith("file://"):
        raise UsageError(f"--benchmark-storage={raw}: effcheck's gate reads file storage only")
    return raw.removeprefix("file://")
