"""Verdict logic on constructed inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
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


# Boundaries and exact outputs, so that a broken judge fails here (docs/mutation.md).


def test_the_empty_test_set_message_and_a_one_image_test_set():
    with pytest.raises(ValueError, match=r"^accuracy of an empty test set is undefined$"):
        judge.accuracy(np.array([]), np.array([]))
    assert judge.accuracy(np.array([3]), np.array([3])) == 1.0
    assert judge.prediction_agreement(np.array([3]), np.array([3])) == 1.0
    assert judge.prediction_agreement(np.array([3]), np.array([4])) == 0.0
    with pytest.raises(ValueError, match=r"^predictions of shapes \(0,\) and \(0,\) cannot be"):
        judge.prediction_agreement(np.array([]), np.array([]))


def test_the_chance_band_defaults_to_one_seed_and_holds_its_ends():
    from scipy import stats

    low, high = judge.chance_band(10, 497)
    expected = stats.binom.interval(0.99, 497, 0.1)
    assert (low, high) == (expected[0] / 497, expected[1] / 497)
    assert judge.collapsed(low, (low, high)) and judge.collapsed(high, (low, high))
    assert not judge.collapsed(low - 1e-9, (low, high))
    assert not judge.collapsed(high + 1e-9, (low, high))


def test_statistics_are_computed_in_float64_whatever_the_input():
    """A framework hands accuracies over as float32: the statistics must not be float32's."""
    a32 = np.array([0.1, 0.7, 0.3, 0.9], dtype=np.float32)
    b32 = np.array([0.2, 0.6, 0.35, 0.8], dtype=np.float32)
    a64, b64 = a32.astype(np.float64), b32.astype(np.float64)
    assert a32.mean() != a64.mean()  # the inputs really tell the two apart
    stats = judge.accuracy_stats(a32)
    assert stats["mean"] == a64.mean() and stats["std"] == a64.std(ddof=1)
    for swap in (False, True):
        x32, y32, x64, y64 = (b32, a32, b64, a64) if swap else (a32, b32, a64, b64)
        assert judge.gap_test(x32, y32, 0.1, 0.05) == judge.gap_test(x64, y64, 0.1, 0.05)
        assert judge.drift_test(x32, y32, 0.1, 0.05, 3) == judge.drift_test(x64, y64, 0.1, 0.05, 3)
        assert judge.gap_test(x32, y32, 0.1, 0.05)["gap"] == x64.mean() - y64.mean()
        assert judge.drift_test(y32, x32, 0.1, 0.05, 3)["moved"] == x64.mean() - y64.mean()


