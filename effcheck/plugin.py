"""effcheck's pytest plugin: options, markers, fixtures and session hooks. Thin: logic lives elsewhere.

Loaded by pytest without importing torch or any ML library; those load inside fixtures and meters.
Results travel in each report's user_properties (so they survive pytest-xdist) and only the controller
prints the claims table and writes files.

The plugin is installed in every project of an environment, so it acts only on *effcheck benchmarks*
(tests that carry a claim or use the `effcheck` fixture): its markers (gpu, timed) change nothing for
a project's other tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from effcheck.errors import EffcheckError, MissingDependency
from effcheck.item_claims import claims_of, collection_problems
from effcheck.options import add_ini_options, add_options, read_options
from effcheck.plan import decide
from effcheck.saving import BenchmarkHooks
from effcheck.session import CLAIMS_KEY, DELTA_KEY, RESULT_KEY, SERIAL_KEY, EffcheckSession

SESSION = pytest.StashKey[EffcheckSession]()
PROBLEM = pytest.StashKey[str]()  # why an item's claims cannot be gated (an xdist worker fails it at setup)

if TYPE_CHECKING:
    from effcheck.records import Claim, ClaimResult, Measurement


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser.getgroup("effcheck", "effcheck: efficiency claims").addoption, prefix="--effcheck-",
                ini_fallback=True)
    add_ini_options(parser.addini)


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "claim(claim): the effcheck Claim this benchmark checks",
        "gpu: effcheck benchmark that needs CUDA; skipped with the reason when no CUDA device is present",
        "slow: takes more than a few seconds on a 2-core CPU",
        "weights: needs real pretrained weights found locally (never downloaded)",
        "timed: effcheck benchmark measuring wall-clock time; runs alone, never beside other pytest-xdist work",
    ):
        config.addinivalue_line("markers", line)
    try:
        options = read_options(config)
    except EffcheckError as exc:
        raise pytest.UsageError(str(exc)) from None
    plan = decide(config, options.autosave, options.compare, bool(options.json))
    session = EffcheckSession(config, options, plan)
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "effcheck-session")
    config.pluginmanager.register(BenchmarkHooks(session.ledger, session.hardware_key, session.warnings.append),
                                  "effcheck-benchmark-hooks")


def _session(config: pytest.Config) -> EffcheckSession:
    return config.stash[SESSION]


def is_effcheck_benchmark(item: pytest.Item) -> bool:
    """A test effcheck acts on: it carries a claim or uses the `effcheck` fixture. Others are left alone."""
    return item.get_closest_marker("claim") is not None or "effcheck" in getattr(item, "fixturenames", ())


def runs_alone(item: pytest.Item) -> bool:
    """A timed effcheck benchmark: under xdist it holds the run's lock exclusive (see effcheck.serial)."""
    return is_effcheck_benchmark(item) and item.get_closest_marker("timed") is not None


@pytest.hookimpl(tryfirst=True)  # every collected test, before -k or -m deselect some: ids must not collide
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _refuse(config, items, collection_problems(items))


def pytest_collection_finish(session: pytest.Session) -> None:
    """After every plugin's modifyitems (pytest-benchmark's notes any use of its fixture under xdist)."""
    config, items = session.config, session.items
    benchmarks = [item for item in items if is_effcheck_benchmark(item)]
    error = _session(config).claims_error
    if error and benchmarks:
        _refuse(config, benchmarks, {item.nodeid: error for item in benchmarks})
    for item in benchmarks:
        claims = claims_of(item)
        if claims:
            item.user_properties.append((CLAIMS_KEY, [c.to_dict() for c in claims]))
    if config.getoption("benchmark_only", False):
        _run_claims_as_benchmarks(benchmarks)
    if benchmarks and not hasattr(config, "workerinput"):  # pulled runs pytest-benchmark cannot see: one line
        from effcheck.remote_notice import pulled_runs_note

        _session(config).warnings.extend(filter(None, [pulled_runs_note(config)]))
    from effcheck.serial import worker_lock

    if worker_lock(getattr(config, "workerinput", None)) is not None:
        from effcheck.timings import warn_only_if_untimed

        warn_only_if_untimed(config, [i for i in items if not runs_alone(i)])


def _run_claims_as_benchmarks(items: list[pytest.Item]) -> None:
    """--benchmark-only runs only benchmarks, and a claim is one: pytest-benchmark skips every test that does
    not take its fixture, which skipped every claim and saved a run that measured nothing."""
    for item in items:
        item.own_markers[:] = [m for m in item.own_markers
                               if not (m.name == "skip" and "--benchmark-only" in str(m.kwargs.get("reason", "")))]


