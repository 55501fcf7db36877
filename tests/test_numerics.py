"""The numerics check catches real changes and names them; a rerun passes.

One baseline per module (DenseNet121, the zoo models: torchvision's and keras.applications'
own defaults), measured with its float64 reference as ``pytest difftests --regen-baselines``
does; then each test injects one real change into a framework, as an upgrade could, and checks
that the check fails naming the framework, the layer and the quantity:

- Keras' BatchNormalization momentum default 0.99 -> 0.9 (running statistics);
- PyTorch's Adam with its epsilon moved inside the square root (the optimizer step);
- a changed weight initializer: torchvision's kaiming_normal_ with fan_out in place of the
  fan_in DenseNet asks for.

That another CPU's kernels pass is checked by ``tests/test_portable.py`` (in subprocesses
with the kernel ISA capped) and measured in ``docs/numerics.md``.
"""

from __future__ import annotations

import math

import pytest

from harness import numerics
from harness.adapters import get_adapter
from harness.data import load_digits32
from harness.profiles import get_profile
from harness.runner import environment

ARCH = "densenet121"
SMOKE = get_profile("smoke")


@pytest.fixture(scope="module")
def setup():
    environment(SMOKE)  # threads and determinism, as the suite configures them
    data = load_digits32()
    baseline = numerics.measure(ARCH, "zoo", SMOKE, data, reference=True)
    return data, baseline


def _changed(setup, framework: str) -> list[dict]:
    data, baseline = setup
    now = numerics.measure(ARCH, "zoo", SMOKE, data, reference=False)
    bad = numerics.compare(baseline, now)
    assert set(bad) <= {framework}, f"only {framework} was changed, yet {sorted(bad)} moved"
    assert framework in bad, f"the change to {framework} was not caught"
    return bad[framework]


def test_a_rerun_passes_and_the_noise_is_recorded(setup):
    data, baseline = setup
    now = numerics.measure(ARCH, "zoo", SMOKE, data, reference=False)
    assert numerics.compare(baseline, now) == {}
    for framework, measured in baseline.items():
        stages = {q.split("/", 1)[0] for q in measured["quantities"]}
        assert stages == set(numerics.STAGES), framework
        # float32 against float64 differs somewhere (the reference really ran in float64)
        assert any(e["noise"] > 0 for e in measured["quantities"].values())
        assert set(measured["stage_noise"]) == stages


def test_keras_batch_norm_momentum_is_caught_in_the_running_statistics(setup, monkeypatch):
    keras = get_adapter("tensorflow").keras
    original = keras.layers.BatchNormalization.__init__

    def momentum_09(self, *args, momentum=0.9, **kwargs):
        original(self, *args, momentum=momentum, **kwargs)

    monkeypatch.setattr(keras.layers.BatchNormalization, "__init__", momentum_09)
    bad = _changed(setup, "tensorflow")
    stages = {b["quantity"].split("/", 1)[0] for b in bad}
    assert "running" in stages and stages <= {"running", "eval_output", "step"}
    first = bad[0]["quantity"]
    assert first.startswith("running/") and "bn" in first
    message = numerics.describe("tensorflow", bad)
    print(message)
    assert message.startswith("tensorflow numerics changed in running")
    assert "running of " in message and "moving_" in message


def test_pytorch_adam_with_epsilon_inside_the_square_root_is_caught_in_the_step(setup, monkeypatch):
    torch = get_adapter("pytorch").torch

    class EpsilonInsideAdam(torch.optim.Optimizer):
        """Adam with sqrt(v_hat + eps) in place of sqrt(v_hat) + eps."""

        def __init__(self, params, lr, eps, betas=(0.9, 0.999)):
            super().__init__(params, {"lr": lr, "eps": eps, "betas": betas})

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                b1, b2 = group["betas"]
                for p in group["params"]:
                    state = self.state[p]
                    if not state:
                        state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                    state["t"] += 1
                    t, m, v = state["t"], state["m"], state["v"]
                    m.mul_(b1).add_(p.grad, alpha=1 - b1)
                    v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                    denominator = (v / (1 - b2**t) + group["eps"]).sqrt()
                    p.sub_(group["lr"] * (m / (1 - b1**t)) / denominator)

    monkeypatch.setattr(torch.optim, "Adam", EpsilonInsideAdam)
    bad = _changed(setup, "pytorch")
    assert {b["quantity"].split("/", 1)[0] for b in bad} == {"step"}
    assert all(b["moved"] > 0.01 for b in bad)  # not a rounding matter: percent and more
    message = numerics.describe("pytorch", bad)
    print(message)
    assert message.startswith("pytorch numerics changed in step (first: step/")
    assert "step of features.conv0.weight" in message or "step of classifier." in message


def test_a_changed_weight_initializer_is_caught_in_the_initial_weights(setup, monkeypatch):
    torch = get_adapter("pytorch").torch
    original = torch.nn.init.kaiming_normal_

    def fan_out(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
        return original(tensor, a=a, mode="fan_out", nonlinearity=nonlinearity)

    monkeypatch.setattr(torch.nn.init, "kaiming_normal_", fan_out)
    bad = _changed(setup, "pytorch")
    init = [b for b in bad if b["quantity"].startswith("init/")]
    assert init and bad[0] is init[0]  # the first stage named is the initial weights
    assert all(b["quantity"].endswith("weight") for b in init)
    message = numerics.describe("pytorch", bad)
    print(message)
    assert "init of features." in message


def test_the_allowance_is_the_larger_of_noise_and_floor():
    entry = {"value": 2.0, "noise": 1e-6}
    assert numerics.allowed(entry, 0.0, "loss") == pytest.approx(numerics.MULTIPLIER * 1e-6)
    assert numerics.allowed(entry, 1e-3, "loss") == pytest.approx(numerics.MULTIPLIER * 2e-3)
    quiet = {"value": 2.0, "noise": 0.0}
    assert numerics.allowed(quiet, 0.0, "loss") == pytest.approx(numerics.DEFAULT_FLOOR * 2.0)
    assert numerics.allowed(quiet, 0.0, "grad") == pytest.approx(0.02 * 2.0)


def test_missing_added_and_non_finite_quantities_fail():
    base = {
        "pytorch": {
            "quantities": {
                "loss": {"value": 2.3, "noise": 1e-7},
                "grad/a": {"value": 1.0, "noise": 1e-7},
            },
            "stage_noise": {"loss": 0.0, "grad": 0.0},
        }
    }
    now = {"pytorch": {"quantities": {"loss": {"value": math.nan}, "grad/b": {"value": 1.0}}}}
    bad = numerics.compare(base, now)["pytorch"]
    assert [b["quantity"] for b in bad] == ["loss", "grad/a", "grad/b"]
    text = numerics.describe("pytorch", bad)
    assert "grad of a: removed" in text and "grad of b: added" in text
