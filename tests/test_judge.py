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
