"""``harness.fuzz``: the strategies, the two properties run as CI runs them, found files.

``test_ci_fuzz_*`` is the bounded fuzzing run of every push: a fixed number of examples, a
fixed Hypothesis seed, ``deadline=None`` and a time budget (measured: docs/localize.md). The
native property must find at least one real default difference and shrink it to at most two
layers; the aligned property must hold.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings

from harness import fuzz, knobs
from harness.errors import HarnessError

from .conftest import smoke_adapters

CI_SEED = 0
CI_EXAMPLES = 8
CI_BUDGET_S = {"aligned": 60.0, "native": 20.0}  # aligned: a cap; 8 examples take 3 s idle


@pytest.fixture(scope="module")
def frameworks():
    smoke_adapters()  # before any op runs in this process


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzz.examples())
def test_every_draw_is_a_valid_small_model(example):
    model, optimizer = example
    spec = fuzz.build(model)
    shapes = spec.shapes()
    assert spec.input_shape[:2] in ((7, 7), (8, 8))
    assert len(shapes[spec.output]) == 1 and spec.num_classes == shapes[spec.output][0] >= 2
    assert spec.parameters(), "a model without parameters has nothing to train"
    for n in spec.nodes:
        assert shapes[n.name][0] <= 8 or n.op in ("dense", "flatten")
        if n.op == "conv":
            assert not (n.stride > 1 and n.dilation > 1)  # Keras refuses it
            assert shapes[n.inputs[0]][0] % n.groups == 0 and n.units % n.groups == 0
        if n.op in ("maxpool", "avgpool"):
            assert n.padding == 0
    assert fuzz.hyperparameters(optimizer)["batch_size"] == fuzz.BATCH


def test_candidate_knobs_are_those_that_can_matter():
    from harness.mirror import Node, Spec

    def spec(*nodes):
        return Spec("fuzz", 1.0, 3, nodes, (8, 8, 3))

    dense = spec(Node("g", "gap", ("input",)), Node("d", "dense", ("g",), units=3))
    assert fuzz.candidate_knobs(dense) == ["adam_epsilon", "loss_input"]
    bn = spec(Node("b", "bn", ("input",)), Node("g", "gap", ("b",)))
    assert fuzz.candidate_knobs(bn) == [
        "bn_momentum",
        "bn_epsilon",
        "bn_running_variance",
        "adam_epsilon",
        "loss_input",
    ]
    strided = spec(
        Node("c", "conv", ("input",), units=3, kernel=3, stride=2, padding=1),
        Node("g", "gap", ("c",)),
    )
    assert "strided_padding" in fuzz.candidate_knobs(strided)
    assert "tf32" in knobs.differing(knobs.settings("native"))
    assert "tf32" not in fuzz.candidate_knobs(strided)  # cannot matter on a CPU
    assert "tf32" in fuzz.candidate_knobs(strided, device="cuda")


def test_ci_fuzz_aligned_holds(frameworks):
    start = time.monotonic()
    result = fuzz.search("aligned", CI_EXAMPLES, CI_SEED, CI_BUDGET_S["aligned"])
    assert result["findings"] == [], [fuzz.describe(f) for f in result["findings"]]
    assert result["examples"] >= 5, "the budget ran out before the property was tested"
    assert time.monotonic() - start < CI_BUDGET_S["aligned"] + 30


def test_ci_fuzz_native_finds_a_default_and_shrinks_it(frameworks, tmp_path):
    start = time.monotonic()
    result = fuzz.hunt("native", CI_EXAMPLES, CI_SEED, CI_BUDGET_S["native"], rounds=1)
    assert time.monotonic() - start < CI_BUDGET_S["native"] + 30
    named = [f for f in result["findings"] if f["explained_by"] != "new"]
    assert named, [fuzz.describe(f) for f in result["findings"]]
    small = [f for f in named if len(f["spec"]["nodes"]) <= 2]
    assert small, [fuzz.describe(f) for f in named]
    for f in result["findings"]:
        named = f["explained_by"]
        assert named == "new" or all(k in knobs.BY_NAME for k in named.split("+"))
        path = fuzz.write_found(fuzz.record_of(f, CI_SEED), tmp_path)
        record = fuzz.read_found(path)
        assert record["layers"] == len(record["spec"]["nodes"])
        assert set(record["environment"]["versions"]) == {"pytorch", "tensorflow"}
        assert record["environment"]["platform"]["cpu_model"]


def _a_found_file(tmp_path):
    files = fuzz.found_files()
    assert files, "difftests/found/ holds no finding: run crossedwires fuzz"
    smallest = min(files, key=lambda p: json.loads(p.read_text())["layers"])
    copy = tmp_path / smallest.name
    shutil.copy(smallest, copy)
    return copy


def test_committed_findings_are_valid_and_name_versions():
    for path in fuzz.found_files():
        record = fuzz.read_found(path)
        assert record["id"] == path.stem
        assert record["environment"]["versions"]["pytorch"]["torch"]
        assert record["environment"]["versions"]["tensorflow"]["tensorflow"]


def test_a_finding_that_still_reproduces_passes_and_one_that_changed_fails(frameworks, tmp_path):
    path = _a_found_file(tmp_path)
    assert fuzz.recheck(path) is None
    record = json.loads(path.read_text())
    other = "bn_momentum" if record["explained_by"] != "bn_momentum" else "bn_epsilon"
    path.write_text(json.dumps({**record, "explained_by": other}))
    message = fuzz.recheck(path)
    assert f"finding {record['id']} changed" in message
    assert f"explained by {other}, now" in message
    assert "seen with torch" in message and "now torch" in message
    missing = next(s for s in ("forward", "backward", "step") if s not in record["explanations"])
    path.write_text(json.dumps({**record, "stage": missing}))
    message = fuzz.recheck(path)
    assert "no longer reproduces" in message and "A framework that changed a default" in message


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda r: "{", "truncated or not valid JSON"),
        (lambda r: {k: v for k, v in r.items() if k != "spec"}, "field spec is missing"),
        (lambda r: {**r, "property": "zoo"}, "field property: 'zoo' is not one of"),
        (lambda r: {**r, "explained_by": "nope"}, "field explained_by: 'nope' is not a knob"),
        (lambda r: {**r, "layer": "ghost"}, "field layer: 'ghost' is not a node"),
        (lambda r: {**r, "id": "other"}, "field id: 'other' is not the file's name"),
        (
            lambda r: {**r, "spec": {**r["spec"], "nodes": [{**r["spec"]["nodes"][0], "op": "x"}]}},
            "field spec.nodes.0.op",
        ),
        (
            lambda r: {
                **r,
                "spec": {**r["spec"], "nodes": [{**r["spec"]["nodes"][0], "inputs": ["ghost"]}]},
            },
            "field spec: not a buildable mirror model",
        ),
    ],
)
def test_a_corrupt_found_file_names_the_file_and_the_field(tmp_path, change, says):
    path = _a_found_file(tmp_path)
    changed = change(json.loads(path.read_text()))
    path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    with pytest.raises(HarnessError) as info:
        fuzz.read_found(path)
    message = str(info.value)
    assert message.startswith(str(path)) and says in message, message
    assert "crossedwires fuzz" in message and "\n" not in message


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--minutes", "0"], "--minutes 0.0: give more than 0"),
        (["--minutes", "1", "--examples", "0"], "--examples 0: give 1 to 10000"),
    ],
)
def test_fuzz_cli_refuses_bad_options_in_one_line(args, says):
    r = subprocess.run(
        [sys.executable, "-m", "harness.cli", "fuzz", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and says in r.stderr and r.stderr.count("\n") == 1, r.stderr
