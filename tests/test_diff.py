"""``crossedwires diff``: baselines in the working tree against a git revision."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import baselines, diff
from harness import numerics as numerics_module
from harness.diff import baselines_at, baselines_in, compare_trees, format_markdown, format_text
from harness.errors import HarnessError
from harness.profiles import get_profile

from .conftest import make_record, tiny_dataset

ROOT = Path(__file__).resolve().parent.parent
IDS = {  # published configurations (the crossedwires case set)
    "flip": "resnet50-adam-lr0.00349-bs10-ep1-eps0.61",
    "move": "resnet50-adam-lr0.0397-bs648-ep22-eps0.194",
    "same": "resnet50-adam-lr0.0441-bs675-ep42-eps0.116",
    "gone": "densenet121-adam-lr0.1-bs10-ep1-eps0.375",
    "new": "densenet121-adam-lr0.0375-bs156-ep2-eps0.274",
}


def diff_in(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """``crossedwires diff ARGS`` on the baselines of ``repo``, run as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "diff", *args, "--baselines-dir", str(repo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def put(folder: Path, key: str, record: dict) -> None:
    arch = IDS[key].split("-")[0]
    baselines.write(baselines.baseline_path(folder, "smoke", arch, IDS[key]), record)


@pytest.fixture
def repo(tmp_path):
    folder = tmp_path / "baselines"
    for key in ("flip", "move", "same", "gone"):
        put(folder, key, make_record(14, 2, case_id=IDS[key]))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "baselines")
    put(folder, "flip", make_record(14, 13, case_id=IDS["flip"]))  # mismatch -> agree
    put(folder, "move", make_record(12, 2, case_id=IDS["move"]))  # PyTorch -0.1
    put(folder, "new", make_record(14, 2, case_id=IDS["new"]))
    baselines.baseline_path(folder, "smoke", "densenet121", IDS["gone"]).unlink()
    return folder


def test_flips_first_then_moves_by_size_then_added_and_removed(repo):
    rows = compare_trees(baselines_at("HEAD", repo), baselines_in(repo))
    assert [(r["case"], r["status"]) for r in rows] == [
        (IDS["flip"], "changed"),
        (IDS["move"], "changed"),
        (IDS["new"], "added"),
        (IDS["gone"], "removed"),
    ]
    flip, move = rows[0], rows[1]
    assert flip["flipped"] and (flip["verdict_then"], flip["verdict_now"]) == ("mismatch", "agree")
    assert flip["moves"]["tensorflow"]["moved"] == pytest.approx(0.55)
    assert move["moves"]["pytorch"]["moved"] == pytest.approx(-0.1) and not move["flipped"]


def test_text_and_markdown_say_what_a_reviewer_needs(repo):
    rows = compare_trees(baselines_at("HEAD", repo), baselines_in(repo))
    text = format_text(rows, "HEAD")
    assert text.splitlines()[0] == (
        "baselines against HEAD: 1 verdict(s) flipped, 1 other case(s) with moved results, "
        "1 added, 1 removed, 0 with other changes only"
    )
    assert f"changed  {IDS['flip']}: verdict mismatch -> agree; PyTorch 0.7000 -> 0.7000 " in text
    md = format_markdown(rows, "HEAD")
    assert "| case | change | verdict | PyTorch accuracy | TF accuracy |" in md
    assert f"| `{IDS['flip']}` | changed | **mismatch -> agree** |" in md
    assert "0.1000 -> 0.6500 (+0.5500)" in md


def test_the_command_and_its_errors(repo):
    def run(*args):
        return diff_in(repo, *args)

    out = run("HEAD", "--format", "markdown", "--exit-code")
    assert out.returncode == 1 and out.stdout.startswith("**crossedwires**: baselines against")
    bad = run("no-such-rev")
    assert bad.returncode == 2
    assert "'no-such-rev' is not a commit of" in bad.stderr


def test_an_unchanged_tree_says_so(repo):
    git(repo.parent, "add", "-A")
    git(repo.parent, "commit", "-q", "-m", "regenerated")
    rows = compare_trees(baselines_at("HEAD", repo), baselines_in(repo))
    assert rows == [] and format_text(rows, "HEAD") == "baselines: no change against HEAD"


def test_a_broken_file_is_named(repo):
    (repo / "smoke" / "resnet50" / f"{IDS['same']}.json").write_text("{not json")
    with pytest.raises(HarnessError, match=f"{IDS['same']}.json: truncated or not valid JSON"):
        baselines_in(repo)


