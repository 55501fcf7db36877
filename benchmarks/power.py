"""How many seeds the smoke profile needs and what it can see: the drift test's power, its
false alarms and the verdicts' rates, at the seed spread of the committed smoke baselines' sides
that learn; per side, the smallest drift found with 80% power.

    python benchmarks/power.py                                  # print the section (Markdown)
    python benchmarks/power.py --markdown docs/statistics.md    # rewrite the doc's section
    python benchmarks/power.py --check docs/statistics.md       # exit 1 when it is stale
    python benchmarks/power.py --sigma 0.05                     # at another spread

The spread is ``judge.learning_spread`` over the sides of ``baselines/smoke/``: the median
per-side seed std of the sides outside the chance band whose seeds vary (a side at chance has
the spread of a model that predicts one class, not the spread it would have if an upgrade moved
it). Power, false alarms and the detectable drift are exact for ``judge.drift_test``
(``judge.drift_power``; ``tests/test_statistics.py`` checks them against a simulation of it);
one column simulates the power with ``drift_test`` itself (seeded), and the verdict rates are
simulated with ``judge.gap_test`` and ``judge.verdict`` (seeded), so the output is the same on
every run. The section of ``docs/statistics.md`` between the markers is this output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEGIN = "<!-- begin: python benchmarks/power.py --markdown docs/statistics.md -->"
END = "<!-- end: python benchmarks/power.py -->"
KS = range(2, 9)
VERDICT_RUNS = 400  # simulated cases per true gap


def committed(folder: Path) -> list[dict]:
    """The case records under ``folder`` (numerics checks left out), by path."""
    records = []
    for path in sorted(folder.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("kind") != "numerics":
            records.append(record)
    return records


def sides_of(records: list[dict]) -> list[dict]:
    """Per case and side: its per-seed accuracies, the case's chance band, whether it learns."""
    from harness import judge

    out = []
    for record in records:
        band = (record["comparison"] or {}).get("chance_band")
        band = tuple(band) if band else None
        for side, result in record["results"].items():
            seeds = [s["test_accuracy"] for s in result.get("seeds") or []]
            if len(seeds) < 2 or None in seeds:
                continue
            stats = judge.accuracy_stats(seeds)
            out.append(
                {
                    "case": record["case"]["id"],
                    "side": side,
                    "seeds": seeds,
                    "band": band,
                    "mean": stats["mean"],
                    "std": stats["std"],
                    "learns": judge.learning_spread([(seeds, band)]) is not None,
                }
            )
    return out


def _seeds(rng, mean, sigma, k):
    return list(np.clip(rng.normal(mean, sigma, size=k), 0.0, 1.0))


def simulated_power(move, sigma, k, margin, alpha, family, runs, rng) -> float:
    from harness import judge

    found = sum(
        judge.drift_test(
            _seeds(rng, 0.5, sigma, k), _seeds(rng, 0.5 + move, sigma, k), margin, alpha, family
        )["drifted"]
        for _ in range(runs)
    )
    return found / runs


def verdict_rates(true_gap, sigma, k, tolerance, alpha, runs, rng, base=0.5) -> dict:
    from harness import judge

    said = {"agree": 0, "mismatch": 0, "inconclusive": 0}
    for _ in range(runs):
        a, b = _seeds(rng, base + true_gap, sigma, k), _seeds(rng, base, sigma, k)
        stats = judge.gap_test(a, b, tolerance, alpha)
        results = {
            fw: {"test_accuracy": float(np.mean(x)), "diverged": False, "error": None}
            for fw, x in (("pytorch", a), ("tensorflow", b))
        }
        said[judge.verdict(results, tolerance, stats)] += 1
    return {v: n / runs for v, n in said.items()}


