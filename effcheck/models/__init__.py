"""Model builders per library, imported lazily and cached per session.

Full-size architectures are configs written as data with their source; weights are random (no hub is
reachable), which changes nothing for parameters, FLOPs, cache bytes, step counts or memory growth.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from effcheck.errors import MissingDependency


def require(module: str, extra: str) -> ModuleType:
    """Import an optional library or raise MissingDependency naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the library is there but broken: show the real error
        raise MissingDependency(module, extra) from exc
