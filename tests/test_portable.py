"""Baselines hold on another CPU: made with this machine's default kernels and checked with the
kernel ISA capped (``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``: TensorFlow's oneDNN
and PyTorch's dispatch then pick other kernels, and results move as on another machine), and
the other way round. Run as a user runs the suite, in subprocesses, on the ``tiny`` profile:
ResNet50's numerics checks, zoo and mirror (ResNet50 amplifies rounding the most). The accuracy
baselines travel by their statistics (``tests/test_statistics.py``; the README's first command
was checked by hand across the ISAs, ``docs/statistics.md``).

A failure made on purpose in the last run (one recorded loss moved by 1%) must say that the
platform changed and the versions did not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPPED = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
SELECT = "resnet50-zoo-numerics or resnet50-mirror-numerics"

pytestmark = pytest.mark.slow


def _pytest(folder: Path, capped: bool, regen: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CAPPED and k != "PYTEST_XDIST_WORKER"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if capped:
        env.update(CAPPED)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "difftests", "-n", "0"]
    args += ["--profile", "tiny", "-k", SELECT, "--baselines-dir", str(folder), "-q"]
    args += ["--regen-baselines"] if regen else []
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def _capability(folder: Path) -> str:
    record = json.loads((folder / "tiny" / "resnet50" / "resnet50-zoo-numerics.json").read_text())
    return record["environment"]["pytorch"]["kernels"]["cpu_capability"]


def test_baselines_made_on_one_isa_pass_on_the_other(tmp_path):
    default, capped = tmp_path / "default", tmp_path / "capped"
    for folder, is_capped in ((default, False), (capped, True)):
        made = _pytest(folder, is_capped, regen=True)
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    assert _capability(capped) == "AVX2"
    print(f"baselines made with PyTorch kernels {_capability(default)} and AVX2")

    checked = _pytest(default, capped=True, regen=False)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "2 passed" in checked.stdout

    # The other way round, with one recorded loss moved by 1% in one baseline: that check must
    # fail naming the framework and the quantity, and say the platform changed (if this CPU's
    # default is not AVX2 already) and the versions did not; the other one passes.
    path = capped / "tiny" / "resnet50" / "resnet50-zoo-numerics.json"
    record = json.loads(path.read_text())
    record["frameworks"]["pytorch"]["quantities"]["loss"]["value"] *= 1.01
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    back = _pytest(capped, capped=False, regen=False)
    assert back.returncode == 1 and "1 failed, 1 passed" in back.stdout, back.stdout[-4000:]
    assert "pytorch numerics changed in loss" in back.stdout
    assert "versions unchanged" in back.stdout
    if _capability(default) != "AVX2":
        assert "platform changed" in back.stdout
        assert "cpu_capability 'AVX2' -> " in back.stdout
