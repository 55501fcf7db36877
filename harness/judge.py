"""Judgement: how far apart two framework results are, and the verdict against a tolerance.

Pure functions on plain data (NumPy arrays and dicts), so they are tested on constructed inputs.
"""

from __future__ import annotations

import warnings

import numpy as np

VERDICTS = ("agree", "mismatch", "inconclusive", "diverged", "error")
SIGNIFICANCE_TEST = "welch_t"  # scipy.stats.ttest_ind(equal_var=False), two-sided


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """correct / total (not a mean of per-batch accuracies, as the published PyTorch side did)."""
    if len(labels) == 0:
        raise ValueError("accuracy of an empty test set is undefined")
    return float(np.count_nonzero(np.asarray(predicted) == np.asarray(labels)) / len(labels))


def prediction_agreement(pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Share of test images on which both models predict the same class."""
    pred_a, pred_b = np.asarray(pred_a), np.asarray(pred_b)
    if pred_a.shape != pred_b.shape or pred_a.size == 0:
        raise ValueError(
            f"predictions of shapes {pred_a.shape} and {pred_b.shape} cannot be compared"
        )
    return float(np.count_nonzero(pred_a == pred_b) / pred_a.size)


def collapsed(test_accuracy: float, num_classes: int, margin: float) -> bool:
    """At (or below) chance level plus ``margin``: the model learned nothing usable."""
    return test_accuracy <= 1.0 / num_classes + margin


def accuracy_stats(values: list[float]) -> dict:
    """n, mean, standard deviation (n - 1 in the denominator; 0 for one value), min, max."""
    x = np.asarray(values, dtype=np.float64)
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "min": float(x.min()),
        "max": float(x.max()),
    }


def significance(a: list[float], b: list[float], alpha: float) -> dict:
    """Welch's t-test (unequal variances, two-sided) on two frameworks' per-seed accuracies.

    Where neither side varies across seeds the test is undefined; then the difference is
    certain (p = 0) if the means differ and absent (p = 1) if they do not."""
    from scipy import stats

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"a significance test needs >= 2 seeds per side, got {len(x)}, {len(y)}")
    if np.ptp(x) == 0 and np.ptp(y) == 0:  # every seed the same on both sides
        statistic, p_value = None, 1.0 if x.mean() == y.mean() else 0.0
    else:
        with warnings.catch_warnings():
            # scipy warns of "catastrophic cancellation" when one side's seeds are all equal
            # (a variance of 0 computed in floats); the test is still the right one.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(x, y, equal_var=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return {
        "test": SIGNIFICANCE_TEST,
        "alpha": alpha,
        "statistic": statistic,
        "p_value": p_value,
        "significant": p_value < alpha,
    }


def verdict(results: dict[str, dict], tolerance: float, statistics: dict | None = None) -> str:
    """``error`` if a run failed, ``diverged`` if a loss went non-finite, else ``agree`` when
    |difference in test accuracy| <= tolerance. Beyond it: ``mismatch`` with one seed per side;
    with several (``statistics`` from ``significance``), ``mismatch`` only when the difference
    is also significant, else ``inconclusive`` (beyond tolerance, inside the noise floor)."""
    if any(r.get("error") for r in results.values()):
        return "error"
    if any(r["diverged"] for r in results.values()):
        return "diverged"
    a, b = (r["test_accuracy"] for r in results.values())
    # Accuracies are fractions k/N: a tiny slack keeps a gap exactly at the tolerance "agree".
    if abs(a - b) <= tolerance + 1e-12:
        return "agree"
    if statistics is None or statistics["significant"]:
        return "mismatch"
    return "inconclusive"
