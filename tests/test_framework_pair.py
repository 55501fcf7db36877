"""The installed pytest plugin in a project of a user's own: the documented example
(``examples/own-models/test_my_models.py``, shown whole in ``docs/plugin.md``) run by
``pytester`` in a temporary folder outside this checkout, through the ``pytest11`` entry point.

It trains for real, on the ``tiny`` profile (128 images, 1 epoch) with 3 seeds per framework:
about a minute on one CPU core for the two runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import baselines

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "own-models" / "test_my_models.py"
DOC = ROOT / "docs" / "plugin.md"
RUN = ("-p", "no:cacheprovider", "--profile", "tiny", "--seeds", "3")


def test_the_documented_example_is_the_example_file():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks and blocks[0] == EXAMPLE.read_text()


def test_the_plugin_is_registered_for_pytest(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["crossedwires: differential tests of frameworks:", "*--profile*"])


@pytest.mark.slow
def test_a_project_of_its_own_writes_and_checks_its_model_pair(pytester):
    assert ROOT not in pytester.path.parents  # outside this checkout
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_my_models=EXAMPLE.read_text())

    written = pytester.runpytest_subprocess(*RUN, "--regen-baselines")
    written.assert_outcomes(passed=1)
    folder = pytester.path / "baselines" / "tiny" / "my-cnn"
    written.stdout.fnmatch_lines([f"baselines ({folder.parent}): 2 written, 0 unchanged, 0 failed"])
    records = {p.name: baselines.read(p, at_its_path=True) for p in folder.glob("*.json")}
    assert sorted(records) == [
        "my-cnn-custom-adam-lr0.001-bs32-ep1-eps1e-07.json",
        "my-cnn-custom-numerics.json",
    ]
    case = records["my-cnn-custom-adam-lr0.001-bs32-ep1-eps1e-07.json"]
    assert case["case"]["arch_source"] == "custom"
    assert baselines.seeds_in(case) == 3
    assert case["verdict"] in ("agree", "mismatch", "inconclusive", "uninformative")

    # checked against them; a stray file in the pair's folder is reported and, asked, deleted
    stray = folder / "my-cnn-custom-adam-lr0.01-bs32-ep1-eps1e-07.json"
    stray.write_text("{}")
    checked = pytester.runpytest_subprocess(*RUN, "--delete-unused-baselines")
    checked.assert_outcomes(passed=1)
    checked.stdout.re_match_lines([r"\s*my-cnn-custom-numerics .* numerics\s+ok$"])
    checked.stdout.fnmatch_lines(["1 baseline(s): deleted", f"  {stray}"])
    assert not stray.exists() and len(list(folder.glob("*.json"))) == 2


def test_a_missing_baseline_names_the_command_from_where_pytest_ran(pytester):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_my_models=EXAMPLE.read_text())
    sub = pytester.mkdir("sub")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *RUN, "--baselines-dir=elsewhere", "../test_my_models.py"],
        cwd=sub,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout
    assert (
        f"no baseline for my-cnn-custom-numerics at {sub}/elsewhere/tiny/my-cnn/"
        "my-cnn-custom-numerics.json; create it with: pytest ../test_my_models.py::test_my_cnn "
        "--profile tiny --baselines-dir=elsewhere --seeds=3 --regen-baselines"
    ) in out.stdout
    assert "Traceback" not in out.stdout and "During handling" not in out.stdout
