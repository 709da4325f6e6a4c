"""Print pip constraints pinning every direct requirement of pyproject.toml to its lower bound.

The lowest-versions job installs with these constraints, so a lower bound that names no real release, or
a release the code does not work with, fails that job instead of a user's install. Self-references
(`effcheck[bench]`) are skipped; a name bounded twice keeps its highest bound (both requirements must hold).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def lower_bounds(pyproject: dict) -> dict[str, str]:
    project = pyproject["project"]
    requirements = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        requirements.extend(group)
    own_name = project["name"].lower()
    bounds: dict[str, str] = {}
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise SystemExit(f"lowest_versions: cannot read the requirement {requirement!r}")
        name, specifiers = match.group(1).lower().replace("_", "-"), match.group(2)
        if name == own_name:
            continue
        lows = [spec.strip()[2:].strip() for spec in specifiers.split(",") if spec.strip().startswith(">=")]
        if not lows:
            raise SystemExit(f"lowest_versions: {requirement!r} has no lower bound (>=): every dependency needs one")
        low = max(lows, key=_version_key)
        if name not in bounds or _version_key(low) > _version_key(bounds[name]):
            bounds[name] = low
    return bounds


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    for name, version in sorted(lower_bounds(tomllib.loads(path.read_text())).items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