def test_scipy_runtime_warnings_are_silenced_and_nothing_else(monkeypatch):
    import warnings

    from scipy import stats

    def sf(t, df):
        warnings.warn("overflow in the tail", RuntimeWarning, stacklevel=1)
        return 0.25

    monkeypatch.setattr(stats.t, "sf", sf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert judge._p_greater(1.0, 3.0) == 0.25

    def deprecated(t, df):
        warnings.warn("t.sf is deprecated", DeprecationWarning, stacklevel=1)
        return 0.25

    monkeypatch.setattr(stats.t, "sf", deprecated)
    with pytest.warns(DeprecationWarning, match="t.sf is deprecated"):
        judge._p_greater(1.0, 3.0)


def test_a_gap_exactly_at_the_tolerance_plus_slack_is_within_and_beyond_it_is_not():
    edge = 0.5 + 1e-12  # the tolerance plus the documented slack, as a float
    at = judge.gap_test([edge, edge], [0.0, 0.0], 0.5, 0.05)
    assert at["gap"] == edge and (at["p_within"], at["p_beyond"]) == (0.0, 1.0)
    past = judge.gap_test([0.5 + 2e-12] * 2, [0.0, 0.0], 0.5, 0.05)
    assert (past["p_within"], past["p_beyond"]) == (1.0, 0.0)
    assert judge.verdict(_results(edge, 0.0), 0.5) == "agree"
    assert judge.verdict(_results(0.5 + 2e-12, 0.0), 0.5) == "mismatch"


def test_gap_test_reports_every_field():
    a, b = [0.80, 0.82, 0.79, 0.81], [0.60, 0.70, 0.50, 0.65]
    result = judge.gap_test(a, b, 0.1, 0.05)
    assert set(result) == {
        "test",
        "alpha",
        "tolerance",
        "gap",
        "standard_error",
        "df",
        "interval",
        "p_within",
        "p_beyond",
    }
    assert (result["test"], result["alpha"], result["tolerance"]) == ("welch_tost", 0.05, 0.1)
    se, df = judge._welch(np.array(a), np.array(b))
    assert result["standard_error"] == se > 0 and result["df"] == df
    assert 3 < result["df"] < 6  # Welch-Satterthwaite, between min(n) - 1 and n_a + n_b - 2


def test_the_verdict_needs_a_p_value_strictly_below_alpha():
    results = _results(0.7, 0.7)
    at = {"alpha": 0.05, "p_within": 0.05, "p_beyond": 0.05}
    assert judge.verdict(results, 0.1, at) == "inconclusive"
    assert judge.verdict(results, 0.1, {**at, "p_within": 0.0499}) == "agree"
    assert judge.verdict(results, 0.1, {**at, "p_beyond": 0.0499}) == "mismatch"


def test_drift_test_reports_every_field_and_clips_p_at_one():
    still = judge.drift_test([0.7, 0.7], [0.7, 0.7], 0.05, 0.05, 3)
    assert still == {
        "test": "welch_t_bonferroni",
        "moved": 0.0,
        "p_value": 1.0,
        "p_adjusted": 1.0,
        "family_size": 3,
        "alpha": 0.05,
        "margin": 0.05,
        "drifted": False,
    }
    noisy = judge.drift_test([0.5, 0.7, 0.6], [0.55, 0.75, 0.6], 0.01, 0.05, 4)
    assert 0.25 < noisy["p_value"] < 1 and noisy["p_adjusted"] == 1.0
    unmoved = judge.drift_test([0.5, 0.7], [0.7, 0.5], 0.01, 0.05, 1)
    assert unmoved["moved"] == 0.0 and unmoved["p_value"] == 1.0


def test_drift_needs_p_strictly_below_alpha_and_a_move_strictly_beyond_the_margin():
    then, now = [0.50, 0.52, 0.48, 0.51], [0.70, 0.72, 0.69, 0.73]
    p = judge.drift_test(then, now, 0.1, 0.05, 1)["p_adjusted"]
    assert judge.drift_test(then, now, 0.1, p * 1.000001, 1)["drifted"]
    assert not judge.drift_test(then, now, 0.1, p, 1)["drifted"]
    edge = 0.1 + 1e-12  # the margin plus the documented slack, as a float
    assert judge.drift_test([0.0, 0.0], [edge, edge], 0.1, 0.05, 1)["moved"] == edge
    assert not judge.drift_test([0.0, 0.0], [edge, edge], 0.1, 0.05, 1)["drifted"]
    assert judge.drift_test([0.0, 0.0], [0.1 + 2e-12] * 2, 0.1, 0.05, 1)["drifted"]


# --- what the drift test can see (drift_power, detectable_drift, detectable) ------------------

DRIFT = {"family_size": 14, "alpha": 0.05, "margin": 0.10}


def test_the_detectable_drift_is_where_the_power_reaches_0_8():
    move = judge.detectable_drift(0.059, 5, 5, **DRIFT)
    assert move == pytest.approx(0.2069, abs=5e-4)
    assert judge.drift_power(move, 0.059, 5, 5, **DRIFT) == pytest.approx(0.8, abs=1e-5)
    assert judge.drift_power(move - 0.01, 0.059, 5, 5, **DRIFT) < 0.8
    # the answer at another power, and the power's sign of the move does not matter
    assert judge.detectable_drift(0.059, 5, 5, **DRIFT, power=0.5) < move
    assert judge.drift_power(-0.2, 0.059, 5, 5, **DRIFT) == judge.drift_power(
        0.2, 0.059, 5, 5, **DRIFT
    )


@settings(max_examples=30, deadline=None)
@given(
    sigma=st.floats(0.005, 0.15),
    k=st.integers(2, 9),
    family=st.integers(1, 40),
)
def test_the_detectable_drift_grows_with_the_spread_and_shrinks_with_seeds(sigma, k, family):
    def found(sigma, k_then, k_now, family):  # none within the bound: as good as infinite
        move = judge.detectable_drift(sigma, k_then, k_now, family, 0.05, 0.10, bound=3.0)
        return math.inf if move is None else move

    move = found(sigma, k, k, family)
    assert move > 0.10  # never within the margin: a drift must be beyond it
    assert found(sigma * 1.2, k, k, family) >= move
    assert found(sigma, k + 1, k + 1, family) <= move
    assert found(sigma, k, k + 1, family) <= move  # more seeds now
    assert found(sigma, k, k, family + 1) >= move  # a larger family
    if k >= 4:  # with a few seeds the corrected critical value puts 80% beyond any room
        assert move < math.inf


def test_no_spread_and_no_room():
    # seeds that do not vary: any move beyond the margin is exact
    assert judge.detectable_drift(0.0, 5, 5, **DRIFT) == 0.10
    assert judge.drift_power(0.1, 0.0, 5, 5, **DRIFT) == 0.0
    assert judge.drift_power(0.1 + 1e-9, 0.0, 5, 5, **DRIFT) == 1.0
    assert judge.detectable_drift(0.0, 5, 5, **DRIFT, bound=0.1) is None
    # a spread whose 80% move exceeds what the accuracy can move: none, not a number > 1
    assert judge.detectable_drift(0.3, 5, 5, **DRIFT) is None
    assert judge.detectable_drift(0.3, 5, 5, **DRIFT, bound=10.0) > 1.0
    assert judge.detectable_drift(0.17, 5, 5, **DRIFT) == pytest.approx(0.596, abs=1e-3)
    assert judge.detectable_drift(0.17, 5, 5, **DRIFT, bound=0.5) is None


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: judge.drift_power(0.2, 0.05, 1, 5, **DRIFT), "needs >= 2 seeds then and now"),
        (lambda: judge.drift_power(0.2, -0.05, 5, 5, **DRIFT), "sigma=-0.05 must be >= 0"),
        (lambda: judge.drift_power(0.2, float("nan"), 5, 5, **DRIFT), "sigma=nan must be >= 0"),
        (
            lambda: judge.drift_power(0.2, 0.05, 5, 5, 0, 0.05, 0.1),
            "family_size=0 must be >= 1",
        ),
        (
            lambda: judge.detectable_drift(0.05, 5, 5, **DRIFT, power=1.0),
            "power=1.0 must be between 0 and 1",
        ),
    ],
)
def test_the_power_functions_refuse_what_they_cannot_answer(call, message):
    with pytest.raises(ValueError, match=message):
        call()


