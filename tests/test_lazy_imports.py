"""Loading the plugin, `pytest --help` and `effcheck --help` import no heavy library."""

import subprocess
import sys

HEAVY = ("torch", "timm", "transformers", "diffusers", "rwkv", "peft")


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
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
