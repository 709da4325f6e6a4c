"""Root conftest: hypothesis profiles only.

ci       CI's runs (the default when $CI is set, and what .ci/run uses): derandomized, so every run draws the
         same examples and a red run is the change's doing, never the draw's; no example database (a fresh
         checkout has none, and a local one must not make CI differ); a failure prints its
         @reproduce_failure line. Replay: rerun the same command, or paste that line above the test.
explore  more examples from a new seed each run (a nightly or a local hunt); a failure prints the
         @reproduce_failure line that replays it (--hypothesis-seed=N replays a whole run).
dev      the local default: random draws, the local database replays past failures first.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=300, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_report_header(config):
    if settings.default.derandomize:
        return "hypothesis: derandomized (the same examples every run): a failure replays by rerunning the command"
    return "hypothesis: random draws: a failure prints the @reproduce_failure line that replays it"
