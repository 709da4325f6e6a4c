"""Test-only pytest plugin: one model's forward does a fixed fraction more work, so a gate experiment can
check that effcheck flags a real slowdown (and only then).

    pytest benchmarks/ -p tests.slowdown_plugin --slowdown=efficientnet:0.25 --benchmark-compare

After each forward of the named timm model family, the CPU spins for the given fraction of the time the
forward itself took: +25% wall time of that model's forward, measured by its own clock.
"""

from __future__ import annotations

import time

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slowdown", default=None, metavar="FAMILY:FRACTION",
                     help="make timm's FAMILY (efficientnet, resnet, mobilenetv2...) forward do FRACTION more work")


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("--slowdown")
    if not spec:
        return
    family, _, fraction = spec.partition(":")
    extra = float(fraction)
    import importlib

    module = importlib.import_module(f"timm.models.{family}")
    wanted = family.replace("v2", "")
    classes = [c for c in vars(module).values() if isinstance(c, type) and c.__name__.lower() == wanted]
    if not classes:
        raise pytest.UsageError(f"--slowdown: no model class named like {family!r} in timm.models.{family}")
    cls = classes[0]
    original = cls.forward

    def slower(self, *args, **kwargs):
        start = time.perf_counter()
        out = original(self, *args, **kwargs)
        _spin((time.perf_counter() - start) * extra)
        return out

    cls.forward = slower
    config.add_cleanup(lambda: setattr(cls, "forward", original))
