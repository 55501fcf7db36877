"""What the installed plugin costs a project that does not use it.

With crossedwires installed, pytest loads its plugin (the ``pytest11`` entry point) in every
project. This benchmark makes a trivial project in a temporary folder (one test file, one test,
an empty ``pytest.ini``) and runs ``python -m pytest --collect-only -q`` there, with the plugin
and with ``-p no:crossedwires``, alternately (A B A B ...), after one warm-up of each. Each run's
CPU time (user + sys of the child, from the kernel's accounting of the finished process) and
peak resident set are read with ``os.wait4``; the medians and their ratio (with / without) are
printed side by side. Goal: CPU ratio <= 1.05.

    python benchmarks/plugin_startup.py                  # 15 runs of each
    python benchmarks/plugin_startup.py --runs 30 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEST_FILE = "def test_nothing():\n    assert 1 + 1 == 2\n"


def make_project(folder: Path) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_trivial.py").write_text(TEST_FILE)


def measure(command: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """CPU seconds (user + sys) and peak RSS in MiB of one finished run of ``command``."""
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {proc.returncode}:\n{err}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="counted runs of each (default 15)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs {args.runs}: give a number >= 1")

    env = dict(os.environ)
    # this checkout's harness, whatever is installed (the entry point names harness.pytest_plugin)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTEST_ADDOPTS", None)
    base = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    commands = {"with plugin": base, "-p no:crossedwires": [*base, "-p", "no:crossedwires"]}
    figures: dict[str, dict[str, list[float]]] = {
        name: {"cpu_s": [], "rss_mib": []} for name in commands
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_project(folder)
        for command in commands.values():  # warm-up: the file cache, .pyc files
            measure(command, folder, env)
        for _ in range(args.runs):
            for name, command in commands.items():
                cpu, rss = measure(command, folder, env)
                figures[name]["cpu_s"].append(cpu)
                figures[name]["rss_mib"].append(rss)

    medians = {
        name: {k: statistics.median(v) for k, v in fig.items()} for name, fig in figures.items()
    }
    on, off = medians["with plugin"], medians["-p no:crossedwires"]
    ratio = {k: on[k] / off[k] for k in on}
    print(f"pytest --collect-only -q on a one-test project, {args.runs} runs each, medians")
    print(f"{'':22}{'with plugin':>14}{'-p no:crossedwires':>20}{'ratio':>9}")
    print(f"{'CPU s (user+sys)':22}{on['cpu_s']:>14.3f}{off['cpu_s']:>20.3f}{ratio['cpu_s']:>9.3f}")
    print(
        f"{'peak RSS MiB':22}{on['rss_mib']:>14.1f}{off['rss_mib']:>20.1f}"
        f"{ratio['rss_mib']:>9.3f}  (+{on['rss_mib'] - off['rss_mib']:.1f} MiB)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"runs": figures, "medians": medians, "ratio": ratio}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
