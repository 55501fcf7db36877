"""Baselines: serialization, schema, messages for bad files, and the comparison."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import baselines
from harness.errors import BaselineError

from .conftest import make_record


def test_write_then_read_gives_the_normalized_record(tmp_path, record):
    path = tmp_path / "smoke" / "resnet50" / "x.json"
    baselines.write(path, record)
    assert baselines.read(path) == baselines.normalize(record)
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]  # no temporary file left


def test_serialization_is_stable_sorted_and_rounded(record):
    text = baselines.dumps(record)
    assert text == baselines.dumps(json.loads(text))
    assert text.endswith("}\n")
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    assert '"test_accuracy": 0.7,' in text
    assert "time" not in text and "date" not in text


@given(
    k_pt=st.integers(0, 20),
    k_tf=st.integers(0, 20),
    diverged=st.booleans(),
    error=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
)
def test_every_record_the_harness_builds_is_accepted_and_round_trips(
    tmp_path_factory, k_pt, k_tf, diverged, error
):
    rec = make_record(k_pt, k_tf, diverged=diverged, error=error)
    path = tmp_path_factory.mktemp("b") / "x.json"
    baselines.write(path, rec)  # validates against the schema before writing
    assert baselines.read(path) == baselines.normalize(rec)
    assert path.read_text() == baselines.dumps(rec) == baselines.dumps(baselines.read(path))


def test_truncated_baseline_names_the_file(tmp_path, record):
    path = tmp_path / "b.json"
    path.write_text(baselines.dumps(record)[:300])
    with pytest.raises(BaselineError, match=rf"^{path}: truncated or not valid JSON \(line \d+"):
        baselines.read(path)


def test_non_json_baseline_names_the_file(tmp_path):
    path = tmp_path / "b.json"
    path.write_text("verdict: agree\n")
    with pytest.raises(
        BaselineError, match=rf"^{path}: truncated or not valid JSON \(line 1, column 1"
    ):
        baselines.read(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("verdict"), "field verdict is missing (required)"),
        (
            lambda r: r["results"]["pytorch"].pop("test_accuracy"),
            "field results.pytorch.test_accuracy is missing (required)",
        ),
        (
            lambda r: r["results"]["tensorflow"].update(test_accuracy="high"),
            "field results.tensorflow.test_accuracy: 'high' is not of type 'number', 'null'",
        ),
        (
            lambda r: r.update(verdict="maybe"),
            "field verdict: 'maybe' is not one of "
            "['agree', 'mismatch', 'inconclusive', 'diverged', 'error']",
        ),
        (
            lambda r: r["case"]["hyperparameters"].update(batch_size=0),
            "field case.hyperparameters.batch_size: 0 is less than the minimum of 1",
        ),
    ],
)
def test_schema_violations_name_the_file_and_field(tmp_path, record, mutate, message):
    rec = json.loads(baselines.dumps(record))
    mutate(rec)
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rec))
    with pytest.raises(BaselineError) as info:
        baselines.read(path)
    assert str(info.value) == f"{path}: {message}"


def test_an_invalid_record_is_never_written(tmp_path, record):
    path = tmp_path / "b.json"
    path.write_text("old\n")
    bad = dict(record, verdict="maybe")
    with pytest.raises(BaselineError):
        baselines.write(path, bad)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]


@pytest.mark.parametrize("case_id", ["../escape", "a/b", "..", "UPPER", "a b", ""])
def test_no_case_id_leaves_the_baselines_folder(tmp_path, case_id):
    with pytest.raises(BaselineError, match="cannot name a baseline file"):
        baselines.baseline_path(tmp_path, "smoke", "vgg16", case_id)


def test_a_known_mismatch_that_reproduces_passes():
    base = json.loads(baselines.dumps(make_record(14, 2)))
    assert base["verdict"] == "mismatch"
    assert baselines.compare(base, make_record(14, 2), 0.02) == ("ok", [], {})


def test_a_verdict_that_flips_fails_with_both_sides():
    base = json.loads(baselines.dumps(make_record(14, 2)))
    status, problems, _ = baselines.compare(base, make_record(14, 14), 0.7)
    assert status == "verdict changed"
    assert problems == [
        "verdict changed: baseline mismatch (pytorch 0.7000, tensorflow 0.1000, difference "
        "0.6000), this run agree (pytorch 0.7000, tensorflow 0.7000, difference 0.0000)"
    ]


def test_drift_names_the_framework_and_the_versions_then_and_now():
    base = json.loads(baselines.dumps(make_record(14, 14)))
    now = make_record(14, 13, versions={"tensorflow": {"tensorflow": "2.22.0", "keras": "3.16.0"}})
    status, problems, drifted = baselines.compare(base, now, 0.02)
    assert status == "drift"
    assert problems == [
        "tensorflow drifted: test accuracy 0.7000 -> 0.6500 (moved -0.0500, drift tolerance "
        "0.02); versions then: tensorflow 2.21.0, keras 3.15.1; "
        "now: tensorflow 2.22.0, keras 3.16.0"
    ]
    assert drifted == pytest.approx({"tensorflow": -0.05})


def test_a_move_within_the_drift_tolerance_passes():
    base = json.loads(baselines.dumps(make_record(14, 14, n_test=20)))
    assert baselines.compare(base, make_record(14, 13, n_test=20), 0.05) == ("ok", [], {})


@given(case_id=st.text(max_size=60), arch=st.sampled_from(["vgg16", "resnet50", "../x", ""]))
def test_no_case_id_yields_a_path_outside_the_baselines_folder(tmp_path_factory, case_id, arch):
    root = tmp_path_factory.getbasetemp() / "baselines"
    try:
        path = baselines.baseline_path(root, "smoke", arch, case_id)
    except BaselineError:
        return
    assert path.resolve().is_relative_to(root.resolve())
    assert path.parent.parent.parent == root and path.suffix == ".json"


def test_a_mirror_record_stores_its_width_and_every_knob_and_round_trips(tmp_path):
    from harness import knobs

    record = baselines.normalize(
        make_record(case_id="densenet121-mirror-aligned-adam-lr0.054-bs13-ep1-eps0.603")
    )
    assert record["case"]["arch_source"] == "mirror" and record["case"]["mode"] == "aligned"
    assert record["mirror"]["width"] == 0.25
    assert set(record["mirror"]["knobs"]) == {k.name for k in knobs.KNOBS}
    assert record["mirror"]["knobs"]["bn_momentum"] == {"pytorch": 0.1, "tensorflow": 0.1}
    path = tmp_path / "b.json"
    baselines.write(path, record)
    assert baselines.read(path) == record
    assert "mirror" not in baselines.normalize(make_record())  # zoo records are unchanged


def test_a_three_seed_record_holds_every_seed_the_stats_and_the_test(tmp_path):
    from .conftest import make_seeded_record

    record = baselines.normalize(make_seeded_record([70, 72, 68], [40, 20, 60]))
    pt, tf = record["results"]["pytorch"], record["results"]["tensorflow"]
    assert [s["seed"] for s in pt["seeds"]] == [0, 1, 2]
    assert [s["test_accuracy"] for s in tf["seeds"]] == [0.4, 0.2, 0.6]
    assert pt["accuracy_stats"] == {"n": 3, "mean": 0.7, "std": 0.02, "min": 0.68, "max": 0.72}
    assert pt["test_accuracy"] == 0.7 and tf["test_accuracy"] == 0.4
    statistics = record["comparison"]["statistics"]
    assert statistics["test"] == "welch_t" and statistics["alpha"] == 0.05
    assert statistics["p_value"] > 0.05  # TF's spread is too wide for 0.3 to be significant
    assert record["verdict"] == "inconclusive"
    path = tmp_path / "b.json"
    baselines.write(path, record)  # the schema accepts it
    assert baselines.read(path) == record and baselines.seeds_in(record) == 3


def test_drift_with_seeds_is_judged_against_the_baselined_spread():
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 72, 68], [50, 52, 48])))
    # PyTorch's std over 3 seeds is 0.02: 3 standard errors of a difference of means are
    # 3 * 0.02 * sqrt(2/3) = 0.049. A move of 0.04 is noise, one of 0.06 is drift.
    assert baselines.compare(base, make_seeded_record([66, 68, 64], [50, 52, 48]), 0.01)[0] == "ok"
    status, problems, drifted = baselines.compare(
        base, make_seeded_record([64, 66, 62], [50, 52, 48]), 0.01
    )
    assert status == "drift" and drifted == pytest.approx({"pytorch": -0.06})
    assert "3 standard errors of the baselined spread: std 0.0200 over 3 seeds" in problems[0]
