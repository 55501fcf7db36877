"""Profiles: where and how big a case runs (dataset, device, caps, seeds, threads, tolerances).

A profile never changes what a case *is* (its hyperparameters); it says where it runs and how
much of it. The baseline of a case lives under ``baselines/<profile>/``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import ConfigError
from .sides import FRAMEWORKS


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    dataset: str  # "digits32" or "cifar10"
    device: str  # "cpu", or "cuda" (falls back to the CPU, recorded, when no GPU is present)
    case_set: str  # the case set `pytest difftests --profile NAME` runs
    epochs_cap: int | None  # None: the case's own epochs
    train_subset: int | None  # first N training images (fixed order), None: all
    test_subset: int | None  # first N test images, None: all
    mirror_width: float  # channel multiplier of mirror models; depth is always the full depth
    seed: int
    intra_op_threads: int  # per process; never taken from the host or from -n
    inter_op_threads: int
    accuracy_tolerance: float  # |acc_pt - acc_tf| beyond this is a mismatch
    # A framework has drifted when its accuracy moved significantly *and* by more than this.
    drift_margin: float
    seeds: int = 1  # K runs per framework, seeds seed .. seed + K - 1 (a case or --seeds overrides)
    # The level of every test: the gap's equivalence and difference tests, and the family-wise
    # false-alarm rate of the drift tests over a run (Bonferroni).
    significance_level: float = 0.05
    chance_level: float = 0.99  # the binomial band around chance: both sides in it: uninformative
    sides: tuple[str, ...] = FRAMEWORKS  # who trains each case (pytest --sides overrides)


# The profile every command and the pytest plugin use when none is given.
DEFAULT_PROFILE = "smoke"

# Seeds per framework in `smoke`: see docs/statistics.md for the measured spread, the power this
# gives the drift test and the time it costs.
SMOKE_SEEDS = 5

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CPU, embedded digits32 data (1024 training images), 1 epoch, 5 seeds per "
        "framework",
        dataset="digits32",
        device="cpu",
        case_set="smoke",
        epochs_cap=1,
        train_subset=1024,
        test_subset=None,
        mirror_width=0.25,
        seed=0,
        intra_op_threads=1,
        inter_op_threads=1,
        accuracy_tolerance=0.10,
        drift_margin=0.10,
        seeds=SMOKE_SEEDS,
    ),
    "full": Profile(
        name="full",
        description="CUDA, CIFAR-10, the published configurations at their own epochs",
        dataset="cifar10",
        device="cuda",
        case_set="crossedwires",
        epochs_cap=None,
        train_subset=None,
        test_subset=None,
        mirror_width=1.0,
        seed=0,
        intra_op_threads=4,
        inter_op_threads=2,
        accuracy_tolerance=0.05,
        drift_margin=0.05,
        seeds=1,
    ),
}


PROFILES["tiny"] = replace(
    PROFILES["smoke"],
    name="tiny",
    description="the smoke cases on 128 images for 1 epoch, one seed: checks the plumbing (an "
    "install, a regeneration) in seconds per case; says nothing about the frameworks, has no "
    "committed baselines",
    epochs_cap=1,
    train_subset=128,
    test_subset=100,
    seeds=1,
)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown profile {name!r}: valid profiles are {', '.join(sorted(PROFILES))}"
        ) from None
