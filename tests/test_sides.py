"""The side registry (``harness/sides.py``), the keras-torch and keras-jax sides, N-side records,
the pairwise judgement and the vote. Constructed runs, no training, except the tests marked
``heavy`` (a Keras backend side in its subprocess)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness import baselines, judge, knobs, report, runner, sides
from harness.adapters import FRAMEWORKS
from harness.cases import Case, find_case
from harness.errors import BaselineError, ConfigError, FrameworkMissing, HarnessError
from harness.profiles import get_profile

from .conftest import ENV, PLATFORM, tiny_dataset
from .test_diff import git

ROOT = Path(__file__).resolve().parent.parent
NEW = ("keras-torch", "keras-jax")
CASE = "resnet50-adam-lr0.00349-bs10-ep1-eps0.61"


def test_the_registry_is_the_one_list_of_sides():
    assert FRAMEWORKS is sides.FRAMEWORKS and knobs.FRAMEWORKS is sides.FRAMEWORKS
    assert tuple(sides.SIDES)[:2] == ("pytorch", "tensorflow") == sides.FRAMEWORKS
    assert baselines.FRAMEWORK_PACKAGES == {n: s.packages for n, s in sides.SIDES.items()}
    for name, side in sides.SIDES.items():
        assert (ROOT / "harness" / "adapters" / f"{side.adapter}.py").is_file(), name
        assert side.knobs in knobs.FRAMEWORKS  # its column of the knob table
        assert set(side.extra.split(",")) <= set(_extras()), name
    for name in NEW:  # a Keras backend is fixed at import: a process of its own
        assert sides.SIDES[name].subprocess and sides.SIDES[name].knobs == "tensorflow"
        assert sides.SIDES[name].env["KERAS_BACKEND"] == name.removeprefix("keras-")
    assert not any(sides.SIDES[n].subprocess for n in sides.FRAMEWORKS)


def _extras() -> dict:
    """pyproject.toml's optional dependencies, by extra."""
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def test_no_file_but_the_registry_the_adapter_and_these_tests_names_the_new_sides():
    """Adding a side touches only its registry entry, its adapter and its tests (the docs and
    the N-side baselines, data, may name it; so may a tool's output at the top, such as
    mutmut's mutmut-stats.json in its copy of the project)."""
    allowed = {"harness/sides.py", "harness/adapters/keras_backend.py", "tests/test_sides.py"}
    naming = sorted(
        str(p.relative_to(ROOT))
        for pattern in ("harness/**/*", "difftests/**/*", "tests/**/*", "scripts/**/*", "*.*")
        for p in ROOT.glob(pattern)
        if p.is_file()
        and p.suffix in (".py", ".json", ".toml", ".ini", ".txt", ".cfg", "")
        and not (pattern == "*.*" and p.suffix == ".json")
        and str(p.relative_to(ROOT)) not in allowed
        and any(n in p.read_text(errors="ignore") for n in NEW)
    )
    assert naming == []


def test_sides_are_parsed_with_one_line_naming_the_value_and_the_fix(monkeypatch):
    assert sides.parse("pytorch, tensorflow") == ("pytorch", "tensorflow")
    with pytest.raises(ConfigError, match=r"--sides pytorch,nope: unknown side 'nope'; use"):
        sides.parse("pytorch,nope")
    with pytest.raises(ConfigError, match="at least two distinct sides"):
        sides.parse("pytorch,pytorch")
    with pytest.raises(ConfigError, match="at least two distinct sides"):
        sides.parse("pytorch")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("jax", "jaxlib") else real(name, *a),
    )
    with pytest.raises(FrameworkMissing) as missing:
        sides.parse("pytorch,tensorflow,keras-jax")
    assert str(missing.value) == (
        "--sides pytorch,tensorflow,keras-jax: side 'keras-jax' needs jax, jaxlib, not installed; "
        "install it with `pip install -c constraints.txt -e '.[jax]'`"
    )


