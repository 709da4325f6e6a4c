"""Frozen records passed between effcheck's modules, and their JSON form.

A Claim is what the article (or the paper it cites) says; a Measurement is what running the real library
gave; a ClaimResult is the verdict of one against the other. Every record validates itself on
construction, so a bad value fails where it is made, not three modules later.

JSON history (bump SCHEMA_VERSION and add a line here whenever the JSON form changes):
  1: first version: ledger {schema_version, effcheck_version, created, environment, hardware_key, results,
     comparison (the gate's deltas against the baseline run, or null)}.
  2: ledger gains `complete` (false for a run interrupted or stopped early: never a baseline) and
     `accepted` (claim-id patterns accepted on purpose with --effcheck-accept); `hardware_key` is the
     run's device key ("cpu:<model>" or "cuda:<GPU name> xN", no software version); `comparison` is
     recorded whenever the run is saved (its "gated" says whether it was enforced) and each delta
     names the run it compared with. Values are validated as finite numbers on reading.
     Migration from 1 (done on reading, files are never rewritten): complete=true, accepted=[];
     a claim's scope is derived from the environment, not from the old torch-keyed hardware_key.
     A delta's change is a finite number, or null for a move from zero (no percentage: readers derive
     it from baseline_value and current_value); writers before this note stored the string "inf"
     there, which is still read (no version bump: every reader of 2 reads both).
     A claim may carry `resolution` (absent: null); readers of 2 ignore keys they do not know.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from effcheck.errors import SchemaError
from effcheck.formatting import _fmt, fmt_pair
from effcheck.stats import quantile
from effcheck.stored_numbers import delta_numbers, finite, is_finite, number, point, shown

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

COMPARISONS = ("==", ">=", "<=", "~", "between")
DIRECTIONS = ("higher", "lower", "none")
# Whose sentence a claim checks; a verdict blames only that source (see SOURCE_KINDS' use in checks.py):
#   article  the article effcheck implements (the quote is its sentence, with its section)
#   paper    a paper, table or model card the article relies on (the quote is that figure or sentence)
#   suite    a premise or consistency check the suite adds itself: when it does not hold it is a finding
#   user     a user's own claim (a design doc, a budget): the default, so user claims stay simple
SOURCE_KINDS = ("article", "paper", "suite", "user")


class Verdict(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    REFUTED = "REFUTED"  # the article's claim is wrong and we measured it: an expected, strict failure
    SKIP = "SKIP"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Claim:
    """One efficiency claim, as data.

    comparison: how `value` (the measurement) is held against `expected`:
      "=="      value == expected exactly (deterministic metrics: params, MACs, bytes)
      ">="      value >= expected * (1 - margin)
      "<="      value <= expected * (1 + margin)
      "~"       |value - expected| <= margin * |expected|
      "between" expected * (1 - margin) <= value <= expected_high * (1 + margin)
    better: which way is an improvement, for regression gating against a baseline run.
    noisy: the metric is timed (carries samples and spread) rather than exact.
    refuted: None, or why the quoted source is wrong, with the evidence; the check is then expected to fail
      (strict: if the claim ever holds, the test fails so the note gets revisited).
    source_kind: whose sentence this is (SOURCE_KINDS); `quote` is that sentence, verbatim. Article claims
      must quote the article; the wording of a REFUTED verdict follows the kind.
    applies_to: None (everywhere), or the device a budget holds on: a case-insensitive glob matched against
      the GPU name when measuring on CUDA, else the CPU model ("NVIDIA H200", "*EPYC 9654*"); elsewhere the
      benchmark skips, saying where it applies (see effcheck.budgets).
    tolerance: allowed relative change against the baseline run before it is a regression
      (None: exact metrics must not change at all; noisy ones use the default of the gate).
    resolution: for a floating-point result that is not a count (a rounding error, a numeric difference):
      the absolute difference below which two values are the same result to the gate; a move within it is
      reported as changed, never a regression (None: every difference counts). Say why in a comment.
    """

    id: str
    statement: str
    source: str
    metric: str
    unit: str
    comparison: str
    expected: float
    margin: float = 0.0
    expected_high: float | None = None
    better: str = "none"
    noisy: bool = False
    refuted: str | None = None
    tolerance: float | None = None
    source_kind: str = "user"
    quote: str | None = None
    applies_to: str | None = None
    resolution: float | None = None

    def __post_init__(self) -> None:
        if not self.id or " " in self.id or self.id.startswith("/") or self.id.endswith("/"):
            raise ValueError(f"claim id must be a non-empty path without spaces, got {self.id!r}")
        for name in ("statement", "source", "metric"):
            if not getattr(self, name):
                raise ValueError(f"claim {self.id}: {name} must not be empty")
        if self.comparison not in COMPARISONS:
            raise ValueError(f"claim {self.id}: comparison must be one of {COMPARISONS}, got {self.comparison!r}")
        if self.better not in DIRECTIONS:
            raise ValueError(f"claim {self.id}: better must be one of {DIRECTIONS}, got {self.better!r}")
        finite("expected", self.expected)
        finite("expected_high", self.expected_high)
        if not (is_finite(self.margin) and self.margin >= 0):
            raise ValueError(f"claim {self.id}: margin must be a fraction >= 0, got {shown(self.margin)}")
        if self.comparison in (">=", "between") and self.margin >= 1:
            raise ValueError(f"claim {self.id}: a margin of 100% or more makes '{self.comparison}' unfalsifiable")
        if self.comparison == "==" and self.margin != 0.0:
            raise ValueError(f"claim {self.id}: '==' is exact; use '~' for a margin")
        if (self.comparison == "between") != (self.expected_high is not None):
            raise ValueError(f"claim {self.id}: expected_high is required by 'between' and only by it")
        if self.expected_high is not None and self.expected_high < self.expected:
            raise ValueError(f"claim {self.id}: expected_high < expected")
        if self.tolerance is not None and not (is_finite(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"claim {self.id}: tolerance must be >= 0, got {shown(self.tolerance)}")
        if self.resolution is not None and not (is_finite(self.resolution) and self.resolution > 0):
            raise ValueError(f"claim {self.id}: resolution must be > 0, got {shown(self.resolution)}")
        if self.source_kind not in SOURCE_KINDS:
            raise ValueError(f"claim {self.id}: source_kind must be one of {SOURCE_KINDS}, got {self.source_kind!r}")
        if self.source_kind == "article" and not (self.quote and self.quote.strip()):
            raise ValueError(f"claim {self.id}: an article claim must quote the sentence it checks (quote=...)")
        if self.applies_to is not None and not self.applies_to.strip():
            raise ValueError(f"claim {self.id}: applies_to must name a device (a GPU name or CPU model), or be None")

    @property
    def family(self) -> str:
        return self.id.split("/", 1)[0]

    def expectation(self, against: float | None = None) -> str:
        """The expected value and margin in words, for tables and messages; against: a measured value the
        sentence also shows, from which the expected values must read apart (fmt_pair)."""

        def shown(value: float | None) -> str:
            return _fmt(value) if against is None or value is None else fmt_pair(value, against)[0]

        m = f" (margin {self.margin:.0%})" if self.margin else ""
        if self.comparison == "between":
            return f"{shown(self.expected)}..{shown(self.expected_high)} {self.unit}{m}"
        if self.comparison == "==":
            return f"== {shown(self.expected)} {self.unit}"
        return f"{self.comparison} {shown(self.expected)} {self.unit}{m}"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Claim:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Measurement:
    """What running the real library gave.

    samples: the raw observations of a noisy metric (e.g. per-round time ratios); value is their median.
    series: plot-ready (x, y) points, e.g. tokens generated -> peak bytes.
    details: further figures a reader wants next to the value (per-model counts, the MACs ratio...).
    """

    value: float
    unit: str
    method: str
    device: str = "cpu"
    samples: tuple[float, ...] = ()
    series: tuple[tuple[float, float], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        number("value", self.value)
        object.__setattr__(self, "samples", tuple(number("sample", s) for s in self.samples))
        object.__setattr__(self, "series", tuple((point(x), point(y)) for x, y in self.series))
        object.__setattr__(self, "details", dict(self.details))
        if not self.method:
            raise ValueError("measurement method must say how the value was obtained")

    @property
    def spread(self) -> tuple[float, float] | None:
        """Interquartile range of the samples, or None for an exact metric."""
        if len(self.samples) < 2:
            return None
        return quantile(self.samples, 0.25), quantile(self.samples, 0.75)

    def describe(self, against: float | None = None) -> str:
        """The value (with its spread); against: a claimed value the sentence also shows (fmt_pair)."""
        value = _fmt(self.value) if against is None else fmt_pair(against, self.value)[1]
        text = f"{value} {self.unit}"
        spread = self.spread
        if spread is not None:
            text += f" (IQR {_fmt(spread[0])}..{_fmt(spread[1])}, n={len(self.samples)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "method": self.method,
            "device": self.device,
            "samples": list(self.samples),
            "series": [list(p) for p in self.series],
            "details": _jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        d = _known(cls, data)
        d["samples"] = tuple(d.get("samples", ()))
        d["series"] = tuple(tuple(p) for p in d.get("series", ()))
        return cls(**d)


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    verdict: Verdict
    message: str
    measurement: Measurement | None = None
    nodeid: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))
        if self.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.REFUTED) and self.measurement is None:
            raise ValueError(f"{self.claim.id}: a {self.verdict.value} verdict needs a measurement")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.claim.id,
            "verdict": self.verdict.value,
            "message": self.message,
            "nodeid": self.nodeid,
            "claim": self.claim.to_dict(),
            "measurement": None if self.measurement is None else self.measurement.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClaimResult:
        try:
            if not isinstance(data, Mapping):
                raise TypeError(f"a result must be an object, got {type(data).__name__}")
            m = data.get("measurement")
            return cls(
                claim=Claim.from_dict(data["claim"]),
                verdict=Verdict(data["verdict"]),
                message=data.get("message", ""),
                measurement=None if m is None else Measurement.from_dict(m),
                nodeid=data.get("nodeid", ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SchemaError(f"not an effcheck claim result ({exc})") from exc


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the keys the dataclass knows: a newer minor writer may add fields we can ignore."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or type(value) in (str, int, float, bool):
        return value
    # subclasses (torch's TorchVersion is a str, numpy scalars) become plain types: execnet can only
    # carry builtins between xdist workers, and JSON readers should not meet repr()s of foreign types
    for plain in (bool, int, float, str):
        if isinstance(value, plain):
            return plain(value)
    if hasattr(value, "item") and callable(value.item):
        return _jsonable(value.item())
    return str(value)


@dataclass(frozen=True)
class Ledger:
    """All claim results of one run, with where they were measured."""

    results: tuple[ClaimResult, ...]
    environment: Mapping[str, Any]
    hardware_key: str
    created: str
    effcheck_version: str = ""
    comparison: Mapping[str, Any] | None = None  # the gate's verdicts against the baselines, if compared
    complete: bool = True  # False: interrupted or stopped early, so never a baseline
    accepted: tuple[str, ...] = ()  # claim-id patterns accepted on purpose (--effcheck-accept)

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "environment", dict(self.environment))
        object.__setattr__(self, "accepted", tuple(str(a) for a in self.accepted))

    def by_id(self) -> dict[str, ClaimResult]:
        return {r.claim.id: r for r in self.results}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "effcheck_version": self.effcheck_version,
            "created": self.created,
            "hardware_key": self.hardware_key,
            "environment": _jsonable(self.environment),
            "results": [r.to_dict() for r in self.results],
            "comparison": None if self.comparison is None else _jsonable(self.comparison),
            "complete": self.complete,
            "accepted": list(self.accepted),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        header = ledger_header(data)
        try:
            return cls(results=tuple(ClaimResult.from_dict(r) for r in header.pop("results")), **header)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SchemaError(f"malformed effcheck ledger ({exc})") from exc


def ledger_header(data: Any) -> dict[str, Any]:
    """A ledger's fields, validated and migrated to the current schema, with its results left raw (a list
    of objects): readers that only index a run's claims need not build every record."""
    if not isinstance(data, Mapping):
        raise SchemaError(f"the effcheck section is {type(data).__name__}, not an object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaError("no integer schema_version: not an effcheck ledger")
    if version > SCHEMA_VERSION:
        raise SchemaError(f"written by a newer effcheck (schema {version} > {SCHEMA_VERSION}): "
                          "upgrade effcheck to read it")
    if version not in READABLE_VERSIONS:
        raise SchemaError(f"schema_version {version} is not one effcheck ever wrote")
    environment = data.get("environment") or {}
    results: Any = data.get("results")  # raw JSON until the checks below
    comparison = data.get("comparison")
    accepted = data.get("accepted", []) if version >= 2 else []
    for name, value, kind in (("environment", environment, Mapping), ("results", results, list),
                              ("accepted", accepted, list)):
        if not isinstance(value, kind):
            raise SchemaError(f"malformed effcheck ledger ({name} is {type(value).__name__})")
    if comparison is not None and not isinstance(comparison, Mapping):
        raise SchemaError(f"malformed effcheck ledger (comparison is {type(comparison).__name__})")
    if not all(isinstance(r, Mapping) for r in results):
        raise SchemaError("malformed effcheck ledger (a result is not an object)")
    _check_deltas(comparison)
    return {
        "results": results,
        "environment": environment,
        "hardware_key": str(data.get("hardware_key", "")),
        "created": str(data.get("created", "")),
        "effcheck_version": str(data.get("effcheck_version", "")),
        "comparison": comparison,
        "complete": bool(data.get("complete", True)) if version >= 2 else True,
        "accepted": tuple(str(a) for a in accepted),
    }


def _check_deltas(comparison: Mapping[str, Any] | None) -> None:
    """The recorded gate deltas' numbers: every report prints them, so a bad one makes the file malformed."""
    deltas = (comparison or {}).get("deltas")
    if deltas is None:
        return
    if not isinstance(deltas, list) or not all(isinstance(d, Mapping) for d in deltas):
        raise SchemaError("malformed effcheck ledger (comparison deltas are not a list of objects)")
    for delta in deltas:
        try:
            delta_numbers(delta)
        except ValueError as exc:
            claim = delta.get("claim_id")
            raise SchemaError(f"malformed effcheck ledger (the comparison of {claim!r}: {exc})") from exc
