"""``crossedwires explain``: the plan, the arithmetic of effects and shares, and one real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import explain, knobs
from harness.cases import find_case
from harness.profiles import get_profile

ROOT = Path(__file__).resolve().parent.parent


def test_plan_moves_exactly_one_knob_per_configuration():
    configs, skipped = explain.plan("cpu")
    assert skipped == ["tf32"]  # TF32 cannot matter on a CPU
    native, aligned = knobs.settings("native"), knobs.settings("aligned")
    for config in configs[2:]:
        base = aligned if config["direction"] == "from_aligned" else native
        moved = {
            k.name
            for k in knobs.KNOBS
            for fw in knobs.FRAMEWORKS
            if config["setting"][fw][k.name] != base[fw][k.name]
        }
        assert moved == {config["knob"]}
    assert len(configs) == 2 + 2 * (len(knobs.KNOBS) - 1)
    assert len(explain.plan("cuda")[0]) == 2 + 2 * len(knobs.KNOBS)


def fake_runs(accuracy_of):
    """A _run_all that 'trains' by a formula of the knob values: no frameworks needed."""

    def run_all(todo, case, profile, data_dir, jobs, progress):
        return {
            key: {"test_accuracy": accuracy_of(fw, setting), "diverged": False, "error": None}
            for key, (fw, setting) in todo.items()
        }

    return run_all


def test_effects_shares_and_residual(monkeypatch):
    # PyTorch gains 0.1 with its own Adam epsilon; TensorFlow loses 0.1 with Keras' batch-norm
    # momentum, and 0.05 more when Keras' batch-norm epsilon comes with it (an interaction).
    def accuracy(fw, s):
        if fw == "pytorch":
            return 0.9 if s["adam_epsilon"] == "eps" else 0.8
        keras_momentum, keras_eps = s["bn_momentum"] == 0.01, s["bn_epsilon"] == 1e-3
        return 0.8 - 0.1 * keras_momentum - 0.05 * (keras_momentum and keras_eps)

    monkeypatch.setattr(explain, "_run_all", fake_runs(accuracy))
    case = find_case("densenet121-mirror-adam-lr0.054-bs13-ep1-eps0.603")
    report = explain.explain(case, get_profile("smoke"), progress=False)
    assert report["native"]["gap"] == pytest.approx(0.9 - 0.65)
    assert report["aligned"]["gap"] == pytest.approx(0.0)
    rows = {r["knob"]: r for r in report["knobs"]}
    assert rows["adam_epsilon"]["effect_from_aligned"] == pytest.approx(0.1)
    assert rows["bn_momentum"]["effect_from_aligned"] == pytest.approx(0.1)
    assert rows["bn_momentum"]["effect_from_native"] == pytest.approx(0.15)
    assert rows["bn_epsilon"]["effect_from_aligned"] == pytest.approx(0.0)
    assert rows["bn_epsilon"]["effect_from_native"] == pytest.approx(0.05)
    assert rows["init"]["effect_from_aligned"] == pytest.approx(0.0)
    assert report["explainable"] == pytest.approx(0.25)
    assert rows["adam_epsilon"]["share_from_aligned"] == pytest.approx(0.4)
    assert report["residual"] == pytest.approx(0.05)  # the interaction no single knob carries
    table = explain.format_table(report)
    assert "residual" in table and "skipped: tf32" in table
    assert table.index("adam_epsilon") < table.index("init")  # largest effects first


def test_explain_runs_for_real_and_prints_the_table(tmp_path):
    """The whole command on the tiny profile (128 images, one epoch): every knob row present."""
    out = tmp_path / "explain.json"
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "explain", "--profile", "tiny", "--json"]
        + ["--jobs", "1", "--no-progress", "--out", str(out)]
        + ["vgg16-mirror-adam-lr0.0259-bs25-ep19-eps0.732"],  # a published trial, mirrored
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {r["knob"] for r in report["knobs"]} == {k.name for k in knobs.KNOBS} - {"tf32"}
    for which in ("native", "aligned"):
        assert 0 <= report[which]["pytorch"] <= 1 and 0 <= report[which]["tensorflow"] <= 1
    assert report["training_runs"] == 20


def test_an_unknown_case_id_is_refused_with_the_form():
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "explain", "densenet-lr0.1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "is not of the form" in run.stderr and "crossedwires cases" in run.stderr


def test_a_failed_run_shows_as_na_not_a_crash(monkeypatch):
    def accuracy(fw, s):
        return None if fw == "tensorflow" and s["bn_epsilon"] == 1e-3 else 0.5

    monkeypatch.setattr(explain, "_run_all", fake_runs(accuracy))
    case = find_case("densenet121-mirror-adam-lr0.054-bs13-ep1-eps0.603")
    report = explain.explain(case, get_profile("smoke"), progress=False)
    assert report["native"]["gap"] is None and report["residual"] is None
    table = explain.format_table(report)
    assert "native : PyTorch 0.5000  TensorFlow n/a  gap      n/a" in table