def test_sides_come_in_the_registry_order_and_always_with_the_default_pair():
    """One set of sides is one folder and one pair order (the record leads with
    pytorch|tensorflow, whose gap keeps its sign), whatever order --sides names them in."""
    assert sides.parse("keras-torch,tensorflow,pytorch") == ("pytorch", "tensorflow", "keras-torch")
    assert sides.parse("tensorflow,pytorch") == sides.FRAMEWORKS
    for text, missing in (
        ("keras-torch,pytorch", "tensorflow"),
        (",".join(NEW), "pytorch,tensorflow"),
    ):
        with pytest.raises(ConfigError) as info:
            sides.parse(text)
        assert str(info.value) == (
            f"--sides {text}: every run includes the default pair pytorch,tensorflow (a record "
            f"leads with its comparison); add {missing}"
        )


@pytest.mark.bad_input
def test_an_unknown_side_in_the_option_is_a_usage_error_not_a_traceback():
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "difftests",
         "--sides", "pytorch,keras-tf", "--collect-only", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 4
    assert "--sides pytorch,keras-tf: unknown side 'keras-tf'" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_n_side_baselines_live_apart_from_the_pairs():
    assert sides.folder(sides.FRAMEWORKS) is None
    assert sides.folder(("pytorch", "tensorflow", "keras-torch")) == (
        "sides-pytorch+tensorflow+keras-torch"
    )
    assert sides.runnable(tuple(sides.SIDES), "mirror") == tuple(sides.SIDES)
    assert sides.runnable(tuple(sides.SIDES), "zoo") == tuple(sides.SIDES)
    assert sides.runnable(tuple(sides.SIDES), "custom") == sides.FRAMEWORKS


# --- the judgement of N sides --------------------------------------------------------------


def _verdicts(order, mismatching):
    """Every pair ``agree`` but those in ``mismatching`` (pairs as "a|b")."""
    return {
        f"{a}|{b}": "mismatch" if f"{a}|{b}" in mismatching else "agree"
        for i, a in enumerate(order)
        for b in order[i + 1 :]
    }


def test_the_vote_names_the_side_beyond_on_all_its_pairs_while_the_others_agree():
    order = ("a", "b", "c", "d")
    odd = _verdicts(order, {"a|b", "a|c", "a|d"})
    assert judge.vote(order, odd) == {
        "odd_one_out": "a",
        "beyond_all": ["a"],
        "agreeing_pairs": [["b", "c"], ["b", "d"], ["c", "d"]],
    }
    # the others do not all agree: beyond on all its pairs, but no odd one out
    open_vote = {**odd, "c|d": "inconclusive"}
    assert judge.vote(order, open_vote)["odd_one_out"] is None
    assert judge.vote(order, open_vote)["beyond_all"] == ["a"]
    # one of its pairs only inconclusive: not beyond on all
    assert judge.vote(order, {**odd, "a|d": "inconclusive"})["beyond_all"] == []
    # two camps of two: nobody is the odd one out
    camps = _verdicts(order, {"a|c", "a|d", "b|c", "b|d"})
    assert judge.vote(order, camps) == {
        "odd_one_out": None,
        "beyond_all": [],
        "agreeing_pairs": [["a", "b"], ["c", "d"]],
    }
    assert judge.vote(("a", "b"), {"a|b": "mismatch"})["odd_one_out"] is None  # no vote of two


def _n_side_record(correct: dict[str, list[int]], n_test: int = 100) -> dict:
    """A K-seed record of the sides in ``correct`` (seed i gets the first correct[side][i] of
    ``n_test`` images right), as the runner writes it."""
    data = tiny_dataset(n_test)
    runs, env = {}, {"python": "3.11.7", "numpy": "2.4.6", "platform": PLATFORM}
    for side, ks in correct.items():
        runs[side] = []
        for k in ks:
            pred = data.y_test.copy()
            pred[k:] = (pred[k:] + 1) % 10
            result = {
                "error": None,
                "diverged": False,
                "collapsed": False,
                "training_loss": [2.3],
                "test_accuracy": k / n_test,
            }
            runs[side].append({"result": result, "predictions": pred})
        env[side] = {**ENV["tensorflow"], "versions": sides.versions(side)}
    seeds = list(range(len(next(iter(correct.values())))))
    if len(seeds) == 1:  # one run per side, as the runner records it
        runs = {side: r[0] for side, r in runs.items()}
        return runner.build_record(find_case(CASE), get_profile("smoke"), data, runs, env, None)
    return runner.build_record(find_case(CASE), get_profile("smoke"), data, runs, env, None, seeds)


