"""The gate sees: changes of the catalogue ``harness/changes.py`` patched into one framework,
one at a time, are caught by the numerics check against the committed smoke baseline, as
``pytest difftests -k numerics`` checks it, and named: framework, stage, layer, quantity.

A sample of the catalogue, one or more of each kind the issue named (Adam's betas, amsgrad,
decoupled weight decay, label smoothing, one layer's gradient x1.01, every gradient x1.015, one
conv's weights perturbed elementwise by 1e-3, batch-norm epsilon x2, a conv on bf16-rounded
inputs), on the check ``CHECK``; and a null change (numerically equivalent) that must pass.
``benchmarks/sensitivity.py`` runs the whole catalogue on every check (``docs/numerics.md``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import baselines, changes, numerics
from harness.data import load_digits32
from harness.profiles import get_profile
from harness.runner import environment

ROOT = Path(__file__).resolve().parent.parent
ARCH, SOURCE = "resnet50", "mirror"
CHECK = numerics.check_id(ARCH, SOURCE)
SMOKE = get_profile("smoke")
CAUGHT = (
    "torch-adam-beta1-minus-0.001",
    "keras-adam-beta2-minus-0.001",
    "torch-adam-amsgrad",
    "keras-adam-weight-decay-1e-4",
    "torch-adam-decoupled-weight-decay-1e-4",
    "torch-ce-label-smoothing-0.01",
    "torch-head-weight-grad-times-1.01",
    "keras-scce-backward-times-1.015",
    "torch-stem-conv-init-perturbed-1e-3",
    "keras-bn-epsilon-times-2",
    "torch-conv-bf16-inputs",
)
NULL = ("torch-adam-foreach", "keras-dense-einsum")


@pytest.fixture(scope="module")
def setup():
    environment(SMOKE)
    path = baselines.baseline_path(ROOT / "baselines", SMOKE.name, ARCH, CHECK)
    return load_digits32(), baselines.read(path)["frameworks"]


def _check(setup, change: changes.Change) -> dict:
    data, baseline = setup
    with change.patch():
        now = numerics.measure(
            ARCH, SOURCE, SMOKE, data, reference=False, frameworks=(change.framework,)
        )
    return numerics.compare({change.framework: baseline[change.framework]}, now)


@pytest.mark.parametrize("name", CAUGHT)
def test_a_realistic_change_is_caught_and_named(setup, name):
    change = changes.get(name)
    assert ARCH in change.archs and SOURCE in change.sources and change.stages
    bad = _check(setup, change)
    assert change.framework in bad, f"{name} was not caught by {CHECK}"
    first = bad[change.framework][0]
    assert numerics.stage_of(first["quantity"]) in change.stages, first
    message = numerics.describe(change.framework, bad[change.framework])
    print(f"{name}: {message}")
    stage = numerics.stage_of(first["quantity"])
    assert message.startswith(f"{change.framework} numerics changed in {stage}")
    assert f"(first: {first['quantity']};" in message
    if "/" in first["quantity"]:  # a layer's quantity: the layer is named
        layer = first["quantity"].split("/", 1)[1].split("#")[0]
        assert f"of {layer}" in message


@pytest.mark.parametrize("name", NULL)
def test_a_numerically_equivalent_change_passes(setup, name):
    change = changes.get(name)
    assert change.kind == "null" and not change.stages
    assert _check(setup, change) == {}
