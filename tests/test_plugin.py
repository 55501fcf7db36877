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


CHECKED_AGAINST = """
import json
from pathlib import Path

import pytest

from harness import runner
from harness.cases import find_case
from harness.pytest_plugin import FrameworkPair

HERE = Path(__file__).parent


@pytest.mark.parametrize("name", ["seeded", "single"])
def test_case(framework_pair, monkeypatch, name):
    baseline = json.loads((HERE / f"{name}-baseline.json").read_text())
    record = json.loads((HERE / f"{name}-record.json").read_text())
    monkeypatch.setattr(FrameworkPair, "_existing_baseline", lambda self, *args: baseline)
    monkeypatch.setattr(runner, "run_case", lambda *args, **kwargs: record)
    framework_pair.check_case(find_case(record["case"]["id"]))
"""


def test_the_end_of_run_states_per_side_the_smallest_drift_it_detects(pytester):
    """Two cases checked through ``check_case`` (training stubbed out with records built by
    the real record code): per side, the move found with 80% power at the run's K and its 4
    drift tests, from the baseline's seeds; TensorFlow at chance borrows PyTorch's spread, the
    only side that learns; one seed is not gated."""
    from harness import judge

    from .conftest import make_seeded_record

    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_checked=CHECKED_AGAINST)
    baseline = make_seeded_record([70, 80, 75, 72, 78], [10, 10, 11, 10, 9])
    record = make_seeded_record([71, 79, 74, 73, 78], [10, 11, 11, 10, 9])
    single = make_record()
    for name, value in (
        ("seeded-baseline", baseline),
        ("seeded-record", record),
        ("single-baseline", single),
        ("single-record", single),
    ):
        (pytester.path / f"{name}.json").write_text(baselines.dumps(value))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    sigma = judge.accuracy_stats([0.70, 0.80, 0.75, 0.72, 0.78])["std"]
    move = judge.detectable_drift(sigma, 5, 5, 4, 0.05, 0.10)
    assert 0.10 < move < judge.detectable_drift(sigma, 5, 5, 14, 0.05, 0.10)
    result.stdout.fnmatch_lines(
        [
            "*crossedwires: the smallest drift each side's check detects*",
            "*drift test finds with 80% power (K = 5 seeds now, 4 drift tests: Bonferroni at "
            "alpha 0.05, margin 0.1)",
            f"{single['case']['id']}*pytorch not gated; tensorflow not gated",
            f"{baseline['case']['id']}  pytorch >= {move:.2f} (std {sigma:.3f}); tensorflow >= "
            f"{move:.2f} (std {sigma:.3f}, at chance: the median spread of the one side that "
            "learns)",
        ]
    )


def test_the_detectable_drift_section_says_a_failed_seed_and_is_empty_without_a_baseline():
    from harness.report import detectable_section

    power = {"then": {"pytorch": [0.7, 0.8, 0.75], "tensorflow": None}, "chance_band": None}
    text = detectable_section([{"case": "a", "seeds": 3, "power": power}], 2, 0.05, 0.1)
    assert text.splitlines()[-1].startswith("a  pytorch >= ")
    assert text.endswith("; tensorflow n/a (a seed failed)")
    assert detectable_section([{"case": "a", "seeds": 3}], 2, 0.05, 0.1) == ""
