"""Mutation score of the judging core, per module: would the fast tests catch a broken judge?

Runs mutmut (configured in pyproject.toml, ``[tool.mutmut]``: which modules are mutated, which
fast tests run against each mutant) and prints, per module, the mutants killed out of those
scored. Not scored, and listed separately:

- *equivalent* mutants: they behave exactly as the original code (no test can kill them); each
  is listed with its reason in ``scripts/mutation_equivalent.toml``;
- mutants of functions outside the judging core (``numerics``' parts that build models and run
  the frameworks: the numerics tests that train models check those).

Every other mutant that no test kills is a survivor, printed with its diff. The exit status is
1 when a module scores below ``--min`` (90 by default), or when a mutant listed as equivalent
is killed or no longer exists (the list is stale: update it).

    pip install -c constraints.txt -e '.[mutation]'
    python scripts/mutation_score.py             # fresh run, one worker (minutes)
    python scripts/mutation_score.py --no-run    # score the results already in mutants/

``docs/mutation.md`` has the last score and its survivors.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = ROOT / "scripts" / "mutation_equivalent.toml"
KILLED = {1, 3, 36, 24, -24, 152, 255}  # test failure, pytest internal error, timeout (mutmut)
NAME = re.compile(r"^(?P<module>.+?)\.x(?:ǁ(?P<cls>[^ǁ]+)ǁ|_)(?P<func>.+)__mutmut_(?P<n>\d+)$")


def load_lists() -> tuple[dict[str, str], dict[str, set[str]]]:
    data = tomllib.loads(EQUIVALENT_FILE.read_text())
    equivalent = {name: entry["reason"] for name, entry in data.get("equivalent", {}).items()}
    scope = {module: set(funcs) for module, funcs in data.get("out_of_scope", {}).items()}
    return equivalent, scope


def modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return [p for p in config["only_mutate"]]


def results(paths: list[str]) -> dict[str, dict[str, int | None]]:
    """{module path: {mutant name: mutmut's exit code}} from mutmut's own result files."""
    out = {}
    for path in paths:
        meta = ROOT / "mutants" / f"{path}.meta"
        if not meta.exists():
            sys.exit(f"{meta} is missing: run mutmut first (drop --no-run)")
        out[path] = json.loads(meta.read_text())["exit_code_by_key"]
    return out


def function_of(mutant: str) -> str:
    m = NAME.match(mutant)
    if not m:
        return mutant
    return f"{m['cls']}.{m['func']}" if m["cls"] else m["func"]


def show(mutant: str) -> str:
    out = subprocess.run(
        ["mutmut", "show", mutant], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return "\n".join(
        line
        for line in out.stdout.splitlines()
        if line.startswith(("+", "-", "@@")) and not line.startswith(("+++", "---"))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-run", action="store_true", help="score mutants/ as it is")
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ (mutmut's cache)")
    parser.add_argument("--max-children", type=int, default=1, help="mutmut workers (1)")
    parser.add_argument("--min", type=float, default=90.0, help="lowest passing score, percent")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)

    if not args.no_run:
        if not args.keep:
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        cmd = ["mutmut", "run", "--max-children", str(args.max_children)]
        run = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
        if run.returncode != 0:
            print(f"{' '.join(cmd)} failed (exit {run.returncode})", file=sys.stderr)
            return run.returncode

    equivalent, scope = load_lists()
    found = results(modules())
    names = {name for by_name in found.values() for name in by_name}
    rows, survivors, excluded, failing, stale = [], [], [], False, []
    for path, by_name in found.items():
        module = path.removesuffix(".py").replace("/", ".")
        killed = scored = eq = out = 0
        for name, code in sorted(by_name.items(), key=lambda kv: natural(kv[0])):
            if function_of(name) in scope.get(module, set()):
                out += 1
                continue
            if name in equivalent:
                eq += 1
                if code in KILLED:
                    stale.append(f"{name} is listed as equivalent but was killed")
                else:
                    excluded.append((name, equivalent[name]))
                continue
            scored += 1
            if code in KILLED:
                killed += 1
            else:
                survivors.append((name, code))
        pct = percent(killed, scored)
        failing |= pct < args.min
        rows.append(
            {
                "module": path,
                "killed": killed,
                "scored": scored,
                "percent": pct,
                "equivalent": eq,
                "out_of_scope": out,
            }
        )
    stale += [
        f"{n} is listed as equivalent but no such mutant exists"
        for n in equivalent
        if n not in names
    ]

    print(f"{'module':<22} {'killed':>6} / {'scored':<6} {'score':>7}  equivalent  out of scope")
    for r in rows:
        print(
            f"{r['module']:<22} {r['killed']:>6} / {r['scored']:<6} {r['percent']:>6.1f}%"
            f"  {r['equivalent']:>10}  {r['out_of_scope']:>12}"
        )
    k, s = sum(r["killed"] for r in rows), sum(r["scored"] for r in rows)
    print(f"{'all':<22} {k:>6} / {s:<6} {percent(k, s):>6.1f}%")
    status = {0: "survived", 5: "no tests", 33: "no tests", None: "not checked"}
    print(f"\nsurvivors ({len(survivors)}):")
    for name, code in survivors:
        print(f"  {name} ({status.get(code, f'exit {code}')})")
        if args.diffs:
            print("    " + show(name).replace("\n", "\n    "))
    print(f"\nequivalent, not scored ({len(excluded)}; reasons in {EQUIVALENT_FILE.name}):")
    for name, reason in excluded:
        print(f"  {name}: {reason}")
    for line in stale:
        print(f"stale: {line}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "modules": rows,
                    "survivors": [n for n, _ in survivors],
                    "equivalent": dict(excluded),
                },
                indent=2,
            )
            + "\n"
        )
    return 1 if failing or stale else 0


def percent(killed: int, scored: int) -> float:
    """Rounded down to 0.1: 99.96% is not printed as 100.0%."""
    return math.floor(1000.0 * killed / scored) / 10 if scored else 100.0


def natural(name: str) -> tuple:
    m = NAME.match(name)
    return (function_of(name), int(m["n"])) if m else (name, 0)


if __name__ == "__main__":
    sys.exit(main())