def section(sigma: float | None = None, runs: int = 2000, family: int | None = None) -> str:
    """The generated section of ``docs/statistics.md``, as Markdown."""
    from harness import judge
    from harness.cases import get_case_set
    from harness.profiles import get_profile
    from harness.report import baseline_seeds, detectable_cell, detectable_lines

    profile = get_profile("smoke")
    k, alpha, margin = profile.seeds, profile.significance_level, profile.drift_margin
    tolerance = profile.accuracy_tolerance
    family = family or len(profile.sides) * len(get_case_set(profile.case_set))
    records = committed(ROOT / "baselines" / profile.name)
    sides = sides_of(records)
    spread = judge.learning_spread([(s["seeds"], s["band"]) for s in sides])
    learning = [s["std"] for s in sides if s["learns"]]
    measured = spread["sigma"]
    sigma = measured if sigma is None else sigma
    found = detectable_lines(
        [(r["case"]["id"], baseline_seeds(r), k) for r in records], family, alpha, margin
    )
    out = [
        BEGIN,
        "",
        "*Generated by `python benchmarks/power.py --markdown docs/statistics.md` from the "
        "committed smoke baselines (`baselines/smoke/`); do not edit by hand. `python "
        "benchmarks/power.py --check docs/statistics.md` (and `tests/test_statistics.py`) fail "
        "when it is stale.*",
        "",
        f"**The spread, per side** (K = {k} seeds each; a side *learns* when its mean lies "
        "outside the case's chance band and its seeds vary; *detects* is the smallest move of "
        f"the side's mean accuracy that the drift test of a whole smoke run ({family} drift "
        f"tests, Bonferroni at alpha {alpha}, margin {margin}) finds with 80% power at K = {k}, "
        "`judge.detectable`, as the end of a run and `crossedwires report` state it):",
        "",
        "| case | side | mean | seed std | learns | detects ≥ |",
        "|---|---|---|---|---|---|",
    ]
    for s in sides:
        cell = detectable_cell(found[s["case"]][s["side"]]).removeprefix(">= ")
        out.append(
            f"| `{s['case']}` | {s['side']} | {s['mean']:.3f} | {s['std']:.4f} | "
            f"{'yes' if s['learns'] else 'no'} | {cell} |"
        )
    detects = [r["detects"] for case in found.values() for r in case.values() if r]
    numbers = [d for d in detects if d is not None]
    everything = float(np.median([s["std"] for s in sides]))
    out += [
        "",
        f"The {spread['sides']} sides that learn, of {len(sides)}, spread {min(learning):.3f} to "
        f"{max(learning):.3f}: median **{measured:.3f}**, the spread every simulation below "
        "draws with and the one a side at chance is judged at. (The median over all "
        f"{len(sides)}, the sides at chance included, is {everything:.3f}: counting "
        "the seeds of models that learned nothing would make the suite look sharper than it "
        "is.) Over the sides, "
        f"the smallest drift found with 80% power ranges from {min(numbers):.2f} to "
        f"{max(numbers):.2f} (median {np.median(numbers):.2f})"
        + (f"; {len(detects) - len(numbers)} side(s): none" if len(numbers) < len(detects) else "")
        + f"; {sum(d > 2 * margin for d in numbers)} of {len(detects)} sides cannot be relied "
        f"on to show a move of {2 * margin:.2f}.",
        "",
        f"**The power per K** at sigma {sigma:.3f}, margin {margin}, alpha {alpha}, {family} "
        "drift tests per run (exact, `judge.drift_power`; false alarms: no framework moved, the "
        "margin set to 0 so that the correction alone is judged, over the run's independent "
        f"tests; the simulated column: {runs} moves through `judge.drift_test`, within +-"
        f"{2 * (0.25 / runs) ** 0.5:.3f} at two standard errors):",
        "",
        f"| K | false alarms per run | power at {2 * margin:.2f} | simulated | detects ≥ (80%) |",
        "|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    enough = None
    for n in KS:
        per_test = judge.drift_power(0.0, sigma, n, n, family, alpha, 0.0)
        alarms = 1 - (1 - per_test) ** family
        power = judge.drift_power(2 * margin, sigma, n, n, family, alpha, margin)
        sim = simulated_power(2 * margin, sigma, n, margin, alpha, family, runs, rng)
        move = judge.detectable_drift(sigma, n, n, family, alpha, margin)
        if enough is None and power >= judge.POWER:
            enough = n
        move_text = "none" if move is None else f"{move:.3f}"
        mark = "**" if n == k else ""
        out.append(f"| {mark}{n}{mark} | {alarms:.3f} | {power:.3f} | {sim:.3f} | {move_text} |")
    at_k = judge.drift_power(2 * margin, sigma, k, k, family, alpha, margin)
    out += [
        "",
        f"The smallest K whose power at a move of twice the margin is at least 0.8: "
        f"**{enough}**. At the profile's K = {k} it is {at_k:.3f}, and 80% is reached at a move "
        f"of {judge.detectable_drift(sigma, k, k, family, alpha, margin):.3f}.",
        "",
        f"**The verdicts, simulated** ({VERDICT_RUNS} cases per true gap, seeds at sigma "
        f"{sigma:.3f}, K = {k}, tolerance {tolerance}, alpha {alpha}; within +-"
        f"{2 * (0.25 / VERDICT_RUNS) ** 0.5:.3f} at two standard errors):",
        "",
        "| true gap (PyTorch - TensorFlow) | `agree` | `mismatch` | `inconclusive` |",
        "|---|---|---|---|",
    ]
    rng = np.random.default_rng(3)
    for gap, base in ((tolerance, 0.6), (-tolerance, 0.6), (0.0, 0.5), (3 * tolerance, 0.5)):
        rates = verdict_rates(gap, sigma, k, tolerance, alpha, VERDICT_RUNS, rng, base)
        out.append(
            f"| {gap:+.2f} | {rates['agree']:.3f} | {rates['mismatch']:.3f} | "
            f"{rates['inconclusive']:.3f} |"
        )
    out += ["", END]
    return "\n".join(out) + "\n"


def replace_section(text: str, new: str, where: str) -> str:
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"{where}: needs one '{BEGIN}' line and one '{END}' line after it")
    head, rest = text.split(BEGIN, 1)
    return head + new.rstrip("\n") + rest.split(END, 1)[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sigma", type=float, help="seed std (default: the sides that learn)")
    parser.add_argument("--runs", type=int, default=2000, help="simulated moves per K")
    parser.add_argument("--family", type=int, help="drift tests per run (default: smoke's)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--markdown", metavar="FILE", help="rewrite FILE's generated section")
    where.add_argument("--check", metavar="FILE", help="exit 1 when FILE's section is stale")
    args = parser.parse_args(argv)
    doc = args.markdown or args.check
    if doc and (args.sigma is not None or args.family is not None or args.runs != 2000):
        parser.error("--markdown and --check hold the measured spread and smoke's family only")
    text = section(args.sigma, args.runs, args.family)
    if not doc:
        print(text, end="")
        return 0
    path = Path(doc)
    old = path.read_text()
    new = replace_section(old, text, doc)
    if args.check:
        if new != old:
            print(f"{doc}: the generated section is stale; run: python benchmarks/power.py "
                  f"--markdown {doc}", file=sys.stderr)  # fmt: skip
            return 1
        print(f"{doc}: up to date")
        return 0
    path.write_text(new)
    print(f"{doc}: section rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
