"""Judgement: how far apart two framework results are, and the verdict against a tolerance.

Pure functions on plain data (NumPy arrays and dicts), so they are tested on constructed inputs.
"""

from __future__ import annotations

import numpy as np

VERDICTS = ("agree", "mismatch", "diverged", "error")


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


def verdict(results: dict[str, dict], tolerance: float) -> str:
    """``error`` if a run failed, ``diverged`` if a loss went non-finite, else ``agree`` when
    |difference in test accuracy| <= tolerance and ``mismatch`` beyond it."""
    if any(r.get("error") for r in results.values()):
        return "error"
    if any(r["diverged"] for r in results.values()):
        return "diverged"
    a, b = (r["test_accuracy"] for r in results.values())
    # Accuracies are fractions k/N: a tiny slack keeps a gap exactly at the tolerance "agree".
    return "agree" if abs(a - b) <= tolerance + 1e-12 else "mismatch"