# Every status, the exact texts, git's failures (docs/mutation.md: a broken diff fails here).


def _numerics_record(value: float) -> dict:
    measured = {
        fw: {"quantities": {"loss": {"value": value, "noise": 1e-7}}, "stage_noise": {"loss": 0.0}}
        for fw in ("pytorch", "tensorflow")
    }
    return numerics_module.build_record(
        "resnet50",
        "zoo",
        get_profile("smoke"),
        tiny_dataset(),
        measured,
        make_record()["environment"],
    )


def _with(record: dict, **accuracies) -> dict:
    out = copy.deepcopy(record)
    for fw, value in accuracies.items():
        out["results"][fw]["test_accuracy"] = value
    return out


def test_every_status_in_its_order_with_exact_text_and_markdown():
    base = make_record(14, 2)  # PyTorch 0.7, TF 0.1: mismatch
    newer = make_record(14, 2, versions={"pytorch": {"torch": "2.15.0", "torchvision": "0.29.1"}})
    other = copy.deepcopy(base)
    other["case"]["source_trial"] = "dual_train_00000000"
    old = {
        "a-small.json": base,
        "b-large.json": base,
        "c-same.json": base,
        "d-env.json": base,
        "e-other.json": base,
        "f-gone.json": base,
        "g-edge.json": _with(base, pytorch=0.0),
        "h-numerics.json": _numerics_record(2.3),
    }
    new = {
        "a-small.json": _with(base, pytorch=0.69),
        "b-large.json": _with(base, tensorflow=0.3),
        "c-same.json": base,
        "d-env.json": newer,
        "e-other.json": other,
        "a-new.json": make_record(14, 14),
        "g-edge.json": _with(base, pytorch=5e-7),
        "h-numerics.json": _numerics_record(2.4),
    }
    rows = diff.compare_trees(old, new)
    assert [(r["path"], r["status"]) for r in rows] == [
        ("b-large.json", "changed"),
        ("a-small.json", "changed"),
        ("g-edge.json", "changed"),  # a move of exactly 5e-7 is a move
        ("a-new.json", "added"),
        ("f-gone.json", "removed"),
        ("d-env.json", "environment only"),
        ("e-other.json", "other fields"),
        ("h-numerics.json", "other fields"),  # no accuracies: moves show as other changes
    ]
    by_path = {r["path"]: r for r in rows}
    assert by_path["h-numerics.json"]["case"] == "resnet50-zoo-numerics"
    assert by_path["a-new.json"]["size"] == 0.0 and by_path["f-gone.json"]["size"] == 0.0
    assert by_path["d-env.json"]["environment"] == [("pytorch", ["torch 2.14.1 -> 2.15.0"])]
    assert [r["environment"] for r in rows if r["path"] != "d-env.json"] == [[]] * 7
    case = base["case"]["id"]
    text = diff.format_text(rows, "main")
    assert text == "\n".join(
        [
            "baselines against main: 0 verdict(s) flipped, 3 other case(s) with moved results, "
            "1 added, 1 removed, 3 with other changes only",
            f"  changed  {case}: verdict mismatch; PyTorch 0.7000 -> 0.7000 (+0.0000); "
            "TF 0.1000 -> 0.3000 (+0.2000)",
            f"  changed  {case}: verdict mismatch; PyTorch 0.7000 -> 0.6900 (-0.0100); "
            "TF 0.1000 -> 0.1000 (+0.0000)",
            f"  changed  {case}: verdict mismatch; PyTorch 0.0000 -> 0.0000 (+0.0000); "
            "TF 0.1000 -> 0.1000 (+0.0000)",
            f"  added    {case}: verdict agree; PyTorch - -> 0.7000; TF - -> 0.7000",
            f"  removed  {case}: verdict mismatch; PyTorch 0.7000 -> -; TF 0.1000 -> -",
            f"  environment only {case}: verdict mismatch; PyTorch 0.7000 -> 0.7000 (+0.0000); "
            "TF 0.1000 -> 0.1000 (+0.0000)",
            "           environment: pytorch: torch 2.14.1 -> 2.15.0",
            f"  other fields {case}: verdict mismatch; PyTorch 0.7000 -> 0.7000 (+0.0000); "
            "TF 0.1000 -> 0.1000 (+0.0000)",
            "  other fields resnet50-zoo-numerics: verdict -; PyTorch - -> -; TF - -> -",
        ]
    )
    md = diff.format_markdown(rows, "main")
    assert md == "\n".join(
        [
            "**crossedwires**: " + text.splitlines()[0],
            "",
            "| case | change | verdict | PyTorch accuracy | TF accuracy |",
            "|---|---|---|---|---|",
            f"| `{case}` | changed | mismatch | 0.7000 -> 0.7000 (+0.0000) | "
            "0.1000 -> 0.3000 (+0.2000) |",
            f"| `{case}` | changed | mismatch | 0.7000 -> 0.6900 (-0.0100) | "
            "0.1000 -> 0.1000 (+0.0000) |",
            f"| `{case}` | changed | mismatch | 0.0000 -> 0.0000 (+0.0000) | "
            "0.1000 -> 0.1000 (+0.0000) |",
            f"| `{case}` | added | agree | - -> 0.7000 | - -> 0.7000 |",
            f"| `{case}` | removed | mismatch | 0.7000 -> - | 0.1000 -> - |",
            f"| `{case}` | environment only (pytorch: torch) | mismatch | 0.7000 -> 0.7000 "
            "(+0.0000) | "
            "0.1000 -> 0.1000 (+0.0000) |",
            f"| `{case}` | other fields | mismatch | 0.7000 -> 0.7000 (+0.0000) | "
            "0.1000 -> 0.1000 (+0.0000) |",
            "| `resnet50-zoo-numerics` | other fields | - | - -> - | - -> - |",
            "",
            "Environment, then -> now:",
            "- pytorch: torch 2.14.1 -> 2.15.0 (1 case(s))",
        ]
    )


