"""`pip install` that, when it fails, says which package and version could not be installed.

    python scripts/pip_install.py [-c CONSTRAINTS]... -- PIP_INSTALL_ARGS...

pip's own failure is a resolver trace; a CI job (the lowest-versions job, the nightly upstream run) has to
say in one line which package/version was the problem. On failure each pinned requirement (NAME==VERSION
in the constraints, or given directly) is tried alone with `pip install --dry-run --no-deps`; the ones pip
cannot find are named. When every pin exists alone, the conflict lines from pip's report are repeated.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def pins(constraint_files: list[str], args: list[str]) -> list[str]:
    lines = [line for path in constraint_files for line in Path(path).read_text().splitlines()]
    lines += [a for a in args if not a.startswith("-")]
    return [f"{m.group(1)}=={m.group(2)}" for m in map(_PIN.match, lines) if m]


def missing(pin: str) -> str | None:
    probe = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "-q", pin],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        return None
    lines = [line for line in probe.stderr.splitlines() if line.startswith("ERROR")]
    return lines[-1] if lines else f"pip exited {probe.returncode}"


def main(argv: list[str]) -> int:
    constraints: list[str] = []
    while argv and argv[0] == "-c":
        constraints.append(argv[1])
        argv = argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    # never -q: pip's conflict explanation is info-level, and its output is captured and shown only on failure
    argv = [a for a in argv if a not in ("-q", "--quiet")]
    command = [sys.executable, "-m", "pip", "install", *(f"--constraint={c}" for c in constraints), *argv]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        return 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    print("\n".join(errors[-5:]), file=sys.stderr)
    output = [line for line in (result.stdout + result.stderr).splitlines()
              if not line.startswith("WARNING: Location")]  # this machine's index mirrors, per package
    start = next((i for i, line in enumerate(output) if "conflict is caused by" in line), None)
    conflict = [] if start is None else [line for line in output[start:start + 12] if line.strip()]
    conflict = conflict[:next((i for i, line in enumerate(conflict) if "To fix this" in line), len(conflict))]
    named = [line.split("found for", 1)[1].strip() for line in output if "No matching distribution found for" in line]
    if named:
        print(f"cannot install {', '.join(named)}: no such release on the index", file=sys.stderr)
    elif conflict:
        print("the versions exist but conflict:", *conflict, sep="\n", file=sys.stderr)
    else:  # a build or download failure: find the pin that fails alone
        unfound = [(pin, why) for pin in pins(constraints, argv) if (why := missing(pin))]
        for pin, why in unfound:
            print(f"cannot install {pin}: {why}", file=sys.stderr)
        print("\n".join(output[-20:]), file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
