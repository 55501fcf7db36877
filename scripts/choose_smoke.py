"""Choose the smoke case set by its written rule, and show the work: ``python
scripts/choose_smoke.py`` screens published configurations at smoke scale and writes every
candidate it tried, with its result, to ``docs/smoke-selection.json``; the entries it prints
are what ``harness/cases.py`` holds (``SMOKE_ENTRIES``).

The rule (also in ``harness/cases.py``):

1. Candidates are published trials whose batch size is at most ``MAX_BATCH``, so that an epoch
   of the smoke profile's 1024 training images has at least 16 steps to learn from.
2. Zoo cases: per architecture, two strata by the published gap |acc PyTorch - acc TF|: below
   the architecture's median published gap (over all 400 of its trials), and at or above it.
   Within a stratum candidates are tried in order of closeness to the stratum's median gap
   (the most typical first), ties by trial name.
3. Mirror cases: per architecture, one stratum, the candidates with Adam epsilon >= 0.5 (where
   the two frameworks' epsilon conventions are furthest apart: ``crossedwires explain``'s
   cases), in the same order.
4. Each candidate trains at smoke scale with ``SCREEN_SEEDS`` seeds per framework (profile
   ``smoke``, epochs capped as there). The first *informative* one is taken: at least one
   framework's test accuracy outside the binomial band around chance (not ``uninformative``),
   and both runs finished (not ``error`` or ``diverged``: a PyTorch batch norm refuses a last
   batch of one image, which the smoke subset can leave where the full data set does not).
   A stratum with no informative candidate among its first ``MAX_TRIES`` is dropped: at smoke
   scale its configurations say nothing about the frameworks (the numerics check still covers
   the architecture).

5. A chosen case is ``heavy`` (left to the main-branch job, see docs/performance.md) when its
   K seeds per framework would take more than ``CI_CASE_SECONDS`` on one core, reckoned from
   the screen's measured time for one seed: every push's CI cannot afford more.

The screen is cheaper than the suite (fewer seeds): the suite's own baselines decide the
verdicts. ``--archs`` and ``--sources`` screen a part (``--out`` then names another file);
``--merge A.json B.json ...`` joins parts screened in parallel into one file, choosing again
from what they tried by the same rule.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_BATCH = 64
SCREEN_SEEDS = 1
MAX_TRIES = 3
UNINFORMATIVE = ("uninformative", "error", "diverged")
CI_CASE_SECONDS = 120


def strata(published, arch: str, source: str):
    """[(stratum name, [candidate trials in order])] for one architecture and source."""
    rows = published[published.arch == arch]
    median_gap = float(np.median(rows.accuracy_diff))
    small = rows[rows.batch_size <= MAX_BATCH]
    if source == "mirror":
        groups = [("large epsilon", small[small.adam_epsilon >= 0.5])]
    else:
        groups = [
            (f"gap < {median_gap:.3f}", small[small.accuracy_diff < median_gap]),
            (f"gap >= {median_gap:.3f}", small[small.accuracy_diff >= median_gap]),
        ]
    out = []
    for name, group in groups:
        if group.empty:
            continue  # no published trial of this stratum has a small enough batch
        centre = float(np.median(group.accuracy_diff))
        order = group.assign(distance=(group.accuracy_diff - centre).abs())
        out.append((name, list(order.sort_values(["distance", "Name"]).Name)))
    return out


def choose(tried: list[dict]) -> list[dict]:
    """Per (arch, source, stratum), in the order tried: the first informative candidate."""
    chosen: dict[tuple, dict] = {}
    for row in tried:
        key = (row["arch"], row["source"], row["stratum"])
        if key not in chosen and row["verdict"] not in UNINFORMATIVE:
            chosen[key] = row
    return list(chosen.values())


def write(out: str, tried: list[dict]) -> list[dict]:
    chosen = choose(tried)
    Path(out).write_text(
        json.dumps(
            {
                "rule": __doc__,
                "max_batch": MAX_BATCH,
                "screen_seeds": SCREEN_SEEDS,
                "max_tries": MAX_TRIES,
                "chosen": chosen,
                "tried": tried,
            },
            indent=2,
        )
        + "\n"
    )
    from harness.profiles import get_profile

    seeds = get_profile("smoke").seeds
    for row in chosen:
        heavy = seeds * row["seconds"] > CI_CASE_SECONDS
        print(
            f'SmokeEntry("{row["arch"]}", "{row["trial"]}", {row["epochs"]}, '
            f'"{row["stratum"]}: published gap {row["published_gap"]:.3f}", '
            f'arch_source="{row["source"]}", heavy={heavy}),  # screened: {row["verdict"]}'
        )
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="densenet121,resnet50,vgg16")
    parser.add_argument("--sources", default="zoo,mirror")
    parser.add_argument("--out", default=str(ROOT / "docs" / "smoke-selection.json"))
    parser.add_argument("--merge", nargs="+", metavar="JSON", help="join screened parts")
    args = parser.parse_args(argv)
    if args.merge:
        tried = [row for part in args.merge for row in json.loads(Path(part).read_text())["tried"]]
        write(args.out, tried)
        return 0

    import pandas as pd

    from harness.cases import published_configurations
    from harness.data import load_dataset
    from harness.profiles import get_profile
    from harness.runner import environment, epochs_to_run, run_case

    published = pd.read_csv(ROOT / "harness" / "resources" / "crossedwires-published.csv")
    profile = replace(get_profile("smoke"), seeds=SCREEN_SEEDS)
    environment(profile)
    data = load_dataset(profile.dataset)
    cases = {(c.arch, c.source_trial): c for c in published_configurations()}
    tried = []
    for arch in args.archs.split(","):
        for source in args.sources.split(","):
            for stratum, trials in strata(published, arch, source):
                for trial in trials[:MAX_TRIES]:
                    case = replace(cases[(arch, trial)], arch_source=source, case_set="smoke")
                    case = replace(case, epochs=epochs_to_run(case, profile))
                    start = time.time()
                    record = run_case(case, profile, data)
                    row = {
                        "arch": arch,
                        "source": source,
                        "stratum": stratum,
                        "trial": trial,
                        "published_gap": float(
                            published[
                                (published.arch == arch) & (published.Name == trial)
                            ].accuracy_diff.iloc[0]
                        ),
                        "epochs": case.epochs,
                        "verdict": record["verdict"],
                        "errors": {
                            fw: r["error"] for fw, r in record["results"].items() if r["error"]
                        },
                        "accuracy": {fw: r["test_accuracy"] for fw, r in record["results"].items()},
                        "seconds": round(time.time() - start, 1),
                    }
                    tried.append(row)
                    print(json.dumps(row), flush=True)
                    if record["verdict"] not in UNINFORMATIVE:
                        break
    write(args.out, tried)
    return 0


if __name__ == "__main__":
    sys.exit(main())
