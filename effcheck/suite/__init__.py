"""The article's claim suite, shipped with effcheck: one test module per claim family (test_vision.py,
test_attention.py, ...), each building real architectures and checking the claims of effcheck.claims.

Run it from any folder with `effcheck suite [PYTEST ARGS]` (or `pytest --pyargs effcheck.suite`); in a
clone, `pytest benchmarks/` runs the same tests through the shims there. It needs torch and the ML
libraries: `pip install 'effcheck[all]'`.

No conftest: the fixtures the tests use (`effcheck`, `device`, `one_torch_thread`, ...) come from the
effcheck plugin, and each module defines its own, so the suite collects the same way from a path, from
--pyargs and through the shims. Saving every run that checked claims (the history the gate reads) is the
plugin's job as well (ini option `effcheck_autosave`, default true).
"""
