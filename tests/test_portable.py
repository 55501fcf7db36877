"""Numerics baselines hold on other kernels, run as a user runs the suite, in subprocesses.

With the kernel ISA capped (``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``: TensorFlow's oneDNN
and PyTorch's dispatch then pick other kernels, and results move as on another machine):

- baselines made capped one level below this CPU's best (their spread measured at every other
  level this CPU runs, above the cap too) pass with the kernels uncapped;
- a baseline with one recorded loss moved by 1% fails, naming the framework and the quantity,
  and says that the platform changed and the versions did not;
- the committed smoke baselines (made uncapped, spread at AVX2 and AVX) pass with the kernels
  capped at AVX2 and at AVX (PyTorch's dispatch at ``default``): the three mirror checks on
  every push, all six in the main-branch job (``heavy``: the zoo models' probes are minutes).

The tiny profile's ResNet50 mirror check (ResNet50 amplifies rounding the most) is made here.
The accuracy baselines travel by their statistics (``tests/test_statistics.py``).
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
SELECT = "resnet50-mirror-numerics"
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
    record = json.loads((folder / "tiny" / "resnet50" / f"{SELECT}.json").read_text())
    return (
        record["environment"]["pytorch"]["kernels"]["cpu_capability"],
        record["frameworks"]["pytorch"]["variants"],
    )


def test_baselines_made_capped_pass_uncapped_and_name_the_platform(tmp_path):
    # On an AVX-512 CPU: made at AVX2 (spread at AVX-512 and AVX), checked uncapped. A CPU with
    # two levels only (AVX2, AVX) makes them uncapped and checks them at AVX.
    made_at, checked_at = (LEVELS[1], LEVELS[0]) if len(LEVELS) > 2 else (LEVELS[0], LEVELS[1])
    seen = [level for level in LEVELS if level != made_at]  # every other level, above too
    assert seen, f"this CPU runs the kernels at {LEVELS} only: no variant to measure"
    select = ("--profile", "tiny", "-k", SELECT, "--baselines-dir", str(tmp_path))
    made = _pytest(*select, "--regen-baselines", level=made_at)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    capability, variants = _kernels(tmp_path)
    assert variants == seen, f"made at {made_at} ({capability}), variants {variants}"

    checked = _pytest(*select, level=checked_at)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert "1 passed" in checked.stdout

    # One recorded loss moved by 1%: that check fails naming the framework and the quantity,
    # says the platform changed and the versions did not; the other one passes.
    path = tmp_path / "tiny" / "resnet50" / "resnet50-mirror-numerics.json"
    record = json.loads(path.read_text())
    record["frameworks"]["pytorch"]["quantities"]["loss"]["value"] *= 1.01
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    back = _pytest(*select, level=checked_at)
    assert back.returncode == 1 and "1 failed" in back.stdout, back.stdout[-4000:]
    assert "pytorch numerics changed in loss" in back.stdout
    assert "versions unchanged" in back.stdout and "platform changed" in back.stdout
    assert f"cpu_capability {capability!r} -> " in back.stdout


@pytest.mark.parametrize(
    "level, select, checks",
    [
        ("AVX2", "numerics and mirror", 3),
        ("AVX", "numerics and mirror", 3),
        pytest.param("AVX2", "numerics", 6, marks=pytest.mark.heavy),
        pytest.param("AVX", "numerics", 6, marks=pytest.mark.heavy),
    ],
)
def test_the_committed_baselines_pass_with_the_kernels_capped(level, select, checks):
    done = _pytest("-k", select, level=level)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{checks} passed" in done.stdout, done.stdout[-2000:]
