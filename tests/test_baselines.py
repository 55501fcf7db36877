"""Baselines: serialization, schema, messages for bad files, and the comparison."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import baselines
from harness.errors import BaselineError

from .conftest import make_record, make_seeded_record

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_cases_own_drift_margin_replaces_the_profiles():
    """A case whose seeds spread little carries a smaller margin (cases.SmokeEntry, with its
    reason); the new record's tolerance block holds it and the check uses it."""
    from .conftest import make_seeded_record

    base = json.loads(baselines.dumps(make_seeded_record([70, 71, 69], [80, 81, 79])))
    now = make_seeded_record([70, 71, 69], [73, 74, 72])  # tensorflow moved -0.07
    assert baselines.compare(base, now, 0.1, 0.05, family_size=2)["status"] == "reported"
    now["tolerance"].update(drift_margin=0.05, drift_margin_source="case: seeds spread 0.01")
    result = baselines.compare(base, now, 0.1, 0.05, family_size=2)
    assert result["status"] == "drift" and result["drifted"] == pytest.approx({"tensorflow": -0.07})
    assert "beyond the margin 0.05" in result["problems"][0]


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


# Exact texts and every refusal of the reader, the writer and the comparison (docs/mutation.md).


def test_the_regeneration_command_is_shell_quoted_with_the_runs_options():
    assert baselines.regen_command("smoke", "resnet50-adam-lr0.1-bs10-ep1-eps1") == (
        "pytest difftests --profile smoke -k resnet50-adam-lr0.1-bs10-ep1-eps1 --regen-baselines"
    )
    assert baselines.regen_command("tiny", "a", ("--baselines-dir", "my baselines")) == (
        "pytest difftests --profile tiny -k a --baselines-dir 'my baselines' --regen-baselines"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("Smoke", "resnet50", "x"), "profile 'Smoke' cannot name"),
        (("smoke", "../resnet50", "x"), "arch '../resnet50' cannot name"),
        (("smoke", "resnet50", "a..b"), "case id 'a..b' cannot name"),
    ],
)
def test_a_path_part_that_could_leave_the_folder_is_refused_by_name(tmp_path, args, message):
    with pytest.raises(BaselineError) as info:
        baselines.baseline_path(tmp_path, *args)
    assert str(info.value) == (
        f"{message} a baseline file: use lowercase letters, digits, '.', '+' and '-' only, "
        "without '..'"
    )


def test_floats_are_rounded_to_six_significant_digits_and_non_finite_ones_become_null():
    value = {1: 0.1234567, "t": (1.0, math.nan, -math.inf), "i": 3, "b": True, "s": "x"}
    assert baselines.normalize(value) == {
        "1": 0.123457,
        "t": [1.0, None, None],
        "i": 3,
        "b": True,
        "s": "x",
    }
    assert baselines.normalize(123456789.0) == 123457000.0
    assert baselines.normalize(2.302585093) == 2.30259
    assert baselines.normalize(1e-8) == 1e-8 and baselines.normalize(math.inf) is None


def test_the_file_text_is_sorted_indented_by_two_and_ends_with_a_newline():
    text = baselines.dumps({"b": [1.23456789, math.nan], "a": {"y": 1, "x": None}})
    assert text == (
        '{\n  "a": {\n    "x": null,\n    "y": 1\n  },\n  "b": [\n    1.23457,\n    null\n  ]\n}\n'
    )


def test_a_committed_baseline_is_byte_identical_when_written_again(tmp_path):
    committed = sorted(ROOT.joinpath("baselines", "smoke").rglob("*.json"))[0]
    text = committed.read_text()
    assert baselines.dumps(json.loads(text)) == text


