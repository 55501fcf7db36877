"""Judgement: how far apart two framework results are, and what that means against the noise.

Pure functions on plain data (NumPy arrays, lists and dicts), tested on constructed inputs and
by simulation (``tests/test_statistics.py``).

Why statistics at all: an accuracy after a few hundred float32 training steps is chaotic. A
rounding difference anywhere (another CPU, another thread count) moves it by several hundredths,
so one run per framework cannot say whether two frameworks, or a framework before and after an
upgrade, differ. With K seeds per framework each side is a small sample, and:

- the cross-framework verdict is an equivalence question: ``agree`` only when the gap is
  *significantly within* the tolerance (two one-sided Welch tests, TOST), ``mismatch`` only when
  it is *significantly beyond* it, ``inconclusive`` otherwise; ``uninformative`` when both sides
  sit in the binomial band around chance, where a pair of models says nothing;
- drift (a framework moved away from its own baseline) needs a significant move *and* a move
  larger than a stated practical margin, with the false-alarm rate held over the whole run by
  Bonferroni's correction (the number of drift tests in the run is known when it starts, so
  each test decides alone, as pytest reports each case as it finishes).

With one seed (K = 1) there is no noise estimate: the verdict is the point comparison the paper
made, and it does not gate (``baselines.compare`` reports it; the numerics check gates).

What the drift test can see is stated beside it: ``drift_power`` is its exact power at a seed
spread, K then and now and the run's family size; ``detectable`` the smallest move of a side's
mean accuracy found with 80% power, from the baseline's seeds (a side at chance, or whose seeds
do not vary, at the spread of the sides that learn: ``learning_spread``). The end of a run and
``crossedwires report`` print it per side; ``benchmarks/power.py`` writes it for the committed
baselines into ``docs/statistics.md``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

VERDICTS = ("agree", "mismatch", "inconclusive", "uninformative", "diverged", "error")
# The only verdict changes that fail a check: a real disagreement appearing or disappearing, and
# a run that now fails. A move into or out of `inconclusive` (or `uninformative`, `diverged`) is
# reported, not failed: with a chaotic quantity near the tolerance it happens by chance.
FAILING_FLIPS = (frozenset({"agree", "mismatch"}),)
GAP_TEST = "welch_tost"  # two one-sided Welch t-tests against +-tolerance
DRIFT_TEST = "welch_t_bonferroni"


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


def chance_band(num_classes: int, test_size: int, seeds: int = 1, level: float = 0.99):
    """(low, high): where the mean test accuracy of ``seeds`` models that learned nothing falls
    with probability ``level``: the binomial interval of ``test_size * seeds`` guesses at
    1 / ``num_classes``, as fractions. A model that always predicts one class scores that
    class's share of the test set, inside the band on a balanced test set."""
    from scipy import stats

    n = test_size * seeds
    low, high = stats.binom.interval(level, n, 1.0 / num_classes)
    return float(low / n), float(high / n)


def collapsed(test_accuracy: float, band: tuple[float, float]) -> bool:
    """Inside the chance band: the model learned nothing usable."""
    return band[0] <= test_accuracy <= band[1]


def accuracy_stats(values: list[float]) -> dict:
    """n, mean, standard deviation (n - 1 in the denominator; exactly 0 when every value is the
    same: the float formula gives 1e-16 there, which would make any move look significant),
    min, max."""
    x = np.asarray(values, dtype=np.float64)
    spread = x.size > 1 and np.ptp(x) > 0
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if spread else 0.0,
        "min": float(x.min()),
        "max": float(x.max()),
    }


def _welch(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(standard error of mean(x) - mean(y), Welch-Satterthwaite degrees of freedom). Exactly
    (0, inf) when neither side varies."""
    vx = x.var(ddof=1) / x.size if np.ptp(x) > 0 else 0.0
    vy = y.var(ddof=1) / y.size if np.ptp(y) > 0 else 0.0
    se2 = vx + vy
    if se2 == 0:
        return 0.0, math.inf
    df = se2**2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return math.sqrt(se2), df


def _p_greater(t: float, df: float) -> float:
    """P(T >= t) for Student's t with ``df`` degrees of freedom."""
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.t.sf(t, df))


