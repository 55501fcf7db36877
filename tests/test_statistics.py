"""The verdict and drift statistics, simulated on synthetic seeds: false alarms per whole run at
most the configured level, power at least 0.8 for a move of twice the margin.

The spread the simulation draws with is the one measured in the committed smoke baselines
(the median of every case's per-framework seed std, cases that learned something), so the
power claimed is the power at the noise the suite actually has; ``docs/statistics.md`` has
the figures these tests print.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import judge
from harness.cases import get_case_set
from harness.profiles import get_profile

SMOKE = get_profile("smoke")
K = SMOKE.seeds
ALPHA = SMOKE.significance_level
MARGIN = SMOKE.drift_margin
TOLERANCE = SMOKE.accuracy_tolerance
FAMILY = 2 * len(get_case_set(SMOKE.case_set))  # drift tests in a whole smoke run
RUNS = 400  # simulated whole runs; the bound below allows for the Monte Carlo error
BASELINES = Path(__file__).resolve().parent.parent / "baselines" / "smoke"


def measured_spread() -> float:
    """Median per-framework seed std over the committed smoke cases that learned something."""
    stds = []
    for path in sorted(BASELINES.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("kind") == "numerics" or record["verdict"] in ("uninformative", "error"):
            continue
        for result in record["results"].values():
            stats = result.get("accuracy_stats")
            if stats:
                stds.append(stats["std"])
    assert stds, f"no multi-seed smoke baselines under {BASELINES}"
    return float(np.median(stds))


def _monte_carlo_bound(rate: float) -> float:
    return rate + 3 * np.sqrt(rate * (1 - rate) / RUNS)


def _seeds(rng, mean, sigma, k=K):
    return list(np.clip(rng.normal(mean, sigma, size=k), 0.0, 1.0))


def test_no_drift_false_alarms_over_a_whole_run_at_most_alpha():
    """Every framework of every case unchanged: how often does a run report any drift? With
    the margin at 0 the Bonferroni correction alone must hold the rate at alpha."""
    rng = np.random.default_rng(1)
    sigma = measured_spread()
    alarms = 0
    for _ in range(RUNS):
        means = rng.uniform(0.3, 0.9, size=FAMILY)
        alarms += any(
            judge.drift_test(_seeds(rng, m, sigma), _seeds(rng, m, sigma), 0.0, ALPHA, FAMILY)[
                "drifted"
            ]
            for m in means
        )
    rate = alarms / RUNS
    print(f"false-alarm rate per run: {rate:.3f} ({FAMILY} tests, K={K}, sigma={sigma:.3f})")
    assert rate <= _monte_carlo_bound(ALPHA)


def test_a_move_of_twice_the_margin_is_found_with_power_at_least_0_8():
    rng = np.random.default_rng(2)
    sigma = measured_spread()
    found = sum(
        judge.drift_test(
            _seeds(rng, 0.5, sigma), _seeds(rng, 0.5 + 2 * MARGIN, sigma), MARGIN, ALPHA, FAMILY
        )["drifted"]
        for _ in range(RUNS)
    )
    power = found / RUNS
    print(f"power at a move of {2 * MARGIN}: {power:.3f} (K={K}, sigma={sigma:.3f})")
    assert power >= 0.8


def test_a_move_within_the_margin_never_drifts_however_significant():
    then, now = [0.50, 0.50, 0.50, 0.50], [0.50 + MARGIN] * 4
    assert not judge.drift_test(then, now, MARGIN, ALPHA, FAMILY)["drifted"]
    beyond = [0.50 + MARGIN + 0.01] * 4
    assert judge.drift_test(then, beyond, MARGIN, ALPHA, FAMILY)["drifted"]


def _verdicts(rng, true_gap: float, sigma: float, base: float = 0.5) -> dict[str, float]:
    """How often each verdict is said over RUNS simulated cases with this true gap."""
    said = {"agree": 0, "mismatch": 0, "inconclusive": 0}
    for _ in range(RUNS):
        a, b = _seeds(rng, base + true_gap, sigma), _seeds(rng, base, sigma)
        stats = judge.gap_test(a, b, TOLERANCE, ALPHA)
        results = {
            fw: {"test_accuracy": float(np.mean(x)), "diverged": False, "error": None}
            for fw, x in (("pytorch", a), ("tensorflow", b))
        }
        said[judge.verdict(results, TOLERANCE, stats)] += 1
    return {k: v / RUNS for k, v in said.items()}


@pytest.mark.parametrize("true_gap", [TOLERANCE, -TOLERANCE])
def test_at_the_tolerance_neither_agree_nor_mismatch_is_said_more_than_alpha(true_gap):
    """A true gap exactly at the tolerance is the worst case for both one-sided claims."""
    rates = _verdicts(np.random.default_rng(3), true_gap, measured_spread(), base=0.6)
    print(f"true gap {true_gap:+}: {rates}")
    assert rates["agree"] <= _monte_carlo_bound(ALPHA)
    assert rates["mismatch"] <= _monte_carlo_bound(ALPHA)


def test_equal_frameworks_are_never_called_a_mismatch_and_mostly_agree():
    """No true gap: ``mismatch`` at most alpha; ``agree`` most of the time (the equivalence
    test's power; the rest is ``inconclusive``, which is reported, not failed)."""
    rates = _verdicts(np.random.default_rng(4), 0.0, measured_spread())
    print(f"true gap 0: {rates}")
    assert rates["mismatch"] <= _monte_carlo_bound(ALPHA)
    assert rates["agree"] >= 0.6


def test_a_gap_of_three_tolerances_is_called_a_mismatch():
    rates = _verdicts(np.random.default_rng(5), 3 * TOLERANCE, measured_spread())
    print(f"true gap {3 * TOLERANCE:.2f}: {rates}")
    assert rates["mismatch"] >= 0.8 and rates["agree"] <= _monte_carlo_bound(ALPHA)