@pytest.mark.parametrize(
    "text, fault",
    [
        ('{"a": NaN}', "NaN is not a number a baseline may hold (NaN and Infinity are refused)"),
        (
            '{"a": -Infinity}',
            "-Infinity is not a number a baseline may hold (NaN and Infinity are refused)",
        ),
        ('{"a": 1e999}', "1e999 is out of range for a float (it would read as Infinity)"),
        ('{"a": 1.5, "a": 2}', "key 'a' appears twice in one object (JSON keeps only the last)"),
        ("[1, 2]", "field (top level): expected an object, got list"),
        ("[" * 100000 + "]" * 100000, "nested too deeply to be a baseline"),
        ('{"a": tru', "truncated or not valid JSON (line 1, column 7: Expecting value)"),
    ],
)
def test_strict_parsing_names_where_and_the_fault(text, fault):
    with pytest.raises(BaselineError) as info:
        baselines.loads(text, "here.json")
    assert str(info.value) == f"here.json: {fault}"
    assert baselines.loads('{"a": 1.5, "b": {"a": 2}}', "x") == {"a": 1.5, "b": {"a": 2}}


def test_the_reader_names_a_missing_file_a_folder_a_huge_file_and_bytes_that_are_not_utf8(
    tmp_path, monkeypatch
):
    missing = tmp_path / "none.json"
    with pytest.raises(BaselineError) as info:
        baselines.read(missing)
    assert str(info.value) == f"{missing}: no such baseline"
    folder = tmp_path / "folder.json"
    folder.mkdir()
    with pytest.raises(BaselineError) as info:
        baselines.read(folder)
    assert str(info.value) == f"{folder}: not a regular file; a baseline is a file: remove it"
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(BaselineError) as info:
        baselines.read(binary)
    assert str(info.value) == f"{binary}: not a UTF-8 text file (invalid start byte at byte 7)"
    under = tmp_path / "plain.json"
    under.write_text('{"a": 1}')
    inside = under / "x.json"
    with pytest.raises(BaselineError) as info:
        baselines.read(inside)
    assert str(info.value) == f"{inside}: cannot be read (Not a directory)"
    monkeypatch.setattr(baselines, "MAX_BYTES", 8)
    assert baselines.read_text(under) == '{"a": 1}'  # exactly the limit is read
    under.write_text('{"a": 10}')
    with pytest.raises(BaselineError) as info:
        baselines.read_text(under)
    assert str(info.value) == f"{under}: 9 bytes, more than a baseline holds (8)"


def test_a_record_must_sit_where_its_profile_arch_and_id_put_it(tmp_path, record):
    case_id = record["case"]["id"]
    right = baselines.baseline_path(tmp_path, "smoke", "resnet50", case_id)
    baselines.write(right, record)
    assert baselines.identity(record) == ("smoke", "resnet50", case_id)
    assert baselines.read(right, at_its_path=True) == baselines.normalize(record)
    for profile, arch, name, field, said, at in [
        ("tiny", "resnet50", case_id, "profile.name", "smoke", "tiny"),
        ("smoke", "vgg16", case_id, "case.arch", "resnet50", "vgg16"),
        ("smoke", "resnet50", "other", "case.id", case_id, "other"),
    ]:
        wrong = tmp_path / profile / arch / f"{name}.json"
        baselines.write(wrong, record)
        assert baselines.read(wrong) == baselines.normalize(record)  # only asked for: refused
        with pytest.raises(BaselineError) as info:
            baselines.read(wrong, at_its_path=True)
        assert str(info.value) == (
            f"{wrong}: field {field}: the record says {said!r} but its path says {at!r}; a "
            "baseline belongs at <profile>/<arch>/<id>.json: move it or regenerate it"
        )
    with pytest.raises(BaselineError, match=r"^HEAD:x\.json: field case\.arch"):
        baselines.check_identity(
            record, tmp_path / "smoke" / "vgg16" / f"{case_id}.json", "HEAD:x.json"
        )


