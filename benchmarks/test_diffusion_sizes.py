"""Diffusion claims about sizes.

The tests live in effcheck.suite.test_diffusion_sizes, shipped in the wheel and run from any folder by `effcheck suite`;
this shim gives them their node ids under benchmarks/, so `pytest benchmarks/` in a clone runs them as before
(the same tests, collected once, with the same fixtures and markers).
"""

from effcheck.suite.test_diffusion_sizes import *  # noqa: F403
