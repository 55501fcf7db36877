"""Choose the smoke set's accuracy cases that can see, by a written rule, and show the work:
``python scripts/choose_accuracy.py`` screens budgets at smoke scale, measures the seed spread
of what learns, computes what the drift test can detect there, and writes every candidate it
tried, with its result, to ``docs/smoke-selection.json`` (key ``accuracy``; the entries it
prints are in ``harness/cases.py``'s ``SMOKE_ENTRIES``, after those of
``scripts/choose_smoke.py``).

Why: the smoke set of ``choose_smoke.py`` holds no case in which both sides learn for VGG16,
and none for any architecture whose seeds spread little enough for the drift test to see a
move of 0.10 (``docs/statistics.md``). This rule adds, per architecture, one case that does.

The rule:

1. Mirror models in mode ``aligned`` (same initial weights, same batch order, every known
   default difference set equal: the mode in which both sides compute the same thing, so the
   one in which both can learn at smoke scale; in every zoo or native case TensorFlow is at or
   near chance after one epoch).
2. Candidates per architecture: its smoke mirror trial (``choose_smoke.py``'s large-epsilon
   one, which learns at one epoch) when it has one. Else (VGG16: nothing of it learned at one
   epoch) two strata of the published trials in which both frameworks learned (both published
   test accuracies >= ``PUBLISHED_LEARNED``) with batch size <= ``MAX_BATCH`` (>= 8 steps per
   1024-image epoch), ``MAX_TRIES`` each: *largest step* (largest ``learning_rate /
   adam_epsilon`` first: with a large epsilon Adam's step is about that ratio times the
   gradient, plain gradient descent, and every such VGG16 trial has epsilon >= 0.024) and
   *lowest learning rate* (lowest first: VGG16 has no batch norm to survive a large one); ties
   by more published epochs (a longer budget), then by trial name.
3. Budget: the profile's 1024 training images; epochs from ``LADDER``, never more than the
   trial's published epochs (a smoke case runs fewer epochs, never more). Each (trial, epochs)
   is screened with one seed per framework. A trial that learns at one epoch climbs the ladder
   from the bottom (what it needs is a smaller spread, item 4); one that does not is screened
   at its top rung first, and dropped when it learns nothing there (a smaller budget would not
   do better), else climbs from the bottom to the first rung that learns.
4. A screened rung on which both sides are outside the chance band goes on to K seeds
   (the profile's): taken from its committed baseline when there is one (``pytest difftests
   --profile smoke -k <id> --regen-baselines`` made it, the same runs), else trained here. It
   is *chosen* when every seed of both sides is outside the chance band (``judge.collapsed``)
   and both sides' smallest detectable drift is at most ``DETECT_GOAL``; else the trial's next
   rung is tried.
5. Smallest detectable drift: the smallest move (a grid of ``STEP``) that
   ``harness.judge.drift_test`` finds in at least ``POWER`` of ``SIMULATIONS`` simulated runs
   (numpy, seeded), with then and now drawn at that side's measured seed spread, K seeds, the
   case's drift margin and the smoke run's family size (2 x the number of multi-seed cases).
   The profile's margin (0.10) alone makes 0.10 undetectable (the move must exceed it): a
   chosen case carries its own margin ``CASE_MARGIN`` with the reason.
6. A chosen case is ``heavy`` as in ``choose_smoke.py`` (K seeds of both sides beyond
   ``CI_CASE_SECONDS`` on one core).

``--resume FILE`` reuses rows already screened (JSON lines, or a selection file such as
``docs/smoke-selection.json``: ``python scripts/choose_accuracy.py --resume
docs/smoke-selection.json`` redoes the choice without training); rows the rule does not reach
are kept under ``explored`` (screened by hand, outside the rule's order: the evidence docs/smoke.md
cites). ``--detect-only`` recomputes the detectability of the chosen cases from their committed
baselines without training (the numbers docs/smoke.md quotes).
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

MAX_BATCH = 128
PUBLISHED_LEARNED = 0.5
LADDER = (1, 2, 4, 8, 16)
MAX_TRIES = 3
DETECT_GOAL = 0.10
CASE_MARGIN = 0.05
POWER = 0.8
SIMULATIONS = 1000
STEP = 0.005
CI_CASE_SECONDS = 120
SELECTION = ROOT / "docs" / "smoke-selection.json"


def detectable(sigma: float, margin: float, family: int, k: int, alpha: float) -> float:
    """The smallest move (multiple of STEP) found with probability >= POWER by
    ``judge.drift_test``, both samples of K at spread ``sigma`` (seeded: reproducible)."""
    from harness import judge

    rng = np.random.default_rng(0)
    move = 0.0
    while move < 1.0:
        move = round(move + STEP, 6)
        found = sum(
            judge.drift_test(
                list(rng.normal(0.5, sigma, k)),
                list(rng.normal(0.5 + move, sigma, k)),
                margin,
                alpha,
                family,
            )["drifted"]
            for _ in range(SIMULATIONS)
        )
        if found >= POWER * SIMULATIONS:
            return move
    return float("inf")


def candidates(published, smoke_entries, arch: str) -> list[tuple[str, list[str]]]:
    """[(stratum, trials in order)] for one architecture."""
    mirror = [e.trial for e in smoke_entries if e.arch == arch and e.arch_source == "mirror"]
    if mirror:
        return [("smoke mirror trial", mirror[:1])]
    rows = published[
        (published.arch == arch)
        & (published.batch_size <= MAX_BATCH)
        & (published.pt_test_acc >= PUBLISHED_LEARNED)
        & (published.tf_test_acc >= PUBLISHED_LEARNED)
    ]
    rows = rows.assign(ratio=rows.learning_rate / rows.adam_epsilon)
    step = rows.sort_values(["ratio", "epochs", "Name"], ascending=[False, False, True])
    low = rows.sort_values(["learning_rate", "epochs", "Name"], ascending=[True, False, True])
    return [
        ("largest step", list(step.Name)[:MAX_TRIES]),
        ("lowest learning rate", list(low.Name)[:MAX_TRIES]),
    ]


def family_size() -> int:
    from harness.cases import get_case_set

    return 2 * len(get_case_set("smoke"))


def seeds_of(record: dict) -> dict[str, list[float]]:
    return {
        fw: [s["test_accuracy"] for s in result["seeds"]]
        for fw, result in record["results"].items()
    }


def spread_row(per_seed: dict, band_one: tuple[float, float], margin: float, k: int, alpha: float):
    from harness import judge

    family = family_size()
    out = {"family_size": family, "margin": margin, "sides": {}}
    for fw, accs in per_seed.items():
        std = float(np.std(accs, ddof=1))
        out["sides"][fw] = {
            "seeds": accs,
            "mean": float(np.mean(accs)),
            "std": std,
            "every_seed_learned": all(not judge.collapsed(a, band_one) for a in accs),
            "detectable_drift": detectable(std, margin, family, k, alpha),
        }
    out["sees"] = all(
        s["every_seed_learned"] and s["detectable_drift"] <= DETECT_GOAL
        for s in out["sides"].values()
    )
    return out


def baseline_of(case) -> dict | None:
    path = ROOT / "baselines" / "smoke" / case.arch / f"{case.case_id}.json"
    return json.loads(path.read_text()) if path.exists() else None


def write(tried: list[dict], explored: list[dict] | None = None, archs=None) -> list[dict]:
    """Write the rows of ``archs`` (all: None), keeping the other architectures' rows."""
    selection = json.loads(SELECTION.read_text())
    previous = selection.get("accuracy", {})
    if archs is not None:
        tried = [r for r in previous.get("tried", []) if r["arch"] not in archs] + tried
        explored = [r for r in previous.get("explored", []) if r["arch"] not in archs] + (
            explored or []
        )
    chosen = [r for r in tried if r.get("spread", {}).get("sees")]
    selection["accuracy"] = {
        "rule": __doc__,
        "max_batch": MAX_BATCH,
        "ladder": list(LADDER),
        "detect_goal": DETECT_GOAL,
        "case_margin": CASE_MARGIN,
        "chosen": chosen,
        "tried": tried,
        "explored": explored if explored is not None else previous.get("explored", []),
    }
    SELECTION.write_text(json.dumps(selection, indent=2) + "\n")
    from harness.profiles import get_profile

    k = get_profile("smoke").seeds
    for row in chosen:
        heavy = row["seconds"] is None or k * row["seconds"] > CI_CASE_SECONDS
        print(
            f'SmokeEntry("{row["arch"]}", "{row["trial"]}", {row["epochs"]}, ..., '
            f'arch_source="mirror", modes=("aligned",), heavy={heavy}, '
            f"drift_margin={CASE_MARGIN}, ...)"
        )
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="vgg16,resnet50,densenet121")
    parser.add_argument(
        "--resume", metavar="JSON", help="rows already screened (JSON lines): not trained again"
    )
    parser.add_argument(
        "--max-epochs",
        nargs="*",
        default=[],
        metavar="ARCH=N",
        help="screen no rung of ARCH above N in this run (the rest is recorded as not screened)",
    )
    parser.add_argument(
        "--detect-only",
        action="store_true",
        help="recompute the chosen rows' spread and detectability from their baselines",
    )
    args = parser.parse_args(argv)

    import pandas as pd

    from harness.cases import SMOKE_ENTRIES, published_configurations
    from harness.data import load_dataset
    from harness.profiles import get_profile
    from harness.runner import chance_band, environment, run_case

    smoke = get_profile("smoke")
    k, alpha = smoke.seeds, smoke.significance_level
    published = pd.read_csv(ROOT / "harness" / "resources" / "crossedwires-published.csv")
    cases = {(c.arch, c.source_trial): c for c in published_configurations()}
    data = load_dataset(smoke.dataset)
    band_one = chance_band(smoke, data.subset(smoke.train_subset, smoke.test_subset), 1)

    def case_of(arch, trial, epochs):
        base = cases[(arch, trial)]
        return replace(
            base,
            arch_source="mirror",
            mode="aligned",
            case_set="smoke",
            epochs=epochs,
            published_epochs=base.epochs,
            epochs_reason="screened budget" if epochs > 1 else None,
        )

    if args.detect_only:
        selection = json.loads(SELECTION.read_text())["accuracy"]
        tried = selection["tried"]
        for row in tried:
            if "spread" not in row:
                continue
            record = baseline_of(case_of(row["arch"], row["trial"], row["epochs"]))
            if record is not None:
                row["spread"] = spread_row(seeds_of(record), band_one, CASE_MARGIN, k, alpha)
                row["spread"]["from"] = "committed baseline"
        write(tried)
        return 0

    resumed = {}
    if args.resume:
        text = Path(args.resume).read_text()
        if args.resume.endswith(".json"):  # a selection file: what it tried and explored
            part = json.loads(text)["accuracy"]
            rows = part["tried"] + part["explored"]
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        for row in (r for r in rows if "epochs" in r):  # not a "not screened" note
            resumed[(row["arch"], row["trial"], row["epochs"], row.get("mode", "aligned"))] = row
    screen = replace(smoke, seeds=1, epochs_cap=None)
    environment(screen)
    tried = []

    def screen_row(arch: str, stratum: str, trial: str, epochs: int) -> dict:
        case = case_of(arch, trial, epochs)
        row = resumed.pop((arch, trial, epochs, "aligned"), None)
        committed = baseline_of(case)
        if row is None and committed is not None:  # its seed 0 is the screen's run
            first = {fw: r["seeds"][0] for fw, r in committed["results"].items()}
            row = {
                "verdict": "(seed 0 of the committed baseline)",
                "accuracy": {fw: s["test_accuracy"] for fw, s in first.items()},
                "errors": {fw: s["error"] for fw, s in first.items() if s["error"]},
                "seconds": None,  # a baseline keeps no durations
            }
        if row is None:
            start = time.time()
            record = run_case(case, screen, data)
            row = {
                "verdict": record["verdict"],
                "accuracy": {fw: r["test_accuracy"] for fw, r in record["results"].items()},
                "errors": {fw: r["error"] for fw, r in record["results"].items() if r["error"]},
                "seconds": round(time.time() - start, 1),
            }
        earlier = row.get("spread")  # a K-seed run kept by --resume
        row = {
            "arch": arch,
            "stratum": stratum,
            "trial": trial,
            "epochs": epochs,
            "case": case.case_id,
            **{key: row[key] for key in ("verdict", "accuracy", "errors", "seconds")},
        }
        row["both_learned"] = not row["errors"] and all(
            not (band_one[0] <= a <= band_one[1]) for a in row["accuracy"].values()
        )
        if row["both_learned"]:
            if committed is not None:
                per_seed, source = seeds_of(committed), "committed baseline"
            elif earlier is not None:  # its baseline is not kept: it did not see
                per_seed = {fw: v["seeds"] for fw, v in earlier["sides"].items()}
                source = earlier["from"]
            else:
                per_seed, source = seeds_of(run_case(case, smoke, data)), "trained here"
            row["spread"] = spread_row(per_seed, band_one, CASE_MARGIN, k, alpha)
            row["spread"]["from"] = source
        tried.append(row)
        print(json.dumps(row), flush=True)
        return row

    def sees(row: dict) -> bool:
        return bool(row.get("spread", {}).get("sees"))

    for arch in args.archs.split(","):
        found = False
        top = dict(item.split("=") for item in args.max_epochs).get(arch)
        top = int(top) if top is not None else None
        for stratum, trials in candidates(published, SMOKE_ENTRIES, arch):
            for trial in trials:
                published_epochs = cases[(arch, trial)].epochs
                rungs = sorted({min(e, published_epochs) for e in LADDER})
                if top is not None and rungs[-1] > top:  # the rest: not screened in this run
                    tried.append(
                        {"arch": arch, "stratum": stratum, "trial": trial,
                         "not_screened": [e for e in rungs if e > top],
                         "why": f"--max-epochs {arch}={top}: left for a later run"}
                    )  # fmt: skip
                    rungs = [e for e in rungs if e <= top]
                if stratum != "smoke mirror trial":  # learns nothing at one epoch: top first
                    if not screen_row(arch, stratum, trial, rungs[-1])["both_learned"]:
                        continue
                    rungs = rungs[:-1]
                for epochs in rungs:
                    if sees(screen_row(arch, stratum, trial, epochs)):
                        found = True
                        break
                if found:
                    break
            if found:
                break
    archs = args.archs.split(",")
    # screened by hand, outside the rule's order
    explored = [r for r in resumed.values() if r["arch"] in archs]
    write(tried, explored, archs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