LEARNS = [0.80, 0.74, 0.82, 0.81, 0.81]  # std 0.0343
BAND = (0.0849095, 0.115895)
AT_CHANCE = [0.1006, 0.1026, 0.1026, 0.1026, 0.1006]  # std 0.0011, mean inside BAND


def test_the_spread_of_the_sides_that_learn_leaves_out_chance_flat_and_single_seeds():
    sides = [
        (LEARNS, BAND),
        ([0.5, 0.6, 0.7], BAND),  # std 0.1
        ([0.3, 0.4], None),  # no band: counted, std 0.0707
        (AT_CHANCE, BAND),
        ([0.4, 0.4, 0.4], BAND),  # does not vary
        ([0.9], BAND),  # one seed
    ]
    spread = judge.learning_spread(sides)
    assert spread["sides"] == 3
    assert spread["sigma"] == pytest.approx(np.std([0.3, 0.4], ddof=1))
    assert judge.learning_spread(sides[3:]) is None
    assert judge.learning_spread([]) is None


def test_a_side_that_learns_is_judged_at_its_own_spread():
    got = judge.detectable(LEARNS, 5, **DRIFT, chance=BAND, spread={"sigma": 0.5, "sides": 3})
    sigma = np.std(LEARNS, ddof=1)
    assert got == {
        "gated": True,
        "detects": pytest.approx(judge.detectable_drift(sigma, 5, 5, **DRIFT)),
        "sigma": pytest.approx(sigma),
        "borrowed": None,
    }
    assert judge.detectable_text(got) == ">= 0.12"
    # fewer seeds now than then: the run's K counts
    fewer = judge.detectable(LEARNS, 3, **DRIFT, chance=BAND)
    assert fewer["detects"] == pytest.approx(judge.detectable_drift(sigma, 5, 3, **DRIFT))
    assert fewer["detects"] > got["detects"]


def test_a_side_at_chance_or_without_spread_borrows_the_spread_of_the_sides_that_learn():
    spread = {"sigma": 0.059, "sides": 11}
    got = judge.detectable(AT_CHANCE, 5, **DRIFT, chance=BAND, spread=spread)
    assert got["sigma"] == 0.059
    assert got["borrowed"] == "at chance: the median spread of the 11 sides that learn"
    assert got["detects"] == pytest.approx(0.2069, abs=5e-4)  # not its own 0.1006
    assert judge.detectable(AT_CHANCE, 5, **DRIFT, chance=BAND)["detects"] is None  # own σ: no
    flat = judge.detectable([0.5] * 5, 5, **DRIFT, chance=BAND, spread=spread)
    assert flat["borrowed"] == "its seeds do not vary: the median spread of the 11 sides that learn"
    assert flat["detects"] == pytest.approx(got["detects"])
    alone = judge.detectable(AT_CHANCE, 5, **DRIFT, chance=BAND)
    assert alone == {
        "gated": True,
        "detects": None,
        "sigma": None,
        "borrowed": "at chance, and no side that learns to take a spread from",
    }
    assert judge.detectable_text(alone) == "none"


def test_one_seed_is_not_gated_and_no_room_is_none():
    for then, now in (([0.5], 5), (LEARNS, 1)):
        got = judge.detectable(then, now, **DRIFT, chance=BAND)
        assert got == {"gated": False, "detects": None, "sigma": None, "borrowed": None}
        assert judge.detectable_text(got) == "not gated"
    # a mean of 0.74 has room to move 0.74 (down); a spread of 0.36 would need more
    wide = judge.detectable([0.1, 0.9, 0.9, 0.9, 0.9], 5, **DRIFT)
    assert wide["detects"] is None and wide["sigma"] == pytest.approx(0.3578, abs=1e-4)
    assert judge.detectable_drift(wide["sigma"], 5, 5, **DRIFT, bound=10.0) > 1.0
    assert judge.detectable_text(wide) == "none"
