"""How far other kernels move each numerics-check quantity, in units of the allowance the
check would give it without them: the measurement behind ``harness/numerics.py``'s MULTIPLIER.

    python benchmarks/numerics_isa.py                     # every architecture, zoo and mirror
    python benchmarks/numerics_isa.py --archs resnet50 --raw out.json.gz
    python benchmarks/numerics_isa.py --from-raw docs/data/numerics-isa-raw.json.gz  # again

A baseline measures its spread at every other ISA level this CPU runs (``numerics.ISA_LEVELS``:
AVX-512, AVX2, and AVX with PyTorch's dispatch at ``default``); another machine's kernels may be
a level or a variant it did not measure. So each level is held out in turn: the probe runs in
float32 and float64 at this CPU's default kernels and, in fresh processes, at every other level;
each scenario builds every quantity's allowance from the levels it may see
(``numerics.allowance`` divided by MULTIPLIER: max(noise, spread, level x scale, float32
rounding)) and reports how far the held-out level moved each quantity in those units, the
largest per check, framework and stage. The check holds on the held-out kernels while that
ratio stays below MULTIPLIER.

Scenarios (``made at`` is the level the baseline was made at, ``seen`` the variants it
measured): every pair of a base level and a held-out level, the remaining level seen; with
``seen nothing`` the allowance is the float64 gap alone. ``--rows`` prints every group; the end
lists the groups (check, framework, stage, held-out level) beyond MULTIPLIER: kernels that
compute in another precision, not merely in another order, which only measuring that level
predicts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(archs: list[str]) -> dict:
    from harness import numerics
    from harness.data import load_dataset
    from harness.environment import cpu_platform
    from harness.profiles import get_profile
    from harness.runner import environment

    profile = get_profile("smoke")
    env = environment(profile)
    data = load_dataset(profile.dataset)
    x, y = numerics.batch_of(data, profile)
    levels = [numerics.level_in_force(), *numerics.variants_here()]
    checks = {}
    for arch in archs:
        for source in ("zoo", "mirror"):
            base = numerics.measure(arch, source, profile, data, reference=True, variants=())
            values = {levels[0]: {fw: {k: e["value"] for k, e in b["quantities"].items()}
                                  for fw, b in base.items()}}  # fmt: skip
            for level in levels[1:]:
                values[level] = numerics.probe_variant(
                    level, arch, source, profile, x, y, data.num_classes
                )
            noise = {fw: {k: e["noise"] for k, e in b["quantities"].items()}
                     for fw, b in base.items()}  # fmt: skip
            checks[numerics.check_id(arch, source)] = {"noise": noise, "values": values}
            print(f"measured {numerics.check_id(arch, source)}", file=sys.stderr, flush=True)
    return {
        "platform": cpu_platform(),
        "pytorch_kernels": env["pytorch"]["kernels"],
        "levels": levels,
        "checks": checks,
    }


def scenarios(levels: list[str]) -> list[tuple[str, tuple[str, ...], str]]:
    """(base, seen, held out): every level held out of a baseline that could have seen it."""
    out = []
    for base in levels:
        for held in levels:
            if held != base:
                out.append((base, tuple(lv for lv in levels if lv not in (base, held)), held))
        if len(levels) > 2:
            for held in levels:
                if held != base:
                    out.append((base, (), held))
    return out


def judge(raw: dict) -> tuple[list[dict], dict]:
    from harness import numerics

    rows, worst = [], {}
    for base, seen, held in scenarios(raw["levels"]):
        key = f"made at {base}, seen {'+'.join(seen) or 'nothing'}, checked at {held}"
        worst[key] = (0.0, "")
        for check, m in raw["checks"].items():
            for fw, noise in m["noise"].items():
                then = m["values"][base][fw]
                quantities = {}
                for name, value in then.items():
                    entry = {"value": value, "noise": noise[name]}
                    if seen:
                        entry["spread"] = max(abs(m["values"][s][fw][name] - value) for s in seen)
                    quantities[name] = entry
                levels = numerics.stage_noise(quantities)
                scales = numerics.stage_scales(quantities)
                stages: dict[str, tuple[float, str]] = {}
                for name, entry in quantities.items():
                    moved = abs(m["values"][held][fw][name] - entry["value"])
                    unit = numerics.allowance(name, quantities, levels, scales)
                    unit /= numerics.MULTIPLIER
                    ratio = moved / unit if unit > 0 else (0.0 if moved == 0 else float("inf"))
                    stage = numerics.stage_of(name)
                    if ratio >= stages.get(stage, (-1.0, ""))[0]:
                        stages[stage] = (ratio, name)
                for stage, (ratio, name) in stages.items():
                    rows.append({"scenario": key, "check": check, "framework": fw,
                                 "stage": stage, "ratio": ratio, "quantity": name})  # fmt: skip
                    if ratio > worst[key][0]:
                        worst[key] = (ratio, f"{check} {fw} {name}")
    return rows, worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="vgg16,resnet50,densenet121")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--raw", help="also write the measurements to this file")
    parser.add_argument("--from-raw", help="judge the measurements a --raw run wrote, again")
    parser.add_argument("--rows", action="store_true", help="print every check's stage rows")
    args = parser.parse_args(argv)

    from harness import numerics

    opener = {True: gzip.open, False: open}  # a name ending in .gz is gzip-compressed
    if args.from_raw:
        with opener[args.from_raw.endswith(".gz")](args.from_raw, "rt") as fh:
            raw = json.load(fh)
    else:
        raw = measure(args.archs.split(","))
    if args.raw:
        with opener[args.raw.endswith(".gz")](args.raw, "wt") as fh:
            json.dump(raw, fh)
    print(
        f"{raw['platform']['cpu_model']}; levels {', '.join(raw['levels'])} "
        f"(PyTorch {raw['pytorch_kernels'].get('cpu_capability')}, oneDNN "
        f"{raw['platform']['onednn_isa']} at the first); MULTIPLIER {numerics.MULTIPLIER:g}"
    )
    rows, worst = judge(raw)
    if args.rows:
        print(f"{'scenario':44} {'check':28} {'framework':10} {'stage':11} {'ratio':>8}  quantity")
        for r in rows:
            print(f"{r['scenario'][:44]:44} {r['check']:28} {r['framework']:10} {r['stage']:11} "
                  f"{r['ratio']:8.2f}  {r['quantity']}")  # fmt: skip
    print(f"\n{'scenario':52} {'largest ratio':>13}  where")
    for key, (ratio, where) in worst.items():
        print(f"{key:52} {ratio:13.2f}  {where}")
    for label, keep in (("a level seen", lambda key: "seen nothing" not in key),
                        ("the float64 gap alone", lambda key: "seen nothing" in key)):  # fmt: skip
        beyond: dict[tuple, float] = {}
        for r in rows:
            if keep(r["scenario"]) and r["ratio"] > numerics.MULTIPLIER:
                group = (r["check"], r["framework"], r["stage"], r["scenario"].split(" at ")[-1])
                beyond[group] = max(beyond.get(group, 0.0), r["ratio"])
        inside = max((r["ratio"] for r in rows if keep(r["scenario"])
                      and (r["check"], r["framework"], r["stage"], r["scenario"].split(" at ")[-1])
                      not in beyond), default=0.0)  # fmt: skip
        print(f"\nwith {label}: {len(beyond)} groups (check, framework, stage, held-out level) "
              f"beyond MULTIPLIER {numerics.MULTIPLIER:g}; the largest ratio of the rest "
              f"{inside:.3g}")  # fmt: skip
        for (check, fw, stage, held), ratio in sorted(beyond.items()):
            print(f"  {check:28} {fw:10} {stage:11} held-out {held:6} up to {ratio:.3g}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
