"""Wall time of the smoke suite with -n 2 against -n 0, measured back to back in one run.

Each run regenerates into its own temporary folder (the committed baselines are untouched), so
both do the same training; the two folders are then compared byte for byte, which also checks
that the worker count changes no result. Goal on a 2-core machine: -n 0 / -n 2 >= 1.8.
The -n 0 run records each case's duration in a pytest cache the two runs share; the -n 2 run
then starts the longest cases first (harness/pytest_plugin.py), as any rerun of the suite does.

    python benchmarks/scaling.py                 # the smoke profile, -n 0 and -n 2
    python benchmarks/scaling.py --workers 4 -k vgg16
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: int, folder: Path, profile: str, select: str | None, cache: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-o",
        f"cache_dir={cache}",
        "-q",
        "difftests",
        "--profile",
        profile,
        "--regen-baselines",
        "--baselines-dir",
        str(folder),
        "-n",
        str(workers),
    ]
    if select:
        cmd += ["-k", select]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return elapsed


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    if names != sorted(p.relative_to(b) for p in b.rglob("*.json")):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-k", dest="select", help="pytest -k expression (default: every case)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        serial, parallel = Path(tmp, "n0"), Path(tmp, f"n{args.workers}")
        # One pytest cache for both runs, not the repository's: the -n 0 run records each
        # case's duration and the -n 2 run starts the longest cases first
        # (harness/pytest_plugin.py).
        cache = Path(tmp, "cache")
        t_serial = run(0, serial, args.profile, args.select, cache)
        print(f"-n 0: {t_serial:.1f} s", flush=True)
        t_parallel = run(args.workers, parallel, args.profile, args.select, cache)
        print(f"-n {args.workers}: {t_parallel:.1f} s", flush=True)
        identical = same_files(serial, parallel)
    print(
        f"speed-up -n 0 / -n {args.workers}: {t_serial / t_parallel:.2f}x; baselines "
        f"{'byte-identical' if identical else 'DIFFER'} between the two runs"
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
