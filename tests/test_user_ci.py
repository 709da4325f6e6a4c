"""The CI a user's repository gets (docs/quickstart.md, "CI in your repository"): the caller workflow the page
shows is the file CI lints (docs/examples/user-ci.yml, actionlint and zizmor in .ci/run), and it calls the
reusable workflow .github/workflows/effcheck-claims.yml only with inputs that workflow declares, giving
the required ones and the permissions its jobs ask for (a called job asking for more than its caller
grants fails the whole run before it starts, so no test on GitHub would be needed to find it)."""

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "docs" / "quickstart.md"
CALLER = ROOT / "docs" / "examples" / "user-ci.yml"
REUSABLE = ROOT / ".github" / "workflows" / "effcheck-claims.yml"
USES = re.compile(r"^[\w.-]+/effcheck/\.github/workflows/effcheck-claims\.yml@[0-9a-f]{40}$")
TYPES = {"string": str, "boolean": bool, "number": (int, float)}
LEVEL = {"none": 0, "read": 1, "write": 2}


def _yaml(text: str) -> Any:
    yaml = pytest.importorskip("yaml", reason="PyYAML (installed with transformers and timm) parses the workflows")
    return yaml.safe_load(text)


def _declared() -> dict[str, Any]:
    workflow = _yaml(REUSABLE.read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    return on["workflow_call"]["inputs"]


def _calls() -> dict[str, Any]:
    """The caller's jobs that use the reusable workflow, and the commented-out GPU job written the same way."""
    text = CALLER.read_text()
    jobs = dict(_yaml(text)["jobs"])
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  # claims-gpu:"))
    commented = "\n".join(line[4:] for line in lines[start:] if line.startswith("  # "))
    jobs.update(_yaml(commented))
    return {name: job for name, job in jobs.items() if "uses" in job}


def test_the_quickstart_shows_the_linted_caller_verbatim():
    section = QUICKSTART.read_text().split("## CI in your repository", 1)[1]
    shown = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert shown, "docs/quickstart.md's CI section shows no ```yaml block"
    assert shown.group(1).strip() == CALLER.read_text().strip()


def test_the_caller_passes_only_inputs_the_workflow_declares():
    declared = _declared()
    calls = _calls()
    assert set(calls) == {"claims", "claims-gpu"}
    for name, job in calls.items():
        assert USES.match(job["uses"].split("#")[0].strip()), f"{name}: uses {job['uses']!r} is not pinned to a commit"
        given = job.get("with", {})
        assert set(given) <= set(declared), f"{name}: undeclared inputs {sorted(set(given) - set(declared))}"
        missing = {key for key, spec in declared.items() if spec.get("required") and key not in given}
        assert not missing, f"{name}: required inputs missing: {sorted(missing)}"
        for key, value in given.items():
            kind = declared[key]["type"]
            assert isinstance(value, TYPES[kind]), f"{name}: {key}={value!r} is not a {kind}"
            if key == "runs-on":
                assert isinstance(_yaml(value), (str, list)), "runs-on is JSON: a label or a list of labels"


def test_every_input_is_described_and_every_optional_one_has_a_default():
    for key, spec in _declared().items():
        assert spec.get("description"), key
        assert spec.get("required") or "default" in spec, key
        if "default" in spec:
            assert isinstance(spec["default"], TYPES[spec["type"]]), key


def test_the_caller_grants_what_the_called_jobs_ask_for():
    called = _yaml(REUSABLE.read_text())["jobs"]
    asked: dict[str, int] = {}
    for job in called.values():
        for scope, level in job.get("permissions", {}).items():
            asked[scope] = max(asked.get(scope, 0), LEVEL[level])
    assert asked == {"contents": 2, "pull-requests": 2}  # least privilege: nothing else
    # the job that runs the caller's code only reads; write belongs to the jobs that run none of it
    assert called["claims"]["permissions"] == {"contents": "read"}
    for name, job in called.items():
        if job.get("permissions", {}).get("contents") == "write":
            assert not any("actions/checkout@" in step.get("uses", "") for step in job["steps"]), name
    for name, job in _calls().items():
        granted = job.get("permissions", {})
        short = {scope for scope, level in asked.items() if LEVEL[granted.get(scope, "none")] < level}
        assert not short, f"{name} grants too little for {sorted(short)}"


def test_only_the_default_branch_pushes_the_history_and_a_pull_request_is_gated_fail_closed():
    jobs = _yaml(REUSABLE.read_text())["jobs"]
    steps = jobs["claims"]["steps"]
    text = REUSABLE.read_text()
    assert "actions/cache/" not in text, "the history lives on a branch (effcheck push|pull), not in the cache"
    pushes = [name for name, job in jobs.items() for step in job["steps"] if "effcheck push" in step.get("run", "")]
    assert pushes == ["push"] and "needs.claims.outputs.mode == 'extend'" in jobs["push"]["if"]
    plan = next(step for step in steps if step.get("id") == "plan")["run"]
    assert '[ "$EVENT" = merge_group ]; then\n  mode=gate' in plan
    assert 'refs/heads/$DEFAULT_BRANCH" ]; then\n  mode=extend' in plan
    pull = next(step for step in steps if "effcheck pull" in step.get("run", ""))
    assert "exit 1" in pull["run"], "a history that exists but cannot be read fails, never seeds a new one"
    assert steps.index(pull) < next(i for i, step in enumerate(steps) if step.get("id") == "claims")
    claims = next(step for step in steps if step.get("id") == "claims")["run"]
    assert '[ "$MODE" = gate ]; then args+=(--benchmark-compare --effcheck-require-baseline)' in claims
    history = next(step for step in steps if step.get("id") == "history")["run"]
    assert "exit 1" in history and 'if [ "$SEED" = true ]' in history
    for job in jobs.values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"{step.get('name')}: an expression expanded inside run:"
    for line in text.splitlines():  # every action pinned by commit, its version said beside it
        if line.strip().startswith(("- uses:", "uses:")):
            assert re.search(r"@[0-9a-f]{40} # v\d", line), line