FOUR = {
    "pytorch": [85, 83, 86, 84, 85],
    "tensorflow": [20, 22, 19, 21, 20],
    "keras-torch": [21, 20, 22, 19, 21],
    "keras-jax": [20, 21, 20, 22, 19],
}


def test_every_pair_is_judged_and_the_first_pair_is_the_records_comparison(tmp_path):
    record = _n_side_record(FOUR)
    assert record["sides"] == list(FOUR)
    assert list(record["pairs"]) == [
        "pytorch|tensorflow", "pytorch|keras-torch", "pytorch|keras-jax",
        "tensorflow|keras-torch", "tensorflow|keras-jax", "keras-torch|keras-jax",
    ]  # fmt: skip
    pair = _n_side_record({k: FOUR[k] for k in sides.FRAMEWORKS})
    assert "sides" not in pair and "pairs" not in pair  # the default pair's record as before
    assert (
        record["comparison"]
        == pair["comparison"]
        == record["pairs"]["pytorch|tensorflow"]["comparison"]
    )
    assert record["verdict"] == pair["verdict"] == "mismatch"
    for key, judged in record["pairs"].items():
        assert judged["verdict"] == ("mismatch" if key.startswith("pytorch|") else "agree")
    assert record["vote"]["odd_one_out"] == "pytorch"
    # written, read back, validated against the schema the registry builds
    path = baselines.baseline_path(tmp_path, "smoke", "resnet50", CASE)
    baselines.write(path, record)
    assert baselines.read(path, at_its_path=True)["vote"] == record["vote"]


def test_the_schema_of_n_sides_comes_from_the_registry_and_the_pairs_stays_as_it_was():
    pair = baselines.schema("case")
    assert pair["properties"]["results"]["required"] == ["pytorch", "tensorflow"]
    assert "sides" not in pair["properties"]
    four = baselines.schema("case", tuple(FOUR))
    assert four["properties"]["results"]["required"] == list(FOUR)
    assert set(four["properties"]["environment"]["properties"]) >= set(sides.SIDES)
    record = json.loads(baselines.dumps(_n_side_record(FOUR)))
    del record["results"]["keras-jax"]
    with pytest.raises(BaselineError, match=r"field results.keras-jax is missing \(required\)"):
        baselines.validate(record, "x.json")
    record = json.loads(baselines.dumps(_n_side_record(FOUR)))
    record["sides"] = ["pytorch", "tensorflow", "keras-tf"]
    with pytest.raises(BaselineError, match="keras-tf"):  # a side the registry does not have
        baselines.validate(record, "x.json")


def test_the_report_shows_a_column_per_side_the_gap_matrix_and_the_vote():
    record = baselines.normalize(_n_side_record(FOUR))
    row = {
        "case": CASE,
        "seeds": 5,
        "acc PyTorch": record["results"]["pytorch"]["test_accuracy"],
        "acc TF": record["results"]["tensorflow"]["test_accuracy"],
        "difference": record["comparison"]["accuracy_diff"],
        "verdict": record["verdict"],
        "baseline": "written",
        "sides": {s: record["results"][s]["test_accuracy"] for s in record["sides"]},
        "pairs": {
            k: {"gap": p["comparison"]["accuracy_diff"], "verdict": p["verdict"]}
            for k, p in record["pairs"].items()
        },
        "vote": record["vote"],
    }
    table = report.summary_table([row])
    assert "acc Keras[torch]" in table.splitlines()[0] and "acc Keras[jax]" in table
    matrix = report.pairs_section([row])
    lines = matrix.splitlines()
    assert lines[2].startswith("PyTorch") and "+0.6420 mismatch" in lines[2]
    assert "vote: pytorch is the odd one out" in lines[-1]
    assert report.pairs_section([{**row, "pairs": None}]) == ""
    plain = {k: v for k, v in row.items() if k not in ("sides", "pairs", "vote")}
    assert "Keras" not in report.summary_table([plain])


# --- the Keras backend sides, trained (a subprocess each) -----------------------------------