def _refuse(config: pytest.Config, items: list[pytest.Item], problems: dict[str, str]) -> None:
    """A usage error before any test; an xdist worker cannot raise one (xdist crashes), so there each
    affected test fails at setup with the same line."""
    if not problems:
        return
    if not hasattr(config, "workerinput"):
        _session(config).refused = True
        lines = list(dict.fromkeys(problems.values()))
        more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
        raise pytest.UsageError("effcheck: " + "\neffcheck: ".join(lines[:3]) + more)
    for item in items:
        if item.nodeid in problems:
            item.stash[PROBLEM] = problems[item.nodeid]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Under xdist, a timed test runs with no other test of the run beside it (see effcheck.serial), and
    pytest-benchmark's fixture, off under xdist, times it (see effcheck.timings)."""
    from effcheck.serial import worker_lock

    lock = worker_lock(getattr(item.config, "workerinput", None))
    if lock is None or not is_effcheck_benchmark(item):
        return (yield)
    if not runs_alone(item):
        with lock.hold(exclusive=False):
            return (yield)
    from effcheck.timings import timing_on_worker

    item.user_properties.append((SERIAL_KEY, True))
    with lock.hold(exclusive=True), timing_on_worker(item.config):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    problem = item.stash.get(PROBLEM, None)
    if problem:
        pytest.fail(f"effcheck: {problem}", pytrace=False)
    if is_effcheck_benchmark(item):
        if item.get_closest_marker("gpu") is not None:
            _skip_without_cuda(item)
        _skip_where_no_claim_applies(item)
        if runs_alone(item):  # timed: before any of its timing, pytest-benchmark's fixture included
            from effcheck.meters.heap import steady_heap

            steady_heap()
    try:
        return (yield)
    except MissingDependency as exc:
        _not_installed(item, exc)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        yield
    except MissingDependency as exc:
        _not_installed(item, exc)
    finally:
        if hasattr(item.config, "workerinput"):
            from effcheck.timings import report_timing

            report_timing(item)  # the controller saves it (effcheck.timings)
    _require_checked(item)


def _not_installed(item: pytest.Item, exc: MissingDependency) -> None:
    """A library that is not installed skips its claims, naming the extra; but a gate that fails closed
    fails a claim it holds a baseline for: an upgrade or an image that lost a library is what it guards."""
    session = _session(item.config)
    if session.options.gate.require_baseline:
        held = session.baselines_held(claims_of(item))
        if held:
            pytest.fail(f"effcheck gate: {exc}; not measured, yet {held}: --effcheck-require-baseline fails "
                        "closed", pytrace=False)
    pytest.skip(str(exc))


def _require_checked(item: pytest.Item) -> None:
    """A test that carries a claim and returns without checking it would read as passed with no row."""
    claims = claims_of(item)
    if not claims:
        return
    checked = {value["id"] for key, value in item.user_properties if key == RESULT_KEY}  # type: ignore[index]
    unchecked = [c.id for c in claims if c.id not in checked]
    if unchecked:
        how = ("call effcheck.check(measurement)" if "effcheck" in getattr(item, "fixturenames", ())
               else "take the `effcheck` fixture and call effcheck.check(measurement)")
        pytest.fail(f"effcheck: {item.nodeid} carries claim {', '.join(unchecked)} but never checked it: {how}",
                    pytrace=False)


@pytest.hookimpl(trylast=True)  # after pytest's own, which tears the test's fixtures down
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After a benchmark, what survives is frozen out of the collector's way (see effcheck.meters.heap)."""
    if is_effcheck_benchmark(item):
        from effcheck.meters.heap import freeze_survivors

        freeze_survivors()


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        from effcheck.timings import quiet_worker

        quiet_worker(session.config)


