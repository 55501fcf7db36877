"""The numerics check catches real changes and names them, against the committed baselines.

The committed smoke baseline of DenseNet121's zoo models (torchvision's and keras.applications'
own defaults; made by ``pytest difftests --regen-baselines`` with its float64 reference and
kernel variants) is checked here as the gate checks it, with one real change injected into a
framework at a time, as an upgrade could; the check must fail naming the framework, the layer
and the quantity:

- Keras' BatchNormalization momentum default 0.99 -> 0.9 (running statistics);
- PyTorch's Adam with its epsilon moved inside the square root (the optimizer step);
- a changed weight initializer: torchvision's kaiming_normal_ with fan_out in place of the
  fan_in DenseNet asks for.

``tests/test_sensitivity.py`` does the same for changes of the catalogue ``harness/changes.py``
(``benchmarks/sensitivity.py`` measures all of them on every check); that another CPU's kernels
pass is checked by ``tests/test_portable.py`` and measured in ``docs/numerics.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import baselines, numerics
from harness.adapters import get_adapter
from harness.data import load_digits32
from harness.profiles import get_profile
from harness.runner import environment

ROOT = Path(__file__).resolve().parent.parent
ARCH = "densenet121"
SMOKE = get_profile("smoke")
BASELINE = ROOT / "baselines" / "smoke" / ARCH / f"{ARCH}-zoo-numerics.json"


@pytest.fixture(scope="module")
def setup():
    environment(SMOKE)  # threads and determinism, as the suite configures them
    return load_digits32(), baselines.read(BASELINE)["frameworks"]


def _changed(setup, framework: str) -> list[dict]:
    data, baseline = setup
    now = numerics.measure(ARCH, "zoo", SMOKE, data, reference=False, frameworks=(framework,))
    bad = numerics.compare({framework: baseline[framework]}, now)
    assert framework in bad, f"the change to {framework} was not caught"
    return bad[framework]


def test_the_committed_baseline_records_noise_spread_and_every_stage(setup):
    _, baseline = setup
    for framework, measured in baseline.items():
        stages = {numerics.stage_of(q) for q in measured["quantities"]}
        assert stages == set(numerics.STAGES), framework
        assert measured["variants"], "made without kernel variants: no spread was measured"
        # float32 against float64 and the variants differ somewhere: both really ran
        assert any(e["noise"] > 0 for e in measured["quantities"].values())
        assert any(e["spread"] > 0 for e in measured["quantities"].values())
        assert set(measured["stage_noise"]) == stages


def test_keras_batch_norm_momentum_is_caught_in_the_running_statistics(setup, monkeypatch):
    keras = get_adapter("tensorflow").keras
    original = keras.layers.BatchNormalization.__init__

    def momentum_09(self, *args, momentum=0.9, **kwargs):
        original(self, *args, momentum=momentum, **kwargs)

    monkeypatch.setattr(keras.layers.BatchNormalization, "__init__", momentum_09)
    bad = _changed(setup, "tensorflow")
    stages = {numerics.stage_of(b["quantity"]) for b in bad}
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
    assert {numerics.stage_of(b["quantity"]) for b in bad} == {"step"}
    assert max(b["moved"] for b in bad) > 0.01  # not a rounding matter: percent and more
    message = numerics.describe("pytorch", bad)
    print(message)
    assert message.startswith("pytorch numerics changed in step (first: step/")
    assert "step of classifier.bias" in message or "step of features.conv0.weight" in message


def test_a_changed_weight_initializer_is_caught_in_the_initial_weights(setup, monkeypatch):
    torch = get_adapter("pytorch").torch
    original = torch.nn.init.kaiming_normal_

    def fan_out(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
        return original(tensor, a=a, mode="fan_out", nonlinearity=nonlinearity)

    monkeypatch.setattr(torch.nn.init, "kaiming_normal_", fan_out)
    bad = _changed(setup, "pytorch")
    init = [b for b in bad if b["quantity"].startswith("init/")]
    assert init and bad[0] is init[0]  # the first stage named is the initial weights
    assert all(b["quantity"].split("#")[0].endswith("weight") for b in init)
    message = numerics.describe("pytorch", bad)
    print(message)
    assert "init of features." in message
