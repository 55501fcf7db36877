"""Numerics baselines hold on other kernels, run as a user runs the suite, in subprocesses.

With the kernel ISA capped (``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``: TensorFlow's oneDNN
and PyTorch's dispatch then pick other kernels, and results move as on another machine):

- baselines made capped one level below this CPU's best (their spread measured at the level
  below that) pass with the kernels uncapped: a level they never measured, as another machine;
- the committed smoke baselines (made uncapped, spread at AVX2 and AVX) pass with the kernels
  capped at AVX2 and at AVX (PyTorch's dispatch at ``default``);
- a baseline with one recorded loss moved by 1% fails, naming the framework and the quantity,
  and says that the platform changed and the versions did not.

The tiny profile's ResNet50 checks (zoo and mirror: ResNet50 amplifies rounding the most) are
made here; the committed ones are all six. The accuracy baselines travel by their statistics
(``tests/test_statistics.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import numerics

ROOT = Path(__file__).resolve().parent.parent
SELECT = "resnet50-zoo-numerics or resnet50-mirror-numerics"
LEVELS = [numerics.level_in_force({}), *numerics.variants_here({})]  # this CPU, uncapped

pytestmark = pytest.mark.slow


def _pytest(*args: str, level: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in numerics.CAP_VARIABLES}
    env.pop("PYTEST_XDIST_WORKER", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    caps = dict(next(c for name, _, c in numerics.ISA_LEVELS if name == level)) if level else {}
    env.update(caps)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "difftests", "-n", "0", "-q"]
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


def _kernels(folder: Path) -> tuple[str, list[str]]:
    record = json.loads((folder / "tiny" / "resnet50" / "resnet50-zoo-numerics.json").read_text())
    return (
        record["environment"]["pytorch"]["kernels"]["cpu_capability"],
        record["frameworks"]["pytorch"]["variants"],
    )


def test_baselines_made_capped_pass_uncapped_and_name_the_platform(tmp_path):
    # On an AVX-512 CPU: made at AVX2 (spread at AVX), checked uncapped, a level never seen. A
    # CPU with two levels only (AVX2, AVX) can make them uncapped and check them at AVX only.
    made_at, checked_at = (LEVELS[1], LEVELS[0]) if len(LEVELS) > 2 else (LEVELS[0], LEVELS[1])
    seen = LEVELS[LEVELS.index(made_at) + 1 :]
    assert seen, f"this CPU runs the kernels at {LEVELS} only: no variant to measure"
    select = ("--profile", "tiny", "-k", SELECT, "--baselines-dir", str(tmp_path))
    made = _pytest(*select, "--regen-baselines", level=made_at)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    capability, variants = _kernels(tmp_path)
    assert variants == seen, f"made at {made_at} ({capability}), variants {variants}"

    checked = _pytest(*select, level=checked_at)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "2 passed" in checked.stdout

    # One recorded loss moved by 1%: that check fails naming the framework and the quantity,
    # says the platform changed and the versions did not; the other one passes.
    path = tmp_path / "tiny" / "resnet50" / "resnet50-zoo-numerics.json"
    record = json.loads(path.read_text())
    record["frameworks"]["pytorch"]["quantities"]["loss"]["value"] *= 1.01
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    back = _pytest(*select, level=checked_at)
    assert back.returncode == 1 and "1 failed, 1 passed" in back.stdout, back.stdout[-4000:]
    assert "pytorch numerics changed in loss" in back.stdout
    assert "versions unchanged" in back.stdout and "platform changed" in back.stdout
    assert f"cpu_capability {capability!r} -> " in back.stdout


@pytest.mark.parametrize("level", ["AVX2", "AVX"])
def test_the_committed_baselines_pass_with_the_kernels_capped(level):
    done = _pytest("-k", "numerics", level=level)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "6 passed" in done.stdout, done.stdout[-2000:]
