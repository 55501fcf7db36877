"""The numerics check's judgement on constructed measurements: allowances, comparison and the
failure message, exactly (no framework runs; ``tests/test_numerics.py`` runs real ones)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import numerics


def test_check_ids_and_norms():
    assert numerics.check_id("resnet50", "mirror") == "resnet50-mirror-numerics"
    assert ("vgg16", "zoo") in numerics.CHECKS and len(numerics.CHECKS) == 6
    assert numerics._norm([[3.0, 4.0], [0.0, 0.0]]) == 5.0
    x32 = np.array([0.1, 0.7, 0.3], dtype=np.float32)
    assert numerics._norm(x32) == float(np.linalg.norm(x32.astype(np.float64)))
    assert numerics._norm(x32) != float(np.linalg.norm(x32))  # float64, not float32


def test_synthetic_gradients_are_seeded_normals_in_sorted_name_order():
    params = {"b": np.zeros((2, 3)), "a": np.zeros(4)}
    grads = numerics.synthetic_gradients(params)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(4), rng.standard_normal((2, 3))
    assert list(grads) == ["a", "b"]
    assert np.array_equal(grads["a"], a) and np.array_equal(grads["b"], b)
    other = numerics.synthetic_gradients(params, seed=1)
    assert np.array_equal(other["a"], np.random.default_rng(1).standard_normal(4))


def test_stage_noise_is_the_90th_percentile_of_relative_noise_per_stage():
    quantities = {f"grad/p{i}": {"value": -10.0, "noise": float(i)} for i in range(11)}
    quantities["loss"] = {"value": 0.0, "noise": 0.5}  # a zero value has no relative noise
    quantities["init/w"] = {"value": 4.0, "noise": 1.0}
    levels = numerics.stage_noise(quantities)
    assert levels == {"grad": pytest.approx(0.9, abs=1e-15), "loss": 0.0, "init": 0.25}


def test_floors_and_the_allowance():
    assert numerics.floor("grad") == 2e-2 and numerics.floor("loss") == 2e-5
    assert numerics.floor("") == numerics.DEFAULT_FLOOR == 2e-5
    assert numerics.allowed({"value": -2.0, "noise": 1e-4}) == 50 * 1e-4
    assert numerics.allowed({"value": -2.0}) == 2e-5 * 2.0  # no noise recorded: the floor
    assert numerics.allowed({"value": 2.0, "noise": None}, 1e-3, "loss") == 50 * 2e-3
    assert numerics.allowed({"value": 2.0, "noise": 1e-4}, 1e-4, "grad") == 2e-2 * 2.0
    assert numerics.allowed({"value": 2.0, "noise": 1e-3}, 1e-4, "loss") == 50 * 1e-3


def test_stages_are_ordered_as_the_check_runs():
    assert [numerics._stage(q) for q in ("init/w", "loss", "output", "grad/w")] == [0, 1, 2, 3]
    assert [numerics._stage(q) for q in ("running/m", "eval_output", "step/w")] == [4, 5, 6]
    assert numerics._stage("grad/dense/kernel") == 3  # Keras names hold slashes


def test_layer_names_with_slashes_keep_their_stage():
    quantities = {
        "grad/dense/kernel": {"value": 2.0, "noise": 0.5},
        "grad/dense/bias": {"value": 1.0, "noise": 0.5},
    }
    assert numerics.stage_noise(quantities) == {"grad": pytest.approx(0.475)}
    quiet = {k: {**v, "noise": 0.0} for k, v in quantities.items()}
    base = {"tensorflow": {"quantities": quiet, "stage_noise": {"grad": 0.0}}}
    moved = {"grad/dense/kernel": {"value": 2.1}, "grad/dense/bias": {"value": 1.0}}
    bad = numerics.compare(base, {"tensorflow": {"quantities": moved}})["tensorflow"]
    assert [b["quantity"] for b in bad] == ["grad/dense/kernel"]
    assert bad[0]["allowed"] == 2e-2  # the floor of the stage "grad", not of "grad/dense"
    assert numerics.describe("tensorflow", bad).startswith(
        "tensorflow numerics changed in grad (first: grad/dense/kernel):\n"
        "    grad of dense/kernel: 2 -> 2.1 (moved 5.00e-02 relative, allowed 2.00e-02"
    )


def _baseline(**quantities) -> dict:
    return {
        "pytorch": {
            "quantities": {name.replace("__", "/"): q for name, q in quantities.items()},
            "stage_noise": {"grad": 1e-4},
        }
    }


def test_a_move_up_to_the_allowance_passes_and_beyond_it_fails_with_every_field():
    noise = 2.0**-10  # binary fractions: the allowance is exact
    base = _baseline(loss={"value": 2.0, "noise": noise}, grad__w={"value": -50.0, "noise": 0.0})
    limit_loss, limit_grad = 50 * noise, 2e-2 * 50.0  # grad: the floor beats 50 x 1e-4 x 50
    at = {
        "pytorch": {"quantities": {"loss": {"value": 2.0 + limit_loss}, "grad/w": {"value": -51.0}}}
    }
    assert limit_grad == 1.0 and numerics.compare(base, at) == {}
    beyond = {"pytorch": {"quantities": {"loss": {"value": 2.1}, "grad/w": {"value": -60.0}}}}
    bad = numerics.compare(base, beyond)
    assert bad["pytorch"][0] == {
        "quantity": "loss",
        "then": 2.0,
        "now": 2.1,
        "moved": pytest.approx(0.05),
        "allowed": limit_loss / 2.0,
        "noise": noise,
    }
    assert bad["pytorch"][1] == {
        "quantity": "grad/w",
        "then": -50.0,
        "now": -60.0,
        "moved": 0.2,
        "allowed": 0.02,
        "noise": 0.0,
    }
    past = {"loss": {"value": 2.0 + limit_loss * (1 + 2**-20)}, "grad/w": {"value": -50.0}}
    just_past = {"pytorch": {"quantities": past}}
    assert [b["quantity"] for b in numerics.compare(base, just_past)["pytorch"]] == ["loss"]


def test_the_stage_noise_level_widens_the_allowance():
    base = _baseline(grad__w={"value": 1.0, "noise": 0.0})
    base["pytorch"]["stage_noise"] = {"grad": 1e-3}  # 50 x 1e-3 = 0.05 > the 0.02 floor
    now = {"pytorch": {"quantities": {"grad/w": {"value": 1.04}}}}
    assert numerics.compare(base, now) == {}
    del base["pytorch"]["stage_noise"]  # no level recorded: the floor alone
    assert [b["quantity"] for b in numerics.compare(base, now)["pytorch"]] == ["grad/w"]


def test_a_zero_baseline_value_is_reported_on_an_absolute_scale():
    base = _baseline(loss={"value": 0.0, "noise": 0.0})
    bad = numerics.compare(base, {"pytorch": {"quantities": {"loss": {"value": 0.5}}}})
    assert bad["pytorch"][0]["moved"] == 0.5 and bad["pytorch"][0]["allowed"] == 0.0


def test_quantities_are_reported_in_stage_order_and_a_missing_framework_loses_all():
    base = _baseline(
        step__a={"value": 1.0, "noise": 0.0},
        grad__b={"value": 1.0, "noise": 0.0},
        grad__a={"value": 1.0, "noise": 0.0},
        init__z={"value": 1.0, "noise": 0.0},
    )
    bad = numerics.compare(base, {})["pytorch"]
    assert [b["quantity"] for b in bad] == ["init/z", "grad/a", "grad/b", "step/a"]
    assert bad[0] == {"quantity": "init/z", "then": 1.0, "now": None}
    added = numerics.compare(_baseline(), {"pytorch": {"quantities": {"loss": {"value": 1.0}}}})
    assert added == {"pytorch": [{"quantity": "loss", "then": None, "now": 1.0}]}
    assert numerics.compare(base, base) == {}


def test_the_failure_message_names_framework_stages_layers_and_numbers_exactly():
    bad = [
        {"quantity": "init/conv.weight", "then": None, "now": 1.0},
        {
            "quantity": "loss",
            "then": 2.302585,
            "now": 2.4,
            "moved": 0.0423,
            "allowed": 2.5e-5,
            "noise": 1e-7,
        },
        {
            "quantity": "grad/fc.bias",
            "then": 0.1234567,
            "now": 0.2,
            "moved": 0.62,
            "allowed": 0.02,
            "noise": 0.0,
        },
        {"quantity": "running/bn.mean", "then": 1.0, "now": None},
        {
            "quantity": "step/fc.bias",
            "then": 1.0,
            "now": 2.0,
            "moved": 1.0,
            "allowed": 2e-5,
            "noise": 0.0,
        },
        {
            "quantity": "step/fc.weight",
            "then": 1.0,
            "now": 2.0,
            "moved": 1.0,
            "allowed": 2e-5,
            "noise": 0.0,
        },
    ]
    assert numerics.describe("tensorflow", bad) == (
        "tensorflow numerics changed in init, loss, grad, running, step (first: "
        "init/conv.weight):\n"
        "    init of conv.weight: added (the model's layers changed)\n"
        "    loss: 2.30259 -> 2.4 (moved 4.23e-02 relative, allowed 2.50e-05: 50 x the "
        "float32-vs-float64 noise, at least 2e-05)\n"
        "    grad of fc.bias: 0.123457 -> 0.2 (moved 6.20e-01 relative, allowed 2.00e-02: 50 x "
        "the float32-vs-float64 noise, at least 0.02)\n"
        "    running of bn.mean: removed (the model's layers changed); and 2 more"
    )
    assert numerics.describe("pytorch", bad[1:2], shown=1) == (
        "pytorch numerics changed in loss (first: loss):\n"
        "    loss: 2.30259 -> 2.4 (moved 4.23e-02 relative, allowed 2.50e-05: 50 x the "
        "float32-vs-float64 noise, at least 2e-05)"
    )
    four = numerics.describe("pytorch", bad[:4])
    assert four.endswith("removed (the model's layers changed)") and "more" not in four
    assert numerics.describe("pytorch", bad[:5]).endswith("; and 1 more")


def test_a_non_finite_rerun_fails_even_with_an_infinite_allowance():
    base = _baseline(loss={"value": 1.0, "noise": math.inf})
    now = {"pytorch": {"quantities": {"loss": {"value": math.nan}}}}
    assert [b["quantity"] for b in numerics.compare(base, now)["pytorch"]] == ["loss"]