def test_ties_in_status_and_size_sort_by_case_id():
    ids = ["resnet50-adam-lr0.00349-bs10-ep1-eps0.61", "resnet50-adam-lr0.0397-bs648-ep22-eps0.194"]
    first, second = (make_record(14, 2, case_id=i) for i in ids)
    newer = {"pytorch": {"torch": "2.15.0", "torchvision": "0.29.1"}}
    other = copy.deepcopy(first)
    other["case"]["source_trial"] = "dual_train_00000000"
    # removed sorts before the environment-only row whose accuracies moved a little
    moved_env = _with(make_record(14, 2, case_id=ids[0], versions=newer), pytorch=0.7 + 1e-7)
    rows = diff.compare_trees(
        {"1": second, "3": first, "4": first},
        {"2": first, "3": moved_env, "4": other},
    )
    assert [r["status"] for r in rows] == ["added", "removed", "environment only", "other fields"]
    rows = diff.compare_trees(
        {"2": first, "3": second},
        {"1": second, "3": _with(second, pytorch=0.7 + 1e-7)},
    )
    assert [r["status"] for r in rows] == ["added", "removed", "other fields"]
    env_second = make_record(14, 2, case_id=ids[1], versions=newer)
    rows = diff.compare_trees({"1": second, "2": first}, {"1": env_second, "2": other})
    assert [(r["status"], r["case"]) for r in rows] == [
        ("environment only", ids[1]),
        ("other fields", ids[0]),
    ]


def test_a_platform_change_alone_is_named_as_one():
    then = make_record(14, 2)
    now = copy.deepcopy(then)
    now["environment"]["platform"]["cpu_model"] = "another cpu"
    (row,) = diff.compare_trees({"a": then}, {"a": now})
    assert row["status"] == "environment only"
    assert row["environment"] == [("platform", ["cpu_model test cpu -> another cpu"])]
    assert diff.format_text([row], "HEAD").splitlines()[-1] == (
        "           environment: platform: cpu_model test cpu -> another cpu"
    )


def test_an_unchanged_case_is_left_out_and_the_rest_still_listed():
    base = make_record(14, 2)
    rows = diff.compare_trees({"a": base, "b": base}, {"a": base, "b": _with(base, pytorch=0.5)})
    assert [r["path"] for r in rows] == ["b"]


def test_a_numerics_record_names_its_check_and_has_no_verdict():
    rows = diff.compare_trees({}, {"n.json": _numerics_record(1.0)})
    assert rows[0]["case"] == "resnet50-zoo-numerics" and diff._verdict(rows[0]) == "-"
    assert diff.headline(rows, "HEAD") == (
        "baselines against HEAD: 0 verdict(s) flipped, 0 other case(s) with moved results, "
        "1 added, 0 removed, 0 with other changes only"
    )


