"""effcheck's errors: each says what is wrong and how to fix it, in one line.

    EffcheckError                 base; the CLI prints its message and exits 2
    ├── UsageError                a bad option value (unknown device, tolerance that does not parse)
    ├── MissingDependency         an optional library is absent; names the extra to install (a skip)
    ├── BrokenDependency          an optional library is installed but importing it raised (an error,
    │                             never a skip: a broken upgrade is what a platform team runs this for)
    ├── SchemaError               a JSON file that is not effcheck's, or from a newer schema
    │   └── CorruptFileError      a file that is not valid JSON at all
    ├── BaselineError             no baseline, a run id that does not exist, a hardware-key mismatch
    └── CheckpointLayoutError     weights whose keys or shapes do not fit the architecture (also a
                                  ValueError); the message names the key
"""

from __future__ import annotations


class EffcheckError(Exception):
    """Base of every error effcheck raises on purpose."""


class UsageError(EffcheckError):
    pass


class MissingDependency(EffcheckError):
    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(f"{module} is not installed: pip install 'effcheck[{extra}]'")


class BrokenDependency(EffcheckError):
    def __init__(self, module: str, extra: str, cause: BaseException) -> None:
        self.module = module
        self.extra = extra
        version = _installed_version(module)
        why = " ".join(f"{type(cause).__name__}: {cause}".split())[:300]
        super().__init__(f"{module}{version} is installed but `import {module}` raised {why}; its claims were "
                         f"not measured: repair or reinstall it (pip install --force-reinstall 'effcheck[{extra}]')")


def _installed_version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return " " + version(module.split(".")[0])
    except (PackageNotFoundError, ValueError):
        return ""


class SchemaError(EffcheckError):
    pass


class CorruptFileError(SchemaError):
    pass


class BaselineError(EffcheckError):
    pass


class CheckpointLayoutError(EffcheckError, ValueError):
    """A checkpoint whose keys or shapes do not fit the architecture; the message names the key."""
