"""The pytest wiring, run as a user runs it: options, collection, baseline failures.

These runs stop before any training (collection, or a baseline problem found first), so they
take seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
            "alpha 0.05, margin 0.1 unless a case has its own)",
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


# --- what the plugin costs a project that does not use it; its two spellings of each option ---

HEAVY = ("numpy", "jsonschema", "pandas", "scipy", "filelock", "sklearn", "torch", "tensorflow")
HEAVY += ("keras", "jax")
LIGHT = {"harness", "harness.errors", "harness.profiles", "harness.project", "harness.sides"}
LIGHT |= {"harness.pytest_plugin"}
MODULES_AFTER = """
import json, sys
{run}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(run: str, cwd: Path) -> list[str]:
    """The modules a fresh interpreter holds after ``run``, this checkout's harness first."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER.format(run=run)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_importing_the_plugin_imports_no_numpy_jsonschema_or_framework(tmp_path):
    modules = _modules_after("import harness.pytest_plugin", tmp_path)
    assert _heavy(modules) == []
    assert {m for m in modules if m.split(".")[0] == "harness"} == LIGHT


def test_an_unrelated_projects_run_loads_the_plugin_and_nothing_heavy(tmp_path):
    """``pytest --collect-only`` of a trivial project: the plugin is loaded (through the
    entry point), its light modules only; ``benchmarks/plugin_startup.py`` measures the cost."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_trivial.py").write_text("def test_nothing():\n    pass\n")
    run = (
        'import pytest; assert pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider"]) == 0'
    )
    modules = _modules_after(run, tmp_path)
    assert "harness.pytest_plugin" in modules
    assert _heavy(modules) == []
    assert {m for m in modules if m.split(".")[0] == "harness"} == LIGHT


SPELLINGS = """
from harness.pytest_plugin import option


def test_options(crossedwires_profile, pytestconfig):
    assert crossedwires_profile.name == "tiny"
    assert option(pytestconfig, "seeds") == 2
    assert option(pytestconfig, "regen-baselines") is False
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--cw-profile", "tiny", "--cw-seeds", "2"],
        ["--profile", "tiny", "--seeds=2"],
        ["--cw-profile=tiny", "--seeds", "2"],
    ],
)
def test_each_option_has_a_cw_spelling_and_its_plain_one(pytester, args):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_spelled=SPELLINGS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)


def test_help_lists_both_spellings(pytester):
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(
        ["crossedwires: differential tests of frameworks:", "*--cw-profile=*", "*--cw-seeds=K*"]
    )
    result.stdout.fnmatch_lines(["*--seeds=K*the same as --cw-seeds*"])


TAKES_OURS = """
def pytest_addoption(parser):
    parser.addoption("--seeds", default="theirs")
    parser.getgroup("profiling").addoption("--profile", action="store_true")
    parser.addoption("--baselines-dir", default=None)
"""
USES_BOTH = """
from harness.pytest_plugin import option


def test_both(crossedwires_profile, pytestconfig):
    assert pytestconfig.getoption("--seeds") == "7"  # the conftest's
    assert pytestconfig.getoption("--profile") is True
    assert option(pytestconfig, "seeds") == 2  # crossedwires'
    assert crossedwires_profile.name == "tiny"
"""


def test_a_conftest_option_named_like_ours_keeps_it_and_ours_is_cw(pytester):
    """A conftest (or a plugin: pytest-profiling has ``--profile``) that adds ``--seeds``,
    ``--profile``, ``--baselines-dir`` keeps them; crossedwires' are ``--cw-seeds``, ... and the
    header says so."""
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(TAKES_OURS)
    pytester.makepyfile(test_both=USES_BOTH)
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "--seeds",
        "7",
        "--profile",
        "--cw-seeds",
        "2",
        "--cw-profile",
        "tiny",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "crossedwires: --profile, --baselines-dir, --seeds belong to another plugin or "
            "conftest here; crossedwires' are --cw-profile, --cw-baselines-dir, --cw-seeds"
        ]
    )


def test_with_a_plain_spelling_taken_a_printed_command_uses_the_cw_one(pytester):
    """A missing baseline's command, pasted, must reach crossedwires' options, not the
    conftest's: found before any training."""
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(TAKES_OURS)
    pytester.makepyfile(test_my_models=(ROOT / "examples/own-models/test_my_models.py").read_text())
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "--cw-profile",
        "tiny",
        "--cw-baselines-dir",
        "bl",
        "--cw-seeds",
        "3",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no baseline for my-cnn-custom-numerics at */bl/tiny/my-cnn/"
            "my-cnn-custom-numerics.json; create it with: pytest test_my_models.py::test_my_cnn "
            "--cw-profile tiny "
            "--cw-baselines-dir=bl --cw-seeds=3 --regen-baselines"  # that one is ours
        ]
    )


TAKES_CW = """
def pytest_addoption(parser):
    parser.addoption("--cw-seeds", default="theirs")
"""


@pytest.mark.parametrize("where", ["conftest", "plugin"])
def test_a_cw_option_taken_by_another_is_one_line_naming_crossedwires(pytester, where):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    if where == "conftest":
        pytester.makeconftest(TAKES_CW)
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    else:  # registered before crossedwires
        pytester.makepyfile(other_plugin=TAKES_CW)
        pytester.syspathinsert()
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "other_plugin")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        "ERROR: crossedwires: option --cw-seeds is already defined by another plugin or "
        "conftest; disable crossedwires with -p no:crossedwires"
    ]
    # and the way out it names works
    pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:crossedwires",
        *(["-p", "other_plugin"] if where == "plugin" else []),
    ).assert_outcomes(passed=1)


def test_a_plain_spellings_value_is_no_path_for_the_initial_conftests(pytester):
    """``--data-dir sub`` (its plain spelling added once the initial conftests are in) does not make
    ``sub`` a folder pytest loads conftests from first."""
    pytester.makeini("[pytest]\n")
    sub = pytester.mkdir("sub")
    (sub / "conftest.py").write_text("raise RuntimeError('loaded as an initial conftest')\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "test_nothing.py", "--data-dir", "sub"
    )
    result.assert_outcomes(passed=1)