@pytest.mark.heavy
def test_keras_backend_sides_train_a_zoo_model_in_their_own_process():
    """keras-torch and keras-jax train keras.applications' VGG16 on 16 images in a subprocess
    each, record their versions, and the pytest process never imports Keras on their backend."""
    profile = replace(get_profile("tiny"), train_subset=16, test_subset=16, seeds=1)
    case = Case("vgg16", 1e-3, 8, 1, 1e-7, case_set="test")
    names = [n for n in NEW if not sides.SIDES[n].missing_packages()]
    assert "keras-torch" in names  # torch and keras are in `.[all]`; jax only in `.[jax]`
    from harness.data import load_digits32

    record = runner.run_case(case, profile, load_digits32(), sides_=("pytorch", *names))
    for name in names:
        assert record["results"][name]["test_accuracy"] is not None, record["results"][name]
        versions = record["environment"][name]["versions"]
        assert set(versions) == set(sides.SIDES[name].packages) and None not in versions.values()
        assert (
            record["environment"][name]["kernels"]["backend"]
            == sides.SIDES[name].env["KERAS_BACKEND"]
        )
    assert record["sides"] == ["pytorch", *names]


@pytest.mark.heavy
def test_keras_backend_sides_train_an_aligned_mirror_from_the_shared_initial_weights():
    """A mirror case on keras-torch: the tensorflow side's Keras builder and knobs, and (aligned:
    ``init="shared"``) the shared initial weights, which cross into the side's subprocess. Same
    Keras code, same start, same batches: its first-epoch loss is TensorFlow's to float32
    rounding; from a start of its own it would be another number altogether."""
    profile = replace(get_profile("tiny"), train_subset=16, test_subset=16, seeds=1)
    case = Case("vgg16", 1e-3, 8, 1, 1e-7, arch_source="mirror", mode="aligned", case_set="test")
    from harness.data import load_digits32

    record = runner.run_case(
        case, profile, load_digits32(), sides_=("pytorch", "tensorflow", NEW[0])
    )
    assert record["sides"] == ["pytorch", "tensorflow", NEW[0]]
    (tf_loss,) = record["results"]["tensorflow"]["training_loss"]
    (keras_loss,) = record["results"][NEW[0]]["training_loss"]
    assert keras_loss == pytest.approx(tf_loss, rel=1e-4), (keras_loss, tf_loss)
    assert record["mirror"]["knobs"]["init"]["tensorflow"] == "shared"


def test_an_edited_pair_verdict_or_vote_is_refused_naming_the_field():
    record = json.loads(baselines.dumps(_n_side_record(FOUR)))
    edited = json.loads(json.dumps(record))
    edited["pairs"]["tensorflow|keras-jax"]["verdict"] = "mismatch"
    with pytest.raises(BaselineError, match=r"field pairs.tensorflow\|keras-jax.verdict: 'mis"):
        baselines.validate(edited, "x.json")
    edited = json.loads(json.dumps(record))
    edited["vote"]["odd_one_out"] = "tensorflow"
    with pytest.raises(BaselineError, match="field vote: "):
        baselines.validate(edited, "x.json")
    edited = json.loads(json.dumps(record))
    del edited["pairs"]["pytorch|keras-jax"]
    with pytest.raises(BaselineError, match="field pairs: "):
        baselines.validate(edited, "x.json")


def test_the_export_gets_a_column_set_per_side_and_every_pair():
    from harness.export import export_row

    record = json.loads(baselines.dumps(_n_side_record(FOUR)))
    row = export_row(record)
    assert row["keras-jax_seed_test_acc"] == [0.2, 0.21, 0.2, 0.22, 0.19]
    assert json.loads(row["keras-torch_versions"]) == sides.versions("keras-torch")
    assert row["verdict pytorch|keras-jax"] == "mismatch" and row["odd_one_out"] == "pytorch"
    assert round(row["gap pytorch|tensorflow"], 4) == 0.642
    pair = json.loads(baselines.dumps(_n_side_record({k: FOUR[k] for k in FRAMEWORKS})))
    assert not any(c.startswith("keras-") or "|" in c for c in export_row(pair))


# --- N-side records in the HTML report and in `crossedwires diff` ------------------------------


