"""The pytest wiring, run as a user runs it: options, collection, baseline failures.

These runs stop before any training (collection, or a baseline problem found first), so they
take seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import baselines
from harness.cases import get_case_set

from .conftest import make_record

ROOT = Path(__file__).resolve().parent.parent


def pytest_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_full_profile_collects_the_1200_published_cases_without_cifar10(tmp_path):
    out = pytest_run(
        "difftests", "--profile", "full", "--collect-only", "-q", "--data-dir", str(tmp_path)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    ids = [line for line in out.stdout.splitlines() if "::test_case[" in line]
    assert len(ids) == 1200
    for arch in ("vgg16", "resnet50", "densenet121"):
        assert sum(f"[{arch}-" in i for i in ids) == 400


def test_k_selects_as_a_user_expects():
    out = pytest_run(
        "difftests", "--profile", "full", "--collect-only", "-q", "-k", "resnet50 and bs10-"
    )
    ids = [line for line in out.stdout.splitlines() if "::test_case[" in line]
    assert ids and all("[resnet50-" in i and "-bs10-" in i for i in ids)


def test_unknown_profile_is_refused_with_the_valid_ones():
    out = pytest_run("difftests", "--profile", "huge", "--collect-only")
    assert out.returncode != 0
    assert "argument --profile: invalid choice: 'huge' (choose from" in out.stderr
    assert "'full', 'smoke', 'tiny'" in out.stderr


def _smoke_case():
    return get_case_set("smoke")[0]


def test_missing_baseline_fails_with_the_command_that_creates_it(tmp_path):
    case = _smoke_case()
    out = pytest_run("difftests", "-k", case.case_id, "--baselines-dir", str(tmp_path))
    assert out.returncode == 1
    assert f"no baseline for {case.case_id} at {tmp_path}/smoke/{case.arch}/" in out.stdout
    assert (
        f"pytest difftests --profile smoke -k {case.case_id} --baselines-dir={tmp_path} "
        "--regen-baselines" in out.stdout
    )
    assert "missing" in out.stdout.split("crossedwires: profile smoke")[1]


def test_broken_baselines_fail_naming_file_and_field(tmp_path):
    case = _smoke_case()
    path = baselines.baseline_path(tmp_path, "smoke", case.arch, case.case_id)
    path.parent.mkdir(parents=True)
    good = json.loads(baselines.dumps(make_record()))
    for text, expected in [
        (baselines.dumps(good)[:120], "truncated or not valid JSON"),
        ("{not json", "truncated or not valid JSON"),
        (
            json.dumps({k: v for k, v in good.items() if k != "results"}),
            "field results is missing (required)",
        ),
    ]:
        path.write_text(text)
        out = pytest_run("difftests", "-k", case.case_id, "--baselines-dir", str(tmp_path))
        assert out.returncode == 1
        assert f"{path}: {expected}" in out.stdout


def test_cases_run_longest_first_by_the_durations_the_last_run_measured(tmp_path):
    """The order xdist hands cases out in: measured durations first, longest first."""
    ids = [c.case_id for c in get_case_set("smoke")]
    cache = tmp_path / "cache"
    durations = {ids[0]: 5.0, ids[1]: 50.0}  # two measured, the rest estimated
    folder = cache / "v" / "crossedwires" / "durations"
    folder.mkdir(parents=True)
    (folder / "smoke").write_text(json.dumps(durations))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", f"cache_dir={cache}"]
        + ["difftests", "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    order = [
        line.split("[", 1)[1].rstrip("]")
        for line in out.stdout.splitlines()
        if "::test_case[" in line
    ]
    assert sorted(order) == sorted(ids)
    assert order[:2] == [ids[1], ids[0]]


def test_seeds_below_one_are_refused():
    out = pytest_run("difftests", "--seeds", "0", "--collect-only")
    assert out.returncode != 0
    assert "--seeds 0: K must be between 1 and 100" in out.stderr


def test_the_end_of_run_groups_drifted_cases_by_framework():
    from harness.report import drift_by_framework

    then, now = "torch 2.14.1, torchvision 0.29.1", "torch 2.13.0, torchvision 0.28.0"
    rows = [
        {"case": "a", "drift": {"pytorch": {"moved": -0.03, "then": then, "now": now}}},
        {"case": "b", "drift": {"pytorch": {"moved": 0.11, "then": then, "now": now}}},
        {"case": "c", "drift": {}},
    ]
    assert drift_by_framework(rows).splitlines() == [
        "pytorch: 2 case(s) drifted",
        f"  versions then: {then}; now: {now}",
        "  +0.1100  b",
        "  -0.0300  a",
    ]
    assert drift_by_framework(rows[2:]) == ""
