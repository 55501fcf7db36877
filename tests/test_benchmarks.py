"""The GPU check script's dry mode runs the benchmark's code path on the CPU."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_dry_run_prints_the_ratio_table():
    out = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert any(line.startswith("device: ") for line in lines)
    table = out.stdout.split("device: ")[1]
    assert "ratio" in table and "harness_images_per_s" in table
    assert "pytorch" in table and "tensorflow" in table
