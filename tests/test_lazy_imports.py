"""Loading the plugin, `pytest --help` and `effcheck --help` import no heavy library."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("torch", "timm", "transformers", "diffusers", "rwkv", "peft")


def _python_in(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter running code in folder, importing this checkout's effcheck."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=folder,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                         cwd=ROOT)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("heavy:")][-1]
    return [m for m in line.removeprefix("heavy:").split(",") if m]


def test_plugin_import_is_light():
    assert _imported_after("import effcheck, effcheck.plugin, effcheck.claims; effcheck.claims.catalogue()") == []


def test_pytest_help_is_light():
    code = "import contextlib, io, pytest\nwith contextlib.redirect_stdout(io.StringIO()): pytest.main(['--help'])"
    assert _imported_after(code) == []


def test_cli_help_is_light():
    code = ("import contextlib, io\nfrom effcheck.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try: main(['--help'])\n    except SystemExit: pass")
    assert _imported_after(code) == []


def test_benchmark_modules_import_no_heavy_library():
    """Collection stays cheap, and a missing library surfaces as a skip inside the test, not a collection error."""
    code = ("import effcheck.suite.test_vision, effcheck.suite.test_sequence, effcheck.suite.test_attention, "
            "effcheck.suite.test_llm, effcheck.suite.test_diffusion, benchmarks.test_vision, benchmarks.test_llm")
    assert _imported_after(code) == []


def test_a_missing_library_skips_naming_the_extra():
    code = (
        "import sys\nsys.modules['timm'] = None  # as if timm were not installed\n"
        "import pytest\n"
        "code = pytest.main(['benchmarks/test_vision.py', '-k', 'params_ratio', '-rs', '-q', "
        "'-p', 'no:cacheprovider', '--benchmark-disable'])\n"
        "print('EXIT', int(code))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "EXIT 0" in out.stdout, out.stdout[-3000:]
    assert "3 skipped" in out.stdout
    assert "timm is not installed: pip install 'effcheck[vision]'" in out.stdout


def test_reporting_cli_runs_where_torch_is_not_installed(tmp_path):
    """report, compare and history read saved runs only: they work in an environment without torch."""
    from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict

    claim = Claim(id="fam/x", statement="x", source="doc", metric="m", unit="x", comparison=">=", expected=1.0)
    folder = tmp_path / ".benchmarks" / "m"
    folder.mkdir(parents=True)
    for n in ("0001", "0002"):
        ledger = Ledger((ClaimResult(claim, Verdict.PASS, "ok", Measurement(2.0, "x", "counted")),), {}, "k",
                        f"2026-11-28T10:{n[-2:]}:00+00:00")
        (folder / f"{n}_abc.json").write_text(json.dumps({"benchmarks": [], "effcheck": ledger.to_dict()}))
    code = (
        "import sys\n"
        f"for name in {HEAVY!r}: sys.modules[name] = None  # as if not installed\n"
        "from effcheck.cli import main\n"
        "storage = ['--storage', '.benchmarks']\n"
        "codes = [main(['report', *storage]), main(['report', '--format', 'markdown', *storage]),\n"
        "         main(['compare', '1', '2', *storage]), main(['list'])]\n"
        "try:\n    import matplotlib, jinja2\n    codes.append(main(['history', '--out', 'dash', *storage]))\n"
        "except ImportError:\n    pass\n"
        "print('CODES', codes)\n"
    )
    out = _python_in(tmp_path, code)
    assert out.returncode == 0, out.stderr[-2000:]
    codes = [line for line in out.stdout.splitlines() if line.startswith("CODES")][-1]
    assert set(ast.literal_eval(codes.removeprefix("CODES "))) == {0}, out.stdout[-2000:]


def test_history_without_the_plots_extra_says_what_to_install_in_one_line(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if not installed\n"
        "from effcheck.cli import main\n"
        "raise SystemExit(main(['history', '--out', 'dash', '--storage', '.benchmarks']))\n"
    )
    out = _python_in(tmp_path, code)
    assert out.returncode == 2 and out.stderr == (
        "effcheck: error: matplotlib is not installed: pip install 'effcheck[plots]'\n"), out.stderr[-2000:]
    assert not (tmp_path / "dash").exists()


def test_a_project_without_claims_runs_where_torch_is_not_installed(tmp_path):
    (tmp_path / "test_plain.py").write_text("import pytest\n@pytest.mark.gpu\ndef test_a(): pass\n")
    code = (
        "import sys\n"
        f"for name in {HEAVY!r}: sys.modules[name] = None\n"
        "import pytest\n"
        "raise SystemExit(int(pytest.main(['-q', '-p', 'no:cacheprovider', '--benchmark-json=b.json'])))\n"
    )
    out = _python_in(tmp_path, code)
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert json.loads((tmp_path / "b.json").read_text())["effcheck"]["results"] == []
