"""The accepted architecture facts, tracked in the repository: one line per claim, reviewed as a diff.

Parameters, MACs, cache and state bytes and call counts change with code and library versions only, so
their accepted values can live with the code, as snapshot tests keep theirs: `--effcheck-accept` (or
`effcheck accept`) rewrites the lines of the facts it accepts, the pull request carries the change, review
approves it, and merging is the acceptance. A fresh clone with no saved history gates its facts against
the file. Device quantities (time ratios, device memory) stay in the per-device run history.

The file is sorted by claim id, one `ID = VALUE UNIT` line each, so a changed fact is a one-line diff
(`-llm/llama/params_table/7b = 6738415616 params`, `+... = 6805799772 params`) and two pull requests that
accept different facts merge without conflict. A file effcheck cannot read is an error naming its line:
it is never rewritten, so nothing a reviewer approved is lost.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from effcheck.errors import BaselineError

FILE_NAME = "effcheck-facts.txt"
HEADER = (
    "# effcheck: the accepted value of each architecture fact (parameters, MACs, cache and state bytes,\n"
    "# counts), one `claim-id = value unit` line per claim, sorted. The gate compares every run's facts with\n"
    "# these lines; `pytest --effcheck-accept[=PATTERN]` or `effcheck accept RUN [PATTERN]` rewrites them, and\n"
    "# the change is reviewed as a diff. Timed claims and device memory keep their baselines in the history.\n"
)
SEPARATOR = " = "


@dataclass(frozen=True)
class Fact:
    claim_id: str
    value: float
    unit: str

    def line(self) -> str:
        return f"{self.claim_id}{SEPARATOR}{format_value(self.value)} {self.unit}".rstrip()


@dataclass(frozen=True)
class FactsFile:
    path: Path
    facts: Mapping[str, Fact]

    @property
    def label(self) -> str:
        """How deltas name this file as their baseline (a run's stem otherwise)."""
        return self.path.name


@dataclass(frozen=True)
class FactChange:
    claim_id: str
    before: Fact | None
    after: Fact

    def text(self) -> str:
        was = "new" if self.before is None else format_value(self.before.value)
        return f"{self.claim_id} {was} -> {format_value(self.after.value)} {self.after.unit}".rstrip()


def format_value(value: float) -> str:
    """Exact and short: an integral value without a fraction (JSON may hold 6738415616.0), any other float
    as repr, which reads back to the same float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _parse_value(text: str) -> float:
    try:
        return int(text)
    except ValueError:
        value = float(text)  # ValueError names the text
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def parse(text: str, origin: str) -> dict[str, Fact]:
    """Every fact of a file's text; BaselineError naming origin:line for a line that is not `id = value unit`."""
    facts: dict[str, Fact] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{origin}:{number}"
        if line.startswith(("<<<<<<<", "=======", ">>>>>>>")):
            raise BaselineError(f"{where}: a merge conflict marker: resolve the conflict (keep one line per claim) "
                                "and rerun")
        claim_id, sep, rest = line.partition(SEPARATOR)
        parts = rest.split(None, 1)
        if not sep or not claim_id.strip() or not parts:
            raise BaselineError(f"{where}: {line!r} is not `claim-id = value unit`")
        try:
            value = _parse_value(parts[0])
        except ValueError:
            raise BaselineError(f"{where}: {parts[0]!r} is not a number (`claim-id = value unit`)") from None
        claim_id = claim_id.strip()
        if claim_id in facts:
            raise BaselineError(f"{where}: {claim_id} is listed twice: keep one line")
        facts[claim_id] = Fact(claim_id, value, parts[1].strip() if len(parts) > 1 else "")
    return facts


def read_facts(path: str | os.PathLike[str]) -> FactsFile | None:
    """The file's facts, or None when there is no such file (the project keeps its facts in the history only)."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{target}: cannot read the accepted facts ({exc})") from None
    return FactsFile(target, parse(text, str(target)))


def render(facts: Iterable[Fact]) -> str:
    return HEADER + "".join(f.line() + "\n" for f in sorted(facts, key=lambda f: f.claim_id))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Two runs accepting at once each keep their lines: the read-modify-write holds a lock on the file's
    folder (a lock file of its own would be one more untracked file in every repository)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; the write itself stays atomic
        yield
        return
    handle = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _replace(target: Path, facts: Iterable[Fact]) -> None:
    """The file's new text, written beside it and renamed over it: a reader never sees half a file."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.write_text(render(facts), encoding="utf-8")
    os.replace(temp, target)


def accept_facts(path: str | os.PathLike[str], accepted: Iterable[Fact]) -> list[FactChange]:
    """Write the accepted facts' lines (creating the file), keeping every other line; the changes made."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target):
            current = read_facts(target)
            merged = dict(current.facts) if current else {}
            changes = [FactChange(f.claim_id, merged.get(f.claim_id), f) for f in accepted
                       if merged.get(f.claim_id) != f]
            if not changes and current is not None:
                return []
            merged.update({c.claim_id: c.after for c in changes})
            _replace(target, merged.values())
    except OSError as exc:
        raise BaselineError(f"{target}: cannot write the accepted facts ({exc})") from None
    return sorted(changes, key=lambda c: c.claim_id)


def describe_changes(path: Path, changes: list[FactChange], shown: int = 10) -> str:
    """What an acceptance wrote, for the terminal: the file, then one line per changed fact."""
    lines = [f"effcheck: {path}: {len(changes)} accepted fact(s) written; review the diff and commit it:"]
    lines += [f"  {c.text()}" for c in changes[:shown]]
    if len(changes) > shown:
        lines.append(f"  ... and {len(changes) - shown} more")
    return "\n".join(lines)


def drop_facts(path: str | os.PathLike[str], claim_ids: Iterable[str]) -> list[Fact]:
    """Remove these claims' lines (a claim the suite no longer has); the lines removed."""
    target = Path(path)
    gone = set(claim_ids)
    try:
        with _locked(target):
            current = read_facts(target)
            if current is None:
                return []
            removed = [f for cid, f in sorted(current.facts.items()) if cid in gone]
            if removed:
                _replace(target, (f for cid, f in current.facts.items() if cid not in gone))
    except OSError as exc:
        raise BaselineError(f"{target}: cannot write the accepted facts ({exc})") from None
    return removed
