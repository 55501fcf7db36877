"""Does a mirror case speak for its zoo case? The zoo gap beside the mirror-native gap.

    python scripts/zoo_vs_mirror.py ZOO-CASE-ID [ZOO-CASE-ID ...] [--seeds K] [--rerun-zoo]
        [--profile smoke] [--jobs N] [--out FILE]

For each zoo case of the profile: its gap (PyTorch minus TensorFlow test accuracy, K seeds per
framework) from the committed baseline (or trained again with ``--rerun-zoo``), and the gap of
its mirror counterpart in mode native at width 1.0 (each side its framework's zoo model:
``knobs.settings("native", arch)``), trained here with the same seeds. Printed as Markdown: both
gaps with their intervals (the baselines' test: Welch, 1 - 2 alpha), per framework the zoo and
mirror accuracies, and the difference of the two gaps with its interval (Welch-Satterthwaite
over the four samples). The mirror speaks for the zoo case when that interval contains zero.
``docs/explain.md`` holds a run of it. Cases run in parallel, one per worker process.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("pytorch", "tensorflow")


def per_seed(record: dict) -> dict[str, list[float]]:
    out = {}
    for fw in FRAMEWORKS:
        result = record["results"][fw]
        runs = result.get("seeds") or [result]
        out[fw] = [r["test_accuracy"] for r in runs]
    return out


def train(case_id: str, profile_name: str, seeds: int, mirror_width: float | None) -> dict:
    """One case trained with ``seeds`` seeds; its record (a worker process)."""
    from harness.logs import import_tensorflow_quietly

    import_tensorflow_quietly()
    from harness.cases import find_case, parse_case_id
    from harness.data import load_dataset
    from harness.errors import ConfigError
    from harness.profiles import get_profile
    from harness.runner import run_case

    profile = get_profile(profile_name)
    if mirror_width is not None:
        profile = replace(profile, mirror_width=mirror_width)
    try:
        case = find_case(case_id)
    except ConfigError:  # a mirror case of a published trial outside the case set
        case = parse_case_id(case_id)
    data = load_dataset(profile.dataset, None)
    return run_case(replace(case, seeds=seeds), profile, data)


def difference(zoo: dict, ours: dict, alpha: float) -> dict:
    """(zoo gap) - (mirror gap) with its two-sided 1 - 2 alpha interval: Welch-Satterthwaite
    over the four independent samples."""
    import numpy as np
    from scipy import stats

    groups = [np.asarray(g, dtype=np.float64) for g in (*zoo.values(), *ours.values())]
    means = [g.mean() for g in groups]
    value = (means[0] - means[1]) - (means[2] - means[3])
    parts = [g.var(ddof=1) / g.size for g in groups]
    se2 = sum(parts)
    if se2 == 0:
        return {"difference": value, "interval": [value, value]}
    df = se2**2 / sum(p**2 / (g.size - 1) for p, g in zip(parts, groups, strict=True))
    half = float(stats.t.ppf(1 - alpha, df)) * math.sqrt(se2)
    return {"difference": value, "interval": [value - half, value + half], "df": df}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case_ids", nargs="+", metavar="ZOO-CASE-ID")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rerun-zoo", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", help="also write the numbers as JSON here")
    args = parser.parse_args(argv)

    from harness import judge
    from harness.cases import find_case
    from harness.explain import ZOO_WIDTH, mirror_of
    from harness.profiles import get_profile

    profile = get_profile(args.profile)
    alpha = profile.significance_level
    cases = [find_case(c) for c in args.case_ids]
    for case in cases:
        if case.arch_source != "zoo":
            parser.error(f"{case.case_id} is not a zoo case")
    jobs = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for case in cases:
            mirror = mirror_of(case).case_id
            jobs.append(
                (
                    case,
                    pool.submit(train, mirror, profile.name, args.seeds, ZOO_WIDTH),
                    pool.submit(train, case.case_id, profile.name, args.seeds, None)
                    if args.rerun_zoo
                    else None,
                )
            )
        rows = []
        for case, mirror_job, zoo_job in jobs:
            if zoo_job is None:
                path = ROOT / "baselines" / profile.name / case.arch / f"{case.case_id}.json"
                zoo_record, source = (
                    json.loads(path.read_text()),
                    f"baseline {path.relative_to(ROOT)}",
                )
            else:
                zoo_record, source = zoo_job.result(), "trained here"
            mirror_record = mirror_job.result()
            zoo, ours = per_seed(zoo_record), per_seed(mirror_record)
            zoo_gap = judge.gap_test(zoo["pytorch"], zoo["tensorflow"], 0.0, alpha)
            our_gap = judge.gap_test(ours["pytorch"], ours["tensorflow"], 0.0, alpha)
            rows.append(
                {
                    "zoo_case": case.case_id,
                    "mirror_case": mirror_of(case).case_id,
                    "mirror_width": ZOO_WIDTH,
                    "zoo_source": source,
                    "zoo": zoo,
                    "mirror": ours,
                    "zoo_gap": zoo_gap["gap"],
                    "zoo_gap_interval": zoo_gap["interval"],
                    "mirror_gap": our_gap["gap"],
                    "mirror_gap_interval": our_gap["interval"],
                    **difference(zoo, ours, alpha),
                    "zoo_versions": {
                        fw: zoo_record["environment"][fw]["versions"] for fw in FRAMEWORKS
                    },
                    "mirror_versions": {
                        fw: mirror_record["environment"][fw]["versions"] for fw in FRAMEWORKS
                    },
                }
            )
    pct = round(100 * (1 - 2 * alpha))
    print(
        f"| zoo case | zoo gap [{pct}%] | mirror-native gap (width {ZOO_WIDTH}) [{pct}%] | "
        f"zoo - mirror [{pct}%] | PyTorch zoo / mirror | TF zoo / mirror | speaks for the zoo |"
    )
    print("|---|---|---|---|---|---|---|")

    def mean(values):
        return sum(values) / len(values)

    for r in rows:
        lo, hi = r["interval"]
        agrees = "yes" if lo <= 0 <= hi else "no"
        print(
            f"| {r['zoo_case']} | {r['zoo_gap']:+.3f} [{r['zoo_gap_interval'][0]:+.3f}, "
            f"{r['zoo_gap_interval'][1]:+.3f}] | {r['mirror_gap']:+.3f} "
            f"[{r['mirror_gap_interval'][0]:+.3f}, {r['mirror_gap_interval'][1]:+.3f}] | "
            f"{r['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
            f"{mean(r['zoo']['pytorch']):.3f} / {mean(r['mirror']['pytorch']):.3f} | "
            f"{mean(r['zoo']['tensorflow']):.3f} / {mean(r['mirror']['tensorflow']):.3f} | "
            f"{agrees} |"
        )
    for r in rows:
        print(f"\n{r['zoo_case']}: zoo from {r['zoo_source']}; {len(r['mirror']['pytorch'])} seeds")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
