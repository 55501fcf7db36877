"""What the numerics check catches: realistic framework changes patched in one at a time and
checked against the committed baselines, as an engineer gating an upgrade would.

    python benchmarks/sensitivity.py                       # every change, every numerics check
    python benchmarks/sensitivity.py --changes torch-adam-amsgrad --checks resnet50-mirror
    python benchmarks/sensitivity.py --jobs 2 --json docs/data/sensitivity.json
    python benchmarks/sensitivity.py --from-json docs/data/sensitivity.json --markdown

Each change of ``harness/changes.py`` is a reversible patch of one framework (a default, a
kernel's precision, an optimizer's formula, a loss, a layer's weights, an activation, the data
path). For every change and numerics check the benchmark measures that framework's probe with
the change in force (``numerics.measure(reference=False)``, the smoke profile) and compares it
with the committed baseline (``baselines/smoke/<arch>/<check>.json``) exactly as
``pytest difftests -k numerics`` does, then prints per change and check: caught or missed, the
stage, layer and quantity named first, and its moved/allowed ratio. Each change says where it
has an effect (architectures, arch sources) and in which stages it must be seen; ``null``
changes are numerically equivalent and must pass (false alarms). Before any change, every
check runs unpatched and must pass: a benchmark whose baselines do not hold here measures
nothing.

Exits 1 when an expected change is missed in a check where it has an effect, when the first
stage named is not one it should be seen in, or when a null change is caught.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _checks(selected: str | None) -> list[tuple[str, str]]:
    from harness import numerics

    every = [(arch, source) for arch, source in numerics.CHECKS]
    if not selected:
        return every
    wanted = selected.split(",")
    return [(a, s) for a, s in every if f"{a}-{s}" in wanted or numerics.check_id(a, s) in wanted]


def run(change_names: list[str], checks: list[tuple[str, str]], baselines_dir: Path) -> list[dict]:
    """Rows for every change (None: the unpatched control) and check, in this process."""
    from harness import baselines, changes, numerics
    from harness.data import load_dataset
    from harness.profiles import get_profile
    from harness.runner import environment

    profile = get_profile("smoke")
    environment(profile)
    data = load_dataset(profile.dataset)
    records = {
        (arch, source): baselines.read(
            baselines.baseline_path(
                baselines_dir, profile.name, arch, numerics.check_id(arch, source)
            )
        )
        for arch, source in checks
    }
    rows = []
    for name in change_names:
        change = changes.get(name) if name != "none" else None
        frameworks = (change.framework,) if change else numerics.FRAMEWORKS
        for arch, source in checks:
            record = records[(arch, source)]
            started = time.process_time()
            try:
                if change:
                    with change.patch():
                        now = numerics.measure(
                            arch, source, profile, data, reference=False, frameworks=frameworks
                        )
                else:
                    now = numerics.measure(arch, source, profile, data, reference=False)
                error = None
            except Exception as exc:  # a patch that breaks the model is a finding too
                now, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            cpu = time.process_time() - started
            row = {"change": name, "check": numerics.check_id(arch, source), "cpu_s": cpu}
            if change:
                row["effect"] = (
                    bool(change.stages) and arch in change.archs and (source in change.sources)
                )
                row["framework"], row["expected_stages"] = change.framework, list(change.stages)
            if error:
                row.update(caught=True, error=error)
                rows.append(row)
                continue
            base = {fw: record["frameworks"][fw] for fw in frameworks}
            bad = numerics.compare(base, now)
            worst = numerics.closest(base, now)
            first = next(iter(bad.values()))[0] if bad else None
            row["caught"] = bool(bad)
            if first:
                row["first"] = first["quantity"]
                row["stage"] = numerics.stage_of(first["quantity"])
                row["ratio"] = (
                    first["moved"] / first["allowed"] if first.get("allowed") else float("inf")
                )
                row["stages"] = sorted(
                    {numerics.stage_of(b["quantity"]) for fw in bad for b in bad[fw]},
                    key=numerics.STAGES.index,
                )
            top = max(
                (ratio, q) for fw in worst for q, ratio in worst[fw].values()
            ) if worst else (0.0, None)  # fmt: skip
            row["largest_ratio"], row["largest_quantity"] = top
            rows.append(row)
            print(_line(row), file=sys.stderr, flush=True)
    return rows


def verdict(row: dict) -> str:
    if row["change"] == "none":
        return "ok" if not row["caught"] else "FALSE ALARM"
    if not row["effect"]:
        if row["expected_stages"]:  # a change with no effect on this architecture
            return "no effect" if not row["caught"] else "caught (no effect expected)"
        return "ok (null)" if not row["caught"] else "FALSE ALARM"
    if not row["caught"]:
        return "MISSED"
    if "error" in row:
        return "caught (error)"
    if row["stage"] not in row["expected_stages"]:
        return "caught, wrong stage"
    return "caught"


def failing(row: dict) -> bool:
    return verdict(row) in ("MISSED", "FALSE ALARM", "caught, wrong stage")


def _line(row: dict) -> str:
    where = row.get("first") or row.get("error") or f"closest {row.get('largest_quantity')}"
    ratio = row.get("ratio", row.get("largest_ratio", 0.0))
    return f"{row['change'][:40]:40} {row['check']:28} {verdict(row):20} {ratio:10.3g}  {where}"


def _in_processes(change_names, checks, baselines_dir, jobs: int) -> list[dict]:
    """Split the changes over ``jobs`` processes (each configures the frameworks alone)."""
    chunks = [change_names[i::jobs] for i in range(jobs)]
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for i, chunk in enumerate(chunks):
            out = Path(tmp) / f"{i}.json"
            args = [sys.executable, __file__, "--changes", ",".join(chunk), "--json", str(out)]
            args += ["--baselines-dir", str(baselines_dir), "--no-control", "--jobs", "1"]
            if checks:
                args += ["--checks", ",".join(f"{a}-{s}" for a, s in checks)]
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            procs.append((subprocess.Popen(args, env=env), out))
        rows = []
        for proc, out in procs:
            if proc.wait() != 0 and not out.exists():
                raise SystemExit(f"a benchmark process failed (exit {proc.returncode})")
            rows += json.loads(out.read_text())["rows"]
    return rows


def markdown(rows: list[dict]) -> str:
    from harness import changes

    checks = sorted({r["check"] for r in rows}, key=lambda c: [r["check"] for r in rows].index(c))
    head = (
        "| change | framework | kind | expected in | "
        + " | ".join(c.replace("-numerics", "") for c in checks)
        + " |"
    )
    lines = [head, "|" + "---|" * (4 + len(checks))]
    by = {(r["change"], r["check"]): r for r in rows}
    for name in dict.fromkeys(r["change"] for r in rows if r["change"] != "none"):
        c = changes.get(name)
        cells = []
        for check in checks:
            r = by.get((name, check))
            if r is None:
                cells.append("")
                continue
            v = verdict(r)
            if v.startswith("caught") and "first" in r:
                cells.append(f"{v}: `{r['first']}` ({r['ratio']:.3g}x)")
            elif v.startswith("caught"):
                cells.append(v)
            else:
                cells.append(f"{v} ({r['largest_ratio']:.2g}x)")
        lines.append(
            f"| `{name}` | {c.framework} | {c.kind} | {', '.join(c.stages) or 'nowhere (null)'} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def summary(rows: list[dict]) -> list[str]:
    lines = []
    checks = dict.fromkeys(r["check"] for r in rows)
    for check in checks:
        mine = [r for r in rows if r["check"] == check and r["change"] != "none"]
        effect = [r for r in mine if r["effect"]]
        caught = [r for r in effect if r["caught"]]
        share = len(caught) / len(effect) if effect else 1.0
        nulls = [r for r in mine if not r["expected_stages"]]
        alarms = [r for r in nulls if r["caught"]]
        lines.append(
            f"{check:28} caught {len(caught)}/{len(effect)} changes with an effect "
            f"({share:.0%}); null changes {len(nulls) - len(alarms)}/{len(nulls)} passed"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", help="comma-separated change names (default: all)")
    parser.add_argument("--checks", help="e.g. resnet50-mirror,vgg16-zoo (default: all six)")
    parser.add_argument("--baselines-dir", default=str(ROOT / "baselines"))
    parser.add_argument("--jobs", type=int, default=1, help="processes to split changes over")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--from-json", help="print a --json file's table again")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--no-control", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from harness import changes

    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())["rows"]
    else:
        names = args.changes.split(",") if args.changes else [c.name for c in changes.CHANGES]
        checks = _checks(args.checks)
        started = time.time()
        control = [] if args.no_control else run(["none"], checks, Path(args.baselines_dir))
        if args.jobs > 1:
            rows = control + _in_processes(names, checks, Path(args.baselines_dir), args.jobs)
        else:
            rows = control + run(names, checks, Path(args.baselines_dir))
        if args.json:
            Path(args.json).write_text(
                json.dumps({"rows": rows, "wall_s": time.time() - started}, indent=1) + "\n"
            )
    if args.markdown:
        print(markdown(rows))
    else:
        print(f"{'change':40} {'check':28} {'verdict':20} {'ratio':>10}  first quantity named")
        for row in rows:
            print(_line(row))
    print()
    for line in summary(rows):
        print(line)
    bad = [r for r in rows if failing(r)]
    for r in bad:
        print(f"FAIL: {r['change']} in {r['check']}: {verdict(r)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
