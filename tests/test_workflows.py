"""The example upgrade-gate workflow: pip cache, one run per pull request, one comment updated in
place, and a fork-safe summary that never turns the job red on its own (issue 14, part 7)."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "upgrade-gate.yml"
MARKER = "<!-- crossedwires-upgrade-gate -->"
FORK = "github.event.pull_request.head.repo.full_name"


def steps() -> tuple[dict, dict]:
    """The workflow, and its steps by id, else name, else the action they use (in order)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    gate = workflow["jobs"]["gate"]["steps"]
    return workflow, {s.get("id") or s.get("name") or s["uses"]: s for s in gate}


def test_pip_cache_is_keyed_on_the_pins():
    _, by_name = steps()
    setup = by_name["actions/setup-python@v5"]["with"]
    assert setup["cache"] == "pip"
    assert setup["cache-dependency-path"].split() == ["constraints.txt", "pyproject.toml"]


def test_a_new_push_cancels_the_run_for_the_same_pull_request():
    workflow, _ = steps()
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is True


def test_one_comment_found_by_its_marker_and_updated_in_place():
    workflow, by_name = steps()
    assert workflow["env"]["MARKER"] == MARKER
    comment = by_name["comment"]
    assert "--method PATCH" in comment["run"] and "--method POST" in comment["run"]
    assert 'contains(\\"$MARKER\\")' in comment["run"] and "gh pr comment" not in comment["run"]
    summary = by_name["what the new versions write, against the committed baselines"]["run"]
    assert 'echo "$MARKER"' in summary and '>> "$GITHUB_STEP_SUMMARY"' in summary


def test_a_fork_or_a_token_that_cannot_comment_gets_the_summary_and_stays_green():
    _, by_name = steps()
    comment = by_name["comment"]
    assert comment["if"] == f"{FORK} == github.repository"
    assert comment["continue-on-error"] is True
    artifact = by_name["keep the summary as an artifact"]
    assert artifact["uses"].startswith("actions/upload-artifact@") and "always()" in artifact["if"]
    notice = by_name["say where the summary is when there is no comment"]
    assert f"{FORK} != github.repository" in notice["if"]
    assert "steps.comment.outcome == 'failure'" in notice["if"]


def test_the_job_fails_when_and_because_the_gate_failed():
    _, by_name = steps()
    assert by_name["gate"]["continue-on-error"] is True
    last = list(by_name.values())[-1]
    assert last["if"] == "always() && steps.gate.outcome == 'failure'" and last["run"] == "exit 1"