def test_a_flip_with_a_move_counts_as_a_flip_only():
    rows = diff.compare_trees({"a": make_record(14, 2)}, {"a": make_record(14, 13)})
    assert diff.headline(rows, "HEAD").startswith(
        "baselines against HEAD: 1 verdict(s) flipped, 0 other case(s) with moved results"
    )


def test_git_failures_are_named(repo, monkeypatch):
    with pytest.raises(HarnessError) as info:
        diff._git(repo, "rev-parse", "--verify", "nope")
    assert str(info.value) == "git rev-parse --verify nope failed: fatal: Needed a single revision"
    with pytest.raises(HarnessError) as info:  # git echoes a byte that is not UTF-8
        diff._git(repo, "rev-parse", "\udcff")
    assert str(info.value).startswith(
        "git rev-parse \udcff failed: fatal: ambiguous argument '\ufffd': unknown revision"
    )
    for rev in ("no-such-rev", "-q"):
        with pytest.raises(HarnessError) as info:
            baselines_at(rev, repo)
        assert str(info.value) == (
            f"{rev!r} is not a commit of {repo.parent.resolve()}; give a branch, tag or commit "
            "(default HEAD)"
        )
    monkeypatch.setenv("PATH", "")
    with pytest.raises(HarnessError) as info:
        diff._git(repo, "status")
    assert str(info.value) == "git is not installed; crossedwires diff reads revisions with git"


def test_a_commit_of_the_baselines_repository_and_a_deleted_folder(repo):
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    at_head = baselines_at("HEAD", repo)
    assert baselines_at(sha, repo) == at_head and len(at_head) == 4
    shutil.rmtree(repo)
    assert baselines_at(sha, repo) == at_head


def test_only_the_baselines_folder_is_read_even_when_named_like_an_option(tmp_path):
    folder = tmp_path / "-b"
    put(folder, "same", make_record(14, 2, case_id=IDS["same"]))
    (tmp_path / "other.json").write_text("not json at all")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "baselines")
    assert list(baselines_at("HEAD", folder)) == [f"smoke/resnet50/{IDS['same']}.json"]


def test_a_broken_file_at_a_revision_is_named_by_revision_and_path(repo):
    (repo / "smoke" / "resnet50" / f"{IDS['same']}.json").write_text("{not json")
    git(repo.parent, "add", "-A")
    git(repo.parent, "commit", "-q", "-m", "broken")
    with pytest.raises(HarnessError) as info:
        baselines_at("HEAD", repo)
    assert str(info.value) == (
        f"HEAD:baselines/smoke/resnet50/{IDS['same']}.json: truncated or not valid JSON (line 1, "
        "column 2: Expecting property name enclosed in double quotes)"
    )


def test_a_folder_outside_git_or_nowhere_is_named(tmp_path):
    nowhere = tmp_path / "a" / "b"
    with pytest.raises(HarnessError) as info:
        baselines_at("HEAD", nowhere)
    assert str(info.value) == (
        f"--baselines-dir {nowhere}: no such folder (nor its parent); give the baselines folder "
        "of a git checkout"
    )
    outside = tmp_path / "baselines"
    outside.mkdir()
    with pytest.raises(HarnessError) as info:
        baselines_at("HEAD", outside)
    assert str(info.value) == (
        f"--baselines-dir {outside}: not inside a git checkout; diff compares the baselines with "
        "a git revision"
    )
    with pytest.raises(HarnessError) as info:
        diff._git(nowhere, "status")
    assert str(info.value) == f"cannot run git in {nowhere}: No such file or directory"


def _commit(repo: Path, message: str) -> None:
    git(repo.parent, "add", "-A")
    git(repo.parent, "commit", "-q", "-m", message)


def test_records_at_a_revision_are_checked_as_the_check_reads_them_and_named_by_revision(repo):
    same = repo / "smoke" / "resnet50" / f"{IDS['same']}.json"
    record = json.loads(same.read_text())
    moved = repo / "smoke" / "vgg16" / same.name
    moved.parent.mkdir()
    moved.write_text(same.read_text())
    _commit(repo, "misplaced")
    with pytest.raises(HarnessError) as info:
        baselines_at("HEAD", repo)
    assert str(info.value).startswith(
        f"HEAD:baselines/smoke/vgg16/{same.name}: field case.arch: the record says 'resnet50' but "
        "its path says 'vgg16'"
    )
    moved.unlink()
    record["verdict"] = "maybe"
    same.write_text(json.dumps(record))
    _commit(repo, "invalid")
    with pytest.raises(HarnessError) as info:
        baselines_at("HEAD", repo)
    assert str(info.value).startswith(f"HEAD:baselines/smoke/resnet50/{same.name}: field verdict:")


