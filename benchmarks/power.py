"""How many seeds the smoke profile needs: the drift test's power and false-alarm rate, simulated
with ``harness.judge`` at the seed spread measured in the committed smoke baselines.

    python benchmarks/power.py                  # K = 2..8, the smoke suite's family of tests
    python benchmarks/power.py --sigma 0.05     # at another spread

For each K (seeds per framework): the share of simulated whole runs with any false drift (no
framework moved; the margin set to 0 so that the correction alone is judged), and the share of
moves of twice the drift margin that are found (power), over ``--runs`` simulations. Also the
measured spread of every committed case, so the cases the median hides are in view.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def spreads(folder: Path) -> list[tuple[str, str, float]]:
    """(case, framework, seed std) for every multi-seed case baseline under ``folder``."""
    out = []
    for path in sorted(folder.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("kind") == "numerics":
            continue
        for fw, result in record["results"].items():
            stats = result.get("accuracy_stats")
            if stats:
                out.append((record["case"]["id"], fw, stats["std"], record["verdict"]))
    return out


def main(argv=None) -> int:
    from harness import judge
    from harness.cases import get_case_set
    from harness.profiles import get_profile

    profile = get_profile("smoke")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sigma", type=float, help="seed std (default: measured median)")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--family", type=int, default=2 * len(get_case_set(profile.case_set)))
    args = parser.parse_args(argv)

    from scipy import stats as st

    measured = spreads(ROOT / "baselines" / profile.name)
    informative = [s for _, _, s, v in measured if v not in ("uninformative", "error")]
    k = profile.seeds
    df = 2 * k - 2
    # The move found with 80% power at K seeds (normal approximation of the noncentral t):
    # (t at alpha / 2m + t at 0.8) standard errors of a difference of two means of K.
    factor = (
        st.t.ppf(1 - profile.significance_level / (2 * args.family), df) + st.t.ppf(0.8, df)
    ) * (2 / k) ** 0.5
    print(f"per case and framework: seed std, and the move found with 80% power at K={k}")
    for case, fw, std, verdict in measured:
        found = max(profile.drift_margin, factor * std)
        print(f"  {case:58} {fw:10} std {std:.4f}  80%: {found:.3f}  ({verdict})")
    sigma = args.sigma if args.sigma is not None else float(np.median(informative))
    margin, alpha = profile.drift_margin, profile.significance_level
    print(
        f"sigma {sigma:.4f} (median of {len(informative)} informative seed spreads), "
        f"margin {margin}, alpha {alpha}, {args.family} drift tests per run (Bonferroni)"
    )
    print(f"{'K':>3} {'false alarms per run':>21} {'power at 2 x margin':>20}")
    rng = np.random.default_rng(0)
    for k in range(2, 9):
        alarms = 0
        for _ in range(args.runs // 10):  # whole runs are costly: fewer of them
            alarms += any(
                judge.drift_test(
                    list(rng.normal(0.6, sigma, k)), list(rng.normal(0.6, sigma, k)), 0.0,
                    alpha, args.family,
                )["drifted"]
                for _ in range(args.family)
            )  # fmt: skip
        found = sum(
            judge.drift_test(
                list(rng.normal(0.5, sigma, k)), list(rng.normal(0.5 + 2 * margin, sigma, k)),
                margin, alpha, args.family,
            )["drifted"]
            for _ in range(args.runs)
        )  # fmt: skip
        print(f"{k:3d} {alarms / (args.runs // 10):21.3f} {found / args.runs:20.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
