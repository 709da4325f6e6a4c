"""Model builders per library, imported lazily and cached per session.

Full-size architectures are configs written as data with their source; weights are random (no hub is
reachable), which changes nothing for parameters, FLOPs, cache bytes, step counts or memory growth.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

from effcheck.errors import BrokenDependency, MissingDependency


def require(module: str, extra: str) -> ModuleType:
    """Import an optional library. Not installed (no top-level package to find): MissingDependency, which
    skips naming the extra. Installed but its import raises, whatever it raises (an ImportError from inside
    the package included): BrokenDependency, an error, never read as "not installed"."""
    found = sys.modules.get(module)
    if found is not None:
        return found
    top = module.split(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as exc:  # a broken parent package or __spec__
        raise BrokenDependency(module, extra, exc) from exc
    if spec is None:
        raise MissingDependency(module, extra)
    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise BrokenDependency(module, extra, exc) from exc
