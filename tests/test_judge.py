"""Verdict logic on constructed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import judge


def _results(a, b, **extra):
    base = {"error": None, "diverged": False}
    return {
        "pytorch": {**base, "test_accuracy": a},
        "tensorflow": {**base, "test_accuracy": b, **extra},
    }


@pytest.mark.parametrize(
    "a, b, tol, expected",
    [
        (0.70, 0.70, 0.10, "agree"),
        (0.70, 0.60, 0.10, "agree"),  # exactly at the tolerance agrees
        (0.70, 0.59, 0.10, "mismatch"),
        (0.10, 0.70, 0.10, "mismatch"),
    ],
)
def test_verdict_against_tolerance(a, b, tol, expected):
    assert judge.verdict(_results(a, b), tol) == expected


def test_error_and_divergence_outrank_the_accuracies():
    assert judge.verdict(_results(0.7, None, error="RuntimeError: boom"), 0.1) == "error"
    assert judge.verdict(_results(0.7, 0.1, diverged=True), 0.1) == "diverged"


@given(
    n=st.integers(1, 2000),
    data=st.data(),
    tol=st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.25]),
)
def test_verdict_is_symmetric_and_exact_on_fractions(n, data, tol):
    ka = data.draw(st.integers(0, n))
    kb = data.draw(st.integers(0, n))
    a, b = ka / n, kb / n
    v = judge.verdict(_results(a, b), tol)
    assert v == judge.verdict(_results(b, a), tol)
    assert v == ("agree" if abs(ka - kb) <= round(tol * n, 9) else "mismatch")


def test_accuracy_is_correct_over_total():
    labels = np.array([0, 1, 2, 3])
    assert judge.accuracy(np.array([0, 1, 0, 0]), labels) == 0.5
    with pytest.raises(ValueError, match="empty test set"):
        judge.accuracy(np.array([]), np.array([]))


def test_accuracy_counts_matches_not_mismatches():
    labels = np.array([0, 1, 2, 3, 4])
    assert judge.accuracy(np.array([0, 1, 2, 3, 0]), labels) == 0.8
    assert judge.accuracy(np.array([1, 1, 1, 1, 1]), labels) == 0.2


def test_prediction_agreement_and_collapse():
    assert judge.prediction_agreement(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 0])) == 0.5
    assert judge.prediction_agreement(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 0])) == 0.75
    with pytest.raises(ValueError, match="cannot be compared"):
        judge.prediction_agreement(np.array([1, 2]), np.array([1, 2, 3]))
    band = judge.chance_band(10, 497)
    assert band[0] < 0.1 < band[1] and band[1] < 0.15
    assert judge.collapsed(0.1006, band) and not judge.collapsed(0.16, band)


def test_the_chance_band_is_the_binomial_interval_and_narrows_with_seeds():
    from scipy import stats

    low, high = judge.chance_band(10, 497, seeds=1, level=0.99)
    expected = stats.binom.interval(0.99, 497, 0.1)
    assert (low, high) == (expected[0] / 497, expected[1] / 497)
    low4, high4 = judge.chance_band(10, 497, seeds=4, level=0.99)
    assert low < low4 < 0.1 < high4 < high


def test_a_constant_sample_has_exactly_zero_spread():
    """The float formula gives 1.36e-16 for [0.7, 0.7, 0.7]; that would make the drift test's
    standard error 1e-16 and any move significant."""
    stats = judge.accuracy_stats([0.7, 0.7, 0.7])
    assert stats["std"] == 0.0 and stats["mean"] == pytest.approx(0.7)
    assert judge.accuracy_stats([0.5])["std"] == 0.0
    assert judge.accuracy_stats([0.5, 0.7])["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))


def test_drift_with_zero_spread_baselines_is_judged_by_the_margin_alone():
    """Issue 19's bug: a zero-spread baseline at 0.70 reported a 0.01 move as drift."""
    for level in (0.5, 0.7):
        small = judge.drift_test([level] * 3, [level + 0.01] * 3, 0.05, 0.05, 10)
        assert not small["drifted"]
        large = judge.drift_test([level] * 3, [level + 0.06] * 3, 0.05, 0.05, 10)
        assert large["drifted"] and large["p_value"] == 0.0


def test_drift_is_welchs_test_bonferroni_corrected():
    from scipy import stats

    then, now = [0.50, 0.52, 0.48, 0.51], [0.70, 0.72, 0.69, 0.73]
    result = judge.drift_test(then, now, 0.1, 0.05, 20)
    expected = stats.ttest_ind(now, then, equal_var=False).pvalue
    assert result["p_value"] == pytest.approx(expected)
    assert result["p_adjusted"] == pytest.approx(min(1.0, 20 * expected))
    assert result["drifted"] and result["moved"] == pytest.approx(0.2075)
    one_sided_spread = judge.drift_test([0.5, 0.5, 0.5], [0.7, 0.72, 0.68], 0.1, 0.05, 20)
    assert 0 < one_sided_spread["p_value"] < 0.05  # Welch's test, not "certain"
    noisy = judge.drift_test([0.2, 0.8, 0.5], [0.4, 0.9, 0.9], 0.1, 0.05, 20)
    assert not noisy["drifted"]  # beyond the margin but inside the noise


