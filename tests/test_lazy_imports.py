"""Loading the plugin, `pytest --help` and `effcheck --help` import no heavy library."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("torch", "timm", "transformers", "diffusers", "rwkv", "peft")


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
    code = ("import benchmarks.test_vision, benchmarks.test_sequence, benchmarks.test_attention, "
            "benchmarks.test_llm, benchmarks.test_diffusion")
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