def test_the_html_and_markdown_report_show_the_gap_matrix_and_the_vote(tmp_path):
    from harness.htmlreport import write_report

    four = baselines.normalize(_n_side_record(FOUR))
    paths = write_report([four], "smoke", tmp_path, progress=False)
    page = paths["html"].read_text()
    assert "Sides, pair by pair" in page and "vote: pytorch is the odd one out" in page
    assert "Keras[jax]" in page  # its versions too, in the environment table
    text = paths["markdown"].read_text()
    assert "## Sides, pair by pair" in text and "vote: pytorch is the odd one out" in text
    pair = baselines.normalize(_n_side_record({k: FOUR[k] for k in FRAMEWORKS}))
    paths = write_report([pair], "smoke", tmp_path, progress=False)
    assert "Sides, pair by pair" not in paths["html"].read_text()


def test_diff_reads_n_side_baselines_and_names_every_side_and_a_changed_vote(tmp_path):
    from harness.diff import baselines_at, baselines_in, compare_trees, format_markdown, format_text

    folder = tmp_path / "baselines"
    where = folder / sides.folder(tuple(FOUR))
    path = baselines.baseline_path(where, "smoke", "resnet50", CASE)
    baselines.write(path, _n_side_record(FOUR))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "four sides")
    # Keras[jax] now learns as PyTorch does: PyTorch is no longer the odd one out
    baselines.write(path, _n_side_record({**FOUR, "keras-jax": FOUR["pytorch"]}))
    key = path.relative_to(folder).as_posix()
    assert list(baselines_at("HEAD", folder)) == list(baselines_in(folder)) == [key]
    (row,) = compare_trees(baselines_at("HEAD", folder), baselines_in(folder))
    assert list(row["moves"]) == list(FOUR)
    assert round(row["moves"]["keras-jax"]["moved"], 4) == 0.642
    assert row["flipped"] and (row["odd_then"], row["odd_now"]) == ("pytorch", None)
    assert row["case"] == f"{CASE} ({sides.folder(tuple(FOUR))})"  # not the pair's same case
    text = format_text([row], "HEAD")
    assert "odd one out pytorch -> none" in text and "Keras[jax] 0.2040 -> 0.8460" in text
    table = format_markdown([row], "HEAD").splitlines()
    assert table[2].endswith("| Keras[torch] accuracy | Keras[jax] accuracy |")
    assert table[4].count("|") == table[2].count("|")


# --- what the review of the N-side records found (each test failed before its fix) -------------


def test_with_one_seed_every_pair_is_judged_on_the_tolerance_but_the_vote_names_no_side():
    record = _n_side_record({side: [accs[0]] for side, accs in FOUR.items()})
    assert record["pairs"]["pytorch|keras-jax"]["verdict"] == "mismatch"
    assert record["vote"]["odd_one_out"] is None and record["vote"]["beyond_all"] == ["pytorch"]
    assert baselines.validate(json.loads(baselines.dumps(record)), "x.json") is None
    text = report.pairs_section([{"case": CASE, **report.sides_row(record)}])
    assert "vote: none with one seed (pytorch beyond the tolerance" in text


def test_the_default_pairs_schema_takes_no_other_side():
    record = json.loads(baselines.dumps(_n_side_record({k: FOUR[k] for k in FRAMEWORKS})))
    record["results"]["keras-jax"] = record["results"]["tensorflow"]
    with pytest.raises(BaselineError, match="keras-jax"):
        baselines.validate(record, "x.json")


def test_a_regeneration_where_one_side_errs_keeps_the_n_side_baseline(tmp_path, monkeypatch):
    monkeypatch.setattr(baselines, "RESCUE_DIR", str(tmp_path / "rescue"))
    where = tmp_path / sides.folder(tuple(FOUR))
    path = baselines.baseline_path(where, "smoke", "resnet50", CASE)
    baselines.write(path, _n_side_record(FOUR))
    failed = _n_side_record(FOUR)
    failed["results"]["keras-jax"]["error"] = "MemoryError: out of memory"
    assert failed["verdict"] == "mismatch"  # the lead pair still judged: the old check let it by
    with pytest.raises(BaselineError) as info:
        baselines.check_replaceable(path, failed)
    spare = tmp_path / "rescue" / sides.folder(tuple(FOUR)) / "smoke" / "resnet50" / f"{CASE}.json"
    assert str(info.value).startswith(
        f"{path}: training failed (keras-jax: MemoryError: out of memory); the baseline "
        f"(verdict mismatch) is kept and this run's record is saved at {spare}."
    )
    assert spare.is_file() and baselines.read(path)["results"]["keras-jax"]["error"] is None