def test_gap_test_is_two_one_sided_welch_tests():
    from scipy import stats

    a, b = [0.80, 0.82, 0.79, 0.81], [0.60, 0.70, 0.50, 0.65]
    result = judge.gap_test(a, b, 0.1, 0.05)
    within_hi = stats.ttest_ind(np.array(a) - 0.1, b, equal_var=False, alternative="less")
    within_lo = stats.ttest_ind(np.array(a) + 0.1, b, equal_var=False, alternative="greater")
    beyond = stats.ttest_ind(np.array(a) - 0.1, b, equal_var=False, alternative="greater")
    assert result["p_within"] == pytest.approx(max(within_hi.pvalue, within_lo.pvalue))
    assert result["p_beyond"] == pytest.approx(beyond.pvalue)
    assert result["gap"] == pytest.approx(np.mean(a) - np.mean(b))
    low, high = result["interval"]
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.90)
    assert (low, high) == pytest.approx((ci.low, ci.high))


def test_gap_test_without_spread_is_exact():
    same = judge.gap_test([0.5, 0.5], [0.45, 0.45], 0.1, 0.05)
    assert same["p_within"] == 0.0 and same["p_beyond"] == 1.0 and same["df"] is None
    apart = judge.gap_test([0.5, 0.5], [0.3, 0.3], 0.1, 0.05)
    assert apart["p_within"] == 1.0 and apart["p_beyond"] == 0.0
    assert apart["interval"] == pytest.approx([0.2, 0.2])


def test_one_seed_per_side_cannot_be_tested():
    with pytest.raises(ValueError, match=">= 2 seeds per side"):
        judge.gap_test([0.5], [0.4, 0.3], 0.1, alpha=0.05)
    with pytest.raises(ValueError, match=">= 2 seeds then and now"):
        judge.drift_test([0.5], [0.4, 0.3], 0.1, 0.05, 1)
    with pytest.raises(ValueError, match="family_size=0"):
        judge.drift_test([0.5, 0.5], [0.4, 0.3], 0.1, 0.05, 0)


def _seeded(a: list[float], b: list[float], tol: float = 0.10):
    results = {
        "pytorch": {"test_accuracy": float(np.mean(a)), "diverged": False, "error": None},
        "tensorflow": {"test_accuracy": float(np.mean(b)), "diverged": False, "error": None},
    }
    return results, judge.gap_test(a, b, tol, alpha=0.05)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0.80, 0.81, 0.79], [0.50, 0.51, 0.49], "mismatch"),  # far beyond, tight
        ([0.90, 0.20, 0.85], [0.40, 0.45, 0.10], "inconclusive"),  # apart, noise larger
        ([0.80, 0.30, 0.75], [0.78, 0.31, 0.72], "inconclusive"),  # close, noise larger
        ([0.80, 0.81, 0.79], [0.78, 0.79, 0.80], "agree"),  # significantly within
        ([0.60, 0.60, 0.60], [0.49, 0.49, 0.49], "mismatch"),  # no spread at all: certain
        ([0.60, 0.60, 0.60], [0.50, 0.50, 0.50], "agree"),  # exactly at the tolerance
        ([0.60, 0.62, 0.61], [0.50, 0.53, 0.49], "inconclusive"),  # at the tolerance, noisy
    ],
)
def test_verdict_with_seeds(a, b, expected):
    results, statistics = _seeded(a, b)
    assert judge.verdict(results, 0.10, statistics) == expected


def test_uninformative_needs_both_sides_at_chance():
    band = judge.chance_band(10, 497, seeds=3)
    both = _seeded([0.10, 0.10, 0.11], [0.10, 0.09, 0.10])
    assert judge.verdict(both[0], 0.1, both[1], band) == "uninformative"
    one = _seeded([0.60, 0.62, 0.61], [0.10, 0.09, 0.10])
    assert judge.verdict(one[0], 0.1, one[1], band) == "mismatch"
    single = {fw: {"test_accuracy": 0.1, "diverged": False, "error": None} for fw in "ab"}
    assert judge.verdict(single, 0.1, None, judge.chance_band(10, 497)) == "uninformative"
    assert judge.verdict(single, 0.1) == "agree"  # without a band, the paper's comparison


@given(
    a=st.lists(st.integers(0, 100), min_size=2, max_size=6),
    b=st.lists(st.integers(0, 100), min_size=2, max_size=6),
    tol=st.sampled_from([0.01, 0.05, 0.1, 0.3]),
)
def test_seeded_verdict_properties(a, b, tol):
    a, b = [x / 100 for x in a], [x / 100 for x in b]
    results, statistics = _seeded(a, b, tol)
    v = judge.verdict(results, tol, statistics)
    gap = np.mean(a) - np.mean(b)
    low, high = statistics["interval"]
    assert low <= gap + 1e-12 and gap - 1e-12 <= high
    if v == "agree":
        assert statistics["p_within"] < 0.05 and -tol - 1e-9 <= low and high <= tol + 1e-9
    if v == "mismatch":
        assert statistics["p_beyond"] < 0.05 and (low >= tol - 1e-9 or high <= -tol + 1e-9)
    if v == "inconclusive":
        assert statistics["p_within"] >= 0.05 and statistics["p_beyond"] >= 0.05
    swapped, stats_swapped = _seeded(b, a, tol)
    assert judge.verdict(swapped, tol, stats_swapped) == v


@pytest.mark.parametrize(
    "then, now, fails",
    [
        ("agree", "mismatch", True),
        ("mismatch", "agree", True),
        ("agree", "inconclusive", False),
        ("inconclusive", "mismatch", False),
        ("mismatch", "uninformative", False),
        ("agree", "error", True),
        ("error", "agree", False),
        ("agree", "agree", False),
        ("agree", "diverged", False),
    ],
)
def test_which_flips_fail(then, now, fails):
    assert judge.flip_fails(then, now) is fails