def _skip_without_cuda(item: pytest.Item) -> None:
    requested = _session(item.config).options.device
    if requested == "cpu":
        pytest.skip("gpu benchmark: --effcheck-device=cpu was given")
    try:
        import torch
    except ImportError:
        pytest.skip("gpu benchmark: torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip(f"gpu benchmark: no CUDA device visible to torch {torch.__version__}; run on a GPU machine")


def _skip_where_no_claim_applies(item: pytest.Item) -> None:
    """A budget on named hardware (Claim.applies_to) is not measured elsewhere: skip, saying where it applies."""
    claims = claims_of(item)
    if not claims or all(c.applies_to is None for c in claims):
        return
    from effcheck.budgets import not_applicable_reason

    env = _session(item.config).environment()
    reasons = [not_applicable_reason(c, env) for c in claims]
    if all(reasons):
        pytest.skip("; ".join(r for r in reasons if r))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    """Before pytest-benchmark saves (its own wrapper runs inside this one): effcheck decides what is saved."""
    effcheck_session = _session(session.config)
    if not effcheck_session.is_worker:
        try:
            effcheck_session.prepare_saving()
        except EffcheckError as exc:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            session.config.get_terminal_writer().line(f"effcheck: {exc}", red=True)
    return (yield)


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> str:
    """The device benchmarks measure on: 'cpu' or 'cuda:N' (--effcheck-device, default auto)."""
    from effcheck.devices import resolve_device

    try:
        worker = getattr(request.config, "workerinput", {}).get("workerid")
        return resolve_device(_session(request.config).options.device, worker)
    except EffcheckError as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


class Recorder:
    """Holds a measurement against the test's claim and records the result on the test report."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    @property
    def claims(self) -> list[Claim]:
        return claims_of(self._item)

    @property
    def claim(self) -> Claim:
        claims = self.claims
        if len(claims) != 1:
            raise pytest.UsageError(
                f"{self._item.nodeid}: expected one @pytest.mark.claim(...), found {len(claims)}; pass claim="
            )
        return claims[0]

    def _own(self, claim: Claim | None) -> Claim:
        """The claim as this test checks it: on a parametrized test, a claim named by its base id is this
        parameter's claim (effcheck.item_claims)."""
        if claim is None:
            return self.claim
        callspec = getattr(self._item, "callspec", None)
        wanted = {claim.id, f"{claim.id}[{callspec.id}]" if callspec is not None else claim.id}
        return next((mine for mine in self.claims if mine.id in wanted), claim)

    def check(self, measurement: Measurement, claim: Claim | None = None) -> ClaimResult:
        """Hold the measurement against the claim, then against the baseline run when gating.

        A regression fails the test even when the claim holds (or was recorded as refuted): a number
        that got worse since the baseline is exactly what the gate is for.
        """
        from effcheck.checks import evaluate
        from effcheck.records import Verdict

        result = evaluate(self._own(claim), measurement, self._item.nodeid)
        self._item.user_properties.append((RESULT_KEY, result.to_dict()))
        session = _session(self._item.config)
        delta = session.gate(result)
        if delta is not None:
            self._item.user_properties.append((DELTA_KEY, delta.to_dict()))
            if delta.failing(session.options.gate):
                claim_note = "" if result.verdict is Verdict.PASS else f"\n{result.message}"
                pytest.fail(f"effcheck gate: {delta.message}{claim_note}", pytrace=False)
        if result.verdict is Verdict.REFUTED:
            refuted = pytest.xfail.Exception(result.message)
            refuted.pytrace = False  # as for a FAIL the sentence is the report: no traceback to format (~17 ms)
            raise refuted
        if result.verdict is not Verdict.PASS:
            pytest.fail(result.message, pytrace=False)
        return result

    def fail(self, measurement: Measurement, reason: str, claim: Claim | None = None) -> None:
        """Record a FAIL that keeps the partial measurement (e.g. an out-of-memory at one sweep point)."""
        from effcheck.checks import failed

        result = failed(self._own(claim), measurement, reason, self._item.nodeid)
        self._item.user_properties.append((RESULT_KEY, result.to_dict()))
        pytest.fail(result.message, pytrace=False)


@pytest.fixture
def effcheck(request: pytest.FixtureRequest) -> Recorder:
    """`effcheck.check(measurement)` holds it against the test's @pytest.mark.claim and records it."""
    return Recorder(request.node)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one intra-op thread for a module of tiny models, restored after: their ops are too small to
    gain from threads, and on a shared 2-core CPU spinning worker threads made runs up to 18x slower.
    Bytes and FLOPs do not depend on it. Opt in with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def weights_dir(request: pytest.FixtureRequest) -> str | None:
    """--effcheck-weights: a folder of real weights laid out like the hub, or None (weights benchmarks skip)."""
    return _session(request.config).options.weights


@pytest.fixture(scope="session")
def matmul_peak_flops(device: str) -> Callable[[], float]:
    """`matmul_peak_flops()`: this device's measured float32 matmul peak in FLOP/s at the current torch
    thread count (a module may pin one thread), measured once per thread count, for roofline figures."""
    import torch

    from effcheck.meters.roofline import matmul_peak

    measured: dict[int, float] = {}

    def peak() -> float:
        threads = torch.get_num_threads()
        if threads not in measured:
            measured[threads] = matmul_peak(device)
        return measured[threads]

    return peak