def test_a_resumed_n_side_run_matches_a_subprocess_side_by_its_versions():
    record = _n_side_record(FOUR)
    env = json.loads(json.dumps(record["environment"]))
    before = runner.environment(get_profile("smoke"), NEW)  # configures no framework here
    for name in NEW:  # what the pytest process knows of a side before its subprocess ran
        assert before[name] == {"versions": sides.versions(name)}
        env[name] = before[name]
    current = baselines.fingerprint(env, record["profile"], record["data"]["fingerprint"])
    assert baselines.fingerprint_of(record) == current
    env[NEW[0]] = {"versions": {**env[NEW[0]]["versions"], "keras": "9.9.9"}}
    moved = baselines.fingerprint(env, record["profile"], record["data"]["fingerprint"])
    assert baselines.fingerprint_of(record) != moved


def test_the_gate_checks_every_pair_and_reports_a_changed_odd_one_out():
    then = _n_side_record(FOUR)
    now = _n_side_record({**FOUR, "keras-jax": FOUR["pytorch"]})  # Keras[jax] learns now
    assert now["verdict"] == then["verdict"] == "mismatch"  # the lead pair alone: no flip
    result = baselines.compare(then, now, drift_margin=0.02, family_size=4)
    assert result["status"] == "verdict changed"
    assert "pair tensorflow|keras-jax: verdict changed agree -> mismatch" in result["problems"]
    assert "pair pytorch|keras-jax: verdict changed mismatch -> agree" in result["problems"]
    assert "the vote's odd one out changed: pytorch -> None" in result["notes"]


def test_a_side_subprocess_that_fails_is_named_with_its_fix(monkeypatch, tmp_path):
    from harness import sidework
    from harness.data import load_digits32

    profile = replace(get_profile("tiny"), train_subset=8, test_subset=8)
    data, case = load_digits32(), find_case(CASE)
    wrong = replace(sides.SIDES[NEW[0]], env={"KERAS_BACKEND": "tensorflow"})
    with pytest.raises(HarnessError, match="the keras adapter runs with KERAS_BACKEND=torch"):
        sidework.run_seeds(wrong, case, profile, data, [0])  # its set-up refused, in the child
    killed = tmp_path / "killed"
    killed.write_text("#!/bin/sh\nkill -9 $$\n")
    killed.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(killed))
    with pytest.raises(HarnessError) as info:
        sidework.run_seeds(sides.SIDES[NEW[0]], case, profile, data, [0])
    assert "stopped with status -9: no output; it was killed (signal 9; out of memory?)" in str(
        info.value
    )


# --- the N-side judgement, field by field (what the mutation run found untested) --------------


THREE = {k: FOUR[k] for k in ("pytorch", "tensorflow", "keras-torch")}


def test_the_vote_of_three_sides_names_the_odd_one_out():
    record = _n_side_record(THREE)
    assert record["vote"] == {
        "odd_one_out": "pytorch",
        "beyond_all": ["pytorch"],
        "agreeing_pairs": [["tensorflow", "keras-torch"]],
    }


def test_a_record_is_refused_naming_the_field_that_does_not_hold():
    def refused(edit) -> str:
        record = json.loads(baselines.dumps(_n_side_record(FOUR)))
        edit(record)
        with pytest.raises(BaselineError) as info:
            baselines.validate(record, "x.json")
        return str(info.value)

    def three_sides(r):
        r["sides"] = ["pytorch", "tensorflow", "keras-torch"]

    # the schema built from the listed sides holds the results to them
    assert refused(three_sides) == (
        "x.json: field results: Additional properties are not allowed ('keras-jax' was unexpected)"
    )

    def tolerance(r):
        r["pairs"]["tensorflow|keras-jax"]["comparison"]["statistics"]["tolerance"] = 0.2

    assert (
        "field pairs.tensorflow|keras-jax.comparison.statistics.tolerance: not the record's "
        "tolerance"
    ) in refused(tolerance)

    def p_within(r):
        r["pairs"]["tensorflow|keras-jax"]["comparison"]["statistics"]["p_within"] = 0.5

    assert (
        "field pairs.tensorflow|keras-jax.comparison.statistics.p_within: 0.5, the seeds give"
        in (refused(p_within))
    )


