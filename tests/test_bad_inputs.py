"""More of the bad-input catalogue: every required baseline field, failing and diverging runs,
misused options. (Case, data and baseline-file messages are in their modules' test files.)"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from harness import baselines, runner
from harness.cases import Case
from harness.cli import main
from harness.data import load_digits32
from harness.errors import BaselineError
from harness.profiles import get_profile

from .conftest import make_record
from .test_plugin import pytest_run

pytestmark = pytest.mark.bad_input

TOP_LEVEL = baselines.schema()["required"]
RESULT_FIELDS = baselines.schema()["$defs"]["result"]["required"]


@pytest.mark.parametrize("field", TOP_LEVEL)
def test_each_required_top_level_field_missing_is_named(tmp_path, field):
    rec = json.loads(baselines.dumps(make_record()))
    del rec[field]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rec))
    with pytest.raises(BaselineError) as info:
        baselines.read(path)
    assert str(info.value) == f"{path}: field {field} is missing (required)"


@pytest.mark.parametrize("field", RESULT_FIELDS)
def test_each_required_result_field_missing_is_named(tmp_path, field):
    rec = json.loads(baselines.dumps(make_record()))
    del rec["results"]["tensorflow"][field]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rec))
    with pytest.raises(BaselineError) as info:
        baselines.read(path)
    assert str(info.value) == f"{path}: field results.tensorflow.{field} is missing (required)"


TINY = replace(get_profile("tiny"), train_subset=96, test_subset=64, seeds=1)


def test_a_run_that_raises_is_recorded_as_error(monkeypatch):
    from harness.adapters import tensorflow

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(tensorflow, "train", boom)
    rec = runner.run_case(Case("vgg16", 1e-3, 32, 1, 1e-7), TINY, load_digits32())
    assert rec["verdict"] == "error"
    assert rec["results"]["tensorflow"]["error"].startswith(
        "RuntimeError: out of memory (simulated) (at "
    )
    assert rec["results"]["pytorch"]["error"] is None
    assert rec["comparison"] is None
    baselines.validate(baselines.normalize(rec), "error record")


def test_a_loss_that_goes_non_finite_is_recorded_as_diverged():
    rec = runner.run_case(Case("vgg16", 1e30, 32, 1, 1e-8), TINY, load_digits32())
    assert rec["verdict"] == "diverged"
    diverged = [r for r in rec["results"].values() if r["diverged"]]
    assert diverged, rec["results"]
    assert all(r["error"] is None and None in r["training_loss"] for r in diverged)
    baselines.validate(baselines.normalize(rec), "diverged record")


def test_resume_without_regen_is_refused():
    out = pytest_run("difftests", "--resume", "--collect-only")
    assert out.returncode != 0
    assert "--resume only makes sense with --regen-baselines" in out.stderr


def test_export_without_baselines_says_how_to_make_them(tmp_path, capsys):
    assert main(["export", "--profile", "smoke", "--baselines-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"crossedwires: error: no baselines for profile 'smoke' in {tmp_path}/smoke; create "
        "them with: pytest difftests --profile smoke --regen-baselines "
        f"--baselines-dir={tmp_path}\n"
    )


def test_export_with_a_broken_baseline_names_it_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "smoke" / "resnet50" / "resnet50-adam-lr0.0279-bs10-ep1-eps0.376.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    out = tmp_path / "out.csv"
    args = ["export", "--profile", "smoke", "--baselines-dir", str(tmp_path), "--out", str(out)]
    assert main(args) == 2
    assert f"{bad}: truncated or not valid JSON" in capsys.readouterr().err
    assert not out.exists()


def test_export_with_an_unknown_profile_lists_the_valid_ones(capsys):
    assert main(["export", "--profile", "paper"]) == 2
    assert capsys.readouterr().err == (
        "crossedwires: error: argument --profile: unknown profile 'paper': valid profiles are "
        "full, smoke, tiny; see: crossedwires export --help\n"
    )
