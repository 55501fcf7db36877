"""``harness.localize`` and ``crossedwires localize``: per-layer comparison of one training step.

On tiny mirror models (8x8x3, batch 4): both adapters' ``trace_mirror`` give the same numbers
from the same weights with every knob aligned (the walk is the model's own function), a
default moved on one side is localized to the layer it acts on (batch-norm epsilon at the
batch norm, Adam's epsilon in the step, strided 'same' padding at the strided conv), the
new Node fields (dilation, groups, dropout) build the same model in both frameworks, and bad
input (unknown id, a zoo id, a bad --localize file) is one line naming the fix.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from harness import fuzz, knobs, localize
from harness.errors import ConfigError, HarnessError
from harness.mirror import Node, Spec

from .conftest import smoke_adapters

pt, tf = smoke_adapters()  # before any op runs in this process, as the runner does

HP = {"learning_rate": 0.01, "adam_epsilon": 0.1, "batch_size": 4}


def tiny(*nodes: Node, size: int = 8, classes: int = 3) -> Spec:
    return Spec("fuzz", 1.0, classes, tuple(nodes), (size, size, 3))


EVERYTHING = tiny(  # every op, and the new fields: dilation, groups, dropout
    Node("c1", "conv", ("input",), units=4, kernel=3, stride=1, padding=1, bias=True),
    Node("b1", "bn", ("c1",)),
    Node("r1", "relu", ("b1",)),
    Node("c2", "conv", ("r1",), units=4, kernel=3, padding=2, dilation=2, groups=2),
    Node("d", "dropout", ("c2",), rate=0.5),
    Node("a", "add", ("d", "r1")),
    Node("p", "maxpool", ("a",), kernel=2, stride=2),
    Node("k", "conv", ("p",), units=2, kernel=1),
    Node("cat", "concat", ("p", "k")),
    Node("q", "avgpool", ("cat",), kernel=2, stride=1),
    Node("f", "flatten", ("q",)),
    Node("fc", "dense", ("f",), units=3, bias=True),
)


def batch(spec: Spec):
    return fuzz.inputs(spec, 0)


def test_new_node_fields_default_to_the_old_behaviour():
    n = Node("c", "conv", ("input",), units=2, kernel=3)
    assert (n.dilation, n.groups, n.rate, n.span) == (1, 1, 0.0, 3)
    assert Node("c", "conv", ("input",), units=2, kernel=3, dilation=2).span == 5
    spec = tiny(Node("c", "conv", ("input",), units=4, kernel=3, padding=2, dilation=2))
    assert spec.shapes()["c"] == (4, 8, 8)


def test_both_traces_agree_with_every_knob_aligned():
    x, y = batch(EVERYTHING)
    report = localize.localize_spec(EVERYTHING, knobs.settings("aligned"), x, y, HP)
    assert report["first"] == {"forward": None, "backward": None, "step": None}
    assert report["differing_knobs"] == []
    for row in report["layers"]:
        for stage in localize.STAGES:
            e = row[stage]
            if e is not None:
                assert e["distance"] <= e["allowed"], (row["node"], stage, e)
    # the walk is the model's function: its last output is the model's own output
    weights = localize.shared_weights(EVERYTHING, 0)
    model = pt.build_mirror(EVERYTHING, knobs.settings("aligned")["pytorch"], "cpu")
    pt.set_mirror_weights(model, weights)
    want = pt.forward(model, x, training=False)
    model.eval()
    got = model.walk(pt._to_tensor(x))["fc"].detach().double().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # grouped and dilated conv: the kernel has in/groups input channels on both sides
    assert weights["c2/kernel"].shape == (4, 2, 3, 3)


def test_the_float64_reference_is_what_the_noise_is_measured_against():
    """A reference that were the float32 run itself would make every noise zero."""
    x, y = batch(EVERYTHING)
    weights = localize.shared_weights(EVERYTHING, 0)
    for fw in ("pytorch", "tensorflow"):
        t = localize.trace(fw, EVERYTHING, knobs.settings("aligned")[fw], weights, x, y, HP)
        a, b = t["value"]["outputs"]["fc"], t["reference"]["outputs"]["fc"]
        assert 0 < np.abs(a - b).max() < 1e-4 * np.abs(b).max()


@pytest.mark.parametrize(
    ("knob", "spec", "stage", "layer"),
    [
        (
            "bn_epsilon",
            tiny(Node("b", "bn", ("input",)), Node("g", "gap", ("b",))),
            "forward",
            "b",
        ),
        (
            "adam_epsilon",
            tiny(Node("g", "gap", ("input",)), Node("fc", "dense", ("g",), units=3, bias=True)),
            "step",
            "fc",
        ),
        (
            "strided_padding",
            tiny(
                Node("c", "conv", ("input",), units=4, kernel=3, stride=2, padding=1),
                Node("g", "gap", ("c",)),
                classes=4,
            ),
            "forward",
            "c",
        ),
    ],
)
def test_one_knob_native_is_localized_where_it_acts(knob, spec, stage, layer):
    x, y = batch(spec)
    aligned = knobs.settings("aligned")
    report = localize.localize_spec(spec, knobs.with_knob(aligned, knob, "native"), x, y, HP)
    assert report["first"][stage] == layer
    assert report["largest_rate"][stage] is not None
    assert report["differing_knobs"] == [knob]
    # and the knob table says it: aligned again, the layer agrees
    assert fuzz.explain(spec, stage, layer, x, y, HP, {}) == knob


def test_table_names_the_first_diverging_layer_of_each_stage():
    spec = tiny(Node("b", "bn", ("input",)), Node("g", "gap", ("b",)))
    x, y = batch(spec)
    report = localize.localize_spec(spec, knobs.settings("native"), x, y, HP)
    text = localize.format_table({**report, "case": "tiny", "mode": "native", "batch": 4})
    assert "first diverging layer, forward : b (bn)" in text
    assert "rate of change" in text
    assert "(delta - delta_in) / (delta_in + 1e-7)" in text


def test_rate_of_change_is_cradles():
    """(delta - delta_in) / (delta_in + eps) with the inputs' largest delta (forward)."""
    spec = tiny(Node("b", "bn", ("input",)), Node("r", "relu", ("b",)), Node("g", "gap", ("r",)))
    x, y = batch(spec)
    report = localize.localize_spec(spec, knobs.settings("native"), x, y, HP)
    rows = {r["node"]: r for r in report["layers"]}
    d_b, d_r = rows["b"]["forward"]["relative"], rows["r"]["forward"]["relative"]
    assert rows["b"]["forward"]["rate"] == pytest.approx(d_b / localize.EPSILON)
    assert rows["r"]["forward"]["rate"] == pytest.approx((d_r - d_b) / (d_b + localize.EPSILON))


