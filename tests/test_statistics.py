"""The verdict and drift statistics, simulated on synthetic seeds: false alarms per whole run at
most the configured level, power at least 0.8 for a move of twice the margin.

The spread the simulation draws with is the one measured in the committed smoke baselines
(the median per-side seed std of the sides that learn: outside the chance band, seeds that
vary; ``judge.learning_spread``), so the power claimed is the power at the noise the suite
actually has. ``judge.drift_power`` and ``judge.detectable_drift`` (what the end of a run states
per side) are checked here against a simulation of ``judge.drift_test`` itself.
``docs/statistics.md`` has the figures, printed by ``python benchmarks/power.py --markdown``.
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


def committed_sides() -> list[tuple[list[float], tuple[float, float] | None]]:
    """(per-seed accuracies, chance band) of every side of every committed smoke case."""
    sides = []
    for path in sorted(BASELINES.rglob("*.json")):
        record = json.loads(path.read_text())
        if record.get("kind") == "numerics":
            continue
        band = (record["comparison"] or {}).get("chance_band")
        for result in record["results"].values():
            seeds = [s["test_accuracy"] for s in result.get("seeds") or []]
            if len(seeds) > 1 and None not in seeds:
                sides.append((seeds, tuple(band) if band else None))
    return sides


def measured_spread() -> float:
    """Median per-side seed std over the committed smoke sides that learn."""
    spread = judge.learning_spread(committed_sides())
    assert spread, f"no multi-seed smoke baselines that learn under {BASELINES}"
    return spread["sigma"]


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


def _simulated_power(rng, move, sigma, k_then=K, k_now=K, runs=RUNS) -> float:
    found = sum(
        judge.drift_test(
            _seeds(rng, 0.5, sigma, k_then), _seeds(rng, 0.5 + move, sigma, k_now), MARGIN,
            ALPHA, FAMILY,
        )["drifted"]
        for _ in range(runs)
    )  # fmt: skip
    return found / runs


def test_the_stated_detectable_drift_is_found_with_power_0_8():
    """What the end of a run states per side: the move ``detectable_drift`` gives at the
    spread of the sides that learn is found by ``drift_test`` 80% of the time (the Monte Carlo
    error of 1600 simulated moves: +-0.03), and a move 0.03 smaller clearly less often."""
    rng = np.random.default_rng(2)
    sigma = measured_spread()
    move = judge.detectable_drift(sigma, K, K, FAMILY, ALPHA, MARGIN)
    power = _simulated_power(rng, move, sigma, runs=4 * RUNS)
    print(f"power at the stated {move:.3f}: {power:.3f} (K={K}, sigma={sigma:.3f})")
    assert abs(power - 0.8) <= 3 * np.sqrt(0.8 * 0.2 / (4 * RUNS))
    assert _simulated_power(rng, move - 0.03, sigma, runs=4 * RUNS) < 0.75


@pytest.mark.parametrize(
    "move, sigma, k_then, k_now",
    [(2 * MARGIN, None, K, K), (0.25, 0.08, 3, 6), (0.15, 0.03, 2, 2), (0.30, 0.12, 8, 5)],
)
def test_drift_power_is_the_simulated_power_of_drift_test(move, sigma, k_then, k_now):
    """``drift_power`` is the power of ``drift_test`` as it is (Welch's degrees of freedom per
    pair of samples, the margin, Bonferroni), not a normal approximation: equal to a
    simulation within its Monte Carlo error, at the measured spread and elsewhere."""
    sigma = measured_spread() if sigma is None else sigma
    exact = judge.drift_power(move, sigma, k_then, k_now, FAMILY, ALPHA, MARGIN)
    rng = np.random.default_rng(6)
    power = _simulated_power(rng, move, sigma, k_then, k_now, runs=4 * RUNS)
    print(f"move {move}, sigma {sigma:.3f}, K {k_then}->{k_now}: {exact:.3f}, simulated {power}")
    assert abs(power - exact) <= 3 * np.sqrt(max(exact * (1 - exact), 0.01) / (4 * RUNS))


def test_the_spread_of_the_sides_that_learn_leaves_the_sides_at_chance_out():
    """The committed sides at chance (TensorFlow on the ResNet50 cases, spread 0.001 to 0.002)
    would pull the median down and the claimed power up: they are not in it."""
    sides = committed_sides()
    everything = float(np.median([np.std(x, ddof=1) for x, _ in sides]))
    at_chance = [x for x, band in sides if judge.collapsed(float(np.mean(x)), band)]
    assert at_chance and min(np.std(x, ddof=1) for x in at_chance) < 0.01
    assert measured_spread() > everything


def test_a_move_within_the_margin_never_drifts_however_significant():
    then, now = [0.50, 0.50, 0.50, 0.50], [0.50 + MARGIN] * 4
    assert not judge.drift_test(then, now, MARGIN, ALPHA, FAMILY)["drifted"]
    beyond = [0.50 + MARGIN + 0.01] * 4
    assert judge.drift_test(then, beyond, MARGIN, ALPHA, FAMILY)["drifted"]


def _power():
    """``benchmarks/power.py`` as a module: the verdict simulation and the doc's section."""
    import importlib.util

    root = BASELINES.parent.parent
    spec = importlib.util.spec_from_file_location("power", root / "benchmarks" / "power.py")
    power = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(power)
    return power