def test_a_resumed_regeneration_keeps_only_a_valid_record_of_this_fingerprint_at_its_path(
    tmp_path, record
):
    path = baselines.baseline_path(tmp_path, "smoke", "resnet50", record["case"]["id"])
    current = baselines.fingerprint_of(baselines.normalize(record))
    assert current == baselines.normalize(
        {
            "environment": record["environment"],
            "profile": record["profile"],
            "data": record["data"]["fingerprint"],
        }
    )
    assert baselines.resumable(path, current) is None  # missing
    baselines.write(path, record)
    assert baselines.resumable(path, current) == baselines.normalize(record)
    other = {**current, "data": "another fingerprint"}
    assert baselines.resumable(path, other) is None
    elsewhere = tmp_path / "smoke" / "vgg16" / path.name
    baselines.write(elsewhere, record)
    assert baselines.resumable(elsewhere, current) is None
    path.write_text("{")
    assert baselines.resumable(path, current) is None


def test_a_record_that_cannot_be_written_is_kept_elsewhere_and_the_old_file_stays(
    tmp_path, record, monkeypatch, capsys
):
    import errno

    path = baselines.baseline_path(tmp_path / "b", "smoke", "resnet50", record["case"]["id"])
    real = baselines.atomic.write_text

    def full(target, text):
        if Path(target).is_relative_to(tmp_path / "b"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(target, text)

    monkeypatch.setattr(baselines.atomic, "write_text", full)
    monkeypatch.setattr(baselines, "RESCUE_DIR", tmp_path / "rescue")
    with pytest.raises(BaselineError) as info:
        baselines.write(path, record)
    spare = tmp_path / "rescue" / "smoke" / "resnet50" / path.name
    assert str(info.value) == (
        f"{path}: cannot write the baseline (No space left on device); the old file is unchanged "
        f"and this run's record is saved at {spare}: free the space or fix the folder's "
        "permissions, then move it there"
    )
    assert spare.read_text() == baselines.dumps(record) and not path.exists()
    monkeypatch.setattr(baselines, "RESCUE_DIR", tmp_path / "b" / "rescue")
    with pytest.raises(BaselineError, match="this run's record is printed on stderr: free"):
        baselines.write(path, record)
    err = capsys.readouterr().err
    inside = tmp_path / "b" / "rescue" / "smoke" / "resnet50" / path.name
    assert err == (
        f"--- record for {path} (cannot be saved at {inside} either: No space left on device)\n"
        f"{baselines.dumps(record)}--- end of record for {path}\n"
    )


def test_both_frameworks_must_hold_the_same_seeds(tmp_path):
    record = make_seeded_record([50, 52, 54], [50, 51, 53])
    record["results"]["tensorflow"]["seeds"] = record["results"]["tensorflow"]["seeds"][:2]
    with pytest.raises(BaselineError) as info:
        baselines.validate(record, "r.json")
    assert str(info.value) == (
        "r.json: field results.tensorflow.seeds: seeds [0, 1] but results.pytorch.seeds has "
        "[0, 1, 2]; both frameworks run the same seeds"
    )
    del record["results"]["pytorch"]["seeds"]
    with pytest.raises(
        BaselineError, match=r"seeds \[0, 1\] but results\.pytorch\.seeds has none;"
    ):
        baselines.validate(record, "r.json")


def test_seeds_accuracies_and_versions_read_from_a_record():
    one, three = make_record(14, 2), make_seeded_record([50, 52, 54], [50, 51, 53])
    assert baselines.seeds_in(one) == 1 and baselines.seeds_in(three) == 3
    assert baselines.per_seed(one, "pytorch") == [0.7]
    assert baselines.per_seed(three, "tensorflow") == [0.5, 0.51, 0.53]
    assert baselines.per_seed(make_record(14, 2, error="boom"), "tensorflow") is None
    assert baselines.versions_of(one, "pytorch") == "torch 2.14.1, torchvision 0.29.1"
    assert baselines.versions_of(one, "tensorflow") == "tensorflow 2.21.0, keras 3.15.1"
    assert (
        baselines.kind_of(one) == "case" and baselines.kind_of({"kind": "numerics"}) == "numerics"
    )
    assert baselines.kind_of({"kind": "case"}) == "case" and baselines.kind_of({}) == "case"


def test_a_baseline_that_erred_against_a_run_that_works_is_reported_not_failed():
    then, now = make_record(14, 2, error="RuntimeError: boom"), make_record(14, 2)
    result = baselines.compare(then, now, drift_margin=0.05)
    assert result["status"] == "reported" and result["problems"] == [] and result["drifted"] == {}
    assert result["notes"] == [
        "verdict changed: baseline error (pytorch 0.7000, tensorflow n/a, difference n/a), this "
        "run mismatch (pytorch 0.7000, tensorflow 0.1000, difference 0.6000) (not gated with one "
        "seed)"
    ]
    back = baselines.compare(now, then, drift_margin=0.05)
    assert back["status"] == "verdict changed" and back["notes"] == []


def test_schema_errors_at_the_top_level_and_in_a_numerics_record_are_named(tmp_path):
    from harness import numerics
    from harness.profiles import get_profile

    from .conftest import tiny_dataset

    record = make_record()
    record["extra"] = 1
    with pytest.raises(BaselineError) as info:
        baselines.validate(record, "r.json")
    assert str(info.value) == (
        "r.json: field (top level): Additional properties are not allowed ('extra' was unexpected)"
    )
    path = tmp_path / "smoke" / "resnet50" / "x.json"
    with pytest.raises(BaselineError, match=rf"^{path}: field \(top level\)"):
        baselines.write(path, record)
    measured = {
        fw: {
            "quantities": {"loss": {"value": 2.3, "noise": 1e-7}},
            "stage_noise": {"loss": 1e-7 / 2.3},
            "variants": [],
        }
        for fw in ("pytorch", "tensorflow")
    }
    check = numerics.build_record(
        "vgg16", "zoo", get_profile("smoke"), tiny_dataset(), measured, make_record()["environment"]
    )
    baselines.validate(check, "n.json")  # its schema refers to the case schema's parts
    assert baselines.identity(check) == ("smoke", "vgg16", "vgg16-zoo-numerics")
    baselines.check_identity(check, tmp_path / "smoke" / "vgg16" / "vgg16-zoo-numerics.json")
    with pytest.raises(BaselineError) as info:
        baselines.check_identity(check, tmp_path / "smoke" / "resnet50" / "vgg16-zoo-numerics.json")
    assert "field check.arch: the record says 'vgg16' but its path says 'resnet50'" in str(
        info.value
    )
    seeded = make_seeded_record([50, 52, 54], [50, 51, 53])
    del seeded["results"]["tensorflow"]["seeds"]
    with pytest.raises(BaselineError) as info:
        baselines.validate(seeded, "r.json")
    assert str(info.value) == (
        "r.json: field results.tensorflow.seeds: seeds none but results.pytorch.seeds has "
        "[0, 1, 2]; both frameworks run the same seeds"
    )


def test_a_read_that_fails_after_the_checks_and_the_default_rescue_folder(
    tmp_path, record, monkeypatch
):
    import errno
    import tempfile

    path = baselines.baseline_path(tmp_path, "smoke", "resnet50", record["case"]["id"])
    baselines.write(path, record)

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(baselines.atomic, "open", broken, raising=False)
    with pytest.raises(BaselineError) as info:
        baselines.read(path)
    assert str(info.value) == f"{path}: cannot be read (Input/output error)"
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr(baselines, "RESCUE_DIR", None)
    kept = baselines.keep_elsewhere(path, "{}\n")
    spare = tmp_path / "tmp" / "crossedwires-rescue" / "smoke" / "resnet50" / path.name
    assert kept == f"saved at {spare}" and spare.read_text() == "{}\n"


def _one_seed(pt, tf):
    record = make_record(14, 2)
    record["results"]["pytorch"]["test_accuracy"] = pt
    record["results"]["tensorflow"]["test_accuracy"] = tf
    return record


def test_one_seed_moves_are_noted_only_beyond_the_margin_and_every_field_returned():
    at = baselines.compare(_one_seed(0.0, 0.1), _one_seed(0.5, 0.1), drift_margin=0.5)
    assert (at["status"], at["notes"], at["problems"]) == ("ok", [], [])
    assert at["change"] == {"versions": [], "platform": []} and at["drifted"] == {}
    assert at["where"] == "since the baseline: versions unchanged, platform unchanged"
    past = baselines.compare(_one_seed(0.0, 0.1), _one_seed(0.5, 0.1), drift_margin=0.4)
    assert past["status"] == "reported" and past["notes"] == [
        "pytorch moved: test accuracy 0.0000 -> 0.5000 (+0.5000, beyond the margin 0.4); one "
        "seed: not gated, the numerics check gates"
    ]
    failed = _one_seed(None, 0.1)
    failed["results"]["pytorch"]["error"] = "RuntimeError: boom"
    after = baselines.compare(failed, _one_seed(None, 0.6), drift_margin=0.4)
    assert after["notes"] == [
        "tensorflow moved: test accuracy 0.1000 -> 0.6000 (+0.5000, beyond the margin 0.4); one "
        "seed: not gated, the numerics check gates"
    ]


def test_only_k_seeds_on_both_sides_gate_and_a_flip_with_drift_stays_a_flip():
    agree, mismatch = make_seeded_record([50, 52], [50, 51]), make_seeded_record([50, 52], [80, 81])
    assert (agree["verdict"], mismatch["verdict"]) == ("agree", "mismatch")
    result = baselines.compare(agree, mismatch, drift_margin=0.05)
    assert result["status"] == "verdict changed" and result["drifted"] == {
        "tensorflow": pytest.approx(0.3)
    }
    assert result["problems"][1] == (
        "tensorflow drifted: mean test accuracy over 2 -> 2 seeds 0.5050 -> 0.8050 (moved "
        "+0.3000, beyond the margin 0.05; Welch p = 0.00056, x 1 tests (Bonferroni) = 0.00056 < "
        "0.05); versions then: tensorflow 2.21.0, keras 3.15.1; now: tensorflow 2.21.0, "
        "keras 3.15.1"
    )
    one = copy.deepcopy(mismatch)
    for fw in ("pytorch", "tensorflow"):
        one["results"][fw]["seeds"] = one["results"][fw]["seeds"][:1]
    for then, now in ((agree, one), (one, agree)):
        assert baselines.seeds_in(one) == 1
        mixed = baselines.compare(then, now, drift_margin=0.05)
        assert mixed["status"] == "reported" and mixed["problems"] == []
        assert mixed["notes"][0].endswith("(not gated with one seed)")


def test_a_noisy_move_beyond_the_margin_is_noted_with_its_p_value_at_the_default_alpha():
    then, now = make_seeded_record([0, 0], [50, 50]), make_seeded_record([25, 75], [50, 50])
    result = baselines.compare(then, now, drift_margin=0.1)
    assert result["status"] == "reported" and result["drifted"] == {}
    flip = (
        "verdict changed: baseline mismatch (pytorch 0.0000, tensorflow 0.5000, difference "
        "0.5000, 90% interval [-0.5000, -0.5000]), this run inconclusive (pytorch 0.5000, "
        "tensorflow 0.5000, difference 0.0000, 90% interval [-1.5784, +1.5784]) (a move of the "
        "noise, not gated)"
    )
    assert result["notes"] == [
        flip,
        "pytorch moved 0.0000 -> 0.5000 (+0.5000) but within the noise (Welch p = 0.3, "
        "adjusted 0.3)",
    ]
    assert baselines.compare(then, now, drift_margin=0.5)["notes"] == [flip]


def _seeded():
    return make_seeded_record([50, 52, 54], [50, 51, 53])


def _edit(record, path, value):
    *parents, last = path.split(".")
    block = record
    for key in parents:
        block = block[int(key)] if isinstance(block, list) else block[key]
    block[last] = value
    return record


def _failed_seed(record):
    tf = record["results"]["tensorflow"]
    _edit(tf, "seeds.1.test_accuracy", None)
    _edit(tf, "seeds.1.error", "boom")
    tf.update(error="boom", accuracy_stats=None, test_accuracy=None)
    return record


@pytest.mark.parametrize(
    "record, message",
    [
        (
            _edit(make_record(), "case.mode", "aligned"),
            "field case.hyperparameters: mode='aligned' needs arch_source='mirror' (got 'zoo'): "
            "zoo models differ in structure, so they cannot share weights",
        ),
        (
            _edit(make_record(), "results.tensorflow.test_accuracy", None),
            "field results.tensorflow.test_accuracy: null without an error saying why the run "
            "failed",
        ),
        (
            _edit(_seeded(), "results.pytorch.accuracy_stats", None),
            "field results.pytorch.accuracy_stats.n: None, the seeds give 3",
        ),
        (
            _edit(_failed_seed(_seeded()), "results.tensorflow.test_accuracy", 0.5),
            "field results.tensorflow.test_accuracy: a seed failed, so there is no mean",
        ),
        (
            _edit(_seeded(), "results.tensorflow.error", "boom"),
            "field results.tensorflow.error: not the first failed seed's error",
        ),
        (
            _edit(_seeded(), "results.tensorflow.diverged", True),
            "field results.tensorflow.diverged: disagrees with its seeds",
        ),
        (
            _edit(make_record(), "comparison", None),
            "field comparison: present without both accuracies, or missing with both",
        ),
        (
            _edit(make_record(14, 2), "comparison.accuracy_diff", 0.25),
            "field comparison.accuracy_diff: 0.25, the accuracies give 0.6",
        ),
        (
            _edit(make_record(), "comparison.statistics", _seeded()["comparison"]["statistics"]),
            "field comparison.statistics: present without seeds, or missing with them",
        ),
        (
            _edit(_seeded(), "comparison.statistics.tolerance", 0.2),
            "field comparison.statistics.tolerance: not the record's tolerance",
        ),
        (
            _edit(_seeded(), "comparison.statistics.p_within", 0.5),
            "field comparison.statistics.p_within: 0.5, the seeds give 0.00189352",
        ),
    ],
)
def test_a_derived_number_that_disagrees_with_its_seeds_is_refused_by_field(record, message):
    with pytest.raises(BaselineError) as info:
        baselines.validate(record, "b.json")
    assert str(info.value) == f"b.json: {message}"


def test_consistent_records_at_the_edges_are_accepted():
    failed = _failed_seed(_seeded())
    failed.update(comparison=None, verdict="error")
    baselines.validate(failed, "b.json")  # the first failed seed's error, no mean
    close = _seeded()
    close["results"]["pytorch"]["accuracy_stats"]["mean"] *= 1 + 5e-5  # the file's rounding
    baselines.validate(close, "b.json")
    baselines.validate(make_seeded_record([50] * 100, [50] * 100), "b.json")  # MAX_SEEDS


def test_a_baseline_is_checked_only_against_the_settings_and_data_it_was_made_with():
    from harness.profiles import get_profile
    from harness.runner import profile_block

    record = make_record()
    block = profile_block(get_profile("smoke"))
    fingerprint = record["data"]["fingerprint"]
    baselines.check_made_for(record, block, fingerprint, "b.json")
    other = {**record, "profile": {**record["profile"], "train_subset": 128}}
    with pytest.raises(BaselineError) as info:
        baselines.check_made_for(other, block, fingerprint, "b.json")
    assert str(info.value) == (
        f"b.json: field profile.train_subset: 128, but profile smoke runs with "
        f"{block['train_subset']!r}: the baseline was made with other settings"
    )
    with pytest.raises(BaselineError) as info:
        baselines.check_made_for(record, block, "0123456789abcdef", "b.json")
    assert str(info.value) == (
        f"b.json: field data.fingerprint: {fingerprint}, but this run's data "
        f"({record['data']['dataset']} as the profile subsets it) is 0123456789abcdef: the "
        "baseline was made with other data"
    )


def test_a_failed_regeneration_replaces_only_an_error_or_a_baseline_not_at_its_path(tmp_path):
    good = make_record()
    failed = make_record(error="MemoryError: (simulated)")
    path = baselines.baseline_path(tmp_path, "smoke", "resnet50", good["case"]["id"])
    baselines.write(path, good)
    with pytest.raises(BaselineError) as info:
        baselines.check_replaceable(path, failed)
    assert str(info.value).startswith(
        f"{path}: training failed (tensorflow: MemoryError: (simulated)); the baseline (verdict "
        "agree) is kept and this run's record is "
    )
    assert str(info.value).endswith(
        ". If the failure is the new behaviour, delete the baseline and regenerate it"
    )
    baselines.check_replaceable(path, good)  # a run that worked replaces anything
    elsewhere = tmp_path / "smoke" / "vgg16" / path.name
    baselines.write(elsewhere, good)
    baselines.check_replaceable(elsewhere, failed)  # not this case's baseline: nothing to keep
    baselines.write(path, failed)
    baselines.check_replaceable(path, failed)  # an error replaces an error


def test_a_move_at_the_margin_plus_its_slack_is_not_noted():
    edge = 0.4 + 1e-12  # the margin plus the documented slack, as a float
    at = baselines.compare(_one_seed(0.0, 0.1), _one_seed(edge, 0.1), drift_margin=0.4)
    assert at["notes"] == []
    then, now = make_seeded_record([0, 0], [50, 50]), make_seeded_record([0, 50], [50, 50])
    now["results"]["pytorch"]["seeds"][1]["test_accuracy"] = 2 * edge  # mean exactly `edge`
    result = baselines.compare(then, now, drift_margin=0.4)
    assert result["drifted"] == {} and not any(n.startswith("pytorch") for n in result["notes"])


def _numerics_check(noise: float = 1e-7, level: float = 1e-7 / 2.3) -> dict:
    from harness import numerics
    from harness.profiles import get_profile

    from .conftest import tiny_dataset

    measured = {
        fw: {
            "quantities": {"loss": {"value": 2.3, "noise": noise}},
            "stage_noise": {"loss": level},
            "variants": [],
        }
        for fw in ("pytorch", "tensorflow")
    }
    return numerics.build_record(
        "vgg16", "zoo", get_profile("smoke"), tiny_dataset(), measured, make_record()["environment"]
    )


def test_a_numerics_noise_above_twice_its_value_or_an_edited_level_is_refused():
    baselines.validate(_numerics_check(), "n.json")
    baselines.validate(_numerics_check(4.6, 2.0), "n.json")  # exactly twice the value
    check = _numerics_check(5.75, 2.5)  # 2.5 times the value
    with pytest.raises(BaselineError) as info:
        baselines.validate(check, "n.json")
    assert str(info.value) == (
        "n.json: field frameworks.pytorch.quantities.loss.noise: 5.75 exceeds twice the value 2.3"
    )
    check = _numerics_check(4.7, 4.7 / 2.3)  # beyond twice the value by less than 1
    with pytest.raises(BaselineError, match=r"^n\.json: field frameworks\.pytorch\.quantities"):
        baselines.validate(check, "n.json")
    check = _numerics_check()
    check["frameworks"]["tensorflow"]["stage_noise"]["loss"] = 0.5
    with pytest.raises(BaselineError) as info:
        baselines.validate(check, "n.json")
    assert str(info.value) == (
        f"n.json: field frameworks.tensorflow.stage_noise.loss: 0.5, its quantities give "
        f"{1e-7 / 2.3}"
    )


def test_a_spread_without_its_variants_or_another_method_is_refused():
    check = _numerics_check()
    check["frameworks"]["pytorch"]["quantities"]["loss"]["spread"] = 1e-7
    with pytest.raises(BaselineError) as info:
        baselines.validate(check, "n.json")
    assert str(info.value) == (
        "n.json: field frameworks.pytorch.quantities.loss.spread: present, though no kernel "
        "variants were measured ([])"
    )
    check["frameworks"]["pytorch"]["variants"] = ["AVX2"]
    baselines.validate(check, "n.json")
    check["frameworks"]["tensorflow"]["variants"] = ["AVX2"]
    with pytest.raises(BaselineError, match=r"tensorflow\.quantities\.loss\.spread: missing"):
        baselines.validate(check, "n.json")
    check = _numerics_check()
    check["check"]["multiplier"] = 500.0  # a record made with wider allowances
    with pytest.raises(BaselineError) as info:
        baselines.validate(check, "n.json")
    assert str(info.value) == (
        "n.json: field check.multiplier: 500.0, this version of crossedwires measures with "
        "50.0; regenerate the baseline"
    )
    check = _numerics_check()
    check["schema_version"] = 2
    with pytest.raises(BaselineError, match="this one reads 3 for a numerics record"):
        baselines.validate(check, "n.json")


def test_a_noise_of_exactly_twice_the_value_plus_slack_passes_and_repeated_seeds_are_refused():
    edge = 2 * abs(2.3) + 1e-12  # the bound as the check computes it
    baselines.validate(_numerics_check(edge, edge / 2.3), "n.json")
    record = make_seeded_record([50, 52, 54], [50, 51, 53])
    for fw in ("pytorch", "tensorflow"):
        record["results"][fw]["seeds"][1]["seed"] = 0
    with pytest.raises(BaselineError) as info:
        baselines.validate(record, "r.json")
    assert str(info.value) == "r.json: field results.pytorch.seeds: 3 seeds, not distinct or > 100"


def test_a_baseline_judged_against_another_chance_band_is_refused_exactly():
    from harness.profiles import get_profile
    from harness.runner import profile_block

    record = make_record()  # 20 test images, one seed: chance band [0.0, 0.3]
    block = profile_block(get_profile("smoke"))
    fp = record["data"]["fingerprint"]
    assert record["comparison"]["chance_band"] == [0.0, 0.3]
    for same in ([0.0, 0.3], [0.0, 0.30002], None):  # equal up to the file's rounding; none given
        baselines.check_made_for(record, block, fp, "b.json", same)
    baselines.check_made_for({**record, "comparison": None}, block, fp, "b.json", [0.0, 0.25])
    for other in ([0.0, 0.2512345678], [0.05, 0.3]):
        with pytest.raises(BaselineError) as info:
            baselines.check_made_for(record, block, fp, "b.json", other)
        shown = [round(x, 6) for x in other]
        assert str(info.value) == (
            f"b.json: field comparison.chance_band: [0.0, 0.3], but profile smoke puts chance "
            f"at {shown} for these seeds and test images: the baseline was judged against "
            "another band"
        )
    with pytest.raises(ValueError):  # a band is two numbers: a third is a caller's bug
        baselines.check_made_for(record, block, fp, "b.json", [0.0, 0.3, 0.5])


def test_a_custom_pairs_record_names_its_own_architecture_and_only_it():
    """A user's pair (framework_pair.check) is recorded with arch_source "custom" and the
    user's name as arch; a built-in source must name a built-in architecture, and a custom
    pair must not pretend to be one."""
    record = make_record()
    pair_id = "my-cnn-custom-adam-lr0.00349-bs10-ep1-eps0.61"
    record["case"].update(arch="my-cnn", arch_source="custom", id=pair_id)
    baselines.validate(record, "pair.json")
    baselines.check_consistency(record, "pair.json")

    zoo = make_record()
    zoo["case"]["arch"] = "my-cnn"
    with pytest.raises(BaselineError, match=r"zoo\.json: .*case.*arch"):
        baselines.validate(zoo, "zoo.json")
    custom = make_record()
    custom["case"]["arch_source"] = "custom"
    with pytest.raises(BaselineError, match=r"custom\.json: .*case.*arch"):
        baselines.validate(custom, "custom.json")