def test_spec_json_round_trips():
    assert localize.spec_from_json(localize.spec_to_json(EVERYTHING)) == EVERYTHING


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("case_id", "says"),
    [
        ("densenet121-adam-lr0.0375-bs10-ep1-eps1", "localize densenet121-mirror-adam-lr0.0375"),
        ("nonsense", "known cases: crossedwires cases"),
    ],
)
def test_a_zoo_or_unknown_case_id_names_the_fix(case_id, says):
    with pytest.raises(ConfigError, match=says):
        localize.case_of(case_id)


def _cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.bad_input
def test_cli_refuses_a_zoo_case_in_one_line():
    r = _cli("localize", "densenet121-adam-lr0.0375-bs10-ep1-eps1")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "is a zoo case" in r.stderr
    assert "crossedwires localize densenet121-mirror-adam-lr0.0375-bs10-ep1-eps1" in r.stderr


@pytest.mark.bad_input
def test_report_refuses_a_bad_localize_file(tmp_path):
    from harness.htmlreport import load_localizations

    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"case": "c", "first": {}}))
    with pytest.raises(HarnessError, match=r"x.json: not a localize result \(no field layers\)"):
        load_localizations([bad])
    bad.write_text("{")
    with pytest.raises(HarnessError, match="x.json: not JSON"):
        load_localizations([bad])


def test_report_draws_a_localize_result():
    from harness.htmlreport import localize_section

    spec = tiny(Node("b", "bn", ("input",)), Node("g", "gap", ("b",)))
    x, y = batch(spec)
    report = localize.localize_spec(spec, knobs.settings("native"), x, y, HP)
    html = localize_section([{**report, "case": "tiny", "mode": "native"}])
    assert html.count("data:image/png;base64,") == 1
    assert "first diverging layer forward: b" in html


def test_a_layer_two_knobs_move_is_explained_by_both():
    """A batch norm after a strided padded conv: aligning either knob alone leaves it apart."""
    spec = tiny(
        Node("c", "conv", ("input",), units=4, kernel=3, stride=2, padding=1),
        Node("b", "bn", ("c",)),
        Node("g", "gap", ("b",)),
        classes=4,
    )
    x, y = batch(spec)
    assert fuzz.explain(spec, "forward", "c", x, y, HP, {}) == "strided_padding"
    assert fuzz.explain(spec, "forward", "b", x, y, HP, {}) == "bn_epsilon+strided_padding"
