"""When a baseline of a model pair counts as unused, and when it is deleted: only after a run
that reached every check of the pair (nothing deselected, skipped or failed, no paths named),
and only by the process that saw them all (the xdist controller, never a worker).

The test files here stand in for ``framework_pair.check``: each records the check it made as
the fixture does (``CHECKED_KEY``), so that these runs take seconds and train nothing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.pytest_plugin import CHECKED_KEY

USED = ("my-cnn-custom-numerics", "my-cnn-custom-adam-lr0.001-bs32-ep1-eps1e-07")
STRAY = "my-cnn-custom-adam-lr0.01-bs32-ep1-eps1e-07"

CHECKS = f"""
import json
import pytest

@pytest.mark.parametrize("check_id", {list(USED)!r})
def test_pair(framework_pair, request, check_id, fail_one):
    request.node.user_properties.append(({CHECKED_KEY!r}, json.dumps(["my-cnn", check_id])))
    assert not (fail_one and check_id == {USED[1]!r})

@pytest.fixture
def fail_one(request):
    return request.config.getoption("--fail-one")
"""


@pytest.fixture
def project(pytester):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_pairs=CHECKS)
    pytester.makeconftest(
        "def pytest_addoption(parser):\n    parser.addoption('--fail-one', action='store_true')\n"
    )
    folder = pytester.path / "baselines" / "smoke" / "my-cnn"
    folder.mkdir(parents=True)
    for name in (*USED, STRAY):
        (folder / f"{name}.json").write_text(json.dumps({"id": name}))
    return folder


def names(folder) -> set[str]:
    return {p.stem for p in folder.glob("*.json")}


def test_a_complete_run_lists_and_deletes_only_what_no_check_produced(pytester, project):
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--delete-unused-baselines")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["1 baseline(s): deleted", f"  {project / STRAY}.json"])
    assert names(project) == set(USED)


@pytest.mark.parametrize(
    "args",
    [["--fail-one"], ["-k", "numerics"], ["test_pairs.py"], ["-x", "--fail-one"]],
    ids=["a-check-failed", "deselected", "paths-named", "stopped-early"],
)
def test_a_run_that_did_not_reach_every_check_deletes_nothing_of_the_pair(pytester, project, args):
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--delete-unused-baselines", *args)
    assert names(project) == {*USED, STRAY}


def test_under_xdist_only_the_controller_judges_and_it_saw_every_check(pytester, project):
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--delete-unused-baselines"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["1 baseline(s): deleted"])
    assert names(project) == set(USED)


# --- the project root, as pytest finds its rootdir -------------------------------------------


@pytest.mark.parametrize(
    "ini, text",
    [
        ("pytest.ini", "[pytest]\n"),
        ("pytest.toml", "[pytest]\n"),
        ("pyproject.toml", "[tool.pytest.ini_options]\n"),
        ("tox.ini", "[pytest]\n"),
        ("setup.cfg", "[tool:pytest]\n"),
    ],
)
def test_the_project_root_is_the_folder_of_the_nearest_pytest_configuration(tmp_path, ini, text):
    from harness.project import default_baselines_dir, project_root

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'outer'\n")
    inner = tmp_path / "inner"
    (inner / "docs" / "deep").mkdir(parents=True)
    (inner / ini).write_text(text)
    assert project_root(inner / "docs" / "deep") == inner
    assert default_baselines_dir(inner / "docs") == inner / "baselines"


def test_without_a_pytest_configuration_a_pyproject_then_the_folder_itself(tmp_path):
    from harness.project import project_root

    (tmp_path / "pkg" / "src").mkdir(parents=True)
    (tmp_path / "pkg" / "tox.ini").write_text("[tox]\n")  # no [pytest]: not pytest's
    (tmp_path / "pkg" / "pyproject.toml").write_text("[project]\nname = 'pkg'\n")
    assert project_root(tmp_path / "pkg" / "src") == tmp_path / "pkg"
    (tmp_path / "bare").mkdir()
    assert project_root(tmp_path / "bare") == tmp_path / "bare"


# --- data and models of a user's own pair, refused before any training ------------------------


def _refusal(data) -> str:
    from harness.pytest_plugin import FrameworkPair

    with pytest.raises(pytest.fail.Exception) as failed:
        FrameworkPair(run=None, request=None)._data(data)
    return str(failed.value)


def _dataset(**changes):
    from harness.data import Dataset

    x = np.zeros((4, 8, 8, 3), np.uint8)
    y = np.array([0, 1, 0, 1])
    fields = dict(name="mine", x_train=x, y_train=y, x_test=x, y_test=y, num_classes=2)
    return Dataset(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": "my data"}, "data.name 'my data': use letters, digits"),
        ({"num_classes": 1}, "data.num_classes 1: an integer >= 2"),
        (
            {"x_test": np.zeros((0, 8, 8, 3), "uint8")},
            "data.x_test must be a non-empty uint8",
        ),
        (
            {"x_train": np.zeros((4, 8, 8, 3), "float32")},
            "data.x_train must be a non-empty uint8",
        ),
        (
            {"y_train": np.array([0, 1, 0, 2])},
            "data.y_train must hold one integer label in 0..1",
        ),
        (
            {"x_test": np.zeros((4, 9, 8, 3), "uint8")},
            "x_train's images are (8, 8, 3) and x_test's (9, 8, 3)",
        ),
    ],
)
def test_a_pairs_own_data_is_refused_by_field(changes, message):
    assert message in _refusal(_dataset(**changes))


def test_a_model_without_a_float64_copy_stops_the_numerics_check_with_the_fix():
    from harness import numerics
    from harness.errors import ConfigError

    class Adapter:
        def float64_copy(self, model):
            raise ValueError(
                "Arguments `clone_function` and `input_tensors` are only supported for "
                "Sequential models or Functional models.\nmore"
            )

    with pytest.raises(ConfigError) as refused:
        numerics._float64_copy(Adapter(), "tensorflow", object(), "my-cnn")
    assert str(refused.value) == (
        "my-cnn: the numerics check needs a float64 copy of the tensorflow model and cannot make "
        "one (ValueError: Arguments `clone_function` and `input_tensors` are only supported for "
        "Sequential models or Functional models.); build a Sequential or functional Keras model, "
        "or pass numerics=False"
    )


def test_a_model_with_a_float64_copy_gets_it_and_a_long_reason_is_cut_to_200_characters():
    from harness import numerics
    from harness.errors import ConfigError

    class Adapter:
        def float64_copy(self, model):
            if model == "unclonable":
                raise TypeError("x" * 250 + "\nmore")
            return ("float64", model)

    assert numerics._float64_copy(Adapter(), "pytorch", "mine", "my-cnn") == ("float64", "mine")
    with pytest.raises(ConfigError) as refused:
        numerics._float64_copy(Adapter(), "tensorflow", "unclonable", "my-cnn")
    assert f"(TypeError: {'x' * 200}); build a Sequential" in str(refused.value)
