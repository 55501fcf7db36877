"""``crossedwires diff``: baselines in the working tree against a git revision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import baselines
from harness.diff import baselines_at, baselines_in, compare_trees, format_markdown, format_text
from harness.errors import HarnessError

from .conftest import make_record

ROOT = Path(__file__).resolve().parent.parent
IDS = {  # published configurations (the crossedwires case set)
    "flip": "resnet50-adam-lr0.00349-bs10-ep1-eps0.61",
    "move": "resnet50-adam-lr0.0397-bs648-ep22-eps0.194",
    "same": "resnet50-adam-lr0.0441-bs675-ep42-eps0.116",
    "gone": "densenet121-adam-lr0.1-bs10-ep1-eps0.375",
    "new": "densenet121-adam-lr0.0375-bs156-ep2-eps0.274",
}


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
        return subprocess.run(
            [sys.executable, "-m", "harness.cli", "diff", *args, "--baselines-dir", str(repo)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

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
