"""Attention's architecture facts (GQA cache, parameters, cost, adoption, serving).

The tests live in effcheck.suite.test_attention_architecture, shipped in the wheel and run from any folder
by `effcheck suite`; this shim gives them their node ids under benchmarks/, so `pytest benchmarks/` in a
clone runs them (the same tests, collected once, with the same fixtures and markers).
"""

from effcheck.suite.test_attention_architecture import *  # noqa: F403
