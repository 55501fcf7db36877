"""``crossedwires explain``: the plan, the arithmetic of effects and shares, and one real run."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness import explain, knobs
from harness.cases import find_case
from harness.errors import ConfigError
from harness.profiles import get_profile

ROOT = Path(__file__).resolve().parent.parent


def test_plan_moves_exactly_one_knob_per_configuration():
    configs, skipped = explain.plan("cpu", "densenet121")
    assert skipped == {
        "strided_padding": knobs.BY_NAME["strided_padding"].not_applicable("densenet121"),
        "tf32": "cannot matter on cpu",  # TF32 cannot matter on a CPU
        "resnet_stride_position": "DenseNet121 has no strided bottleneck block",
        "conv_bias": "both zoo DenseNet121s have no conv bias",
        "vgg_head_dropout": "DenseNet121 has no VGG head",
    }
    native = knobs.settings("native", "densenet121")
    aligned = knobs.settings("aligned", "densenet121")
    assert native["pytorch"]["init"] == "torchvision"  # the zoo model's, not the layer default
    for config in configs[2:]:
        base = aligned if config["direction"] == "from_aligned" else native
        moved = {
            k.name
            for k in knobs.KNOBS
            for fw in knobs.FRAMEWORKS
            if config["setting"][fw][k.name] != base[fw][k.name]
        }
        assert moved == {config["knob"]}
    applicable = len(knobs.KNOBS) - len(skipped)
    assert len(configs) == 2 + 2 * applicable
    assert len(explain.plan("cpu", "densenet121", "cheap")[0]) == 2 + applicable
    assert len(explain.plan("cuda", "densenet121")[0]) == 2 + 2 * (applicable + 1)
    resnet = {c["knob"] for c in explain.plan("cpu", "resnet50")[0][2:]}
    assert {"resnet_stride_position", "conv_bias"} <= resnet and "vgg_head_dropout" not in resnet
    with pytest.raises(ConfigError, match="plan='quick' is unknown: use one of cheap, full"):
        explain.plan("cpu", "vgg16", "quick")


def fake_runs(accuracy_of, noise=0.0):
    """A _run_all that 'trains' by a formula of the knob values (plus seeded noise of ``noise``
    per run): no frameworks needed."""

    def run_all(todo, case, profile, data_dir, jobs, progress):
        out = {}
        for key, (fw, setting, _seed) in todo.items():
            jitter = random.Random(key).gauss(0, noise) if noise else 0.0
            accuracy = accuracy_of(fw, setting)
            out[key] = {
                "test_accuracy": None if accuracy is None else accuracy + jitter,
                "diverged": False,
                "error": None,
            }
        return out

    return run_all


DENSENET = "densenet121-mirror-adam-lr0.054-bs13-ep1-eps0.603"
KERAS_EPS = 1.001e-5  # keras.applications DenseNet121's batch-norm epsilon


def interacting(fw, s):
    """PyTorch gains 0.1 with its own Adam epsilon; TensorFlow loses 0.1 with Keras' batch-norm
    momentum, and 0.05 more when Keras' batch-norm epsilon comes with it (an interaction)."""
    if fw == "pytorch":
        return 0.9 if s["adam_epsilon"] == "eps" else 0.8
    keras_momentum, keras_eps = s["bn_momentum"] == 0.01, s["bn_epsilon"] == KERAS_EPS
    return 0.8 - 0.1 * keras_momentum - 0.05 * (keras_momentum and keras_eps)


