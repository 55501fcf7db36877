"""A regeneration killed at any moment loses no finished work and leaves no partial file.

Real runs: ``pytest difftests --profile tiny -k SELECT --regen-baselines`` (the two ResNet50
mirror cases, seconds each) in a subprocess, killed with SIGKILL (or interrupted with SIGINT, as
Ctrl-C does) while it trains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import baselines

ROOT = Path(__file__).resolve().parent.parent
REGEN = [
    "-m",
    "pytest",
    "-p",
    "no:cacheprovider",
    "difftests",
    "--profile",
    "tiny",
    "-k",
    "resnet50-mirror and not numerics",  # native and aligned
    "--regen-baselines",
]
ONE_PROCESS = ["-n", "0", "-v"]


def _start(tmp: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *REGEN, *ONE_PROCESS, "--baselines-dir", str(tmp), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A shell starts background jobs with SIGINT ignored, and a child inherits that (a CI
        # script run with `&` did): give the run the default a terminal user's process has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 400) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the run ended before the moment to stop it"
        assert time.monotonic() < end, "timed out waiting for the run"
        time.sleep(0.2)


def _json_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json"))


def test_killed_regeneration_resumes_without_losing_work(tmp_path):
    proc = _start(tmp_path)
    _wait_for(lambda: len(_json_files(tmp_path)) >= 1, proc)
    time.sleep(3)  # well inside the next case's training
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    done = _json_files(tmp_path)
    assert 1 <= len(done) < 2
    for path in done:
        baselines.read(path)  # whole and valid, never partial
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in done}

    out = subprocess.run(
        [sys.executable, *REGEN, *ONE_PROCESS, "--baselines-dir", str(tmp_path), "--resume"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert len(_json_files(tmp_path)) == 2
    for path, (content, mtime) in before.items():  # kept, not retrained or rewritten
        assert (path.read_bytes(), path.stat().st_mtime_ns) == (content, mtime)
    table = out.stdout.split("crossedwires: profile tiny")[1].split("\nverdicts:")[0]
    assert table.count(" kept") == len(before) and table.count(" written") == 2 - len(before)
    kept, written = len(before), 2 - len(before)
    assert f"): {written} written, 0 unchanged, {kept} kept, 0 failed" in out.stdout


def test_ctrl_c_in_the_middle_of_a_case_leaves_no_partial_file(tmp_path):
    proc = _start(tmp_path)
    _wait_for(lambda: len(_json_files(tmp_path)) >= 1, proc)
    first = _json_files(tmp_path)
    time.sleep(3)  # inside the second case's training
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out[-3000:]  # pytest's "interrupted"
    assert "KeyboardInterrupt" in out
    # the finished case is whole; the interrupted one left nothing, not even a temporary file
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == first
    baselines.read(first[0])


def test_two_workers_regenerating_twice_leave_every_baseline_valid_and_identical(tmp_path):
    runs = []
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, *REGEN, "-n", "2", "--baselines-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stdout[-3000:]
        files = _json_files(tmp_path)
        assert len(files) == 2
        runs.append({p: baselines.read(p) and p.read_bytes() for p in files})
    assert runs[0] == runs[1]  # byte-identical, whichever worker wrote which file
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == _json_files(tmp_path)
