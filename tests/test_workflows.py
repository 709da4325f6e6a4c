"""GitHub behaviour the workflows must keep, checked on their text (actionlint and zizmor check the rest):
a required check always reports, main's runs are never dropped from the history, write access sits only on
jobs that run no tests, and every action is pinned by commit with its version beside it."""

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
GATING = ("ci.yml", "gpu-benchmarks.yml")


def _load(name: str) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML (installed with transformers and timm) parses the workflows")
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    return workflow


def _runs_code(job: dict[str, Any]) -> bool:
    return any(".ci/run" in step.get("run", "") or "pytest" in step.get("run", "") for step in job.get("steps", []))


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_action_is_pinned_by_commit_with_its_version(name):
    for line in (WORKFLOWS / name).read_text().splitlines():
        if re.match(r"\s*(- )?uses:", line) and "./" not in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


@pytest.mark.parametrize("name", GATING)
def test_a_required_check_always_reports(name):
    workflow = _load(name)
    assert workflow["on"]["pull_request"] is None or "paths" not in workflow["on"]["pull_request"], \
        "a paths filter on pull_request leaves a required check pending"
    assert "merge_group" in workflow["on"]
    required = workflow["jobs"]["required"]
    assert required["if"].replace(" ", "") == "${{always()}}"
    assert set(required["needs"]) == set(workflow["jobs"]) - {"required", "push-history"}


@pytest.mark.parametrize("name", GATING)
def test_main_runs_never_share_a_concurrency_group_and_push_the_history(name):
    workflow = _load(name)
    assert "github.ref == 'refs/heads/main' && github.run_id" in workflow["concurrency"]["group"]
    text = (WORKFLOWS / name).read_text()
    assert "actions/cache" not in text, "the history lives on the effcheck-history branch"
    push = workflow["jobs"]["push-history"]
    assert "github.ref == 'refs/heads/main'" in push["if"] and "pull_request" not in push["if"]
    assert any("history.sh push" in step.get("run", "") for step in push["steps"])


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_write_access_only_on_jobs_that_run_no_tests(name):
    workflow = _load(name)
    assert workflow.get("permissions") in ({"contents": "read"}, {})
    for job_name, job in workflow["jobs"].items():
        writes = {scope for scope, level in job.get("permissions", {}).items() if level == "write"}
        if writes:
            assert not _runs_code(job), f"{name}:{job_name} has {sorted(writes)} and runs tests"
        for step in job.get("steps", []):
            if "actions/checkout@" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False, f"{name}:{job_name}"


def test_the_self_hosted_gpu_job_takes_no_fork_code_from_its_event_and_caches_pip_per_job():
    gate = _load("gpu-benchmarks.yml")["jobs"]["gate"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in gate["if"]
    for step in gate["steps"]:
        if ".ci/run" in step.get("run", "") or "pip_install.py" in step.get("run", ""):
            assert step["env"]["PIP_CACHE_DIR"] == "${{ runner.temp }}/pip-cache", step["name"]