def test_effects_shares_and_both_residuals(monkeypatch):
    monkeypatch.setattr(explain, "_run_all", fake_runs(interacting))
    report = explain.explain(
        find_case(DENSENET), get_profile("smoke"), progress=False, which="full"
    )
    assert report["seeds"] == [0, 1, 2] and report["plan"] == "full"
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
    # What no single knob carries, from each side: the interaction shows as their difference.
    assert report["residual_from_aligned"] == pytest.approx(0.05)
    assert report["residual_from_native"] == pytest.approx(-0.05)
    assert report["interactions"] == pytest.approx(0.1)
    assert report["interactions_interval"] == pytest.approx([0.1, 0.1])  # no noise: no width
    table = explain.format_table(report)
    assert "residual, aligned side" in table and "residual, native side" in table
    assert "skipped: tf32 (cannot matter on cpu)" in table
    assert "the knobs act together" in table
    assert "bn_momentum interacts" in table and "bn_epsilon interacts" in table
    assert table.index("adam_epsilon") < table.index("init")  # largest effects first


def test_intervals_over_seeds_and_shares_only_where_they_hold(monkeypatch):
    monkeypatch.setattr(explain, "_run_all", fake_runs(interacting, noise=0.02))
    report = explain.explain(
        find_case(DENSENET), get_profile("smoke"), progress=False, seeds=4, which="cheap"
    )
    assert report["plan"] == "cheap" and "residual_from_native" not in report
    rows = {r["knob"]: r for r in report["knobs"]}
    low, high = rows["init"]["effect_from_aligned_interval"]
    assert low < 0 < high and not rows["init"]["share_from_aligned_supported"]
    assert rows["adam_epsilon"]["effect_from_aligned_interval"][0] > 0
    assert rows["adam_epsilon"]["share_from_aligned_supported"]
    assert len(rows["init"]["effect_from_aligned_per_seed"]) == 4
    table = explain.format_table(report)
    init_line = next(line for line in table.splitlines() if line.startswith("init "))
    assert init_line.endswith("noise")  # no share quoted for an effect inside the noise
    assert "residual, native side" not in table
    one = explain.explain(find_case(DENSENET), get_profile("smoke"), progress=False, seeds=1)
    assert one["explainable_interval"] is None
    assert "one seed: no intervals" in explain.format_table(one)
    with pytest.raises(ConfigError, match="seeds=0 must be >= 1"):
        explain.explain(find_case(DENSENET), get_profile("smoke"), progress=False, seeds=0)


def test_explain_runs_for_real_and_prints_the_table(tmp_path):
    """The whole command on the tiny profile (128 images, one epoch): every knob row present."""
    out = tmp_path / "explain.json"
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "explain", "--profile", "tiny", "--json"]
        + ["--jobs", "1", "--no-progress", "--out", str(out), "--seeds", "2", "--plan", "cheap"]
        + ["vgg16-mirror-adam-lr0.0259-bs25-ep19-eps0.732"],  # a published trial, mirrored
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    # VGG16's zoo pair differs in init, Adam's epsilon, the loss input and the head's dropout;
    # it has no batch norm and pads alike; TF32 cannot matter on a CPU.
    assert [r["knob"] for r in report["knobs"]] == [
        "init",
        "adam_epsilon",
        "loss_input",
        "vgg_head_dropout",
    ]
    assert set(report["skipped"]) == {k.name for k in knobs.KNOBS} - {
        "init",
        "adam_epsilon",
        "loss_input",
        "vgg_head_dropout",
    }
    for which in ("native", "aligned"):
        assert 0 <= report[which]["pytorch"] <= 1 and 0 <= report[which]["tensorflow"] <= 1
        assert len(report[which]["pytorch_per_seed"]) == 2
    assert report["explainable_interval"] is not None
    assert report["plan"] == "cheap" and "residual_from_native" not in report
    assert report["training_runs"] == 18  # 9 a seed: the moved knobs share most runs


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
        return None if fw == "tensorflow" and s["bn_epsilon"] == KERAS_EPS else 0.5

    monkeypatch.setattr(explain, "_run_all", fake_runs(accuracy))
    report = explain.explain(find_case(DENSENET), get_profile("smoke"), progress=False)
    assert report["native"]["gap"] is None and report["residual_from_aligned"] is None
    table = explain.format_table(report)
    assert "native : PyTorch 0.5000  TensorFlow n/a  gap     n/a" in table
