"""How far another CPU's kernels move each numerics-check quantity, against the float32 noise
the check allows: the measurement behind ``harness/numerics.py``'s MULTIPLIER.

    python benchmarks/numerics_isa.py                 # every architecture, zoo and mirror
    python benchmarks/numerics_isa.py --archs resnet50 --json out.json

Runs the numerics probe twice in fresh processes, with this CPU's default kernels (baseline
values and their float64 noise) and with the kernel ISA capped
(``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2``: the other machine), and prints per
check, framework and stage: the largest relative move between the two ISAs, the stage's noise
level and floor, and the multiplier that move needs under the floor (the check passes while it
is below MULTIPLIER). ``--raw`` keeps both probes' measurements, ``--from-raw`` judges them again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CAPPED = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def probe(out: str, archs: str, reference: bool) -> None:
    """In this process: measure every check of ``archs`` and write them to ``out``."""
    from harness import numerics
    from harness.data import load_dataset
    from harness.environment import cpu_platform
    from harness.profiles import get_profile
    from harness.runner import environment

    profile = get_profile("smoke")
    env = environment(profile)
    data = load_dataset(profile.dataset)
    result = {
        "platform": cpu_platform(),
        "pytorch_kernels": env["pytorch"]["kernels"],
        "checks": {
            numerics.check_id(arch, source): numerics.measure(
                arch, source, profile, data, reference
            )
            for arch in archs.split(",")
            for source in ("zoo", "mirror")
        },
    }
    Path(out).write_text(json.dumps(result))


def run_probe(archs: str, capped: bool, reference: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in CAPPED}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if capped:
        env.update(CAPPED)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "probe.json"
        args = [sys.executable, __file__, "--probe", str(out), "--archs", archs]
        args += [] if reference else ["--no-reference"]
        subprocess.run(args, env=env, check=True, cwd=ROOT)
        return json.loads(out.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="vgg16,resnet50,densenet121")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--raw", help="also write both probes' measurements to this file")
    parser.add_argument("--from-raw", help="judge the measurements a --raw run wrote, again")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--no-reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe, args.archs, not args.no_reference)
        return 0

    from harness import numerics

    if args.from_raw:
        both = json.loads(Path(args.from_raw).read_text())
        base, other = both["default"], both["capped"]
    else:
        base = run_probe(args.archs, capped=False, reference=True)
        other = run_probe(args.archs, capped=True, reference=False)
    if args.raw:
        Path(args.raw).write_text(json.dumps({"default": base, "capped": other}))
    print(
        f"default: {base['platform']['cpu_model']}, PyTorch {base['pytorch_kernels']}, "
        f"oneDNN {base['platform']['onednn_isa']}; capped: PyTorch {other['pytorch_kernels']}, "
        f"oneDNN {other['platform']['onednn_isa']}"
    )
    print(
        f"{'check':28} {'framework':10} {'stage':11} {'n':>4} {'ISA move':>9} "
        f"{'noise lvl':>9} {'floor':>7} {'needs':>7}  (MULTIPLIER {numerics.MULTIPLIER:g})"
    )
    rows, worst = [], 0.0
    for check, frameworks in base["checks"].items():
        for fw, measured in frameworks.items():
            levels = measured["stage_noise"]
            now = other["checks"][check][fw]["quantities"]
            stages: dict[str, list] = {}
            for name, entry in measured["quantities"].items():
                stage = name.split("/", 1)[0]
                moved = abs(now[name]["value"] - entry["value"])
                allowed = numerics.allowed(entry, levels[stage], stage)
                rel = moved / (abs(entry["value"]) or 1.0)
                if allowed > 0:
                    needs = moved / allowed * numerics.MULTIPLIER
                else:  # an exact zero (a zero-initialized bias): it must stay exactly zero
                    needs = 0.0 if moved == 0 else float("inf")
                stages.setdefault(stage, []).append((rel, needs))
            for stage, values in stages.items():
                move = max(v[0] for v in values)
                needs = max(v[1] for v in values)
                worst = max(worst, needs)
                rows.append(
                    {"check": check, "framework": fw, "stage": stage, "n": len(values),
                     "isa_move": move, "noise_level": levels[stage], "needs": needs}
                )  # fmt: skip
                floor = numerics.floor(stage)
                print(f"{check:28} {fw:10} {stage:11} {len(values):4d} {move:9.1e} "
                      f"{levels[stage]:9.1e} {floor:7.0e} {needs:7.1f}")  # fmt: skip
    print(
        f"largest multiplier needed: {worst:.1f} (allowed {numerics.MULTIPLIER:g}): "
        + ("every check holds on the capped ISA" if worst <= numerics.MULTIPLIER else "FAILS")
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if worst <= numerics.MULTIPLIER else 1


if __name__ == "__main__":
    sys.exit(main())