def test_bytes_that_are_not_utf8_at_a_revision_are_replaced_not_fatal(repo):
    gone = baselines.baseline_path(repo, "smoke", "densenet121", IDS["gone"])
    put(repo, "gone", make_record(14, 2, case_id=IDS["gone"], error="RuntimeError: boom"))
    gone.write_bytes(gone.read_bytes().replace(b"boom", b"bo\xffm"))
    _commit(repo, "odd bytes")
    records = baselines_at("HEAD", repo)
    key = f"smoke/densenet121/{IDS['gone']}.json"
    assert records[key]["results"]["tensorflow"]["error"] == "RuntimeError: bo\ufffdm"


def test_only_baselines_at_their_depth_under_a_nested_folder_are_read(tmp_path):
    folder = tmp_path / "data" / "baselines"
    put(folder, "same", make_record(14, 2, case_id=IDS["same"]))
    (folder / "smoke" / "resnet50" / "notes.txt").write_text("not a baseline")
    (folder / "smoke" / "index.json").write_text("[]")  # not <profile>/<arch>/<id>.json
    put(tmp_path / "other", "flip", make_record(14, 2, case_id=IDS["flip"]))
    (tmp_path / "data" / "empty").mkdir()
    (tmp_path / "data" / "empty" / "keep").write_text("")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "baselines")
    assert list(baselines_at("HEAD", folder)) == [f"smoke/resnet50/{IDS['same']}.json"]
    assert baselines_at("HEAD", tmp_path / "data" / "empty") == {}
    misspelt = tmp_path / "data" / "baseline"
    with pytest.raises(HarnessError) as info:
        baselines_at("HEAD", misspelt)
    assert str(info.value) == (
        f"--baselines-dir {misspelt}: no such folder, in the working tree or at HEAD; give the "
        "baselines folder (default: baselines)"
    )


def test_a_baselines_folder_that_is_the_repository_itself(tmp_path):
    """Baselines kept in a repository of their own: the folder is the checkout's root."""
    put(tmp_path, "flip", make_record(14, 2, case_id=IDS["flip"]))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "baselines")
    put(tmp_path, "flip", make_record(14, 13, case_id=IDS["flip"]))
    key = f"smoke/resnet50/{IDS['flip']}.json"
    assert list(baselines_at("HEAD", tmp_path)) == [key]
    rows = compare_trees(baselines_at("HEAD", tmp_path), baselines_in(tmp_path))
    assert [(r["path"], r["verdict_then"], r["verdict_now"]) for r in rows] == [
        (key, "mismatch", "agree")
    ]


# --- what changed in the environment, per framework (issue 14) ---------------------------------


def test_an_upgrade_that_flips_a_verdict_shows_the_flip_and_the_versions(repo):
    """The issue's case: a baseline regenerated under TensorFlow 2.22.0 whose verdict flipped."""
    newer = {"tensorflow": {"tensorflow": "2.22.0", "keras": "3.16.0"}}
    put(repo, "flip", make_record(14, 13, case_id=IDS["flip"], versions=newer))

    def run(*args):
        return diff_in(repo, *args)

    text = run()
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    at = lines.index(
        f"  changed  {IDS['flip']}: verdict mismatch -> agree; PyTorch 0.7000 -> 0.7000 (+0.0000); "
        "TF 0.1000 -> 0.6500 (+0.5500)"
    )
    assert lines[at + 1] == (
        "           environment: tensorflow: keras 3.15.1 -> 3.16.0, tensorflow 2.21.0 -> 2.22.0"
    )
    assert sum("environment:" in line for line in lines) == 1  # the other rows kept 2.21.0
    md = run("--format", "markdown")
    assert md.returncode == 0, md.stderr
    assert f"| `{IDS['flip']}` | changed | **mismatch -> agree** |" in md.stdout
    assert md.stdout.rstrip().endswith(
        "Environment, then -> now:\n"
        "- tensorflow: keras 3.15.1 -> 3.16.0, tensorflow 2.21.0 -> 2.22.0 (1 case(s))"
    )


