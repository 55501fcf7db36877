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


def test_prediction_agreement_and_collapse():
    assert judge.prediction_agreement(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 0])) == 0.5
    assert judge.collapsed(0.14, 10, 0.05)
    assert not judge.collapsed(0.16, 10, 0.05)


def test_significance_without_any_spread_is_certain_either_way():
    same = judge.significance([0.5, 0.5], [0.5, 0.5], alpha=0.05)
    assert same["p_value"] == 1.0 and not same["significant"] and same["statistic"] is None
    apart = judge.significance([0.5, 0.5], [0.4, 0.4], alpha=0.05)
    assert apart["p_value"] == 0.0 and apart["significant"]


def test_significance_is_welchs_t_test():
    from scipy import stats

    a, b = [0.80, 0.82, 0.79], [0.60, 0.70, 0.50]
    result = judge.significance(a, b, alpha=0.05)
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert result["test"] == "welch_t"
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["statistic"] == pytest.approx(expected.statistic)


def test_one_seed_per_side_cannot_be_tested():
    with pytest.raises(ValueError, match=">= 2 seeds per side"):
        judge.significance([0.5], [0.4, 0.3], alpha=0.05)


def _seeded(a: list[float], b: list[float]):
    results = {
        "pytorch": {"test_accuracy": float(np.mean(a)), "diverged": False, "error": None},
        "tensorflow": {"test_accuracy": float(np.mean(b)), "diverged": False, "error": None},
    }
    return results, judge.significance(a, b, alpha=0.05)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0.80, 0.81, 0.79], [0.50, 0.51, 0.49], "mismatch"),  # far apart, tight: significant
        ([0.90, 0.20, 0.85], [0.40, 0.45, 0.10], "inconclusive"),  # apart, but noise is larger
        ([0.80, 0.30, 0.75], [0.78, 0.31, 0.72], "agree"),  # within tolerance: no test needed
        ([0.60, 0.60, 0.60], [0.49, 0.49, 0.49], "mismatch"),  # no spread at all: certain
        ([0.60, 0.60, 0.60], [0.50, 0.50, 0.50], "agree"),  # exactly at the tolerance
    ],
)
def test_verdict_with_seeds(a, b, expected):
    results, statistics = _seeded(a, b)
    assert judge.verdict(results, 0.10, statistics) == expected


@given(
    a=st.lists(st.integers(0, 100), min_size=2, max_size=6),
    b=st.lists(st.integers(0, 100), min_size=2, max_size=6),
    tol=st.sampled_from([0.01, 0.05, 0.1, 0.3]),
)
def test_seeded_verdict_properties(a, b, tol):
    a, b = [x / 100 for x in a], [x / 100 for x in b]
    results, statistics = _seeded(a, b)
    v = judge.verdict(results, tol, statistics)
    gap = abs(np.mean(a) - np.mean(b))
    assert (v == "agree") == (gap <= tol + 1e-12)
    if v == "mismatch":
        assert statistics["p_value"] < 0.05
    if v == "inconclusive":
        assert statistics["p_value"] >= 0.05
    swapped, stats_swapped = _seeded(b, a)
    assert judge.verdict(swapped, tol, stats_swapped) == v
