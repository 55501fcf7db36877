"""The catalogue of bad inputs and faults (issue 13): what an unlucky user or an attacker feeds
the harness, one named entry each, and what must come back: one line that names the file,
field, option or value and the fix. Never a traceback, never a silent wrong answer (a NaN that
switches the gate off, a record standing for another case), never a loss (a good baseline
overwritten, a training run thrown away).

Every test here, and every other test marked ``bad_input`` (CIFAR-10 archives in
``test_data.py``, Ray regeneration in ``test_regen_faults.py``), is an entry:
``pytest -m bad_input --collect-only -q`` lists them all. Nothing here trains a model except
the one weights-saving entry (a 96-image run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness import atomic, baselines, htmlreport
from harness.cli import main
from harness.errors import BaselineError, HarnessError

from .conftest import make_record, make_seeded_record

pytestmark = pytest.mark.bad_input

ROOT = Path(__file__).resolve().parent.parent
CASE = "resnet50-adam-lr0.00349-bs10-ep1-eps0.61"  # make_record's case: smoke/resnet50/CASE.json
MIRROR = "resnet50-mirror-aligned-adam-lr0.00349-bs10-ep1-eps0.61"  # make_seeded_record's
SMOKE_MIRROR = "resnet50-mirror-aligned-adam-lr0.0623-bs10-ep1-eps0.952"  # a smoke case
SMOKE_ZOO = "resnet50-adam-lr0.0279-bs10-ep1-eps0.376"  # a smoke case: export keeps its row


def valid_text(record: dict | None = None) -> str:
    return baselines.dumps(record or make_record())


def at_own_path(root: Path, record: dict) -> Path:
    profile, arch, case_id = baselines.identity(record)
    return baselines.baseline_path(root, profile, arch, case_id)


def put_text(root: Path, text: str, case_id: str = CASE, arch: str = "resnet50") -> Path:
    path = Path(root) / "smoke" / arch / f"{case_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def edited(change) -> str:
    """The valid record's JSON after ``change(record)`` (NaN and Infinity written as JSON
    extensions, as Python's json and a hand edit both can)."""
    record = json.loads(valid_text())
    change(record)
    return json.dumps(record, indent=2, sort_keys=True)


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(record):
        node = record
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


def _delete(*keys):
    def change(record):
        node = record
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


def seeded_edited(change) -> str:
    """A 3-seed record of CASE after ``change(record)``."""
    record = json.loads(
        baselines.dumps(make_seeded_record([50, 60, 55], [40, 50, 45], case_id=CASE))
    )
    change(record)
    return json.dumps(record, indent=2, sort_keys=True)


def numerics_edited(change) -> str:
    record = json.loads((ROOT / "baselines/smoke/resnet50/resnet50-zoo-numerics.json").read_text())
    change(record)
    return json.dumps(record, indent=2, sort_keys=True)


def _all_seeds(value):
    def change(record):
        for result in record["results"].values():
            for seed in result["seeds"]:
                seed["seed"] = value

    return change


def _widen_noise(record):
    for quantity in record["frameworks"]["pytorch"]["quantities"].values():
        quantity["noise"] = 3 * abs(quantity["value"]) + 1


# --- baseline files: (name, the file's text, what the message must say) ----------------------