def test_pairs_at_chance_are_uninformative_and_the_record_holds():
    """The pair's own chance band judges it: Keras sides that learned nothing are
    `uninformative`, which only the band says."""
    at_chance = {**FOUR, "keras-torch": [10] * 5, "keras-jax": [10, 11, 10, 10, 11]}
    record = json.loads(baselines.dumps(_n_side_record(at_chance)))
    assert record["pairs"]["keras-torch|keras-jax"]["verdict"] == "uninformative"
    assert baselines.validate(record, "x.json") is None


def test_two_seeds_are_enough_for_the_vote():
    two = {side: accs[:2] for side, accs in FOUR.items()}
    two["tensorflow"], two["keras-torch"], two["keras-jax"] = [20, 21], [21, 20], [20, 21]
    record = json.loads(baselines.dumps(_n_side_record(two)))
    assert record["vote"]["odd_one_out"] == "pytorch"
    assert baselines.validate(record, "x.json") is None


def test_a_failure_of_a_side_the_old_record_did_not_have_keeps_the_old_one(tmp_path, monkeypatch):
    monkeypatch.setattr(baselines, "RESCUE_DIR", str(tmp_path / "rescue"))
    path = baselines.baseline_path(tmp_path, "smoke", "resnet50", CASE)
    baselines.write(path, _n_side_record(THREE))
    failed = _n_side_record(FOUR)
    failed["results"]["keras-jax"]["error"] = "RuntimeError: boom"
    with pytest.raises(BaselineError, match=r"training failed \(keras-jax: RuntimeError: boom\)"):
        baselines.check_replaceable(path, failed)


def test_the_gate_names_each_pairs_change_and_why_it_does_not_fail():
    then = _n_side_record({**FOUR, "keras-jax": FOUR["pytorch"]})  # no odd one out
    now = _n_side_record(FOUR)  # pytorch the odd one out
    result = baselines.compare(then, now, drift_margin=0.02, family_size=4)
    assert "the vote's odd one out changed: None -> pytorch" in result["notes"]
    one = {side: [accs[0]] for side, accs in FOUR.items()}
    one_then = _n_side_record({**one, "keras-jax": [FOUR["pytorch"][0]]})
    result = baselines.compare(one_then, _n_side_record(one), drift_margin=0.02)
    assert result["problems"] == [] and result["status"] == "reported"
    assert (
        "pair tensorflow|keras-jax: verdict changed mismatch -> agree (not gated with one seed)"
        in result["notes"]
    )
    noisy = {**FOUR, "keras-jax": [5, 40, 10, 35, 15]}  # agree -> inconclusive: noise
    result = baselines.compare(_n_side_record(FOUR), _n_side_record(noisy), drift_margin=0.5)
    assert result["problems"] == []
    assert (
        "pair tensorflow|keras-jax: verdict changed agree -> inconclusive (a move of the noise, "
        "not gated)"
    ) in result["notes"]
    failed = _n_side_record(FOUR)
    failed["pairs"]["tensorflow|keras-jax"]["verdict"] = "error"
    result = baselines.compare(_n_side_record(FOUR), failed, drift_margin=0.5)
    assert result["problems"] == ["pair tensorflow|keras-jax: verdict changed agree -> error"]


def test_diff_says_a_removed_records_odd_one_out_and_a_vote_that_appears():
    from harness.diff import _verdict

    row = {"verdict_then": "mismatch", "verdict_now": None, "flipped": False}
    assert _verdict({**row, "status": "removed", "odd_then": "pytorch", "odd_now": None}) == (
        "mismatch; odd one out pytorch"
    )
    assert _verdict({**row, "status": "added", "odd_then": None, "odd_now": None}) == "mismatch"
    changed = {**row, "verdict_now": "mismatch", "status": "changed", "flipped": True}
    assert _verdict({**changed, "odd_then": None, "odd_now": "pytorch"}) == (
        "mismatch; odd one out none -> pytorch"
    )
