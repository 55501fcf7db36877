"""``crossedwires regen`` on a local Ray: the same records as the pytest suite, and resume."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cases import get_case_set
from harness.errors import HarnessError
from harness.regen import select

ROOT = Path(__file__).resolve().parent.parent
# The two ResNet50 mirror cases (native and aligned) on the tiny profile: Ray trains both (in
# whichever worker processes it picks), pytest the aligned one alone, so a record that depended
# on what else ran in its process would differ (tests/test_adapters.py checks that directly).
SELECT = "resnet50-mirror"
SECOND = "resnet50-mirror-aligned"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )


def files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*.json"))


def test_ray_regeneration_matches_pytest_and_resumes(tmp_path):
    by_ray, by_pytest = tmp_path / "ray", tmp_path / "pytest"
    regen = ["-m", "harness.cli", "regen", "--profile", "tiny", "-k", SELECT, "--no-progress"]
    out = run(*regen, "--baselines-dir", str(by_ray))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "profile tiny: 2 written, 0 kept, 0 failed" in out.stdout
    out = run(
        "-m", "pytest", "-p", "no:cacheprovider", "-q", "difftests", "--profile", "tiny",
        "-k", f"{SECOND} and not numerics", "--regen-baselines", "--baselines-dir", str(by_pytest),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:]
    assert len(files(by_ray)) == 2 and len(files(by_pytest)) == 1
    (name,) = files(by_pytest)  # the same record, byte for byte
    assert filecmp.cmp(by_ray / name, by_pytest / name, shallow=False), name

    lost = by_ray / name
    lost.unlink()  # as if the run had died before this case finished
    kept = {p: p.read_bytes() for p in by_ray.rglob("*.json")}
    out = run(*regen, "--baselines-dir", str(by_ray), "--resume")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "profile tiny: 1 written, 1 kept, 0 failed" in out.stdout
    assert filecmp.cmp(lost, by_pytest / name, shallow=False)
    assert all(p.read_bytes() == text for p, text in kept.items())


def test_a_selection_that_matches_nothing_is_refused():
    with pytest.raises(HarnessError, match=r"no case id contains all of \['vgg16', 'bs7-'\]"):
        select(get_case_set("smoke"), ["vgg16", "bs7-"])
    assert len(select(get_case_set("smoke"), ["resnet50", "mirror"])) == 2
