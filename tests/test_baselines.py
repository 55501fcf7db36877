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
            "['agree', 'mismatch', 'inconclusive', 'uninformative', 'diverged', 'error']",
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
    result = baselines.compare(base, make_record(14, 2), 0.02)
    assert (result["status"], result["problems"], result["notes"]) == ("ok", [], [])
    assert result["where"] == "since the baseline: versions unchanged, platform unchanged"


def test_with_one_seed_a_flip_and_a_move_are_reported_not_failed():
    """One chaotic run's accuracy moves with the platform: with K = 1 the numerics check gates."""
    base = json.loads(baselines.dumps(make_record(14, 2)))
    result = baselines.compare(base, make_record(14, 14), 0.1)
    assert result["status"] == "reported" and result["problems"] == []
    assert result["notes"][0] == (
        "verdict changed: baseline mismatch (pytorch 0.7000, tensorflow 0.1000, difference "
        "0.6000), this run agree (pytorch 0.7000, tensorflow 0.7000, difference 0.0000) "
        "(not gated with one seed)"
    )
    assert result["notes"][1].startswith(
        "tensorflow moved: test accuracy 0.1000 -> 0.7000 (+0.6000, beyond the margin 0.1); "
        "one seed: not gated"
    )


def test_a_run_that_now_errs_fails_even_with_one_seed():
    base = json.loads(baselines.dumps(make_record(14, 14)))
    result = baselines.compare(base, make_record(14, 14, error="RuntimeError: boom"), 0.1)
    assert result["status"] == "verdict changed"
    assert result["problems"][0].startswith("verdict changed: baseline agree")


def test_a_verdict_that_flips_between_agree_and_mismatch_fails_with_both_sides():
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 71, 69], [40, 41, 39])))
    assert base["verdict"] == "mismatch"
    result = baselines.compare(base, make_seeded_record([70, 71, 69], [70, 69, 71]), 0.5)
    assert result["status"] == "verdict changed"
    assert result["problems"][0].startswith(
        "verdict changed: baseline mismatch (pytorch 0.7000, tensorflow 0.4000, difference "
        "0.3000, 90% interval [+0.2826, +0.3174]), this run agree (pytorch 0.7000, "
        "tensorflow 0.7000, difference 0.0000, 90% interval [-0.0174, +0.0174])"
    )


def test_a_move_into_inconclusive_is_reported_not_failed():
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 71, 69], [40, 41, 39])))
    noisy = make_seeded_record([70, 90, 50], [40, 60, 20])
    assert noisy["verdict"] == "inconclusive"
    result = baselines.compare(base, noisy, 0.5)
    assert result["status"] == "reported" and result["problems"] == []
    assert "a move of the noise, not gated" in result["notes"][0]


def test_drift_names_the_framework_the_test_and_the_versions_then_and_now():
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 72, 68], [50, 52, 48])))
    now = make_seeded_record(
        [70, 72, 68],
        [30, 31, 29],
        versions={"tensorflow": {"tensorflow": "2.22.0", "keras": "3.16.0"}},
    )
    result = baselines.compare(base, now, 0.1, 0.05, family_size=30)
    assert result["status"] == "drift" and result["drifted"] == pytest.approx({"tensorflow": -0.2})
    (problem,) = result["problems"]
    assert problem.startswith(
        "tensorflow drifted: mean test accuracy over 3 -> 3 seeds 0.5000 -> 0.3000 (moved "
        "-0.2000, beyond the margin 0.1; Welch p = "
    )
    assert "x 30 tests (Bonferroni) = " in problem
    assert problem.endswith(
        "versions then: tensorflow 2.21.0, keras 3.15.1; now: tensorflow 2.22.0, keras 3.16.0"
    )
    assert result["where"].startswith(
        "since the baseline: versions changed: tensorflow.keras '3.15.1' -> '3.16.0'; "
        "tensorflow.tensorflow '2.21.0' -> '2.22.0', platform unchanged"
    )


def test_a_platform_change_is_named_as_a_platform_change_never_as_versions():
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 72, 68], [50, 52, 48])))
    now = make_seeded_record([70, 72, 68], [30, 31, 29])
    now["environment"]["platform"] = {
        **now["environment"]["platform"],
        "cpu_vendor": "AuthenticAMD",
        "cpu_model": "AMD EPYC",
    }
    now["environment"]["pytorch"]["kernels"] = {"cpu_capability": "AVX2"}
    result = baselines.compare(base, now, 0.1, 0.05, family_size=30)
    assert result["where"] == (
        "since the baseline: versions unchanged, platform changed: cpu.cpu_model 'test cpu' -> "
        "'AMD EPYC'; cpu.cpu_vendor 'GenuineIntel' -> 'AuthenticAMD'; "
        "pytorch.kernels.cpu_capability 'AVX512' -> 'AVX2'"
    )


def test_a_move_within_the_noise_or_within_the_margin_passes():
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 72, 68], [50, 52, 48])))
    within_margin = make_seeded_record([66, 66, 66], [50, 52, 48])  # significant, 0.04 < 0.1
    assert baselines.compare(base, within_margin, 0.1, 0.05, 30)["status"] == "ok"
    noisy = make_seeded_record([40, 90, 60], [50, 52, 48])  # 0.07 away, spread 0.25
    assert baselines.compare(base, noisy, 0.05, 0.05, 30)["problems"] == []


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
    assert statistics["test"] == "welch_tost" and statistics["alpha"] == 0.05
    assert statistics["p_beyond"] > 0.05  # TF's spread is too wide for 0.3 to be significant
    assert record["verdict"] == "inconclusive"
    path = tmp_path / "b.json"
    baselines.write(path, record)  # the schema accepts it
    assert baselines.read(path) == record and baselines.seeds_in(record) == 3


def test_an_older_schema_version_says_to_regenerate(tmp_path, record):
    rec = json.loads(baselines.dumps(record))
    rec["schema_version"] = 1
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rec))
    with pytest.raises(BaselineError, match=r"field schema_version: 1 was written by another"):
        baselines.read(path)