def gap_test(a: list[float], b: list[float], tolerance: float, alpha: float) -> dict:
    """Is mean(a) - mean(b) within +-tolerance, beyond it, or neither, at level ``alpha``?

    ``p_within`` is the larger p-value of the two one-sided Welch tests of the equivalence test
    (TOST): gap < +tolerance and gap > -tolerance. ``p_beyond`` is the one-sided Welch test
    that |gap| exceeds the tolerance on the side the gap lies. ``interval`` is the
    (1 - 2 alpha) confidence interval of the gap: within means it lies inside +-tolerance,
    beyond means it lies outside. Where neither side varies the gap is exact: p-values are 0 or
    1 and the interval is the point."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"a significance test needs >= 2 seeds per side, got {x.size}, {y.size}")
    gap = float(x.mean() - y.mean())
    se, df = _welch(x, y)
    slack = 1e-12  # accuracies are fractions k/N: a gap exactly at the tolerance is within it
    if se == 0:
        within = abs(gap) <= tolerance + slack
        p_within, p_beyond, half = (0.0 if within else 1.0), (1.0 if within else 0.0), 0.0
    else:
        from scipy import stats

        p_within = max(
            _p_greater((gap + tolerance) / se, df),  # H1: gap > -tolerance
            _p_greater((tolerance - gap) / se, df),  # H1: gap < +tolerance
        )
        p_beyond = _p_greater((abs(gap) - tolerance) / se, df)  # H1: |gap| > tolerance
        half = float(stats.t.ppf(1 - alpha, df)) * se
    return {
        "test": GAP_TEST,
        "alpha": alpha,
        "tolerance": tolerance,
        "gap": gap,
        "standard_error": se,
        "df": df if math.isfinite(df) else None,
        "interval": [gap - half, gap + half],
        "p_within": p_within,
        "p_beyond": p_beyond,
    }


def verdict(
    results: dict[str, dict],
    tolerance: float,
    statistics: dict | None = None,
    chance: tuple[float, float] | None = None,
) -> str:
    """``error`` if a run failed, ``diverged`` if a loss went non-finite, ``uninformative`` if
    both sides' (mean) accuracies lie in the ``chance`` band. Otherwise, with one seed per side
    (``statistics`` None) the paper's point comparison: ``agree`` when |gap| <= tolerance, else
    ``mismatch``. With several seeds (``statistics`` from ``gap_test``): ``agree`` when the gap
    is significantly within the tolerance, ``mismatch`` when significantly beyond, else
    ``inconclusive``."""
    if any(r.get("error") for r in results.values()):
        return "error"
    if any(r["diverged"] for r in results.values()):
        return "diverged"
    accuracies = [r["test_accuracy"] for r in results.values()]
    if chance is not None and all(collapsed(a, chance) for a in accuracies):
        return "uninformative"
    if statistics is None:
        # Accuracies are fractions k/N: a tiny slack keeps a gap exactly at the tolerance "agree".
        return "agree" if max(accuracies) - min(accuracies) <= tolerance + 1e-12 else "mismatch"
    alpha = statistics["alpha"]
    if statistics["p_within"] < alpha:
        return "agree"
    if statistics["p_beyond"] < alpha:
        return "mismatch"
    return "inconclusive"


def flip_fails(then: str, now: str) -> bool:
    """Whether a verdict change fails the check (see ``FAILING_FLIPS``): agree <-> mismatch,
    or a run that now raises."""
    if then == now:
        return False
    return now == "error" or frozenset({then, now}) in FAILING_FLIPS


def drift_test(
    then: list[float], now: list[float], margin: float, alpha: float, family_size: int
) -> dict:
    """Did a framework's accuracy move away from its baseline? Welch's t-test (two-sided) on the
    per-seed accuracies then and now, Bonferroni-corrected for ``family_size`` tests in the run
    (the family-wise false-alarm rate stays at most ``alpha``), and a move larger than the
    practical ``margin``: both are needed. Where neither sample varies the move is exact
    (p = 0 if it moved at all)."""
    x, y = np.asarray(now, dtype=np.float64), np.asarray(then, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"a drift test needs >= 2 seeds then and now, got {y.size}, {x.size}")
    if family_size < 1:
        raise ValueError(f"family_size={family_size} must be >= 1")
    moved = float(x.mean() - y.mean())
    se, df = _welch(x, y)
    if se == 0:
        p = 0.0 if moved != 0 else 1.0
    else:
        p = min(1.0, 2 * _p_greater(abs(moved) / se, df))
    p_adjusted = min(1.0, p * family_size)
    return {
        "test": DRIFT_TEST,
        "moved": moved,
        "p_value": p,
        "p_adjusted": p_adjusted,
        "family_size": family_size,
        "alpha": alpha,
        "margin": margin,
        "drifted": p_adjusted < alpha and abs(moved) > margin + 1e-12,
    }


def vote(sides: tuple[str, ...], verdicts: dict[str, str], seeded: bool = True) -> dict:
    """Which side is the odd one out among three or more, from the pairs' verdicts (``verdicts``
    by ``"a|b"``, each pair judged as the default pair is): the one side whose every pair is a
    ``mismatch`` (beyond the tolerance and the noise floor) while every pair of the others is
    ``agree`` (significantly within it). None when no side is, with the sides that are beyond on
    all their pairs (``beyond_all``: the others did not all agree, so the vote is open) and the
    pairs that agree. With two sides there is no vote, nor with one seed a side (``seeded``
    False): one run per side has no noise floor to be beyond."""

    def verdict_of(a: str, b: str) -> str:
        return verdicts.get(f"{a}|{b}") or verdicts[f"{b}|{a}"]

    beyond_all = [s for s in sides if all(verdict_of(s, t) == "mismatch" for t in sides if t != s)]
    odd = None
    if len(sides) >= 3 and seeded:
        for s in beyond_all:
            rest = [t for t in sides if t != s]
            if all(verdict_of(a, b) == "agree" for i, a in enumerate(rest) for b in rest[i + 1 :]):
                odd = s
    agreeing = [
        [a, b] for i, a in enumerate(sides) for b in sides[i + 1 :] if verdict_of(a, b) == "agree"
    ]
    return {
        "odd_one_out": odd,
        "beyond_all": beyond_all if len(sides) >= 3 else [],
        "agreeing_pairs": agreeing,
    }


# --- what the drift test can see ------------------------------------------------------------

POWER = 0.8  # the power at which "the smallest drift detected" is stated
_GRID = 96  # quantiles per seed variance in drift_power's integral (1000: the same to 5e-5)


def drift_power(
    move: float,
    sigma: float,
    k_then: int,
    k_now: int,
    family_size: int,
    alpha: float,
    margin: float,
) -> float:
    """The probability that ``drift_test`` says ``drifted`` when a framework's true mean
    accuracy moved by ``move``, its seeds spread normally with standard deviation ``sigma``
    then and now, over ``k_then`` and ``k_now`` seeds.

    Exact for the test as ``drift_test`` makes it, not the usual approximation: given the two
    seed variances the observed move is normal, and it drifts when it exceeds both the margin
    and the Bonferroni-corrected Welch critical value at that pair's own Welch degrees of freedom
    times its standard error; the two variances (scaled chi-square, independent of the move) are
    integrated over on a grid of their quantiles. ``tests/test_statistics.py`` checks it against
    a simulation of ``drift_test``. With ``sigma`` 0 the move is exact: it drifts when it
    exceeds the margin."""
    from scipy import stats

    if k_then < 2 or k_now < 2:
        raise ValueError(f"a drift test needs >= 2 seeds then and now, got {k_then}, {k_now}")
    if family_size < 1:
        raise ValueError(f"family_size={family_size} must be >= 1")
    if not sigma >= 0:
        raise ValueError(f"sigma={sigma} must be >= 0")
    move = abs(move)
    if sigma == 0:
        return 1.0 if move > margin + 1e-12 else 0.0
    threshold, sd = _drift_threshold(sigma, k_then, k_now, family_size, alpha, margin)
    hit = stats.norm.cdf((move - threshold) / sd) + stats.norm.cdf((-move - threshold) / sd)
    return float(hit.mean())


def _drift_threshold(sigma, k_then, k_now, family_size, alpha, margin):
    """(the observed |move| beyond which drift_test says drifted, per point of the quantile
    grid of the two seed variances; the standard deviation of the observed move)."""
    from scipy import stats

    q = (np.arange(_GRID) + 0.5) / _GRID
    v_then = stats.chi2.ppf(q, k_then - 1)[:, None] / (k_then - 1)
    v_now = stats.chi2.ppf(q, k_now - 1)[None, :] / (k_now - 1)
    a, b = sigma**2 * v_then / k_then, sigma**2 * v_now / k_now
    se = np.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (k_then - 1) + b**2 / (k_now - 1))
    critical = stats.t.ppf(1 - alpha / (2 * family_size), df)
    threshold = np.maximum(margin + 1e-12, critical * se)
    return threshold, sigma * math.sqrt(1 / k_then + 1 / k_now)


def detectable_drift(
    sigma: float,
    k_then: int,
    k_now: int,
    family_size: int,
    alpha: float,
    margin: float,
    power: float = POWER,
    bound: float = 1.0,
) -> float | None:
    """The smallest move of a framework's mean accuracy that ``drift_test`` finds with
    probability ``power`` (``drift_power``), or None when no move up to ``bound`` is found that
    often (an accuracy cannot move by more than it has room to: ``bound`` is that room). With
    ``sigma`` 0 any move beyond the margin is found: the margin itself is returned (a side
    whose seeds do not vary needs another spread: ``detectable``)."""
    from scipy import optimize, stats

    if not 0 < power < 1:
        raise ValueError(f"power={power} must be between 0 and 1")
    drift_power(0.0, sigma, k_then, k_now, family_size, alpha, margin)  # validates
    if sigma == 0:
        return float(margin) if margin < bound else None
    threshold, sd = _drift_threshold(sigma, k_then, k_now, family_size, alpha, margin)

    def short(move):
        hit = stats.norm.cdf((move - threshold) / sd) + stats.norm.cdf((-move - threshold) / sd)
        return float(hit.mean()) - power

    if short(bound) < 0:
        return None
    return float(optimize.brentq(short, 0.0, bound, xtol=1e-6))


def learning_spread(sides: list[tuple[list[float], tuple[float, float] | None]]) -> dict | None:
    """The seed spread of the sides that learn: the median standard deviation over the
    ``(per-seed accuracies, chance band)`` of every side that has two seeds or more, a mean
    outside its chance band and seeds that vary; with how many such sides there are. None when
    no side learns. It stands in for the spread of a side that says nothing about its own (one
    at chance, or whose seeds all scored the same): such a side moved by an upgrade would spread
    as the learning ones do, not as its collapsed seeds did."""
    stds = []
    for accuracies, band in sides:
        if len(accuracies) < 2:
            continue
        stats_ = accuracy_stats(accuracies)
        if stats_["std"] > 0 and not (band is not None and collapsed(stats_["mean"], band)):
            stds.append(stats_["std"])
    if not stds:
        return None
    return {"sigma": float(np.median(stds)), "sides": len(stds)}


def detectable(
    then: list[float],
    k_now: int,
    family_size: int,
    alpha: float,
    margin: float,
    chance: tuple[float, float] | None = None,
    spread: dict | None = None,
    power: float = POWER,
) -> dict:
    """What a side's drift test can see: the smallest move of its mean accuracy found with
    ``power`` at its baseline's seeds ``then``, ``k_now`` seeds now and ``family_size`` drift
    tests (``detectable_drift``). Returns ``gated`` (False with one seed then or now: nothing
    is tested), ``detects`` (the move, or None when no move within the accuracy's room, from
    the baseline's mean to 0 or 1, is found that often), ``sigma`` (the spread used) and
    ``borrowed`` (why the spread is not the side's own, or None). A side at chance, or whose
    seeds do not vary, is judged at ``spread`` (``learning_spread``): its own spread would
    claim that a move just beyond the margin is always seen; without ``spread``, ``detects`` is
    None and ``borrowed`` says there was none to borrow."""
    out = {"gated": False, "detects": None, "sigma": None, "borrowed": None}
    if len(then) < 2 or k_now < 2:
        return out
    stats_ = accuracy_stats(then)
    out["gated"] = True
    if chance is not None and collapsed(stats_["mean"], chance):
        reason = "at chance"
    elif stats_["std"] == 0:
        reason = "its seeds do not vary"
    else:
        reason = None
    sigma = stats_["std"]
    if reason is not None:
        if spread is None:
            out["borrowed"] = f"{reason}, and no side that learns to take a spread from"
            return out
        sigma = spread["sigma"]
        n = spread["sides"]
        learners = "the one side that learns" if n == 1 else f"the {n} sides that learn"
        out["borrowed"] = f"{reason}: the median spread of {learners}"
    out["sigma"] = sigma
    room = max(stats_["mean"], 1 - stats_["mean"])
    out["detects"] = detectable_drift(
        sigma, len(then), k_now, family_size, alpha, margin, power, bound=room
    )
    return out


def detectable_text(result: dict) -> str:
    """``>= 0.21``, ``none`` (no move within the accuracy's room is found with the stated
    power) or ``not gated`` (one seed): how a report says ``detectable``'s answer."""
    if not result["gated"]:
        return "not gated"
    return "none" if result["detects"] is None else f">= {result['detects']:.2f}"
