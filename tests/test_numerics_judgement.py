"""The numerics check's judgement on constructed measurements: summaries, synthetic gradients,
allowances, comparison and the failure message, exactly (no framework runs;
``tests/test_numerics.py`` and ``tests/test_sensitivity.py`` run real ones)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import numerics
from harness.errors import ConfigError

M, U = numerics.MULTIPLIER, numerics.UNIT_ROUNDOFF


def test_check_ids_and_norms():
    assert numerics.check_id("resnet50", "mirror") == "resnet50-mirror-numerics"
    assert ("vgg16", "zoo") in numerics.CHECKS and len(numerics.CHECKS) == 6
    assert numerics._norm([[3.0, 4.0], [0.0, 0.0]]) == 5.0
    x32 = np.array([0.1, 0.7, 0.3], dtype=np.float32)
    assert numerics._norm(x32) == float(np.linalg.norm(x32.astype(np.float64)))


def test_stage_of_reads_names_with_slashes_and_summaries():
    assert numerics.stage_of("grad/conv1_conv/kernel#p0") == "grad"
    assert numerics.stage_of("output#max") == "output"
    assert numerics.stage_of("loss_fn/grad#p1") == "loss_fn"
    assert numerics.stage_of("loss") == "loss"
    order = ["init/w", "loss", "output", "grad/w", "running/m", "eval_output", "loss_fn", "step/w"]
    assert [numerics._stage_index(q) for q in order] == list(range(8))


def test_summaries_are_the_norm_seeded_projections_and_the_largest_magnitude():
    a = np.array([[3.0, -4.0], [0.0, 1.0]], dtype=np.float32)
    q = {}
    numerics.summarize(q, "grad/w", "w", a)
    flat = a.astype(np.float64).ravel()
    r0, r1 = numerics._direction("w", 0, 4), numerics._direction("w", 1, 4)
    assert q == {
        "grad/w": float(np.linalg.norm(flat)),
        "grad/w#p0": float(flat @ r0),
        "grad/w#p1": float(flat @ r1),
        "grad/w#max": 4.0,
    }
    assert not np.array_equal(r0, r1) and not np.array_equal(r0, numerics._direction("v", 0, 4))
    # a direction is a window of a fixed stream: the same bits however much was drawn before
    wide = numerics._direction("w", 0, 3_000_000)
    assert np.array_equal(wide[:4], r0) and abs(wide.std() - 1) < 0.01
    # the same tensor in another stage is projected on the same directions
    numerics.summarize(q, "init/w", "w", 2 * a)
    assert q["init/w#p0"] == 2 * q["grad/w#p0"]
    # an elementwise perturbation that keeps the norm moves a projection
    flipped = a.copy()
    flipped[0, 0], flipped[0, 1] = 4.0, -3.0
    other = {}
    numerics.summarize(other, "grad/w", "w", flipped)
    assert other["grad/w"] == q["grad/w"] and other["grad/w#p0"] != q["grad/w#p0"]


def test_synthetic_gradients_differ_per_step_spread_over_decades_and_leave_elements_out():
    params = {"b": np.zeros((40, 50)), "a": np.zeros(1000)}
    steps, masks = numerics.synthetic_gradients(params)
    assert len(steps) == numerics.STEPS == 4
    for name in params:
        mask = masks[name]
        assert abs((~mask).mean() - numerics.NO_GRADIENT_SHARE) < 0.05
        draws = [step[name] for step in steps]
        for g in draws:
            assert g.dtype == np.float32 and g.shape == params[name].shape
            assert np.all(g[~mask] == 0.0) and np.all(g[mask] != 0.0)
            magnitude = np.log10(np.abs(g[mask]))
            assert magnitude.min() < -5 and magnitude.max() > -1.5  # around eps 1e-3
            assert (magnitude < -3).mean() > 0.3 and (magnitude > -3).mean() > 0.3
        assert not np.array_equal(draws[0], draws[1])  # a different gradient every step
    # seeded per tensor: another parameter beside it does not change its draws
    alone, _ = numerics.synthetic_gradients({"a": np.zeros(1000)})
    assert np.array_equal(alone[2]["a"], steps[2]["a"])
    again, _ = numerics.synthetic_gradients(params)
    assert all(np.array_equal(x["b"], y["b"]) for x, y in zip(again, steps, strict=True))


def test_the_synthetic_logits_are_seeded_and_not_flat():
    z = numerics.synthetic_logits(16, 10)
    assert z.shape == (16, 10) and np.array_equal(z, numerics.synthetic_logits(16, 10))
    assert 1.5 < z.std() < 2.5


def _quantities(**kw) -> dict:
    return {name.replace("__", "/").replace("_h_", "#"): q for name, q in kw.items()}


def test_stage_noise_is_the_median_relative_noise_and_zero_valued_quantities_do_not_set_it():
    quantities = {f"grad/p{i}": {"value": 10.0, "noise": 1e-6 * i} for i in range(1, 6)}
    # a conv bias before batch norm: true gradient 0, float32 value and noise its rounding
    quantities["grad/bias"] = {"value": 1e-9, "noise": 1e-9}
    quantities["loss"] = {"value": 2.0, "noise": 1e-7, "spread": 4e-7}  # spread counts too
    levels = numerics.stage_noise(quantities)
    assert levels["grad"] == pytest.approx(3e-7)  # median of 1e-7 .. 5e-7, not 1.0
    assert levels["loss"] == pytest.approx(2e-7)


def test_the_allowance_is_the_multiplier_times_the_largest_measured_noise():
    q = _quantities(
        grad__a={"value": 2.0, "noise": 1e-6, "spread": 3e-6},
        grad__b={"value": 2.0, "noise": 0.0, "spread": 0.0},
        grad__bias={"value": 1e-9, "noise": 5e-10, "spread": 5e-10},
        grad__a_h_p0={"value": 0.001, "noise": 1e-5, "spread": 0.0},
        init__zero={"value": 0.0, "noise": 0.0, "spread": 0.0},
        init__w={"value": 4.0, "noise": 0.0, "spread": 0.0},
    )
    levels, scales = {"grad": 1e-6, "init": 0.0}, numerics.stage_scales(q)
    assert numerics.allowance("grad/a", q, levels, scales) == M * 3e-6  # its spread
    # its own noise, never its stage's level: a quiet layer beside noisy ones stays sensitive
    assert numerics.allowance("grad/b", q, levels, scales) == M * U * 2.0
    # zero to within the stage: judged on the stage's scale, never on its own
    assert scales["grad"] == 2.0
    assert numerics.allowance("grad/bias", q, levels, scales) == pytest.approx(
        M * 1e-6 * numerics.TINY * 2.0
    )
    # a projection's scale is its tensor's norm, not its own (possibly tiny) value
    assert numerics.scale_of("grad/a#p0", q) == 2.0
    assert numerics.allowance("grad/a#p0", q, levels, scales) == M * 1e-5
    # exact zero, exact in float64 and every variant, in an exact stage: must stay exact
    assert numerics.allowance("init/zero", q, levels, scales) == 0.0
    # never tighter than float32 rounding
    assert numerics.allowance("init/w", q, levels, scales) == M * U * 4.0


def _baseline(quantities: dict, **levels) -> dict:
    return {"pytorch": {"quantities": quantities, "stage_noise": levels}}


def test_a_move_up_to_the_allowance_passes_and_beyond_it_fails_with_every_field():
    noise = 2.0**-20  # binary fractions: the allowance is exact
    q = {"loss": {"value": 2.0, "noise": noise, "spread": noise / 2}}
    base = _baseline(q, loss=noise / 2)
    limit = M * noise
    assert (
        numerics.compare(base, {"pytorch": {"quantities": {"loss": {"value": 2.0 + limit}}}}) == {}
    )
    bad = numerics.compare(base, {"pytorch": {"quantities": {"loss": {"value": 2.1}}}})
    assert bad["pytorch"] == [
        {
            "quantity": "loss",
            "then": 2.0,
            "now": 2.1,
            "moved": pytest.approx(0.05),
            "allowed": limit / 2.0,
            "noise": noise,
            "spread": noise / 2,
        }
    ]
    past = {"loss": {"value": 2.0 + limit * (1 + 2**-20)}}
    bad = numerics.compare(base, {"pytorch": {"quantities": past}})
    assert [b["quantity"] for b in bad["pytorch"]] == ["loss"]


def test_a_one_percent_gradient_change_is_caught_beside_an_ill_conditioned_layer():
    """The old check allowed every gradient its stage's 90th-percentile noise: one noisy layer
    switched the stage off. Now each quantity has its own allowance."""
    q = {f"grad/w{i}": {"value": 1.0, "noise": 1e-7, "spread": 2e-7} for i in range(8)}
    q["grad/noisy"] = {"value": 1.0, "noise": 0.3, "spread": 0.5}
    q["grad/zero"] = {"value": 1e-9, "noise": 1e-9, "spread": 1e-9}
    base = _baseline(q, grad=numerics.stage_noise(q)["grad"])
    now = {"pytorch": {"quantities": {k: {"value": v["value"] * 1.01} for k, v in q.items()}}}
    caught = {b["quantity"] for b in numerics.compare(base, now)["pytorch"]}
    assert caught == {f"grad/w{i}" for i in range(8)}  # the noisy layer's own allowance is wide


def test_missing_added_and_non_finite_quantities_fail_in_stage_order():
    q = {"loss": {"value": 2.3, "noise": 1e-7}, "grad/a": {"value": 1.0, "noise": 1e-7}}
    base = _baseline(q, loss=0.0, grad=0.0)
    now = {"pytorch": {"quantities": {"loss": {"value": math.nan}, "grad/b": {"value": 1.0}}}}
    bad = numerics.compare(base, now)["pytorch"]
    assert [b["quantity"] for b in bad] == ["loss", "grad/a", "grad/b"]
    text = numerics.describe("pytorch", bad)
    assert "grad of a: removed" in text and "grad of b: added" in text
    assert numerics.compare(base, {})["pytorch"][0]["now"] is None  # a framework that vanished


def test_the_failure_message_names_framework_stage_layer_summary_and_numbers():
    q = {
        "grad/dense/kernel": {"value": 2.0, "noise": 1e-6, "spread": 0.0},
        "grad/dense/kernel#p0": {"value": -0.5, "noise": 1e-6, "spread": 0.0},
        "step/dense/bias#nograd": {"value": 0.0, "noise": 0.0, "spread": 0.0},
    }
    base = {"tensorflow": {"quantities": q}}
    now = {
        "tensorflow": {
            "quantities": {
                "grad/dense/kernel": {"value": 2.0},
                "grad/dense/kernel#p0": {"value": -0.4},
                "step/dense/bias#nograd": {"value": 1e-6},
            }
        }
    }
    bad = numerics.compare(base, now)["tensorflow"]
    assert [b["quantity"] for b in bad] == ["grad/dense/kernel#p0", "step/dense/bias#nograd"]
    text = numerics.describe("tensorflow", bad)
    assert text.startswith(
        "tensorflow numerics changed in grad, step (first: grad/dense/kernel#p0; 2 quantities "
        "of 2 tensors):\n"
        "    grad of dense/kernel (projection 0): -0.5 -> -0.4 (moved 5.00e-02 of its scale, "
        f"allowed {M * 1e-6 / 2.0:.2e}: {M:g} x its measured float32 noise)\n"
        "    step of dense/bias (elements without gradient): 0 -> 1e-06"
    )


def test_closest_names_the_quantity_nearest_its_allowance_per_stage():
    q = {
        "grad/a": {"value": 1.0, "noise": 1e-6, "spread": 0.0},
        "grad/b": {"value": 1.0, "noise": 1e-6, "spread": 0.0},
        "init/z": {"value": 0.0, "noise": 0.0, "spread": 0.0},
    }
    now = {
        "grad/a": {"value": 1.0 + 2e-6},
        "grad/b": {"value": 1.0 + 5e-6},
        "init/z": {"value": 0.0},
    }
    worst = numerics.closest({"pytorch": {"quantities": q}}, {"pytorch": {"quantities": now}})
    assert worst["pytorch"]["grad"] == ("grad/b", pytest.approx(5e-6 / (M * 1e-6)))
    assert worst["pytorch"]["init"] == ("init/z", 0.0)


def test_the_kernel_level_in_force_and_the_variants_below_it():
    avx512 = {"avx", "avx2", "avx512f"}
    assert numerics.level_in_force({}, avx512) == "AVX512"
    assert numerics.variants_here({}, avx512) == ("AVX2", "AVX")
    capped = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    assert numerics.level_in_force(capped, avx512) == "AVX2"
    assert numerics.variants_here(capped, avx512) == ("AVX512", "AVX")  # above the cap too
    # the lower of the two caps counts
    assert numerics.level_in_force({"ATEN_CPU_CAPABILITY": "default"}, avx512) == "AVX"
    assert numerics.variants_here({"ONEDNN_MAX_CPU_ISA": "AVX"}, avx512) == ("AVX512", "AVX2")
    assert numerics.level_in_force({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, avx512) == "AVX512"
    assert numerics.variants_here({}, {"avx", "avx2"}) == ("AVX",)  # an AVX2-only CPU
    with pytest.raises(ConfigError, match="kernel variant 'SSE': use one of AVX512, AVX2, AVX"):
        numerics.probe_variant("SSE", "vgg16", "zoo", None, None, None, 10)