def test_environment_groups_keep_frameworks_common_versions_and_platform_apart():
    then = make_record(14, 2)["environment"]
    now = copy.deepcopy(then)
    now["numpy"] = "2.5.0"
    now["pytorch"]["versions"]["cuda"] = "12.8"  # a field that appears
    now["tensorflow"]["versions"]["tensorflow"] = "2.22.0"
    now["tensorflow"]["device_name"] = "NVIDIA H200"
    now["tensorflow"]["kernels"]["onednn_isa"] = "AVX2"
    now["platform"]["cpu_model"] = "another cpu"
    now["pytorch"]["intra_op_threads"] = 4  # configuration: neither a version nor the platform
    groups = diff.environment_groups(then, now)
    assert groups == [
        ("pytorch", ["cuda none -> 12.8"]),
        ("tensorflow", ["tensorflow 2.21.0 -> 2.22.0"]),
        ("common", ["numpy 2.4.6 -> 2.5.0"]),
        (
            "tensorflow platform",
            ["device_name test cpu -> NVIDIA H200", "kernels.onednn_isa AVX512_CORE -> AVX2"],
        ),
        ("platform", ["cpu_model test cpu -> another cpu"]),
    ]
    assert diff.changed_fields(groups) == (
        "pytorch: cuda; tensorflow: tensorflow; common: numpy; tensorflow platform: device_name, "
        "kernels.onednn_isa; platform: cpu_model"
    )
    assert diff.describe_environment(groups) == (
        "pytorch: cuda none -> 12.8; tensorflow: tensorflow 2.21.0 -> 2.22.0; common: numpy 2.4.6 "
        "-> 2.5.0; tensorflow platform: device_name test cpu -> NVIDIA H200, kernels.onednn_isa "
        "AVX512_CORE -> AVX2; platform: cpu_model test cpu -> another cpu"
    )
    assert diff.environment_groups(then, copy.deepcopy(then)) == []


def test_a_value_that_is_not_a_string_is_shown_as_json():
    """TensorFlow's oneDNN kernels switched off (TF_ENABLE_ONEDNN_OPTS=0): a boolean and a null."""
    then = make_record(14, 2)["environment"]
    now = copy.deepcopy(then)
    now["tensorflow"]["kernels"] = {"onednn": False, "onednn_isa": None}
    assert diff.environment_groups(then, now) == [
        (
            "tensorflow platform",
            ["kernels.onednn true -> false", "kernels.onednn_isa AVX512_CORE -> none"],
        )
    ]


def test_changed_fields_cuts_each_field_at_the_space_after_its_name():
    """Only that space: other whitespace a recorded name holds (any key of ``versions``) stays."""
    groups = [("pytorch", ["my\tlib none -> 1.0", "torch 2.14.1 -> 2.15.0"])]
    assert diff.changed_fields(groups) == "pytorch: my\tlib, torch"


def test_an_environment_only_row_names_its_fields_in_text_and_markdown():
    then = make_record(14, 2)
    now = copy.deepcopy(
        make_record(14, 2, versions={"tensorflow": {"tensorflow": "2.22.0", "keras": "3.15.1"}})
    )  # a copy: the record shares conftest's PLATFORM
    now["environment"]["platform"]["onednn_isa"] = "AVX2"
    rows = diff.compare_trees({"a": then}, {"a": now})
    assert rows[0]["status"] == "environment only"
    text = diff.format_text(rows, "HEAD")
    assert text.splitlines()[-1] == (
        "           environment: tensorflow: tensorflow 2.21.0 -> 2.22.0; platform: onednn_isa "
        "AVX512_CORE -> AVX2"
    )
    md = diff.format_markdown(rows, "HEAD")
    assert "| environment only (tensorflow: tensorflow; platform: onednn_isa) | mismatch |" in md
    assert md.endswith(
        "- tensorflow: tensorflow 2.21.0 -> 2.22.0; platform: onednn_isa AVX512_CORE -> AVX2 "
        "(1 case(s))"
    )


def test_the_markdown_counts_the_cases_of_each_environment_change():
    newer = {"tensorflow": {"tensorflow": "2.22.0", "keras": "3.15.1"}}
    old = {k: make_record(14, 2, case_id=IDS[k]) for k in ("flip", "move", "same")}
    new = {k: make_record(14, 2, case_id=IDS[k], versions=newer) for k in ("flip", "move")}
    new["same"] = make_record(14, 2, case_id=IDS["same"])
    new["same"]["environment"]["python"] = "3.11.8"
    md = diff.format_markdown(diff.compare_trees(old, new), "HEAD")
    assert md.endswith(
        "Environment, then -> now:\n"
        "- common: python 3.11.7 -> 3.11.8 (1 case(s))\n"
        "- tensorflow: tensorflow 2.21.0 -> 2.22.0 (2 case(s))"
    )