def _verdicts(rng, true_gap: float, sigma: float, base: float = 0.5) -> dict[str, float]:
    """How often each verdict is said over RUNS simulated cases with this true gap (the
    simulation ``benchmarks/power.py`` prints in ``docs/statistics.md``)."""
    return _power().verdict_rates(true_gap, sigma, K, TOLERANCE, ALPHA, RUNS, rng, base)


@pytest.mark.parametrize("true_gap", [TOLERANCE, -TOLERANCE])
def test_at_the_tolerance_neither_agree_nor_mismatch_is_said_more_than_alpha(true_gap):
    """A true gap exactly at the tolerance is the worst case for both one-sided claims."""
    rates = _verdicts(np.random.default_rng(3), true_gap, measured_spread(), base=0.6)
    print(f"true gap {true_gap:+}: {rates}")
    assert rates["agree"] <= _monte_carlo_bound(ALPHA)
    assert rates["mismatch"] <= _monte_carlo_bound(ALPHA)


def test_equal_frameworks_are_never_called_a_mismatch_and_mostly_agree():
    """No true gap: ``mismatch`` at most alpha; ``agree`` more often than not (the equivalence
    test's power, about 0.57 at the spread of the sides that learn, 0.059; the rest is
    ``inconclusive``, which is reported, not failed)."""
    rates = _verdicts(np.random.default_rng(4), 0.0, measured_spread())
    print(f"true gap 0: {rates}")
    assert rates["mismatch"] <= _monte_carlo_bound(ALPHA)
    assert rates["agree"] > 0.5


def test_a_gap_of_three_tolerances_is_called_a_mismatch():
    rates = _verdicts(np.random.default_rng(5), 3 * TOLERANCE, measured_spread())
    print(f"true gap {3 * TOLERANCE:.2f}: {rates}")
    assert rates["mismatch"] >= 0.8 and rates["agree"] <= _monte_carlo_bound(ALPHA)


def test_docs_statistics_holds_what_benchmarks_power_prints():
    """The numbers of ``docs/statistics.md``'s generated section (spreads, the K table, each
    side's detectable drift, the verdict rates) are the output of ``python benchmarks/power.py``
    on the committed baselines, never hand-copied: a changed baseline or a hand edit fails
    here until ``python benchmarks/power.py --markdown docs/statistics.md`` is run."""
    power = _power()
    doc = (BASELINES.parent.parent / "docs" / "statistics.md").read_text()
    assert doc.count(power.BEGIN) == 1 and doc.count(power.END) == 1
    written = doc[doc.index(power.BEGIN) : doc.index(power.END) + len(power.END)] + "\n"
    assert written == power.section(), (
        "docs/statistics.md is stale: run python benchmarks/power.py --markdown docs/statistics.md"
    )
    assert f"median **{measured_spread():.3f}**" in written