TEXTS = {
    "nan-accuracy": (
        edited(_set("results", "pytorch", "test_accuracy", float("nan"))),
        "NaN is not a number a baseline may hold",
    ),
    "infinity-accuracy": (
        edited(_set("results", "tensorflow", "test_accuracy", float("inf"))),
        "Infinity is not a number a baseline may hold",
    ),
    "minus-infinity-gap": (
        edited(_set("comparison", "accuracy_diff", float("-inf"))),
        "-Infinity is not a number a baseline may hold",
    ),
    "float-overflowing-to-infinity": (
        valid_text().replace('"accuracy_diff": 0.1', '"accuracy_diff": 1e999', 1),
        "1e999 is out of range for a float",
    ),
    "nan-in-a-loss-curve": (
        edited(_set("results", "pytorch", "training_loss", [2.3, float("nan")])),
        "NaN is not a number",
    ),
    "duplicate-top-level-key": (
        valid_text().replace("{\n", '{\n  "verdict": "agree",\n', 1),
        "key 'verdict' appears twice",
    ),
    "duplicate-nested-key": (
        valid_text().replace('"tolerance": {\n', '"tolerance": {\n    "source": "x",\n', 1),
        "key 'source' appears twice",
    ),
    "nested-200000-deep": ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    "top-level-array": ("[1, 2]", "field (top level): expected an object, got list"),
    "top-level-string": ('"agree"', "field (top level): expected an object, got str"),
    "top-level-null": ("null", "field (top level): expected an object, got NoneType"),
    "empty-file": ("", "truncated or not valid JSON (line 1, column 1"),
    "truncated-file": (valid_text()[:200], "truncated or not valid JSON"),
    "trailing-garbage": (valid_text() + "}", "truncated or not valid JSON"),
    "accuracy-as-string": (
        edited(_set("results", "pytorch", "test_accuracy", "0.7")),
        "field results.pytorch.test_accuracy",
    ),
    "accuracy-above-one": (
        edited(_set("results", "pytorch", "test_accuracy", 1.5)),
        "field results.pytorch.test_accuracy",
    ),
    "accuracy-below-zero": (
        edited(_set("results", "tensorflow", "test_accuracy", -0.1)),
        "field results.tensorflow.test_accuracy",
    ),
    "unknown-verdict": (edited(_set("verdict", "fine")), "field verdict"),
    "old-schema-version": (edited(_set("schema_version", 1)), "regenerate the baseline"),
    "schema-version-as-string": (edited(_set("schema_version", "2")), "field schema_version"),
    "unknown-top-level-field": (edited(_set("note", "hand edit")), "field (top level)"),
    "missing-results": (edited(_delete("results")), "field results is missing (required)"),
    "missing-tolerance-value": (
        edited(_delete("tolerance", "accuracy_diff")),
        "field tolerance.accuracy_diff is missing (required)",
    ),
    "zero-tolerance": (edited(_set("tolerance", "accuracy_diff", 0)), "tolerance.accuracy_diff"),
    "batch-size-as-float": (
        edited(_set("case", "hyperparameters", "batch_size", 10.5)),
        "case.hyperparameters.batch_size",
    ),
    "unknown-architecture": (edited(_set("case", "arch", "alexnet")), "field case.arch"),
    "case-id-with-a-path": (edited(_set("case", "id", "../../etc/passwd")), "field case.id"),
    # Valid by the schema, inconsistent within: each would let an edit stand in for results.
    "seed-accuracy-null-without-error": (
        seeded_edited(_set("results", "tensorflow", "seeds", 0, "test_accuracy", None)),
        "field results.tensorflow.seeds.0.test_accuracy: null without an error",
    ),
    "seeds-deleted-stats-kept": (
        seeded_edited(lambda r: [res.pop("seeds") for res in r["results"].values()]),
        "accuracy_stats: present, but there are no seeds",
    ),
    "mean-not-the-seeds-mean": (
        seeded_edited(_set("results", "tensorflow", "test_accuracy", 0.9)),
        "field results.tensorflow.test_accuracy: 0.9, the seeds' mean is 0.45",
    ),
    "stats-not-the-seeds-stats": (
        seeded_edited(_set("results", "pytorch", "accuracy_stats", "std", 0.0)),
        "field results.pytorch.accuracy_stats.std: 0.0, the seeds give 0.05",
    ),
    "gap-not-the-accuracies-gap": (
        edited(_set("comparison", "accuracy_diff", 0.5)),
        "field comparison.accuracy_diff: 0.5, the accuracies give 0",
    ),
    "p-value-edited": (
        seeded_edited(_set("comparison", "statistics", "p_within", 0.001)),
        "field comparison.statistics.p_within",
    ),
    "verdict-not-the-results": (
        edited(_set("verdict", "mismatch")),
        "field verdict: 'mismatch', the results give 'agree'",
    ),
    "error-beside-an-accuracy": (
        edited(_set("results", "pytorch", "error", "boom")),
        "field verdict: 'agree', the results give 'error'",
    ),
    "hyperparameters-not-the-id": (
        edited(_set("case", "hyperparameters", "learning_rate", 0.5)),
        f"field case.id: '{CASE}' but its hyperparameters make 'resnet50-adam-lr0.5-bs10",
    ),
    "duplicate-seeds": (seeded_edited(_all_seeds(0)), "3 seeds, not distinct or > 100"),
    "seeds-differ-between-frameworks": (
        seeded_edited(_set("results", "tensorflow", "seeds", 2, "seed", 7)),
        "field results.tensorflow.seeds: seeds [0, 1, 7] but results.pytorch.seeds has [0, 1, 2]",
    ),
    "numerics-stage-noise-widened": (
        numerics_edited(_set("frameworks", "pytorch", "stage_noise", "step", 1e6)),
        "field frameworks.pytorch.stage_noise.step: 1000000.0, its quantities give",
    ),
    "numerics-noise-above-its-value": (
        numerics_edited(_widen_noise),
        "noise: ",
    ),
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_a_corrupted_baseline_is_refused_naming_file_and_fault(tmp_path, name):
    text, says = TEXTS[name]
    assert text != valid_text()
    path = put_text(tmp_path, text)
    with pytest.raises(BaselineError) as info:
        baselines.read(path, at_its_path=True)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and says in message, message
    assert "\n" not in message


def test_non_utf8_bytes_are_refused(tmp_path):
    path = put_text(tmp_path, "")
    path.write_bytes(valid_text().encode("utf-16"))
    with pytest.raises(
        BaselineError, match=r"not a UTF-8 text file \(invalid start byte at byte 0"
    ):
        baselines.read(path)


def test_latin1_bytes_inside_a_valid_file_are_refused(tmp_path):
    path = put_text(tmp_path, "")
    path.write_bytes(valid_text().replace("cpu", "cp\u00e9").encode("latin-1"))
    with pytest.raises(BaselineError, match="not a UTF-8 text file"):
        baselines.read(path)


def test_a_folder_named_like_a_baseline_is_refused(tmp_path):
    path = tmp_path / "smoke" / "resnet50" / f"{CASE}.json"
    path.mkdir(parents=True)
    with pytest.raises(BaselineError, match="not a regular file"):
        baselines.read(path)


def test_a_fifo_named_like_a_baseline_is_refused_without_blocking(tmp_path):
    path = tmp_path / "smoke" / "resnet50" / f"{CASE}.json"
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    outcome = {}

    def read():
        try:
            baselines.read(path)
        except BaselineError as exc:
            outcome["error"] = str(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in outcome["error"]


def test_a_link_to_a_device_is_refused(tmp_path):
    path = tmp_path / "smoke" / "resnet50" / f"{CASE}.json"
    path.parent.mkdir(parents=True)
    path.symlink_to("/dev/zero")
    with pytest.raises(BaselineError, match="not a regular file"):
        baselines.read(path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = put_text(tmp_path, "")
    with open(path, "wb") as fh:
        fh.truncate(baselines.MAX_BYTES + 1)  # sparse: no disk used
    with pytest.raises(BaselineError, match="more than a baseline holds"):
        baselines.read(path)


def test_more_seeds_than_any_run_may_have_are_refused(tmp_path):
    record = make_seeded_record([50] * 101, [40] * 101, case_id=CASE)
    path = put_text(tmp_path, baselines.dumps(record))
    with pytest.raises(BaselineError, match="101 seeds, not distinct or > 100"):
        baselines.read(path)


def test_a_dangling_link_is_named_as_one(tmp_path):
    path = tmp_path / "smoke" / "resnet50" / f"{CASE}.json"
    path.parent.mkdir(parents=True)
    path.symlink_to(tmp_path / "gone.json")
    with pytest.raises(BaselineError, match="a dangling link: remove it"):
        baselines.read(path)


def test_a_missing_baseline_is_named(tmp_path):
    with pytest.raises(BaselineError, match=f"{tmp_path}/x.json: no such baseline"):
        baselines.read(tmp_path / "x.json")


# --- a record must be the one its path names ---------------------------------------------------


def test_a_mirror_record_under_a_zoo_case_name_is_refused(tmp_path):
    path = put_text(tmp_path, valid_text(make_seeded_record([50, 60], [40, 50])))
    with pytest.raises(BaselineError) as info:
        baselines.read(path, at_its_path=True)
    assert str(info.value).startswith(
        f"{path}: field case.id: the record says '{MIRROR}' but its path says '{CASE}'"
    )


def test_a_record_in_another_architectures_folder_is_refused(tmp_path):
    path = put_text(tmp_path, valid_text(), arch="vgg16")
    with pytest.raises(BaselineError, match="field case.arch: the record says 'resnet50'"):
        baselines.read(path, at_its_path=True)


def test_a_record_in_another_profiles_folder_is_refused(tmp_path):
    path = tmp_path / "full" / "resnet50" / f"{CASE}.json"
    path.parent.mkdir(parents=True)
    path.write_text(valid_text())
    with pytest.raises(BaselineError, match="field profile.name: the record says 'smoke'"):
        baselines.read(path, at_its_path=True)


def test_a_numerics_record_under_a_case_name_is_refused(tmp_path):
    numerics = baselines.read(ROOT / "baselines/smoke/resnet50/resnet50-zoo-numerics.json")
    path = put_text(tmp_path, baselines.dumps(numerics))
    with pytest.raises(BaselineError, match="field check.id: the record says 'resnet50-zoo-num"):
        baselines.read(path, at_its_path=True)


def test_resume_does_not_keep_a_record_under_another_name(tmp_path):
    record = make_record()
    path = put_text(tmp_path, valid_text(record), case_id="resnet50-adam-lr0.1-bs10-ep1-eps0.61")
    assert baselines.resumable(path, baselines.fingerprint_of(record)) is None


def test_export_refuses_a_record_under_another_name_rather_than_duplicating_it(tmp_path, capsys):
    text = valid_text(make_record(case_id=SMOKE_ZOO))
    put_text(tmp_path, text, case_id=SMOKE_ZOO)
    put_text(tmp_path, text, case_id="resnet50-mirror-adam-lr0.0623-bs10-ep1-eps0.952")
    assert main(["export", "--baselines-dir", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "field case.id: the record says" in err and "regenerate it with: " in err
    assert not list(tmp_path.glob("x.*"))


def test_resume_does_not_keep_a_forged_record(tmp_path):
    record = make_record()
    path = put_text(tmp_path, edited(_set("verdict", "mismatch")))
    assert baselines.resumable(path, baselines.fingerprint_of(record)) is None


def test_a_baseline_made_with_other_settings_is_refused_before_training():
    from harness.profiles import get_profile
    from harness.runner import profile_block

    record = make_record()
    block = profile_block(get_profile("smoke"))
    baselines.check_made_for(record, block, record["data"]["fingerprint"], "b.json")
    with pytest.raises(BaselineError, match="b.json: field profile.train_subset: 128, but profile"):
        baselines.check_made_for(
            {**record, "profile": {**record["profile"], "train_subset": 128}},
            block,
            record["data"]["fingerprint"],
            "b.json",
        )
    with pytest.raises(BaselineError, match="b.json: field data.fingerprint: .* other data"):
        baselines.check_made_for(record, block, "0123456789abcdef", "b.json")
    band = record["comparison"]["chance_band"]
    baselines.check_made_for(record, block, record["data"]["fingerprint"], "b.json", band)
    widened = {**record, "comparison": {**record["comparison"], "chance_band": [0.0, 1.0]}}
    with pytest.raises(BaselineError, match=r"field comparison.chance_band: \[0.0, 1.0\], but"):
        baselines.check_made_for(widened, block, record["data"]["fingerprint"], "b.json", band)


def test_a_regeneration_whose_training_failed_keeps_the_good_baseline(tmp_path, monkeypatch):
    good = make_record()
    path = at_own_path(tmp_path, good)
    baselines.write(path, good)
    before = path.read_text()
    monkeypatch.setattr(baselines, "RESCUE_DIR", tmp_path / "rescue")
    failed = make_record(error="MemoryError: (simulated)")
    with pytest.raises(
        BaselineError, match=r"training failed \(tensorflow: MemoryError: \(simulated\)\); the "
    ):
        baselines.check_replaceable(path, failed)
    assert path.read_text() == before
    kept = tmp_path / "rescue" / "smoke" / "resnet50" / f"{CASE}.json"
    assert json.loads(kept.read_text())["verdict"] == "error"
    baselines.check_replaceable(tmp_path / "elsewhere.json", failed)  # nothing to keep: fine


def test_running_out_of_memory_is_not_recorded_as_the_runs_outcome(monkeypatch):
    from dataclasses import replace

    from harness import runner
    from harness.adapters import pytorch
    from harness.cases import find_case
    from harness.data import load_digits32
    from harness.profiles import get_profile

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(pytorch, "build_zoo", no_memory)
    profile = replace(get_profile("tiny"), train_subset=16, test_subset=16, seeds=1)
    with pytest.raises(MemoryError):
        runner.run_framework("pytorch", find_case(CASE), profile, load_digits32(), "cpu")


def test_weights_are_staged_until_the_record_is_safe(tmp_path):
    from harness.runner import promote_weights

    staged = [tmp_path / f"{CASE}.{fw}.npz.staged" for fw in ("pytorch", "tensorflow")]
    other = tmp_path / f"{CASE}-8b9f2f16.pytorch.npz.staged"  # another case sharing the prefix
    for path in (*staged, other):
        path.write_bytes(b"new")
    assert promote_weights(tmp_path, CASE) == [
        tmp_path / f"{CASE}.pytorch.npz",
        tmp_path / f"{CASE}.tensorflow.npz",
    ]
    assert other.exists() and not any(p.exists() for p in staged)


# --- the check itself: a corrupted baseline fails before any training ---------------------------


def run_pytest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_nan_baseline_fails_its_check_before_training(tmp_path):
    record = make_seeded_record([50, 60], [40, 50], case_id=SMOKE_MIRROR)
    text = baselines.dumps(record).replace('"test_accuracy": 0.55', '"test_accuracy": NaN', 1)
    assert "NaN" in text
    path = at_own_path(tmp_path, record)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    out = run_pytest(
        "difftests",
        "--baselines-dir",
        str(tmp_path),
        "-k",
        f"test_case and {SMOKE_MIRROR}",
        "-n",
        "0",
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{path}: NaN is not a number a baseline may hold" in out.stdout
    assert f"--baselines-dir={tmp_path} --regen-baselines" in out.stdout
    assert "1 failed" in out.stdout and "Traceback" not in out.stdout


# --- options: refused in the first second, before any training (pytest exit status 4) -----------

OPTIONS = {
    "save-weights-is-a-file": (
        ["--save-weights", "/etc/passwd"],
        "--save-weights /etc/passwd: is a file, not a folder",
    ),
    "save-weights-cannot-be-created": (
        ["--save-weights", "/proc/crossedwires"],
        "--save-weights /proc/crossedwires: cannot write there",
    ),
    "regen-into-a-file": (
        ["--regen-baselines", "--baselines-dir", "/etc/passwd"],
        "--baselines-dir /etc/passwd: is a file, not a folder",
    ),
    "regen-into-an-unwritable-folder": (
        ["--regen-baselines", "--baselines-dir", "/proc/crossedwires"],
        "--baselines-dir /proc/crossedwires/smoke: cannot write there",
    ),
    "seeds-zero": (["--seeds", "0"], "--seeds 0: K must be between 1 and 100"),
    "seeds-negative": (["--seeds", "-3"], "--seeds -3: K must be between 1 and 100"),
    "seeds-ten-to-the-thirty": (
        ["--seeds", str(10**30)],
        f"--seeds {10**30}: K must be between 1 and 100",
    ),
    "seeds-not-a-number": (["--seeds", "five"], "--seeds: invalid int value: 'five'"),
    "data-dir-missing": (["--data-dir", "/nonexistent"], "--data-dir /nonexistent: no such folder"),
    "data-dir-is-a-file": (["--data-dir", "/etc/passwd"], "--data-dir /etc/passwd: no such folder"),
    "data-dir-empty": (["--data-dir="], "--data-dir : no such folder"),
    "unknown-profile": (["--profile", "paper"], "argument --profile: invalid choice: 'paper'"),
    "resume-without-regen": (["--resume"], "--resume only makes sense with --regen-baselines"),
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_bad_option_is_refused_before_any_work(name):
    args, says = OPTIONS[name]
    out = run_pytest("difftests", *args, "--collect-only", "-q")
    assert out.returncode in (2, 4), out.stdout + out.stderr  # argparse: 2, pytest usage: 4
    assert says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_a_weights_write_that_fails_mid_run_stops_the_case_instead_of_recording_an_error(
    tmp_path, monkeypatch
):
    """The finding: saving the weights ran inside the handler that records failed training,
    so a full or read-only weights folder turned a good baseline into verdict ``error``."""
    from dataclasses import replace

    from harness import runner
    from harness.cases import find_case
    from harness.data import load_digits32
    from harness.profiles import get_profile

    def disk_full(path, mode="w"):
        assert str(path).endswith(".npz.staged"), path  # promoted once the record is written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "atomic_open", disk_full)  # the weights file only
    profile = replace(get_profile("tiny"), train_subset=96, test_subset=64, seeds=1)
    case = find_case("resnet50-mirror-adam-lr0.0623-bs10-ep1-eps0.952")
    with pytest.raises(HarnessError, match="--save-weights: cannot write .*No space left"):
        runner.run_case(case, profile, load_digits32(), tmp_path / "weights")


# --- where output goes: checked before the work ------------------------------------------------


def committed_copy(tmp_path) -> Path:
    """A baselines folder holding one valid record of a smoke case (and nothing else)."""
    put_text(tmp_path / "b", valid_text(make_record(case_id=SMOKE_ZOO)), case_id=SMOKE_ZOO)
    return tmp_path / "b"


CLI = {
    "export-unknown-suffix": (
        ["export", "--out", "{tmp}/x.xlsx"],
        "--out {tmp}/x.xlsx: unknown suffix '.xlsx'; use NAME.csv or NAME.parquet",
    ),
    "export-dotted-stem": (["export", "--out", "{tmp}/run.1"], "unknown suffix '.1'"),
    "export-out-under-a-file": (
        ["export", "--out", "/etc/passwd/x.csv"],
        "--out /etc/passwd: is a file, not a folder",
    ),
    "export-unknown-profile": (
        ["export", "--profile", "paper"],
        "unknown profile 'paper': valid profiles are full, smoke, tiny",
    ),
    "export-empty-profile-folder": (
        ["export", "--profile", "tiny", "--out", "{tmp}/x"],
        "no baselines for profile 'tiny' in {b}/tiny; create them with: pytest difftests "
        "--profile tiny --regen-baselines --baselines-dir={b}",
    ),
    "report-out-under-a-file": (
        ["report", "--out", "/etc/passwd/r"],
        "--out /etc/passwd/r: /etc/passwd is in the way: a file, not a folder",
    ),
    "report-empty-profile-folder": (
        ["report", "--profile", "tiny", "--out", "{tmp}/r"],
        "no baselines for profile 'tiny'",
    ),
    "explain-jobs-zero": (
        ["explain", MIRROR, "--jobs", "0"],
        "--jobs 0: give 1 to",
    ),
    "explain-jobs-a-million": (["explain", MIRROR, "--jobs", "1000000"], "--jobs 1000000: give 1"),
    "explain-out-is-a-folder": (["explain", MIRROR, "--out", "{tmp}"], "--out {tmp}: is a folder"),
    "explain-out-under-a-file": (
        ["explain", MIRROR, "--out", "/etc/passwd/t.txt"],
        "--out /etc/passwd: is a file, not a folder",
    ),
    "explain-unknown-case": (["explain", "alexnet-adam"], "known cases: crossedwires cases"),
    "explain-batch-size-beyond-any-dataset": (
        ["explain", "vgg16-mirror-adam-lr0.1-bs99999999999999999999-ep1-eps1"],
        "batch_size=99999999999999999999 is more than 50000",
    ),
    "explain-a-million-epochs": (
        ["explain", "vgg16-mirror-adam-lr0.1-bs10-ep999999999-eps1"],
        "epochs=999999999 is more than 1000",
    ),
    "explain-epsilon-that-underflows": (
        ["explain", "vgg16-mirror-adam-lr0.1-bs10-ep1-eps1e-400"],
        "case id 'vgg16-mirror-adam-lr0.1-bs10-ep1-eps1e-400': adam_epsilon=0.0 must be",
    ),
    "export-out-dash": (["export", "--out", "-"], "--out -: the export is two"),
    "diff-nonexistent-folder": (
        ["diff", "--baselines-dir", "/nonexistent/baselines"],
        "--baselines-dir /nonexistent/baselines: no such folder",
    ),
    "diff-outside-git": (
        ["diff", "--baselines-dir", "{b}"],
        "--baselines-dir {b}: not inside a git checkout",
    ),
    "estimate-missing-timings": (
        ["estimate", "--timings", "{tmp}/t.json"],
        "{tmp}/t.json: no such timings file",
    ),
    "estimate-timings-is-a-folder": (
        ["estimate", "--timings", "{tmp}"],
        "{tmp}: not a regular file",
    ),
    "estimate-timings-is-dev-zero": (["estimate", "--timings", "/dev/zero"], "not a regular file"),
    "export-out-trailing-slash": (["export", "--out", "{tmp}/new/"], "names a folder; give a file"),
    "explain-data-dir-missing": (
        ["explain", MIRROR, "--data-dir", "{tmp}/nothing"],
        "--data-dir '{tmp}/nothing': no such folder",
    ),
    "regen-data-dir-is-a-file": (
        ["regen", "--data-dir", "/etc/passwd"],
        "--data-dir '/etc/passwd': no such folder",
    ),
}


@pytest.mark.parametrize("name", sorted(CLI))
def test_a_bad_command_line_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch, name):
    b = committed_copy(tmp_path)
    monkeypatch.chdir(ROOT)
    args, says = CLI[name]
    args = [a.format(tmp=tmp_path, b=b) for a in args]
    if args[0] in ("export", "report") and "--baselines-dir" not in args:
        args += ["--baselines-dir", str(b)]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("crossedwires: error: ") and err.count("\n") == 1, err
    assert says.format(tmp=tmp_path, b=b) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_export_out_without_suffix_naming_a_folder_is_refused(tmp_path, capsys):
    """``--out DIR`` with DIR a folder: ``DIR.csv`` is fine, but ``DIR.csv`` being a folder
    is not."""
    b = committed_copy(tmp_path)
    (tmp_path / "x.csv").mkdir()
    assert main(["export", "--baselines-dir", str(b), "--out", str(tmp_path / "x")]) == 2
    assert f"--out {tmp_path}/x.csv: is a folder" in capsys.readouterr().err


def test_export_keeps_a_dotted_stem_and_leaves_other_files_alone(tmp_path, capsys):
    b = committed_copy(tmp_path)
    unrelated = tmp_path / "results.csv"
    unrelated.write_text("mine")
    assert (
        main(["export", "--baselines-dir", str(b), "--out", str(tmp_path / "results.v2.csv")]) == 0
    )
    assert unrelated.read_text() == "mine"
    assert (tmp_path / "results.v2.csv").exists()


@pytest.mark.parametrize("problem", ["duplicate-row", "float-batch-size", "string-rate"])
def test_a_timings_file_with_bad_rows_is_refused(tmp_path, capsys, problem):
    row = {"framework": "pytorch", "arch": "vgg16", "batch_size": 32, "harness_images_per_s": 9.5}
    rows = {
        "duplicate-row": [row, {**row, "harness_images_per_s": 1e-300}],
        "float-batch-size": [{**row, "batch_size": 64.9}],
        "string-rate": [{**row, "harness_images_per_s": "fast"}],
    }[problem]
    timings = tmp_path / "t.json"
    timings.write_text(json.dumps({"device": "cpu", "rows": rows}))
    assert main(["estimate", "--timings", str(timings)]) == 2
    err = capsys.readouterr().err
    assert f"{timings}: not a timings file from benchmarks/overhead.py --json (row" in err


def test_a_timings_fifo_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "t.json"
    os.mkfifo(fifo)
    assert main(["estimate", "--timings", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_a_report_of_failed_cases_only_is_written(tmp_path, capsys):
    b = tmp_path / "b"
    smoke_case = "resnet50-adam-lr0.0279-bs10-ep1-eps0.376"
    record = make_record(error="RuntimeError: boom", case_id=smoke_case)
    path = at_own_path(b, record)
    baselines.write(path, record)
    assert (
        main(["report", "--baselines-dir", str(b), "--out", str(tmp_path / "r"), "--no-progress"])
        == 0
    )
    assert htmlreport.NOTHING_TO_PLOT in (tmp_path / "r" / "report.html").read_text()


def test_export_reads_a_linked_architecture_folder_as_the_check_does(tmp_path, capsys):
    b = committed_copy(tmp_path)
    real = tmp_path / "elsewhere"
    (b / "smoke" / "resnet50").rename(real)
    (b / "smoke" / "resnet50").symlink_to(real, target_is_directory=True)
    assert main(["export", "--baselines-dir", str(b), "--out", str(tmp_path / "x.csv")]) == 0
    assert "wrote 1 cases" in capsys.readouterr().out


def test_a_hint_keeps_a_value_that_starts_with_a_dash_with_its_option():
    from harness.cli import _regen_args

    assert _regen_args(Path("-m"), "smoke")[-1] == "--baselines-dir=-m"


def test_a_write_that_fails_after_the_checks_is_one_line(tmp_path, capsys, monkeypatch):
    b = committed_copy(tmp_path)

    def disk_full(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_text", disk_full)
    assert main(["export", "--baselines-dir", str(b), "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err == (
        f"crossedwires: error: {tmp_path}/x.csv: No space left on device\n"
    )


def test_a_baseline_that_cannot_be_written_keeps_the_old_file_and_the_new_record(
    tmp_path, monkeypatch
):
    record = make_record()
    path = at_own_path(tmp_path, record)
    baselines.write(path, record)
    old = path.read_text()

    real = atomic.tempfile.mkstemp

    def full_here(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == path.parent:
            raise OSError(28, "No space left on device")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full_here)
    monkeypatch.setattr(baselines, "RESCUE_DIR", tmp_path / "rescue")
    newer = make_record(correct_pt=2)
    with pytest.raises(BaselineError) as info:
        baselines.write(path, newer)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot write the baseline (No space left on device)")
    assert path.read_text() == old
    kept = tmp_path / "rescue" / "smoke" / "resnet50" / f"{CASE}.json"
    assert f"this run's record is saved at {kept}: free the space" in message
    assert json.loads(kept.read_text()) == json.loads(baselines.dumps(newer))


def test_stale_temporaries_of_a_killed_writer_are_removed_and_fresh_ones_kept(tmp_path):
    folder = tmp_path / "smoke" / "resnet50"
    folder.mkdir(parents=True)
    stale = folder / f".{CASE}.json.abc12345.tmp"
    fresh = folder / f".{CASE}.json.def45678.tmp"
    other = folder / "notes.tmp"
    for p in (stale, fresh, other):
        p.write_text("{")
    os.utime(stale, (1, 1))
    os.utime(other, (1, 1))
    assert atomic.remove_stale_temporaries(tmp_path) == [stale]
    assert fresh.exists() and other.exists()


def test_regeneration_removes_stale_temporaries_before_it_starts(tmp_path):
    stale = tmp_path / "tiny" / "vgg16" / ".x.json.abcd1234.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_text("{")
    os.utime(stale, (1, 1))
    out = run_pytest(
        "difftests",
        "--profile",
        "tiny",
        "--regen-baselines",
        "--baselines-dir",
        str(tmp_path),
        "--collect-only",
        "-q",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert not stale.exists()


# --- printed commands are safe to paste -----------------------------------------------------------


def test_a_hint_quotes_what_it_prints(tmp_path, capsys):
    b = committed_copy(tmp_path)
    weights = tmp_path / "x $(touch p)"
    args = ["export", "--baselines-dir", str(b), "--weights", str(weights), "--out", f"{b}/e"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"'--save-weights={weights}'" in err
    assert f"--baselines-dir={b}" in err


def test_the_regenerate_hint_carries_the_runs_options():
    command = baselines.regen_command(
        "smoke", CASE, ("--baselines-dir=/tmp/my baselines", "--seeds=3")
    )
    assert command == (
        f"pytest difftests --profile smoke -k {CASE} '--baselines-dir=/tmp/my baselines' "
        "--seeds=3 --regen-baselines"
    )


def test_export_weights_refuses_a_symlink(tmp_path, capsys):
    b = committed_copy(tmp_path)
    weights = tmp_path / "w"
    folder = weights / "smoke" / "resnet50"
    folder.mkdir(parents=True)
    (folder / f"{SMOKE_ZOO}.pytorch.npz").symlink_to("/etc/shadow")
    (folder / f"{SMOKE_ZOO}.tensorflow.npz").write_bytes(b"")
    args = ["export", "--baselines-dir", str(b), "--weights", str(weights), "--out", f"{b}/e"]
    assert main(args) == 2
    assert "is a link or not a regular file" in capsys.readouterr().err
    assert not list(b.glob("e*"))


# --- diff ---------------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path):
    """A git repository whose committed baselines hold one valid case."""
    root = tmp_path / "repo"
    put_text(root / "baselines", valid_text())
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "b"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=root,
            check=True,
            capture_output=True,
        )
    return root / "baselines"


DIFF_EDITS = {
    "nan-move": (
        lambda text: text.replace('"test_accuracy": 0.7', '"test_accuracy": NaN', 1),
        "NaN is not a number",
    ),
    "schema-break": (
        lambda text: text.replace('"verdict": "agree"', '"verdict": "fine"', 1),
        "field verdict",
    ),
    "duplicate-key": (
        lambda text: text.replace("{\n", '{\n  "verdict": "mismatch",\n', 1),
        "key 'verdict' appears twice",
    ),
    "truncated": (lambda text: text[:100], "truncated or not valid JSON"),
}


@pytest.mark.parametrize("name", sorted(DIFF_EDITS))
def test_diff_names_a_working_tree_file_the_check_would_refuse(repo, capsys, name):
    edit, says = DIFF_EDITS[name]
    path = repo / "smoke" / "resnet50" / f"{CASE}.json"
    text = path.read_text()
    assert edit(text) != text
    path.write_text(edit(text))
    assert main(["diff", "--baselines-dir", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"crossedwires: error: {path}: ") and says in err, err


def test_diff_refuses_a_misspelt_folder_rather_than_reporting_no_change(repo, capsys):
    assert main(["diff", "--baselines-dir", str(repo.parent / "baselinez"), "--exit-code"]) == 2
    assert "baselinez: no such folder, in the working tree or at HEAD" in capsys.readouterr().err


def test_diff_names_a_record_moved_under_another_name(repo, capsys):
    path = repo / "smoke" / "resnet50" / f"{CASE}.json"
    path.rename(path.with_name("resnet50-adam-lr0.1-bs10-ep1-eps0.61.json"))
    assert main(["diff", "--baselines-dir", str(repo)]) == 2
    assert "field case.id: the record says" in capsys.readouterr().err


def test_diff_names_a_folder_named_like_a_baseline(repo, capsys):
    (repo / "smoke" / "resnet50" / "x.json").mkdir()
    assert main(["diff", "--baselines-dir", str(repo)]) == 2
    assert "x.json: not a regular file" in capsys.readouterr().err


# --- output that other tools render ---------------------------------------------------------------


def test_report_markdown_carries_no_html_from_a_record():
    record = make_record(error="<img src=x onerror=alert(1)>")
    record["environment"]["pytorch"]["device_name"] = "<script>alert(1)</script> | x"
    text = htmlreport.markdown(htmlreport.frame([record]), [record], "smoke")
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| x" in text


def test_a_closed_pipe_ends_quietly():
    out = subprocess.run(
        f"{sys.executable} -m harness.cli cases --profile full | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.count("\n") == 1
    assert out.stderr == "", out.stderr
